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


def test_search_sorts_by_name_size_and_age(cli_library, capsys):
    lib, photos = cli_library
    run(capsys, "--library", str(lib), "import", str(photos), "--quiet")

    def names(*sort):
        code, out, _ = run(capsys, "--library", str(lib), "search", "--limit", "0", "--sort", *sort)
        assert code == 0
        return [line.rsplit("/", 1)[1] for line in out.split("\n") if line]

    assert names("name") == ["000004.jpg", "biden.jpg", "HelloGoogle.tif", "obama.jpg"]  # case-insensitive
    by_size = sorted(names("name"), key=lambda n: -(photos / n).stat().st_size)
    assert names("size") == by_size
    assert sorted(names("oldest")) == sorted(by_size)
    err = _refused(capsys, "--library", str(lib), "search", "--sort", "biggest")
    assert "invalid choice: 'biggest'" in err and "'name', 'oldest', 'size'" in err


def test_a_library_that_is_not_a_database_is_a_clear_error(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    code, _out, err = run(capsys, "--library", str(lib), "search", "x")
    assert code == 1 and err.startswith(f"mediaapp: error: the library at {lib} is not a mediaapp database")


def _refused(capsys, *argv) -> str:
    """Run the CLI expecting argparse to refuse an argument (exit 2); returns what it printed."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("argv", "says"), [
    (["search", "--after", "2020-13-45"], "argument --after: '2020-13-45' is not an ISO 8601 date"),
    (["search", "--before", "notadate"], "argument --before: 'notadate' is not an ISO 8601 date"),
    (["search", "--limit", "-1"], "argument --limit: -1 is negative"),
    (["search", "--min-confidence", "nan"], "argument --min-confidence: nan is not from 0 to 100"),
    (["search", "--min-confidence", "150"], "argument --min-confidence: 150 is not from 0 to 100"),
    (["import", ".", "--apis", "foo"], "argument --apis: unknown analysis 'foo'; expected one of labels"),
    (["import", ".", "--engine", "foo"], "argument --engine: unknown analysis engine 'foo'; known: local"),
    (["import", "/nonexistent"], "argument PATH: /nonexistent does not exist"),
    (["estimate", ".", "--engine", "nope:Engine"], "argument --engine: analysis engine 'nope:Engine' cannot be"),
])
def test_bad_arguments_are_refused_before_any_work(tmp_path, capsys, argv, says):
    lib = tmp_path / "lib"
    err = _refused(capsys, "--library", str(lib), *argv)
    assert says in err and "Traceback" not in err
    assert not lib.exists()  # nothing was created, scanned or stored


def test_a_library_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("not a library")
    err = _refused(capsys, "--library", str(target), "search", "x")
    assert f"--library {target} is a file; a library is a folder" in err and "Errno" not in err


def test_an_engine_that_cannot_run_is_refused_and_stores_nothing(tmp_path, capsys, testdata, monkeypatch):
    """``--engine rekognition`` without AWS credentials: exit 2, one line, and no rows left behind."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(testdata / "3_faces/face_recognition/obama.jpg", photos)
    lib = tmp_path / "lib"
    code, out, err = run(capsys, "--library", str(lib), "import", str(photos), "--engine", "rekognition", "--quiet")
    assert code == 2 and "engine rekognition: no AWS credentials found" in err and out == ""
    code, out, _ = run(capsys, "--library", str(lib), "search", "--limit", "0")
    assert code == 0 and out == ""  # nothing was imported or recorded
    code, out, _ = run(capsys, "--library", str(lib), "show", str(photos / "obama.jpg"))
    assert code != 0
