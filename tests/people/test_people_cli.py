"""``mediaapp people`` end to end on the real 3_faces photos: enrol from one photo, import, search by person,
list, forget."""

from __future__ import annotations

import json
import shutil

import pytest
from people_support import SETTINGS, photos_of

from mediaapp.cli.main import main

pytestmark = pytest.mark.slow


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_enrol_import_search_list_forget(testdata, tmp_path, capsys):
    from mediaapp.settings import save_settings

    lib = tmp_path / "lib"
    lib.mkdir()
    save_settings(lib, SETTINGS)
    photos = tmp_path / "photos"
    shutil.copytree(testdata / "3_faces/face_recognition", photos)
    example = testdata / "3_faces/face_recognition/obama.jpg"

    code, out, err = run(capsys, "--library", str(lib), "people", "add", "Barack Obama", str(example))
    assert code == 0 and "enrolled Barack Obama from 1 example" in out and err == ""
    code, out, _ = run(capsys, "--library", str(lib), "import", str(photos), "--quiet")
    assert code == 0 and "imported 21" in out

    code, out, _ = run(capsys, "--library", str(lib), "search", "--person", "Barack Obama")
    found = {line.rsplit("/", 1)[1] for line in out.split("\n") if line}
    obama = photos_of(testdata, "Barack Obama", exclude=())
    assert found == obama and len(found) == 9
    assert not found & {"biden.jpg", "biden2.jpg"}        # Biden's own photos are not Obama's
    code, out, _ = run(capsys, "--library", str(lib), "search", "--person", "Barack Obama", "--json")
    hit = next(h for h in json.loads(out) if h["path"].endswith("/two_people.jpg"))
    (det,) = [d for d in hit["detections"] if d["Kind"] == "person"]
    assert det["Name"] == "Barack Obama" and det["Source"] == "local" and 80 <= det["Confidence"] <= 100
    assert set(det["BoundingBox"]) == {"Width", "Height", "Left", "Top"}

    code, out, _ = run(capsys, "--library", str(lib), "people", "list", "--json")
    assert json.loads(out) == [{"Name": "Barack Obama", "Source": "local", "Faces": 9, "Photos": 9, "Examples": 1}]
    code, out, _ = run(capsys, "--library", str(lib), "people", "list")
    assert out.splitlines()[1].split() == ["Barack", "Obama", "9", "9", "local", "(1", "example)"]

    no_face = testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg"
    code, out, err = run(capsys, "--library", str(lib), "people", "add", "Nobody", str(no_face))
    assert code == 1 and "no face found" in err

    code, out, _ = run(capsys, "--library", str(lib), "people", "forget", "barack obama")
    assert code == 0
    code, out, _ = run(capsys, "--library", str(lib), "search", "--person", "Barack Obama")
    assert out == ""
    code, _, err = run(capsys, "--library", str(lib), "people", "forget", "Barack Obama")
    assert code == 1 and "nobody called" in err

    code, out, _ = run(capsys, "--library", str(lib), "people", "forget", "--all")
    assert code == 0 and "21 image(s)" in out
    code, out, _ = run(capsys, "--library", str(lib), "people", "list")
    assert "nobody is named yet" in out
    assert not (lib / "faces").exists()
