"""Imports running at once share the work: each (image, API, engine) is analysed by one of them only.

The integration test failed on b6754a3: two imports of overlapping folders
analysed the shared images twice (with Rekognition, paying twice). The
``--no-analysis`` test failed too: the option did not exist and ``--apis ''``
fell back to every analysis.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import replay_engine
from support import REPLAY_PHOTOS, replay_folder, replay_settings

from mediaapp.catalog.claims import STALE_AFTER_S, Claimant, process_start
from mediaapp.catalog.db import Catalog
from mediaapp.cli.main import main
from mediaapp.core.types import Query
from mediaapp.library import Library
from mediaapp.settings import save_settings

VOC = "1_objects/voc/VOC2007/JPEGImages"
MORE = ("2_text/tesseract/HelloGoogle.tif", f"{VOC}/000003.jpg")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_claims_are_exclusive_until_released_or_their_owner_is_gone(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        claims = catalog.claims
        pairs = [("a" * 64, "DetectLabels", "local"), ("b" * 64, "DetectLabels", "local")]
        first, second = Claimant(), Claimant()
        assert claims.claim(first, pairs) == set(pairs)
        assert claims.claim(second, [*pairs, ("c" * 64, "DetectText", "local")]) == {("c" * 64, "DetectText", "local")}
        assert claims.claim(first, pairs[:1]) == set(pairs[:1])  # its own claim holds
        claims.release(first, pairs[:1])
        assert claims.claim(second, pairs) == set(pairs[:1])
        # a crashed import's claims are taken over: same host, process gone
        crashed = Claimant(pid=_dead_pid())
        d = ("d" * 64, "DetectLabels", "rekognition")
        assert claims.claim(crashed, [d]) == {d}
        assert claims.claim(second, [d]) == {d}
        # ...and so are those of a pid another process holds now (reused after a crash or a reboot)
        if process_start(os.getpid()) is not None:
            reused = Claimant(pid=os.getpid(), started="another-boot:12345")
            f = ("f" * 64, "DetectText", "rekognition")
            assert claims.claim(reused, [f]) == {f}
            assert claims.claim(second, [f]) == {f}
        # another host's claim: respected while fresh, taken over once older than STALE_AFTER_S
        remote = Claimant(host="elsewhere.example", pid=1)
        e = ("e" * 64, "DetectLabels", "rekognition")
        assert claims.claim(remote, [e]) == {e}
        assert claims.claim(second, [e]) == set()
        with catalog.transaction() as conn:
            conn.execute("UPDATE analysis_claims SET claimed_at = ? WHERE owner = ?",
                         (time.time() - STALE_AFTER_S - 60, remote.token))
        claims.touch(remote)                       # still working: refreshed, so not stale
        assert claims.claim(second, [e]) == set()
        with catalog.transaction() as conn:
            conn.execute("UPDATE analysis_claims SET claimed_at = ? WHERE owner = ?",
                         (time.time() - STALE_AFTER_S - 60, remote.token))
        assert claims.claim(second, [e]) == {e}
        claims.release(second)
        assert set(claims.holders().values()) == {first.token}
    finally:
        catalog.close()


def test_two_imports_of_overlapping_folders_analyse_each_image_once(testdata, tmp_path):
    shared, only_a, only_b = tmp_path / "shared", tmp_path / "a", tmp_path / "b"
    for folder, names in ((shared, REPLAY_PHOTOS), (only_a, MORE[:1]), (only_b, MORE[1:])):
        folder.mkdir()
        for name in names:
            shutil.copy(testdata / name, folder / Path(name).name)
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, replay_settings(testdata, delay=0.05))
    replay_engine.CALLS.clear()
    libraries = [Library(root), Library(root)]  # two imports, each with its own connections
    reports = [None, None]
    start = threading.Barrier(2)

    def run(i: int, folders: list[Path]) -> None:
        start.wait()
        reports[i] = libraries[i].import_paths(folders)

    try:
        threads = [threading.Thread(target=run, args=(0, [shared, only_a])),
                   threading.Thread(target=run, args=(1, [only_b, shared]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        calls = Counter(replay_engine.CALLS)
        assert calls and max(calls.values()) == 1, calls.most_common(3)  # nothing analysed twice
        assert len(calls) == 5 * 3  # every image, every API, once
        assert sum(r.elsewhere for r in reports) + sum(r.cached for r in reports) >= 3 * 3
        assert libraries[0].catalog.claims.holders() == {}  # released
        assert libraries[0].search(Query(labels=("Car",), limit=None)).total == 5
        assert not [p for r in reports for p in r.failed]
    finally:
        for lib in libraries:
            lib.close()


def test_no_analysis_imports_files_only_and_a_later_import_only_analyses(testdata, tmp_path, capsys):
    root, photos = replay_folder(testdata, tmp_path)
    replay_engine.CALLS.clear()
    assert main(["--library", str(root), "import", "--quiet", "--no-analysis", str(photos)]) == 0
    assert "imported 3, duplicates 0, unchanged 0, not images 0, analysed 0" in capsys.readouterr().out
    assert replay_engine.CALLS == []
    assert main(["--library", str(root), "search", "--folder", str(photos)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # catalogued and searchable by folder
    assert main(["--library", str(root), "import", "--quiet", str(photos)]) == 0
    assert "imported 0, duplicates 0, unchanged 3, not images 0, analysed 9" in capsys.readouterr().out
    assert main(["--library", str(root), "import", "--no-analysis", "--apis", "labels", str(photos)]) == 2
    assert "--no-analysis cannot be combined" in capsys.readouterr().err
