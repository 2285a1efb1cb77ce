"""Hostile files, generated on every run (``fuzz_corpus``): each gets one clear outcome and the rest carries on.

For the image corpus: the import finishes; every file is catalogued or has
exactly one error row saying why, never both (a catalogued file whose own
XMP or IPTC is damaged has one ``metadata`` warning beside it); what is catalogued has a
thumbnail that decodes fully; nothing the mutation left intact is refused and
nothing it destroyed is accepted; the originals are byte-identical after; the
catalog passes SQLite's integrity check. For the result-file corpus: every
file is either stored or named with a reason, and a good file after the bad
ones is still stored.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3

from fuzz_corpus import image_corpus, result_corpus
from PIL import Image

from mediaapp.library import Library


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_hostile_image_is_catalogued_or_refused_with_one_reason(testdata, tmp_path):
    mutants = image_corpus(testdata, tmp_path / "corpus")
    before = {m.path: _digest(m.path) for m in mutants}
    lib = Library(tmp_path / "lib", settings={"workers": 2})
    try:
        report = lib.import_paths([tmp_path / "corpus"], engines=[])
        catalogued = {path for path in lib.catalog.known_files()}
        problems: dict[str, list[str]] = {}
        unread: dict[str, list[str]] = {}  # catalogued files whose own XMP or IPTC could not be read
        for problem in report.failed:
            into = unread if problem.stage == "metadata" else problems
            into.setdefault(problem.path, []).append(f"{problem.stage}: {problem.message}")
        thumbnails = {a.sha256: a for a in lib.assets(lib.catalog.all_sha256s()).values()}
    finally:
        lib.close()
    for path, reasons in unread.items():  # one readable reason, and the file is still catalogued
        assert path in catalogued and len(reasons) == 1 and "Traceback" not in reasons[0], (path, reasons)
    for mutant in mutants:
        path = str(mutant.path)
        assert (path in catalogued) != (path in problems), (mutant, problems.get(path))
        if path in problems:
            [reason] = problems[path]  # exactly one, and readable
            assert reason.split(": ", 1)[1].strip() and "Traceback" not in reason
        if mutant.decodable is True:
            assert path in catalogued, (mutant, problems.get(path))
        elif mutant.decodable is False:
            assert path in problems, mutant
    assert report.imported + report.duplicates + len(problems) == len(mutants)
    for asset in thumbnails.values():
        with Image.open(lib.thumbnail_dir / asset.sha256[:2] / f"{asset.sha256}.jpg") as thumb:
            thumb.load()
            assert thumb.width > 0 and thumb.height > 0
    assert {m.path: _digest(m.path) for m in mutants} == before  # originals never written to
    with sqlite3.connect(tmp_path / "lib" / "catalog.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_hostile_result_file_is_stored_or_named_with_a_reason(testdata, tmp_path):
    labels = json.loads((testdata / "4_rekognition/awscli/detect-labels.json").read_text())
    good = {"sha256": "f" * 64, "DetectLabels": labels}
    files = result_corpus({"sha256": "0" * 64, "DetectLabels": labels}, tmp_path / "results")
    (tmp_path / "results" / "zzz-good.json").write_text(json.dumps(good))
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        report = lib.results.import_([tmp_path / "results"])
        stored = {sha for _path, sha in [*files, (None, "f" * 64)] if lib.catalog.responses(sha)}
    finally:
        lib.close()
    named = {p.split(" (record", 1)[0] for p, _ in report.problems}
    assert "f" * 64 in stored  # the good file after the bad ones
    for path, sha in files:  # each file: stored, or named with its reason (a list file may be both)
        assert str(path) in named or sha in stored, path
    assert all(reason and "Traceback" not in reason for _, reason in report.problems)
    assert len(named) >= len(files) // 2  # most mutants are refused, each with its own reason
