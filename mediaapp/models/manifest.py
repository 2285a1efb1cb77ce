"""The pinned model manifest (``resources/models/manifest.json``) and the label taxonomy.

The manifest pins, for every model the on-device engine can use, the npm
package tarball it comes from (URL, SRI ``integrity`` hash, size), the sha256
of every file taken out of it, the license, the input geometry and
normalisation, and the decoder parameters. Nothing here touches the network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

#: Environment variable overriding the resources directory (packaged builds).
RESOURCES_ENV = "MEDIAAPP_RESOURCES"


class ManifestError(Exception):
    """The manifest or taxonomy file is missing or malformed, or a model name is unknown."""


def resources_dir() -> Path:
    """The ``resources/`` directory: ``$MEDIAAPP_RESOURCES`` or the one beside the package."""
    env = os.environ.get(RESOURCES_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "resources"


@dataclass(frozen=True)
class PackageSpec:
    """An npm package tarball that holds model files.

    ``tarball`` is the public registry URL (rewritten at fetch time for a
    configured mirror); ``integrity`` is the registry's SRI string
    (``sha512-<base64>``); ``size`` is the tarball's length in bytes.
    """

    key: str
    package: str
    version: str
    tarball: str
    integrity: str
    size: int
    metadata_url: str = ""
    license: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """One detector model of the manifest.

    ``files`` maps each tarball member used to its sha256 (hex); ``graph`` is
    the TFJS ``model.json`` member; ``input`` holds ``name``, ``size``
    ([height, width] pixels), ``layout`` (NCHW/NHWC), ``channels`` (RGB/BGR)
    and per-channel ``mean``/``std`` in 0-255 pixel units
    (``x = (pixel - mean) / std``); ``decoder`` holds the post-processing
    parameters read by ``mediaapp.analysis.local.objects``.
    """

    name: str
    version: str
    package: PackageSpec
    graph: str
    files: dict
    input: dict
    decoder: dict
    labels: str = "coco80"
    license: str = ""
    description: str = ""
    upstream: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def input_size(self) -> tuple[int, int]:
        """``(height, width)`` of the network input, pixels."""
        h, w = self.input["size"]
        return int(h), int(w)


@lru_cache(maxsize=4)
def _load_manifest(path: str) -> tuple[str, dict[str, ModelSpec]]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        packages = {
            key: PackageSpec(key=key, package=p["package"], version=p["version"], tarball=p["tarball"],
                             integrity=p["integrity"], size=int(p.get("size", 0)),
                             metadata_url=p.get("metadata_url", ""), license=p.get("license", ""))
            for key, p in doc["packages"].items()
        }
        models = {}
        for m in doc["models"]:
            models[m["name"]] = ModelSpec(
                name=m["name"], version=m["version"], package=packages[m["package"]], graph=m["graph"],
                files=dict(m["files"]), input=dict(m["input"]), decoder=dict(m["decoder"]),
                labels=m.get("labels", "coco80"), license=m.get("license", ""),
                description=m.get("description", ""), upstream=m.get("upstream", ""))
        default = doc.get("default") or next(iter(models))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"cannot read the model manifest {path}: {exc}") from exc
    if default not in models:
        raise ManifestError(f"manifest default model {default!r} is not listed")
    return default, models


def manifest_path() -> Path:
    """Path of the pinned manifest JSON."""
    return resources_dir() / "models" / "manifest.json"


def all_models() -> dict[str, ModelSpec]:
    """Every model in the manifest, by name (manifest order). Raises ``ManifestError``."""
    return dict(_load_manifest(str(manifest_path()))[1])


#: Environment variable naming the object detector to use instead of the manifest's default (e.g. ``nanodet``).
DETECTOR_ENV = "MEDIAAPP_DETECTOR"


def default_model_name() -> str:
    """Name of the detector the local engine uses: ``$MEDIAAPP_DETECTOR`` when set and not empty, else the
    manifest's default (``centernet``). Not checked here: ``get_model`` refuses an unknown name."""
    return os.environ.get(DETECTOR_ENV) or _load_manifest(str(manifest_path()))[0]


def get_model(name: str | None = None) -> ModelSpec:
    """The ``ModelSpec`` called ``name`` (``default_model_name()`` when None). Raises ``ManifestError``, naming
    the known models, for an unknown name."""
    _default, models = _load_manifest(str(manifest_path()))
    key = name or default_model_name()
    if key not in models:
        raise ManifestError(f"unknown model {key!r}; known models: {', '.join(models)}")
    return models[key]


@dataclass(frozen=True)
class Taxonomy:
    """COCO class index -> label name, and every label's parents, categories and aliases.

    ``classes[i]`` is the label name of detector class ``i``;
    ``labels[name]`` is a dict with ``parents`` (all ancestors, nearest
    first), ``categories`` and ``aliases`` (lists of names).
    """

    classes: tuple[str, ...]
    labels: dict
    version: str = "1"

    def parents(self, name: str) -> list[str]:
        """Every ancestor of ``name``, nearest first (empty for unknown names)."""
        return list(self.labels.get(name, {}).get("parents", []))

    def categories(self, name: str) -> list[str]:
        """Rekognition-style category names of ``name``."""
        return list(self.labels.get(name, {}).get("categories", []))

    def aliases(self, name: str) -> list[str]:
        """Other names of ``name`` (``Sofa`` for ``Couch``)."""
        return list(self.labels.get(name, {}).get("aliases", []))


@lru_cache(maxsize=2)
def _load_taxonomy(path: str) -> Taxonomy:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        classes = tuple(doc["coco80"])
        labels = doc["labels"]
    except (OSError, ValueError, KeyError) as exc:
        raise ManifestError(f"cannot read the label taxonomy {path}: {exc}") from exc
    missing = [c for c in classes if c not in labels]
    missing += [p for entry in labels.values() for p in entry.get("parents", []) if p not in labels]
    if missing:
        raise ManifestError(f"taxonomy {path} names labels it does not define: {sorted(set(missing))}")
    return Taxonomy(classes, labels, str(doc.get("version", "1")))


def load_taxonomy() -> Taxonomy:
    """The label taxonomy from ``resources/taxonomy.json``. Raises ``ManifestError``."""
    return _load_taxonomy(str(resources_dir() / "taxonomy.json"))
