"""The GUI entry point: ``mediaapp-gui [--library DIR]`` (also ``python main.py``).

The library folder is, in order: ``--library DIR``, ``$MEDIAAPP_LIBRARY``,
the last library used, ``mediaapp.paths.default_library_dir()``.

SIGTERM (a logout, ``kill``, a service manager) closes the window as its
close button would (``install_termination_handler``): a running import is
cancelled, the library is closed and its worker processes end, then the
application quits with status 0. Without this, the signal would end the GUI
at once and leave its worker processes running.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

from mediaapp.core.redact import install_log_redaction
from mediaapp.ui.state import APPLICATION, ORGANIZATION, resolve_library_dir

if TYPE_CHECKING:  # pragma: no cover
    from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Split ``argv`` (without the program name) into our options and the rest (Qt's options)."""
    parser = argparse.ArgumentParser(prog="mediaapp-gui", description="Browse and search a media library.")
    parser.add_argument("--library", metavar="DIR", help="the library folder (default: last used)")
    parser.add_argument("--debug", action="store_true", help="log debug messages to stderr")
    return parser.parse_known_args(argv)


def configure_logging(debug: bool = False) -> None:
    """Log to stderr at INFO (DEBUG with ``debug``), a password inside any URL shown as ``***``.

    ``logging.basicConfig`` (a no-op when the root logger already has
    handlers), then ``mediaapp.core.redact.install_log_redaction`` on the
    root logger's handlers: messages and tracebacks (the background runner
    logs failed tasks with theirs) are redacted before they are written.
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    install_log_redaction()


def install_termination_handler(app: QApplication, window: QWidget) -> Any:
    """On SIGTERM, close ``window`` (its ``closeEvent`` stops the work and closes the library) and quit ``app``.

    Python runs a signal handler only between bytecodes, and Qt's event loop
    runs none while it waits; so the signal also wakes the loop through a
    socket pair (``signal.set_wakeup_fd``) watched by a ``QSocketNotifier``.
    The handler itself only queues the close for the event loop. Call on
    the main (GUI) thread. Returns the notifier, owned by ``app`` (it lives
    as long as the application). Raises ``ValueError`` off the main thread.
    """
    from PySide6.QtCore import QSocketNotifier, QTimer

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, app)
    notifier.setObjectName("sigtermNotifier")

    def drain() -> None:  # Python code running here is what lets the handler below run
        try:
            while reader.recv(64):
                pass
        except OSError:  # BlockingIOError once empty
            pass

    def close_and_quit() -> None:
        log.info("SIGTERM: closing the window and the library")
        window.close()
        app.quit()

    def on_sigterm(_signum: int, _frame: object) -> None:
        QTimer.singleShot(0, close_and_quit)

    notifier.activated.connect(drain)
    signal.signal(signal.SIGTERM, on_sigterm)
    notifier.destroyed.connect(lambda: (reader.close(), writer.close()))
    return notifier


def main(argv: list[str] | None = None) -> int:
    """Start the application; returns the exit status (0 on a normal quit, 2 on bad arguments)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, qt_args = parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on errors
        return int(exc.code or 0)
    configure_logging(args.debug)

    from PySide6.QtWidgets import QApplication

    from mediaapp.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "mediaapp-gui", *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Media Library")
    app.setDesktopFileName("mediaapp")
    window = MainWindow(resolve_library_dir(args.library))
    install_termination_handler(app, window)
    window.show()
    return app.exec()
