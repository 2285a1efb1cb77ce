"""The GUI entry point: ``mediaapp-gui [--library DIR]`` (also ``python main.py``).

The library folder is, in order: ``--library DIR``, ``$MEDIAAPP_LIBRARY``,
the last library used, ``mediaapp.paths.default_library_dir()``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mediaapp.ui.state import APPLICATION, ORGANIZATION, resolve_library_dir


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Split ``argv`` (without the program name) into our options and the rest (Qt's options)."""
    parser = argparse.ArgumentParser(prog="mediaapp-gui", description="Browse and search a media library.")
    parser.add_argument("--library", metavar="DIR", help="the library folder (default: last used)")
    parser.add_argument("--debug", action="store_true", help="log debug messages to stderr")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the application; returns the exit status (0 on a normal quit, 2 on bad arguments)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, qt_args = parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on errors
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")

    from PySide6.QtWidgets import QApplication

    from mediaapp.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "mediaapp-gui", *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Media Library")
    app.setDesktopFileName("mediaapp")
    window = MainWindow(resolve_library_dir(args.library))
    window.show()
    return app.exec()
