"""People safety on the real 3_faces photos: enrolling or naming never takes faces named as another person
without being told to (``mediaapp people add --reassign``, ``reassign=True``), and an edit can be undone and
redone through the service (``People.recorded`` / ``People.restore``)."""

from __future__ import annotations

import pytest
from people_support import FACES

from mediaapp.cli.main import main
from mediaapp.services.people_model import ReassignmentNeeded

pytestmark = pytest.mark.slow

OBAMA, BIDEN = "Barack Obama", "Joe Biden"


def naming(people) -> dict[int, tuple]:
    """Face id -> (state, person name, assigned_by, group id) of every face, photos and examples."""
    return {f.id: (f.state, f.person_name, f.assigned_by, f.group_id)
            for f in people.store.faces(origin=None, states=("ok", "rejected"))}


def crops(root) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / "faces").rglob("*.jpg")}


def test_people_add_refuses_to_take_faces_named_as_someone_else(faces_library, testdata, capsys):
    people = faces_library.library.people
    # Obama is enrolled from obama2.jpg: his 8 photo faces are named automatically
    assert people.enrol(OBAMA, [faces_library.later / "obama2.jpg"]).photos == 8
    before, files = naming(people), crops(faces_library.root)
    example = str(testdata / FACES / "obama.jpg")  # a closer example of the same faces, under another name

    code = main(["--library", str(faces_library.root), "people", "add", "Obama", example])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "8 faces named Barack Obama would be named Obama" in err and "--reassign" in err
    assert naming(people) == before and people.store.person("Obama") is None   # nothing changed
    assert crops(faces_library.root) == files                                   # no stray example crop
    assert faces_library.person_photos(OBAMA) and not faces_library.person_photos("Obama")

    code = main(["--library", str(faces_library.root), "people", "add", "Obama", example, "--reassign"])
    assert code == 0, capsys.readouterr().err
    assert len(faces_library.person_photos("Obama")) == 8 and faces_library.person_photos(OBAMA) == set()


def test_naming_into_another_person_raises_until_reassign(faces_library):
    people = faces_library.library.people
    obama = people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    biden = people.name_group(faces_library.group_of("biden.jpg").key, BIDEN)
    before = naming(people)
    # renaming Biden "Barack Obama" would merge all his faces into Obama: refused, nothing written
    with pytest.raises(ReassignmentNeeded) as refused:
        people.name_group(f"person:{biden}", OBAMA)
    assert refused.value.reassignment.faces == {BIDEN: 3}
    assert naming(people) == before
    # a fresh name for a stranger's cluster takes nobody's faces: no question
    child = faces_library.group_of("obama_and_biden.jpg", 2)
    assert people.reassignments("The child", people.store.faces(face_ids=child.face_ids)).total == 0
    assert people.name_group(f"person:{biden}", OBAMA, reassign=True) == obama
    assert people.store.person(BIDEN) is None


def test_undo_and_redo_a_reject_through_the_service(faces_library):
    people = faces_library.library.people
    people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    face = faces_library.face_of("obama_small.jpg")
    assert face.person_name == OBAMA and face.assigned_by == "user"
    before = naming(people)
    _, edit = people.recorded(lambda p: p.reject([face.id]))
    assert faces_library.face_of("obama_small.jpg").state == "rejected"
    assert "obama_small.jpg" not in faces_library.person_photos(OBAMA)
    assert edit.changed_faces >= 1
    after = naming(people)

    people.restore(edit.before)                                   # undo
    assert naming(people) == before
    assert "obama_small.jpg" in faces_library.person_photos(OBAMA)  # search follows
    people.restore(edit.after)                                    # redo
    assert naming(people) == after


def test_undo_a_merge_of_two_persons_and_a_rename(faces_library):
    people = faces_library.library.people
    people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    biden = people.name_group(faces_library.group_of("biden.jpg").key, BIDEN)
    biden_photos = faces_library.person_photos(BIDEN)
    before = naming(people)
    _, merge = people.recorded(lambda p: p.name_group(f"person:{biden}", OBAMA, reassign=True))
    assert people.store.person(BIDEN) is None
    people.restore(merge.before)
    assert naming(people) == before                      # same names, same groups, Biden made again
    assert faces_library.person_photos(BIDEN) == biden_photos

    biden = people.store.person(BIDEN).id
    _, rename = people.recorded(lambda p: p.name_group(f"person:{biden}", "Joseph Biden"))
    assert faces_library.person_photos("Joseph Biden") == biden_photos
    people.restore(rename.before)
    assert people.store.person("Joseph Biden") is None and faces_library.person_photos(BIDEN) == biden_photos


def test_undo_naming_a_cluster_forgets_the_new_person(faces_library):
    people = faces_library.library.people
    groups = {g.key: set(g.face_ids) for g in people.groups()}
    before = naming(people)
    key = faces_library.group_of("kit_harington_john1.jpeg").key
    _, edit = people.recorded(lambda p: p.name_group(key, "Kit Harington"))
    assert people.store.person("Kit Harington") is not None
    people.restore(edit.before)
    assert people.store.person("Kit Harington") is None
    assert naming(people) == before and {g.key: set(g.face_ids) for g in people.groups()} == groups


def test_undo_a_move_out_lets_the_face_be_named_automatically_again(faces_library):
    people = faces_library.library.people
    people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    face = faces_library.face_of("obama_small.jpg")
    before, excluded = naming(people), people.store.exclusions()
    _, edit = people.recorded(lambda p: p.move_out([face.id]))
    assert people.store.exclusions() != excluded                    # "not this person" is recorded
    assert "obama_small.jpg" not in faces_library.person_photos(OBAMA)
    after, moved = naming(people), people.store.exclusions()

    people.restore(edit.before, edit.after.exclusions)              # undo, as the People panel does
    assert people.store.exclusions() == excluded and naming(people) == before
    assert "obama_small.jpg" in faces_library.person_photos(OBAMA)
    people.restore(edit.after, edit.before.exclusions)              # redo
    assert people.store.exclusions() == moved and naming(people) == after
