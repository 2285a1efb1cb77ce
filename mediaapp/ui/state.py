"""What the GUI remembers between runs (window layout, toggles, last library), via ``QSettings``.

Stored in INI format under organisation ``mediaapp``, application
``mediaapp`` (``~/.config/mediaapp/mediaapp.ini`` on Linux). Tests redirect
it with ``QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tmp)``.
Library settings (engines, index backend) are not here: they live in the
library's ``settings.json`` (``mediaapp.settings``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "mediaapp"
APPLICATION = "mediaapp"

KEY_LAST_LIBRARY = "library/last"
KEY_GEOMETRY = "window/geometry"
KEY_STATE = "window/state"
KEY_SPLITTER = "window/splitter"
KEY_DETAIL_SPLITTER = "window/detailSplitter"
KEY_SHOW_BOXES = "view/showBoxes"
KEY_THUMB_SIDE = "view/thumbnailSide"
KEY_MIN_CONFIDENCE = "filter/minConfidence"
KEY_MATCH_ALL = "filter/matchAll"
KEY_SORT = "view/sort"


def ui_settings() -> QSettings:
    """The GUI's ``QSettings`` (INI format, user scope)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    """A boolean setting (INI files store ``true``/``false`` text)."""
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def read_int(settings: QSettings, key: str, default: int) -> int:
    """An integer setting; ``default`` when missing or not a number."""
    try:
        return int(settings.value(key, default))
    except (TypeError, ValueError):
        return default


def resolve_library_dir(cli: str | None, env: Mapping[str, str] | None = None,
                        settings: QSettings | None = None) -> Path:
    """The library folder to open.

    In order: ``cli`` (``--library DIR``), ``$MEDIAAPP_LIBRARY``, the last
    library used (QSettings), ``mediaapp.paths.default_library_dir()``.
    Only computes a path; the folder is created when the library opens.
    """
    from mediaapp.paths import default_library_dir

    env = os.environ if env is None else env
    if cli:
        return Path(cli).expanduser().resolve()
    if env.get("MEDIAAPP_LIBRARY"):
        return Path(env["MEDIAAPP_LIBRARY"]).expanduser().resolve()
    settings = settings or ui_settings()
    last = settings.value(KEY_LAST_LIBRARY)
    if last:
        return Path(str(last)).expanduser()
    return default_library_dir()
