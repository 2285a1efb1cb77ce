"""Names leave no trace: forgetting, renaming or merging a person rewrites the stored local RecognizeCelebrities
responses (what ``show``, ``mediaapp show --json`` and the detail view's Celebrities tab display), on the real
photos of testdata/3_faces."""

from __future__ import annotations

import json

import pytest
from people_support import photos_of

from mediaapp.analysis.validate import validate_response
from mediaapp.core.embeddings import person_id
from mediaapp.core.types import Api
from mediaapp.services.people_model import group_key
from mediaapp.ui.detail import celebrities_from

pytestmark = pytest.mark.slow

OBAMA, BIDEN = "Barack Obama", "Joe Biden"
CELEB = Api.RECOGNIZE_CELEBRITIES.value


def stored(lib, name: str) -> dict:
    """``Library.show`` of the held-back photo ``name`` (imported by the test)."""
    return lib.library.show(str(lib.later / name))


def app_made(record: dict) -> dict:
    """``record`` without the words the photo says of itself (``asset.title`` and ``description``, read from its
    own XMP or IPTC): the White House captions name the President as a file name could; no trace of People."""
    copy = json.loads(json.dumps(record))
    for key in ("title", "description"):
        (copy.get("asset") or {}).pop(key, None)
    return copy


def names_in(record: dict) -> list[str]:
    """The names of the newest local RecognizeCelebrities response of a ``show`` record (valid, or it raises)."""
    validate_response(CELEB, record[CELEB])
    return [c["Name"] for c in record[CELEB]["CelebrityFaces"]]


def test_forgetting_a_person_leaves_no_trace_in_show(faces_library, testdata, capsys):
    from mediaapp.cli.main import main

    lib = faces_library
    people = lib.library.people
    people.name_faces([lib.face_of("obama.jpg").id], OBAMA)
    lib.library.import_paths([lib.later])  # analysed with Obama's references: the engine names him itself
    before = stored(lib, "obama2.jpg")
    assert names_in(before) == [OBAMA]
    (celebrity,) = before[CELEB]["CelebrityFaces"]

    assert people.forget_person(OBAMA)
    after = stored(lib, "obama2.jpg")
    text = json.dumps(app_made(after))
    assert OBAMA not in text and person_id(OBAMA) not in text
    assert names_in(after) == [] and after[CELEB]["UnrecognizedFaces"] == [celebrity["Face"]]
    assert celebrities_from(after["analyses"]) == []  # the detail view's Celebrities tab
    assert lib.person_photos(OBAMA) == set() and [p.name for p in people.persons()] == []
    # the CLI prints the same record
    assert main(["--library", str(lib.root), "show", str(lib.later / "obama2.jpg"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert OBAMA not in json.dumps(app_made(out)) and out[CELEB]["UnrecognizedFaces"] == [celebrity["Face"]]
    # Biden's photo, analysed at the same time, never named anyone
    assert names_in(stored(lib, "biden2.jpg")) == []


def test_renaming_and_merging_rename_the_person_in_show(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    first = people.name_faces([lib.face_of("obama.jpg").id], "B. Obama")
    people.name_faces([lib.face_of("biden.jpg").id], "J. Biden")
    lib.library.import_paths([lib.later])
    assert names_in(stored(lib, "obama2.jpg")) == ["B. Obama"] and names_in(stored(lib, "biden2.jpg")) == ["J. Biden"]

    assert people.name_group(group_key(person_id=first), OBAMA) == first  # a rename
    record = stored(lib, "obama2.jpg")
    assert names_in(record) == [OBAMA] and record[CELEB]["CelebrityFaces"][0]["Id"] == person_id(OBAMA)
    assert "B. Obama" not in json.dumps(record) and person_id("B. Obama") not in json.dumps(record)
    assert [c.name for c in celebrities_from(record["analyses"])] == [OBAMA]
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA, exclude=())

    # "J. Biden" is the same person as "Joe Biden", named from another photo: merged, the first name goes
    # the face is J. Biden's (named automatically): taking it for another name must be allowed explicitly
    biden = people.name_faces([lib.face_of("two_people.jpg", 0).id], BIDEN, reassign=True)
    old = next(p for p in people.store.persons() if p.name == "J. Biden")
    people.merge_groups(group_key(person_id=old.id), group_key(person_id=biden))
    record = stored(lib, "biden2.jpg")
    assert names_in(record) == [BIDEN] and record[CELEB]["CelebrityFaces"][0]["Id"] == person_id(BIDEN)
    assert "J. Biden" not in json.dumps(record)
    assert lib.person_photos(BIDEN) == photos_of(testdata, BIDEN, exclude=())
    assert [p.name for p in people.persons()] == [OBAMA, BIDEN]


def test_a_photo_analysed_before_a_forget_is_stored_without_the_name(faces_library, monkeypatch):
    """An import sends the named people's references once, with every photo: a person forgotten while it
    runs must not come back through the responses stored afterwards."""
    lib = faces_library
    people = lib.library.people
    people.name_faces([lib.face_of("obama.jpg").id], OBAMA)
    config = lib.library.engine_config("local")  # what an import started now sends to the workers
    assert OBAMA in config["people"]
    assert people.forget_person(OBAMA)
    monkeypatch.setattr(lib.library.importer, "engine_config", lambda engine: config)  # the pipeline's source
    report = lib.library.import_paths([lib.later])
    assert report.analysed == 2 and report.failed == []
    record = stored(lib, "obama2.jpg")
    assert OBAMA not in json.dumps(app_made(record))
    assert names_in(record) == [] and len(record[CELEB]["UnrecognizedFaces"]) == 1
    assert lib.person_photos(OBAMA) == set()
