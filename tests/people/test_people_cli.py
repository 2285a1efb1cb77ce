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


def test_faces_compare_finds_obama_among_three(tmp_path, testdata, capsys):
    """``mediaapp faces compare``: the local CompareFaces, checked against botocore's output shape."""
    from mediaapp.analysis.validate import validate_response

    faces = testdata / "3_faces/face_recognition"
    lib = str(tmp_path / "lib")
    code, out, err = run(capsys, "--library", lib, "faces", "compare", str(faces / "obama.jpg"),
                         str(faces / "obama_and_biden.jpg"), "--json")
    assert code == 0, err
    answer = json.loads(out)
    validate_response("CompareFaces", answer)
    (match,) = answer["FaceMatches"]
    assert match["Similarity"] >= 80 and len(answer["UnmatchedFaces"]) == 2
    code, out, _ = run(capsys, "--library", lib, "faces", "compare", str(faces / "biden.jpg"),
                       str(faces / "obama.jpg"))
    assert code == 0 and "MATCH" not in out and out.count("no match") == 1
    # a stricter threshold is refused before any work; an image without a face is a clear error
    with pytest.raises(SystemExit) as refused:
        main(["--library", lib, "faces", "compare", str(faces / "obama.jpg"), str(faces / "obama2.jpg"),
              "--similarity-threshold", "150"])
    assert refused.value.code == 2 and "150 is not from 0 to 100" in capsys.readouterr().err
    no_face = testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg"
    code, _, err = run(capsys, "--library", lib, "faces", "compare", str(no_face), str(faces / "obama.jpg"))
    assert code == 1 and f"no face found in the source image {no_face}" in err
