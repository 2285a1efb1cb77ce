"""Where mediaapp keeps its files, from platformdirs.

The library (catalog, index, thumbnails, settings) defaults to the user data
dir (``~/.local/share/mediaapp/library`` on Linux) and can be moved with
``--library DIR`` or the ``MEDIAAPP_LIBRARY`` environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import platformdirs

APP_NAME = "mediaapp"


def default_library_dir() -> Path:
    """The library folder: ``$MEDIAAPP_LIBRARY`` if set, else ``<user data dir>/library``."""
    env = os.environ.get("MEDIAAPP_LIBRARY")
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "library"


def is_below(path: str, folders: Iterable[str]) -> bool:
    """True when ``path`` is one of ``folders`` or lies below one of them.

    Pure text comparison of absolute, normalised paths (as the catalog
    stores them); a trailing separator on a folder is ignored, and
    ``/a/bc`` is not below ``/a/b``. No file-system access.
    """
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def top_folders(folders: list[str]) -> list[str]:
    """``folders`` without those inside another listed folder (what to re-import recursively)."""
    out: list[str] = []
    for folder in sorted(set(folders)):
        if not is_below(folder, out):
            out.append(folder)
    return out
