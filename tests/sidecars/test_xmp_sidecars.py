"""End to end through a real Library and the CLI: ``mediaapp xmp write`` puts the labels and named people into XMP
sidecars that exiftool itself reads back, keeps what other programs wrote, follows later changes, and never
comes back as the files' own keywords.

The labels are the replay engine's recorded Rekognition answer (``tests/replay_engine.py``); the faces are found
by the local engine in two photos of ``3_faces`` and named through People.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from metadata_support import exiftool, exiftool_json, needs_exiftool, write_sidecar
from support import REPLAY_PHOTOS, replay_settings, sha256_of

from mediaapp.cli.main import main
from mediaapp.library import Library
from mediaapp.settings import save_settings

pytestmark = needs_exiftool

FACES = "3_faces/face_recognition"

#: What "another program" wrote into obama.jpg's sidecar before mediaapp saw it (exiftool writes it).
FOREIGN = ["-XMP-dc:Subject=Holiday 2019", "-XMP-lr:HierarchicalSubject=Places|USA|Chicago",
           "-XMP-digiKam:TagsList=Places/USA/Chicago", "-XMP-xmp:Rating=3", "-XMP-photoshop:City=Chicago",
           "-XMP-mwg-rs:RegionInfo={RegionList=[{Area={X=0.1,Y=0.1,W=0.1,H=0.1,Unit=normalized},"
           "Name=Someone Else,Type=Face}]}"]
FOREIGN_REGION = {"Area": {"H": 0.1, "Unit": "normalized", "W": 0.1, "X": 0.1, "Y": 0.1},
                  "Name": "Someone Else", "Type": "Face"}


def _labels(testdata: Path, minimum: float) -> list[str]:
    """The replayed DetectLabels answer's label names with Confidence >= ``minimum``, in its order."""
    response = json.loads((testdata / "4_rekognition/awscli/detect-labels.json").read_text())
    return [label["Name"] for label in response["Labels"] if label["Confidence"] >= minimum]


def _cli(root: Path, capsys, *args, code: int = 0) -> str:
    capsys.readouterr()
    assert main(["--library", str(root), *map(str, args)]) == code
    return capsys.readouterr().out


def _face(lib: Library, path: Path):
    sha = lib.catalog.sha_for_path(str(path))
    return next(f for f in lib.people.store.faces(sha256s=[sha]) if f.face_index == 0)


@pytest.fixture
def labelled(testdata, tmp_path):
    """A closed library of a car photo (labels only) and two face photos (labels and a named face each); obama.jpg
    already has a sidecar another program wrote. Returns (root, photos folder)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "car.jpg").write_bytes((testdata / REPLAY_PHOTOS[0]).read_bytes())
    for name in ("obama.jpg", "biden.jpg"):
        (photos / name).write_bytes((testdata / FACES / name).read_bytes())
    write_sidecar(photos / "obama.jpg", photos / "obama.jpg.xmp", *FOREIGN)
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})
    lib = Library(root)
    try:
        assert lib.import_paths([photos]).analysed == 3
        assert lib.import_paths([photos], engines=["local"], apis=["RecognizeCelebrities"]).failed == []
        lib.people.name_faces([_face(lib, photos / "obama.jpg").id], "Barack Obama")
        lib.people.name_faces([_face(lib, photos / "biden.jpg").id], "Joe Biden")
    finally:
        lib.close()
    return root, photos


def _expected_region(root: Path, photo: Path, name: str) -> dict:
    """The MWG region the named face of ``photo`` should have, from the library's own detection."""
    lib = Library(root, sync=False)
    try:
        sha = lib.catalog.sha_for_path(str(photo))
        box = next(d.box for d in lib.detections([sha])[sha] if d.name == name)
    finally:
        lib.close()
    return {"x": box.left + box.width / 2, "y": box.top + box.height / 2, "w": box.width, "h": box.height}


class _Open:
    """``with _Open(root) as lib``: a library opened for reading only, closed at the end."""

    def __init__(self, root: Path):
        self.lib = Library(root, sync=False)

    def __enter__(self) -> Library:
        return self.lib

    def __exit__(self, *exc) -> None:
        self.lib.close()


def _assert_region(region: dict, name: str, area: dict) -> None:
    assert region["Name"] == name and region["Type"] == "Face" and region["Area"]["Unit"] == "normalized"
    for key in "xywh":
        assert region["Area"][key.upper()] == pytest.approx(area[key], abs=1e-5)


def test_xmp_write_gives_sidecars_exiftool_reads_back_and_keeps_what_others_wrote(testdata, labelled, capsys):
    root, photos = labelled
    originals = {p: sha256_of(p) for p in photos.glob("*.jpg")}
    theirs_before = exiftool_json(photos / "obama.jpg.xmp", "-XMP:all")

    assert _cli(root, capsys, "xmp", "status").strip() == "sidecars off: pending 0, written 0, failed 0"
    assert "sidecars are off" not in _cli(root, capsys, "xmp", "write")   # off: nothing written
    assert sorted(p.name for p in photos.glob("*.xmp")) == ["obama.jpg.xmp"]
    _cli(root, capsys, "xmp", "on")
    assert _cli(root, capsys, "xmp", "status").strip() == "sidecars on: pending 3, written 0, failed 0"
    out = _cli(root, capsys, "xmp", "write", "--quiet")
    assert out.startswith("sidecars written 3, unchanged 0, failed 0")
    assert _cli(root, capsys, "xmp", "status").strip() == "sidecars on: pending 0, written 3, failed 0"

    labels = _labels(testdata, 80.0)            # the default minimum confidence
    assert "Parking" in _labels(testdata, 50.0) and "Parking" not in labels
    car = exiftool_json(photos / "car.jpg.xmp", "-XMP:all")
    assert car["Subject"] == labels
    assert {"Transportation|Vehicle|Car", "Person|Sport|Skateboard", "Urban"} <= set(car["HierarchicalSubject"])
    assert {"Transportation/Vehicle/Car", "Person/Sport/Skateboard"} <= set(car["TagsList"])
    assert len(car["HierarchicalSubject"]) == len(car["TagsList"]) == len(labels)
    assert "RegionInfo" not in car              # nobody named in it

    biden = exiftool_json(photos / "biden.jpg.xmp", "-XMP:all")
    assert biden["Subject"] == labels
    with _Open(root) as lib:
        asset = lib.assets([lib.catalog.sha_for_path(str(photos / "biden.jpg"))]).popitem()[1]
    assert biden["RegionInfo"]["AppliedToDimensions"] == {"W": asset.width, "H": asset.height, "Unit": "pixel"}
    [region] = biden["RegionInfo"]["RegionList"]
    _assert_region(region, "Joe Biden", _expected_region(root, photos / "biden.jpg", "Joe Biden"))

    obama = exiftool_json(photos / "obama.jpg.xmp", "-XMP:all")
    assert obama["Subject"] == ["Holiday 2019", *labels]                       # theirs first, kept
    assert obama["HierarchicalSubject"][0] == "Places|USA|Chicago"
    assert obama["TagsList"][0] == "Places/USA/Chicago"
    assert (obama["Rating"], obama["City"]) == (3, "Chicago")
    assert obama["RegionInfo"]["RegionList"][0] == FOREIGN_REGION
    _assert_region(obama["RegionInfo"]["RegionList"][1], "Barack Obama",
                   _expected_region(root, photos / "obama.jpg", "Barack Obama"))
    for key, value in theirs_before.items():                                   # nothing of theirs is lost
        if key not in ("Subject", "HierarchicalSubject", "TagsList", "RegionInfo", "XMPToolkit", "SourceFile"):
            assert obama[key] == value, key
    assert {p: sha256_of(p) for p in photos.glob("*.jpg")} == originals        # originals never written


def test_later_changes_remove_only_our_entries_and_keep_other_programs_edits(testdata, labelled, capsys):
    root, photos = labelled
    _cli(root, capsys, "xmp", "on")
    _cli(root, capsys, "xmp", "write", "--quiet")
    sidecar = photos / "obama.jpg.xmp"
    # another program adds a keyword after our write
    exiftool("-overwrite_original", "-XMP-dc:Subject+=Added later", sidecar)
    os.utime(sidecar, ns=(1_000_000_000, 1_000_000_000))  # a new time, however coarse the clock

    lib = Library(root)
    try:
        assert not lib.sidecars.is_own_write(str(sidecar))           # changed by the other program
        assert lib.sidecars.is_own_write(str(photos / "biden.jpg.xmp"))
        face = _face(lib, photos / "obama.jpg")
        group = next(g for g in lib.people.groups() if face.id in g.face_ids)
        lib.people.name_group(group.key, "Barack H. Obama")           # renaming: the sidecar follows at once
        assert lib.sidecars.is_own_write(str(sidecar))
    finally:
        lib.close()
    obama = exiftool_json(sidecar, "-XMP:all")
    assert [r["Name"] for r in obama["RegionInfo"]["RegionList"]] == ["Someone Else", "Barack H. Obama"]
    assert obama["RegionInfo"]["RegionList"][0] == FOREIGN_REGION
    assert {"Holiday 2019", "Added later"} <= set(obama["Subject"])

    # fewer labels (a higher minimum confidence): only our entries that no longer apply go
    _cli(root, capsys, "xmp", "on", "--min-confidence", "95")
    assert _cli(root, capsys, "xmp", "write", "--quiet").startswith("sidecars written 3")
    kept = _labels(testdata, 95.0)
    assert kept and len(kept) < len(_labels(testdata, 80.0))
    obama = exiftool_json(sidecar, "-XMP:all")
    assert obama["Subject"] == ["Holiday 2019", *kept, "Added later"]
    assert obama["HierarchicalSubject"][0] == "Places|USA|Chicago"
    assert len(obama["HierarchicalSubject"]) == 1 + len(kept)
    assert [r["Name"] for r in obama["RegionInfo"]["RegionList"]] == ["Someone Else", "Barack H. Obama"]
    assert exiftool_json(photos / "car.jpg.xmp", "-XMP:all")["Subject"] == kept


def test_reimport_does_not_turn_our_entries_into_the_files_own_keywords(testdata, labelled, capsys):
    root, photos = labelled
    _cli(root, capsys, "xmp", "on")
    _cli(root, capsys, "xmp", "write", "--quiet")
    sidecars = {p: os.stat(p).st_mtime_ns for p in photos.glob("*.xmp")}

    out = _cli(root, capsys, "import", "--quiet", photos)
    assert "files' own metadata read 3" in out                       # the new sidecars were read...
    shown = json.loads(_cli(root, capsys, "show", "--json", photos / "obama.jpg"))
    assert {k["name"] for k in shown["metadata"]["keywords"]} == {"Holiday 2019", "Chicago"}   # ...only theirs
    assert [p["name"] for p in shown["metadata"]["people"]] == ["Someone Else"]
    for name in ("car.jpg", "biden.jpg"):
        shown = json.loads(_cli(root, capsys, "show", "--json", photos / name))
        assert shown["metadata"]["keywords"] == [] and shown["metadata"]["people"] == []
    assert set(_cli(root, capsys, "search", "--person", "Barack Obama").splitlines()) == {str(photos / "obama.jpg")}
    out = _cli(root, capsys, "import", "--quiet", photos)
    assert "files' own metadata read" not in out                     # and nothing loops: no rewrite, no re-read
    assert {p: os.stat(p).st_mtime_ns for p in photos.glob("*.xmp")} == sidecars
    assert exiftool_json(photos / "obama.jpg.xmp", "-XMP-dc:Subject")["Subject"].count("Car") == 1


def test_an_interrupted_run_resumes(testdata, labelled, capsys):
    root, photos = labelled
    _cli(root, capsys, "xmp", "on")
    lib = Library(root)
    try:
        calls = []
        report = lib.write_sidecars(cancel=lambda: calls.append(1) or len(calls) > 1)   # stop after one image
        assert report.cancelled and report.written == 1
        assert lib.sidecars.status().pending == 2
    finally:
        lib.close()
    out = _cli(root, capsys, "xmp", "write", "--quiet")
    assert out.startswith("sidecars written 2, unchanged 0, failed 0")
    assert len(list(photos.glob("*.jpg.xmp"))) == 3


@pytest.mark.parametrize("how", ["read-only folder", "name taken by a folder"])
def test_a_sidecar_that_cannot_be_written_is_one_error_and_the_rest_carry_on(testdata, tmp_path, capsys, how):
    if how == "read-only folder" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the other case covers the failure path")
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder, source in ((good, REPLAY_PHOTOS[0]), (bad, REPLAY_PHOTOS[1])):
        folder.mkdir()
        (folder / "photo.jpg").write_bytes((testdata / source).read_bytes())
    (bad / "other.jpg").write_bytes((testdata / REPLAY_PHOTOS[2]).read_bytes())
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})
    _cli(root, capsys, "import", "--quiet", good, bad)
    _cli(root, capsys, "xmp", "on")
    if how == "read-only folder":
        bad.chmod(0o555)
    else:
        (bad / "photo.jpg.xmp").mkdir()
    try:
        out = _cli(root, capsys, "xmp", "write", "--quiet", code=1)
        failed = [line for line in out.splitlines() if "FAILED" in line]
        assert len(failed) == 1 + (how == "read-only folder"), out
        assert f"FAILED {bad / 'photo.jpg.xmp'}: cannot write the sidecar photo.jpg.xmp: " in out
        assert (good / "photo.jpg.xmp").is_file()
        assert _cli(root, capsys, "xmp", "status").strip().endswith(f"failed {len(failed)}")
    finally:
        bad.chmod(0o755)
    if how != "read-only folder":
        (bad / "photo.jpg.xmp").rmdir()
    assert _cli(root, capsys, "xmp", "write", "--quiet").startswith(f"sidecars written {len(failed)}, unchanged 0")
    assert _cli(root, capsys, "xmp", "status").strip() == "sidecars on: pending 0, written 3, failed 0"


def test_sidecars_are_written_only_in_folders_that_opt_in(testdata, tmp_path, capsys):
    on, off = tmp_path / "on", tmp_path / "off"
    for folder in (on, off):
        folder.mkdir()
        (folder / "photo.jpg").write_bytes((testdata / REPLAY_PHOTOS[0]).read_bytes())
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})
    _cli(root, capsys, "import", "--quiet", on, off)
    _cli(root, capsys, "xmp", "on", on)
    assert _cli(root, capsys, "xmp", "status").strip() == "sidecars on: pending 1, written 0, failed 0"
    assert _cli(root, capsys, "xmp", "write", "--quiet").startswith("sidecars written 1")
    assert (on / "photo.jpg.xmp").is_file() and not (off / "photo.jpg.xmp").exists()
    # a library-wide opt-in with the folder opted out keeps it out; importing more writes at once
    _cli(root, capsys, "xmp", "on")
    _cli(root, capsys, "xmp", "off", off)
    (on / "more.jpg").write_bytes((testdata / REPLAY_PHOTOS[1]).read_bytes())
    _cli(root, capsys, "import", "--quiet", on)
    assert (on / "more.jpg.xmp").is_file() and not (off / "photo.jpg.xmp").exists()
    assert json.loads(_cli(root, capsys, "xmp", "status", "--json")) == {"enabled": True, "pending": 0,
                                                                        "written": 2, "failed": 0}
    capsys.readouterr()
    assert main(["--library", str(root), "xmp", "write", "--quiet", str(off)]) == 0
    assert "sidecars are off for" in capsys.readouterr().err and not (off / "photo.jpg.xmp").exists()


def test_a_raw_jpeg_pair_shares_name_xmp_written_for_the_raw_with_the_stacks_labels(testdata, tmp_path, capsys):
    photos = tmp_path / "shoot"
    photos.mkdir()
    raw = photos / "IMG_0001.dng"
    raw.write_bytes((testdata / "8_sidecars/photoprism_canon_eos_6d.dng").read_bytes())
    (photos / "IMG_0001.xmp").write_bytes((testdata / "8_sidecars/photoprism_canon_eos_6d.xmp").read_bytes())
    (photos / "IMG_0001.jpg").write_bytes((testdata / REPLAY_PHOTOS[0]).read_bytes())
    theirs = exiftool_json(photos / "IMG_0001.xmp", "-XMP:all")
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})
    out = _cli(root, capsys, "import", "--quiet", photos)
    assert "failed 0" in out, out
    _cli(root, capsys, "xmp", "on", "--naming", "name.xmp")
    assert _cli(root, capsys, "xmp", "write", "--quiet").startswith("sidecars written 1, unchanged 0, failed 0")
    assert sorted(p.name for p in photos.glob("*.xmp")) == ["IMG_0001.xmp"]        # the RAW's, shared
    shared = exiftool_json(photos / "IMG_0001.xmp", "-XMP:all")
    assert shared["Subject"] == _labels(testdata, 80.0)        # the stack's labels, whichever file was analysed
    assert {k: v for k, v in shared.items() if k in theirs and k != "SourceFile"} == {
        k: v for k, v in theirs.items() if k != "SourceFile"}                     # Lightroom's edits kept


def test_xmp_on_refuses_a_folder_that_does_not_exist_and_changes_nothing(tmp_path, capsys):
    """A mistyped FOLDER is exit 2 with one line, and the settings keep no entry for it."""
    from mediaapp.settings import load_settings

    root = tmp_path / "lib"
    capsys.readouterr()
    assert main(["--library", str(root), "xmp", "on", str(tmp_path), str(tmp_path / "typo")]) == 2
    err = capsys.readouterr().err
    assert "typo" in err and len(err.strip().splitlines()) == 1
    assert not (load_settings(root).get("sidecars") or {}).get("folders")
    _cli(root, capsys, "xmp", "off", tmp_path / "gone")  # forgetting a folder that is gone still works
