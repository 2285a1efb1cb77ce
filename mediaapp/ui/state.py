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
from typing import Any

from PySide6.QtCore import QSettings

from mediaapp.core.types import SortOrder
from mediaapp.ui.delegate import DEFAULT_THUMB_SIDE

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
#: The sidebar's "Safe only" (leave out images flagged as unsafe content).
KEY_SAFE_ONLY = "filter/safeOnly"
KEY_SORT = "view/sort"
#: The folder the Import dialog opened last (it opens there next time); a dropped folder counts too.
KEY_LAST_IMPORT_DIR = "import/lastFolder"
#: True once the user agreed to the one-time download of the analysis models (asked before the first one).
KEY_MODELS_ACCEPTED = "models/downloadAccepted"


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


def save_window_state(window: Any) -> None:
    """Remember ``window``'s (a ``MainWindow``) layout, toggles and filters in QSettings."""
    s = ui_settings()
    s.setValue(KEY_GEOMETRY, window.saveGeometry())
    s.setValue(KEY_STATE, window.saveState())
    s.setValue(KEY_SPLITTER, window.splitter.saveState())
    s.setValue(KEY_DETAIL_SPLITTER, window.detail.splitter.saveState())
    s.setValue(KEY_SHOW_BOXES, window.delegate.show_boxes)
    s.setValue(KEY_THUMB_SIDE, window.delegate.thumb_side)
    s.setValue(KEY_MIN_CONFIDENCE, window.sidebar.min_confidence())
    s.setValue(KEY_MATCH_ALL, window.sidebar.match_all.isChecked())
    s.setValue(KEY_SAFE_ONLY, window.sidebar.safe_only.isChecked())
    s.setValue(KEY_SORT, window.sort.currentData())
    s.sync()


def restore_window_state(window: Any) -> None:
    """Apply to ``window`` what ``save_window_state`` remembered (defaults when nothing is stored)."""
    s = ui_settings()
    geometry = s.value(KEY_GEOMETRY)
    if geometry is not None:
        window.restoreGeometry(geometry)
    else:
        window.resize(1280, 820)
    for key, restore in ((KEY_STATE, window.restoreState), (KEY_SPLITTER, window.splitter.restoreState),
                         (KEY_DETAIL_SPLITTER, window.detail.restore_splitter)):
        value = s.value(key)
        if value is not None:
            restore(value)
    window.set_show_boxes(read_bool(s, KEY_SHOW_BOXES, True))
    window.set_thumb_side(read_int(s, KEY_THUMB_SIDE, DEFAULT_THUMB_SIDE))
    window.sidebar.set_min_confidence(read_int(s, KEY_MIN_CONFIDENCE, 50))
    if not read_bool(s, KEY_MATCH_ALL, True):
        window.sidebar.match_any.setChecked(True)
    window.sidebar.safe_only.setChecked(read_bool(s, KEY_SAFE_ONLY, False))
    index = window.sort.findData(s.value(KEY_SORT, SortOrder.RELEVANCE.value))
    if index >= 0:
        window.sort.setCurrentIndex(index)
