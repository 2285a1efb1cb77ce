"""``mediaapp search --face-attribute`` over the real local engine: blinks and smiles found on real photos, and
"the face named X has Y" as one query (the attribute and the person on the same face)."""

from __future__ import annotations

import json
import shutil

import pytest

from mediaapp.cli.main import main

FACES = "3_faces/face_recognition"


@pytest.fixture(scope="module")
def face_library(testdata, tmp_path_factory):
    """obama.jpg (smiling), biden.jpg (neutral) and obama_and_biden.jpg (Biden laughing with his eyes
    squeezed shut, Obama open-eyed and not smiling, a child), imported with faces and celebrities only,
    and Joe Biden and Barack Obama enrolled from photos that are not in the library."""
    root = tmp_path_factory.mktemp("faces")
    photos = root / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "biden.jpg", "obama_and_biden.jpg"):
        shutil.copy(testdata / FACES / name, photos)
    lib = str(root / "lib")
    assert main(["--library", lib, "import", str(photos), "--apis", "faces,celebrities", "--quiet"]) == 0
    assert main(["--library", lib, "people", "add", "Joe Biden", str(testdata / FACES / "biden2.jpg")]) == 0
    assert main(["--library", lib, "people", "add", "Barack Obama", str(testdata / FACES / "obama2.jpg")]) == 0
    return lib


def search(capsys, lib: str, *argv: str) -> list[str]:
    capsys.readouterr()
    assert main(["--library", lib, "search", *argv, "--limit", "0"]) == 0
    return sorted(line.rsplit("/", 1)[-1] for line in capsys.readouterr().out.split())


def test_face_attributes_find_the_photos(face_library, capsys):
    assert search(capsys, face_library, "--face-attribute", "smiling") == ["obama.jpg", "obama_and_biden.jpg"]
    assert search(capsys, face_library, "--face-attribute", "eyes-closed") == ["obama_and_biden.jpg"]
    assert search(capsys, face_library, "--face-attribute", "Eyes-Open") == \
        ["biden.jpg", "obama.jpg", "obama_and_biden.jpg"]


def test_person_and_attribute_apply_to_the_same_face(face_library, capsys):
    lib = face_library
    assert search(capsys, lib, "--person", "Joe Biden") == ["biden.jpg", "obama_and_biden.jpg"]
    assert search(capsys, lib, "--person", "Joe Biden", "--face-attribute", "eyes-closed") == ["obama_and_biden.jpg"]
    # Obama is in that photo and a face there has its eyes closed, but not his
    assert search(capsys, lib, "--person", "Barack Obama", "--face-attribute", "eyes-closed") == []
    assert search(capsys, lib, "--person", "Barack Obama", "--face-attribute", "smiling") == ["obama.jpg"]
    assert search(capsys, lib, "--face-attribute", "smiling", "--face-attribute", "eyes-closed") == \
        ["obama_and_biden.jpg"]


def test_json_shows_the_matching_face(face_library, capsys):
    capsys.readouterr()
    assert main(["--library", face_library, "search", "--face-attribute", "eyes-closed", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [d["Name"] for d in hits[0]["detections"]] == ["eyes-closed"]
    assert hits[0]["detections"][0]["Kind"] == "face_attribute" and "BoundingBox" in hits[0]["detections"][0]


def test_an_unknown_attribute_is_refused(face_library, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--library", face_library, "search", "--face-attribute", "grumpy"])
    assert exc.value.code == 2
    assert "unknown face attribute 'grumpy'" in capsys.readouterr().err
