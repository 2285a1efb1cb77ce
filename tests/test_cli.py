"""The CLI over the real local engine: import, then find images by their text and their faces."""

import json
import shutil

import pytest

from mediaapp.cli.main import main


@pytest.fixture(scope="module")
def cli_library(testdata, tmp_path_factory):
    """A library with a text image, two face photos, a VOC photo and a broken file, imported once."""
    root = tmp_path_factory.mktemp("cli")
    photos = root / "photos"
    photos.mkdir()
    for rel in ["2_text/tesseract/HelloGoogle.tif", "3_faces/face_recognition/obama.jpg",
                "3_faces/face_recognition/biden.jpg", "1_objects/voc/VOC2007/JPEGImages/000004.jpg",
                "5_formats/broken/pillow_broken.png"]:
        shutil.copy(testdata / rel, photos)
    return root / "lib", photos


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_then_search_by_text_and_face(cli_library, capsys):
    lib, photos = cli_library
    code, out, _ = run(capsys, "--library", str(lib), "import", str(photos), "--quiet")
    assert code == 0                                   # a broken file does not fail the run
    assert "imported 4" in out and "failed 1" in out
    assert "pillow_broken.png: decode:" in out

    code, out, _ = run(capsys, "--library", str(lib), "search", "google", "--json")
    hits = json.loads(out)
    assert [h["path"].rsplit("/", 1)[1] for h in hits] == ["HelloGoogle.tif"]
    assert "Google" in {d["Name"] for d in hits[0]["detections"] if d["Kind"] == "text"}
    assert all(len(h["sha256"]) == 64 for h in hits)

    code, out, _ = run(capsys, "--library", str(lib), "search", "--label", "Face", "--json")
    names = sorted(h["path"].rsplit("/", 1)[1] for h in json.loads(out))
    assert names == ["biden.jpg", "obama.jpg"]
    face = json.loads(out)[0]["detections"]
    assert any(d["Name"] == "Face" and "BoundingBox" in d for d in face)

    code, out, _ = run(capsys, "--library", str(lib), "search", "--label", "Face", "--label", "Car", "--any")
    assert sorted(line.rsplit("/", 1)[1] for line in out.split()) == ["000004.jpg", "biden.jpg", "obama.jpg"]


def test_show_json_and_reimport(cli_library, capsys):
    lib, photos = cli_library
    code, out, _ = run(capsys, "--library", str(lib), "show", str(photos / "HelloGoogle.tif"), "--json")
    record = json.loads(out)
    assert code == 0 and set(record) >= {"DetectLabels", "DetectText", "RecognizeCelebrities", "errors"}
    words = {t["DetectedText"] for t in record["DetectText"]["TextDetections"] if t["Type"] == "WORD"}
    assert {"Hello", "Google"} <= words
    code, out, _ = run(capsys, "--library", str(lib), "show", str(photos / "pillow_broken.png"), "--json")
    assert json.loads(out)["errors"][0]["stage"] == "decode"
    code, out, _ = run(capsys, "--library", str(lib), "import", str(photos), "--quiet")
    assert "imported 0" in out and "unchanged 5" in out and "analysed 0" in out
    code, _, err = run(capsys, "--library", str(lib), "show", str(photos / "nope.jpg"))
    assert code == 1 and "not in the library" in err


def test_limit_says_what_it_left_out_and_reanalyse_runs_again(cli_library, capsys):
    lib, photos = cli_library
    run(capsys, "--library", str(lib), "import", str(photos), "--quiet")
    code, out, err = run(capsys, "--library", str(lib), "search", "--limit", "1")
    assert code == 0 and len(out.split()) == 1 and "showing 1 of 4 matches" in err
    code, out, err = run(capsys, "--library", str(lib), "search", "--limit", "0")
    assert len(out.split()) == 4 and err == ""
    code, out, _ = run(capsys, "--library", str(lib), "import", str(photos / "HelloGoogle.tif"), "--quiet",
                       "--apis", "text", "--reanalyse")
    assert code == 0 and "analysed 1" in out and "cached 0" in out


def test_a_library_that_is_not_a_database_is_a_clear_error(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    code, _out, err = run(capsys, "--library", str(lib), "search", "x")
    assert code == 1 and err.startswith(f"mediaapp: error: the library at {lib} is not a mediaapp database")
