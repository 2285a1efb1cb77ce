"""``mediaapp watch PATH``, headless: a dropped photo is imported and printed; SIGTERM ends it with exit code 0.

Also ``Catalog.move_paths``, the catalog side of a watched move.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from support import replay_settings

from mediaapp.catalog.db import Catalog
from mediaapp.core.types import Query
from mediaapp.library import Library
from mediaapp.settings import save_settings

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000003.jpg"
TESTS = Path(__file__).resolve().parents[1]


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line.rstrip("\n"))


def _wait_for(out: queue.Queue, prefix: str, seen: list[str], timeout: float = 30.0) -> str | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            line = out.get(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(line)
        if line.startswith(prefix):
            return line
    return None


def test_watch_command_imports_a_dropped_photo_and_exits_cleanly_on_sigterm(testdata, tmp_path):
    root, inbox = tmp_path / "lib", tmp_path / "inbox"
    root.mkdir()
    inbox.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "mediaapp.cli.main", "--library", str(root), "watch", str(inbox)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, out), daemon=True).start()
    seen: list[str] = []
    try:
        assert _wait_for(out, "watching 1 folder", seen), (seen, proc.poll())
        shutil.copy(testdata / PHOTO, inbox / "dropped.jpg")
        line = _wait_for(out, "added", seen)
        assert line is not None and line.endswith(str(inbox / "dropped.jpg")), seen
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
        assert _wait_for(out, "stopped", seen, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lib = Library(root, sync=False)
    try:
        assert lib.search(Query(labels=("Car",), folder=str(inbox))).total == 1
    finally:
        lib.close()


def test_watch_command_without_folders_says_what_to_do(tmp_path, capsys):
    from mediaapp.cli.main import main

    assert main(["--library", str(tmp_path / "lib"), "watch"]) == 2
    assert "name the folders to watch" in capsys.readouterr().err


def test_watch_command_refuses_missing_folders_and_bad_reconcile_before_watching(tmp_path, capsys):
    """No folder that exists, or a negative/NaN ``--reconcile``: exit 2 with one line, nothing watched."""
    import pytest

    from mediaapp.cli.main import main

    lib = str(tmp_path / "lib")
    assert main(["--library", lib, "watch", str(tmp_path / "nowhere"), str(tmp_path / "gone")]) == 2
    err = capsys.readouterr().err
    assert "nothing to watch" in err and len(err.strip().splitlines()) == 1
    for bad in ("-5", "nan", "inf"):
        with pytest.raises(SystemExit) as exc:
            main(["--library", lib, "watch", "--reconcile", bad, str(tmp_path)])
        assert exc.value.code == 2
        assert "--reconcile: expected a number of seconds" in capsys.readouterr().err


def test_move_paths_renames_files_and_folders_and_replaces_an_overwritten_path(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        a, b, c = "a" * 64, "b" * 64, "c" * 64
        for path, sha in (("/p/x.jpg", a), ("/p/album/y.jpg", b), ("/p/album/z.jpg", c), ("/q/z.jpg", c)):
            catalog.add_file(path=path, size=1, mtime_ns=1, sha256=sha, asset={})
        catalog.feed.clear("search", catalog.feed.marks("search", [a, b, c]))
        assert set(catalog.move_paths([("/p/album", "/p/2024")])) == {b, c}
        assert sorted(catalog.known_files()) == ["/p/2024/y.jpg", "/p/2024/z.jpg", "/p/x.jpg", "/q/z.jpg"]
        assert catalog.asset(b).paths == ["/p/2024/y.jpg"]  # same asset, new path
        # a rename over a catalogued file: the overwritten bytes lose that path (and the asset, if its last)
        assert set(catalog.move_paths([("/p/x.jpg", "/p/2024/y.jpg")])) == {a, b}
        assert catalog.asset(b) is None
        assert catalog.asset(a).paths == ["/p/2024/y.jpg"]
        assert catalog.move_paths([("/nowhere", "/p/else")]) == []
        assert set(catalog.feed.pending("search")) == {a, b, c}
    finally:
        catalog.close()
