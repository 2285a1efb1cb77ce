"""Label Aliases for search: every label's alternative names, so a search for an alias finds the label.

Rekognition's DetectLabels gives each label ``Aliases`` (other names of the same
concept). mediaapp's on-device labels take theirs from two packaged files:
``resources/taxonomy.json`` (the COCO detector's labels) and
``resources/concepts/imagenet1k.json`` (the ImageNet classifier's classes and
their WordNet ancestors; each class's WordNet synonyms are its Aliases, made by
``tools/build_concepts.py``). The catalog's detection rows keep only a label's
Name and Parents, so the search projection (``search/projection.py``) and the
OpenSearch source (``search/opensearch_mapping.to_source``) look a label's
Aliases up here by its Name: ``Loggerhead`` gets ``Loggerhead Turtle`` and
``Caretta Caretta``, and ``--label "loggerhead turtle"`` or the words
``caretta caretta`` find it.

An alias is searchable like a Parent (with the label's confidence) but is not a
facet of its own: the SQLite index files its facts under the names field
``aliases`` and OpenSearch under ``detections.alias_keys``, which the label
facets do not count. Labels of other engines
(Rekognition) whose Name is in these files get the same Aliases; other names
get none.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path

from mediaapp.core.text import normalize_label
from mediaapp.models.manifest import resources_dir

__all__ = ["LABEL_FILES", "AliasTable", "aliases"]

#: The packaged label files read, relative to ``resources/``: each has ``labels``:
#: ``{Name: {"parents": [...], "aliases": [...], ...}}``.
LABEL_FILES = ("taxonomy.json", "concepts/imagenet1k.json")


class AliasTable:
    """Aliases by label Name, read from label files shaped like ``resources/taxonomy.json``.

    ``paths``: the JSON files; each must hold ``labels`` mapping a Name to a
    dict with an optional ``aliases`` list of str. Raises
    ``OSError`` for a missing file, ``ValueError`` for malformed JSON or shape.
    """

    def __init__(self, paths: Iterable[Path]):
        self._aliases: dict[str, tuple[str, ...]] = {}
        for path in paths:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            labels = doc.get("labels") if isinstance(doc, dict) else None
            if not isinstance(labels, dict):
                raise ValueError(f"{path}: no 'labels' object")
            for name, info in labels.items():
                key = normalize_label(name)
                found = [a.strip() for a in info.get("aliases", []) if isinstance(a, str) and a.strip()]
                merged = dict.fromkeys([*self._aliases.get(key, ()), *found])
                self._aliases[key] = tuple(a for a in merged if normalize_label(a) != key)

    def of(self, name: str) -> tuple[str, ...]:
        """The Aliases of label ``name`` (any case), display spelling, in file order; ``()`` when none."""
        return self._aliases.get(normalize_label(name), ())

    def expand(self, names: Iterable[str], besides: Iterable[str] = ()) -> list[str]:
        """The Aliases of every name in ``names`` (e.g. a label's Name), distinct, repeating neither ``names``
        nor ``besides`` (e.g. its Parents), in order."""
        given = list(names)
        seen = {normalize_label(n) for n in [*given, *besides]}
        out: list[str] = []
        for name in given:
            for alias in self.of(name):
                key = normalize_label(alias)
                if key not in seen:
                    seen.add(key)
                    out.append(alias)
        return out


@functools.cache
def aliases() -> AliasTable:
    """The packaged ``AliasTable`` (``LABEL_FILES`` under ``resources/``), read once per process.

    Read-only data shipped with the app, like the label files themselves; raises
    ``OSError``/``ValueError`` when they are missing or malformed.
    """
    root = resources_dir()
    return AliasTable(root / rel for rel in LABEL_FILES)
