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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mediaapp.core.apis import default_apis
from mediaapp.core.redact import without_password
from mediaapp.core.types import LOCAL_ENGINE
from mediaapp.fsio import atomic_write
from mediaapp.paths import is_below


class SettingsError(ValueError):
    """A setting has a value of the wrong kind; the message names the key, the value and what was expected."""


#: ``NAME.EXT.xmp`` (darktable, digiKam: one sidecar per file, never shared) and ``NAME.xmp`` (Lightroom,
#: Capture One, Bridge: the RAW's sidecar, shared with a JPEG of the same name).
SIDECAR_NAMINGS = ("name.ext.xmp", "name.xmp")

#: XMP sidecar writing (``mediaapp.services.sidecars``), off until the user turns it on.
#: ``enabled``: on for the whole library; ``folders``: absolute folder -> True/False, the deepest applying
#: folder wins over ``enabled``; ``naming``: one of ``SIDECAR_NAMINGS``; ``min_confidence``: machine labels
#: below it (0-100) are not written. 80, not the search threshold (50): a keyword in a sidecar leaves the
#: app, where Lightroom, digiKam and agencies take it as a person's word and nothing marks it uncertain, so
#: only the labels that are rarely wrong go (the same bar as Rekognition's default face SimilarityThreshold,
#: which the app uses to name faces by itself); ``confidences``: also write each machine label's
#: confidence in mediaapp's own XMP namespace.
SIDECAR_DEFAULTS: dict[str, Any] = {"enabled": False, "folders": {}, "naming": "name.ext.xmp",
                                    "min_confidence": 80.0, "confidences": False}


def sidecar_options(value: Any) -> dict[str, Any]:
    """The ``sidecars`` setting checked and completed with ``SIDECAR_DEFAULTS`` (a new dict).

    Folder keys are made absolute (``~`` expanded). Raises ``SettingsError``
    naming the sub-key of a value of the wrong kind.
    """
    data = _object("sidecars", value)
    out = copy.deepcopy(SIDECAR_DEFAULTS)
    out.update({k: v for k, v in data.items() if k not in SIDECAR_DEFAULTS})  # newer keys are kept
    if "enabled" in data:
        out["enabled"] = flag(data["enabled"], False)
    if "confidences" in data:
        out["confidences"] = flag(data["confidences"], False)
    if data.get("min_confidence") is not None:
        out["min_confidence"] = _number("sidecars.min_confidence", data["min_confidence"], 0.0, 100.0)
    if data.get("naming") is not None:
        naming = str(data["naming"]).strip().lower()
        if naming not in SIDECAR_NAMINGS:
            raise SettingsError(f"setting 'sidecars.naming' must be one of {', '.join(SIDECAR_NAMINGS)}, "
                                f"not {data['naming']!r}")
        out["naming"] = naming
    if data.get("folders") is not None:
        out["folders"] = {os.path.abspath(os.path.expanduser(str(folder))): flag(on, False)
                          for folder, on in _object("sidecars.folders", data["folders"]).items()}
    return out


def sidecars_on_for(path: str, options: Mapping[str, Any]) -> bool:
    """Whether sidecars are written for the file at ``path`` (absolute) under the ``sidecars`` ``options``.

    The deepest folder of ``options["folders"]`` that holds ``path`` decides;
    with none, ``options["enabled"]``. No I/O.
    """
    best_depth, on = -1, bool(options.get("enabled"))
    for folder, folder_on in (options.get("folders") or {}).items():
        if len(folder) > best_depth and is_below(path, (folder,)):
            best_depth, on = len(folder), bool(folder_on)
    return on


def sidecars_anywhere(options: Mapping[str, Any]) -> bool:
    """Whether the ``sidecars`` ``options`` turn writing on for the library or for any folder."""
    return bool(options.get("enabled")) or any(bool(v) for v in (options.get("folders") or {}).values())


def _numeric(value: Any) -> Any:
    """``value``, or the number a hand-edited text holds (``"85"``), as earlier versions read it."""
    if isinstance(value, str):
        try:
            return float(value.strip()) if "." in value or "e" in value.lower() else int(value.strip())
        except ValueError:
            return value
    return value


def _number(key: str, value: Any, low: float, high: float) -> float:
    value = _numeric(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        raise SettingsError(f"setting {key!r} must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _count(key: str, value: Any) -> int | None:
    """A positive whole number; null, or 0 as earlier versions wrote for "no limit / one per core", is None."""
    value = _numeric(value)
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"setting {key!r} must be a whole number of at least 1 or null, not {value!r}")
    return value


def _names(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingsError(f"setting {key!r} must be a list of names, not {value!r}")
    return tuple(v.strip() for v in value)


def _object(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"setting {key!r} must be a JSON object, not {value!r}")
    return copy.deepcopy(value)


@dataclass(frozen=True)
class Settings:
    """One library's settings, checked; the defaults of every setting are the field defaults here.

    ``engines``: analysis-engine names a run uses when it names none;
    ``apis``: Rekognition operation names analysed by default;
    ``min_confidence``: DetectLabels MinConfidence, 0-100; ``max_labels``:
    DetectLabels MaxLabels (None: the engine's default); ``faces_enabled``:
    face features on; ``face_match_threshold``: Similarity (0-100) from
    which a face is named automatically (Rekognition's default 80);
    ``workers``: worker processes (None: one per core); ``index``: the
    search backend's settings (``mediaapp.search.factory``);
    ``engine_config``: each engine's own section, by engine name;
    ``folder_engines``: absolute folder -> engine names; ``stack_raw_jpeg``:
    "Stack RAW+JPEG pairs", a RAW and a JPEG/HEIF of the same stem in one
    folder are one stack (``mediaapp.catalog.stacks``); ``watch_enabled``:
    "Watch folders for changes" (``mediaapp.services.watch``), of the folders
    ``watch_folders`` (absolute paths); ``watch_polling``: poll them instead
    of inotify (network shares are polled anyway); ``watch_reconcile_s``:
    seconds between the watcher's full reconcile scans (0: only at start); ``sidecars``: XMP
    sidecar writing (``SIDECAR_DEFAULTS``, checked by ``sidecar_options``); ``blur_unsafe``: "Blur unsafe
    thumbnails", the grid blurs images flagged as unsafe content (``mediaapp.services.moderation``) until
    clicked (off by default); ``label_floor``: the lowest Confidence (0-100) an on-device concept label is
    stored with (``analysis.local.classifier.CONFIDENCE_FLOOR``, 20), so the search slider (default 50) can go
    lower without analysing again; it reaches the engine through its config, not the analysis cache key, so
    changing it re-analyses nothing (it applies to images analysed afterwards); ``relabel_notice``: front end
    (``cli``, ``gui``) -> the label model it last said "photos were labelled by an older model" about
    (``mediaapp.services.relabel``); ``extra``: keys
    this version does not know (kept, so newer versions can add settings).
    Instances are immutable: ``replace`` makes a changed copy.
    """

    engines: tuple[str, ...] = (LOCAL_ENGINE,)
    apis: tuple[str, ...] = default_apis()
    min_confidence: float = 50.0
    max_labels: int | None = None
    faces_enabled: bool = True
    face_match_threshold: float = 80.0
    workers: int | None = None
    index: Mapping[str, Any] = field(default_factory=lambda: {"backend": "sqlite"})
    engine_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    folder_engines: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stack_raw_jpeg: bool = True
    watch_enabled: bool = False
    watch_folders: tuple[str, ...] = ()
    watch_polling: bool = False
    watch_reconcile_s: float = 600.0
    sidecars: Mapping[str, Any] = field(default_factory=lambda: dict(SIDECAR_DEFAULTS))
    blur_unsafe: bool = False
    label_floor: float = 20.0
    relabel_notice: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Settings:
        """Check ``data`` (the JSON of ``settings.json``) key by key; missing keys take their defaults.

        Raises ``SettingsError`` naming the first key whose value is of the wrong kind.
        """
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known or (value is None and key in ("index", "engine_config", "folder_engines",
                                                              "sidecars")):
                continue  # null for a table: its default, as earlier versions read it
            if key in ("engines", "apis"):
                values[key] = _names(key, value)
            elif key in ("min_confidence", "face_match_threshold", "label_floor"):
                values[key] = _number(key, value, 0.0, 100.0)
            elif key in ("max_labels", "workers"):
                values[key] = _count(key, value)
            elif key in ("faces_enabled", "stack_raw_jpeg"):
                values[key] = flag(value, True)
            elif key in ("watch_enabled", "watch_polling", "blur_unsafe"):
                values[key] = flag(value, False)
            elif key == "watch_folders":
                values[key] = _names(key, value)
            elif key == "watch_reconcile_s":
                values[key] = _number(key, value, 0.0, 86400.0)
            elif key == "index":
                values[key] = _object(key, value)
            elif key == "engine_config":
                sections = _object(key, value)
                for name, section in sections.items():
                    _object(f"{key}.{name}", section)
                values[key] = sections
            elif key == "folder_engines":
                values[key] = {folder: _names(f"{key}[{folder!r}]", engines)
                               for folder, engines in _object(key, value).items()}
            elif key == "sidecars":
                values[key] = sidecar_options(value)
            elif key == "relabel_notice":
                values[key] = {str(k): str(v) for k, v in _object(key, value).items()}
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in known}
        return cls(**values, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form ``settings.json`` holds (unknown keys included); a deep copy."""
        out: dict[str, Any] = copy.deepcopy(dict(self.extra))
        for f in fields(self):
            if f.name != "extra":
                value = getattr(self, f.name)
                if isinstance(value, tuple):
                    value = list(value)
                elif f.name == "folder_engines":
                    value = {k: list(v) for k, v in value.items()}
                out[f.name] = copy.deepcopy(value)
        return out

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (JSON-like values, checked as ``from_mapping`` does)."""
        return Settings.from_mapping({**self.to_dict(), **changes})


#: The defaults of every setting, as ``settings.json`` would hold them.
DEFAULTS: dict[str, Any] = Settings().to_dict()


def read_settings(library_dir: Path) -> Settings:
    """The checked settings of the library at ``library_dir`` (defaults when it has no ``settings.json``).

    Raises ``SettingsError`` naming the file and what is wrong: not JSON, not
    an object, or a key with a value of the wrong kind.
    """
    path = Path(library_dir) / "settings.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    try:
        saved = json.loads(text)
    except ValueError as exc:
        raise SettingsError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(saved, dict):
        raise SettingsError(f"{path} must hold a JSON object, not {type(saved).__name__}")
    try:
        return Settings.from_mapping(saved)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def load_settings(library_dir: Path) -> dict[str, Any]:
    """The library's settings as a plain dict (``read_settings(...).to_dict()``), for editing and saving.

    Raises ``SettingsError`` as ``read_settings`` does.
    """
    return read_settings(library_dir).to_dict()


def save_settings(library_dir: Path, settings: Mapping[str, Any] | Settings) -> None:
    """Write ``settings`` to ``settings.json`` atomically, owner-only (``mediaapp.fsio.atomic_write``).

    Passwords are never stored: a ``password`` key of the index settings,
    and a password inside the search server's URL (``index.url``, or
    ``index.opensearch.url``; ``core.redact.without_password``), are left
    out; it belongs in ``MEDIAAPP_OPENSEARCH_PASSWORD``. Raises ``OSError`` when it cannot be
    written; the old file is then unchanged.
    """
    data = settings.to_dict() if isinstance(settings, Settings) else dict(settings)
    index = data.get("index")
    if isinstance(index, Mapping):
        index = {key: dict(value) if isinstance(value, Mapping) else value for key, value in index.items()}
        for holder in (index, index.get("opensearch")):
            if isinstance(holder, dict):
                holder.pop("password", None)
                if isinstance(holder.get("url"), str):
                    holder["url"] = without_password(holder["url"])
        data["index"] = index
    atomic_write(Path(library_dir) / "settings.json", json.dumps(data, indent=2, sort_keys=True).encode("utf-8"))


def store_settings(library_dir: Path, **changes: Any) -> None:
    """Change only the top-level keys ``changes`` in the stored ``settings.json`` and save it (``save_settings``).

    For choices saved on their own (the watch toggle, the relabel notice, the face collection's id): the
    rest of the file stays as stored, so a session's in-memory overrides and keys other code saved
    meanwhile are not written back. Raises ``SettingsError`` (unreadable file) and ``OSError`` (cannot write).
    """
    stored = load_settings(library_dir)
    stored.update(changes)
    save_settings(library_dir, stored)


def flag(value: Any, default: bool) -> bool:
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
    applies after an import, and ``mediaapp.services.costs.CostEstimator.estimate_import``
    before it.
    """
    paths = list(paths)
    best_depth, best = -1, None
    for folder, names in rules.items():
        root = os.path.abspath(os.path.expanduser(folder))
        if len(root) > best_depth and any(is_below(p, (root,)) for p in paths):
            best_depth, best = len(root), names
    return list(best) if best is not None else list(default)
