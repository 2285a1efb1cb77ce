"""Where mediaapp keeps its files, from platformdirs.

The library (catalog, index, thumbnails, settings) defaults to the user data
dir (``~/.local/share/mediaapp/library`` on Linux) and can be moved with
``--library DIR`` or the ``MEDIAAPP_LIBRARY`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "mediaapp"


def default_library_dir() -> Path:
    """The library folder: ``$MEDIAAPP_LIBRARY`` if set, else ``<user data dir>/library``."""
    env = os.environ.get("MEDIAAPP_LIBRARY")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "library"
