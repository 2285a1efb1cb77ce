"""SIGTERM ends the GUI cleanly: the window closes the library, and no worker process is left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from support import replay_library

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"

#: The GUI as ``mediaapp-gui --library DIR`` starts it (``mediaapp.ui.app.main``), plus an import started once
#: the library is open; it prints ``IMPORTING`` when the import reached its workers.
DRIVER = textwrap.dedent('''
    import sys

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from mediaapp.ui import app as gui
    from mediaapp.ui.main_window import MainWindow


    def kick(application, photos):
        [window] = [w for w in application.topLevelWidgets() if isinstance(w, MainWindow)]
        said = []

        def progressed(progress, _uploads):
            if not said:
                said.append(True)
                print("IMPORTING", progress.stage, flush=True)

        window.imports.progressed.connect(progressed)
        if window.library is not None:
            window.start_import([photos])
        else:
            window.libraryOpened.connect(lambda _library: window.start_import([photos]))


    if __name__ == "__main__":
        library, photos = sys.argv[1], sys.argv[2]
        application = QApplication(["mediaapp-gui"])
        QTimer.singleShot(0, lambda: kick(application, photos))
        sys.exit(gui.main(["--library", library]))
''')


def session_members(sid: int) -> list[int]:
    """The processes of session ``sid`` (from /proc), the session leader included while it lives."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            members.append(int(entry))
    return members


def test_sigterm_closes_the_window_and_ends_every_worker_process(testdata, tmp_path):
    root = replay_library(testdata, tmp_path)
    photos = tmp_path / "new"
    photos.mkdir()
    for name in ("1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg", "1_objects/labelme_voc2011/2011_000003.jpg",
                 "1_objects/labelme_voc2011/2011_000006.jpg", "1_objects/labelme_voc2011/2011_000025.jpg"):
        shutil.copy(testdata / name, photos / Path(name).name)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO), os.environ.get("PYTHONPATH", "")]),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    # files, not pipes: a worker left behind would hold a pipe open, and reading it would never end
    with out.open("w") as stdout, err.open("w") as stderr:
        gui = subprocess.Popen([sys.executable, str(driver), str(root), str(photos)], stdout=stdout, stderr=stderr,
                               env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "IMPORTING" not in out.read_text() and gui.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "IMPORTING" in out.read_text(), err.read_text()[-3000:]
        deadline = time.monotonic() + 60
        while len(session_members(gui.pid)) < 2 and time.monotonic() < deadline:  # the GUI and its workers
            time.sleep(0.1)
        workers = [pid for pid in session_members(gui.pid) if pid != gui.pid]
        assert workers, "the import started no worker process"

        os.kill(gui.pid, signal.SIGTERM)
        gui.wait(timeout=90)
        deadline = time.monotonic() + 20
        while session_members(gui.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session_members(gui.pid) == [], "worker processes outlived the GUI"
        assert gui.returncode == 0, err.read_text()[-3000:]  # a clean quit, not killed by the signal
    finally:
        for pid in session_members(gui.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if gui.poll() is None:
            gui.kill()
            gui.wait()
