"""Per-library settings, stored as ``settings.json`` in the library folder.

Plain JSON of defaults merged with what the user saved; never secrets (AWS
credentials come from boto3's standard chain, OpenSearch passwords from the
environment). Unknown keys are kept, so newer versions can add settings.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

#: The defaults of every setting; engines are analysis-engine names, apis Rekognition operation names.
DEFAULTS: dict = {
    "engines": ["local"],
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
    """Write ``settings`` to ``settings.json`` atomically (temp file + rename)."""
    path = Path(library_dir) / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(settings, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def flag(value, default: bool) -> bool:
    """A boolean setting read leniently: None gives ``default``; text "0", "false", "no", "off" and "" are False."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)
