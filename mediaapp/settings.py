"""Per-library settings, stored as ``settings.json`` in the library folder.

Plain JSON of defaults merged with what the user saved; never secrets (AWS
credentials come from boto3's standard chain, OpenSearch passwords from the
environment). Unknown keys are kept, so newer versions can add settings.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from mediaapp.core.types import LOCAL_ENGINE
from mediaapp.fsio import atomic_write
from mediaapp.paths import is_below

#: The defaults of every setting; engines are analysis-engine names, apis Rekognition operation names.
DEFAULTS: dict = {
    "engines": [LOCAL_ENGINE],
    "apis": ["DetectLabels", "DetectText", "RecognizeCelebrities"],
    "min_confidence": 50.0,     # DetectLabels MinConfidence, 0-100
    "max_labels": None,         # DetectLabels MaxLabels; None = engine default
    "faces_enabled": True,
    "index": {"backend": "sqlite"},
    "workers": None,            # analysis/ingest processes; None = number of cores
}


def load_settings(library_dir: Path) -> dict:
    """The library's settings: ``DEFAULTS`` updated with ``settings.json`` (a broken file is ignored)."""
    settings = copy.deepcopy(DEFAULTS)
    path = Path(library_dir) / "settings.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(saved, dict):
            settings.update(saved)
    except (OSError, ValueError):
        pass
    return settings


def save_settings(library_dir: Path, settings: dict) -> None:
    """Write ``settings`` to ``settings.json`` atomically, owner-only (``mediaapp.fsio.atomic_write``).

    Raises ``OSError`` when it cannot be written; the old file is then unchanged.
    """
    atomic_write(Path(library_dir) / "settings.json", json.dumps(settings, indent=2, sort_keys=True).encode("utf-8"))


def flag(value, default: bool) -> bool:
    """A boolean setting read leniently: None gives ``default``; text "0", "false", "no", "off" and "" are False."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def engines_for_paths(paths: Iterable[str], rules: Mapping[str, Iterable[str]],
                      default: Iterable[str]) -> list[str]:
    """The analysis engines for one image (one sha256) stored at ``paths``, when a run names none.

    ``rules`` is ``settings["folder_engines"]`` (folder -> engine names);
    ``default`` is ``settings["engines"]``. A rule applies when one of
    ``paths`` is its folder or lies below it; the deepest applying folder
    (longest absolute path) wins, the first in ``rules`` order among equally
    deep ones; with no rule applying, ``default``. Rule folders are made
    absolute (``~`` expanded, ``os.path.abspath``: a trailing separator is
    dropped); ``paths`` are compared as given, so pass absolute normalised
    paths (as the catalog stores them). An empty rule means "no engine".
    Returns a new list; no I/O. This is the rule ``Library.engines_for``
    applies after an import, and ``mediaapp.services.estimate.CostEstimator.estimate_import``
    before it.
    """
    paths = list(paths)
    best_depth, best = -1, None
    for folder, names in rules.items():
        root = os.path.abspath(os.path.expanduser(folder))
        if len(root) > best_depth and any(is_below(p, (root,)) for p in paths):
            best_depth, best = len(root), names
    return list(best) if best is not None else list(default)
