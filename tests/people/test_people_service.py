"""The People service on a real imported library (testdata/3_faces): storing faces, naming, propagation,
clustering, edits (merge, move out, reject), forgetting, and face features switched off; edits matching
outside the catalog's write lock, the references kept in memory across imports, the threshold setting,
and counts of photos still in the library."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from people_support import SETTINGS, photos_of

from mediaapp.analysis.local.face_records import FACE_CROP_SIDE
from mediaapp.analysis.local.recognition import DEFAULT_SIMILARITY_THRESHOLD
from mediaapp.catalog.feed import SEARCH
from mediaapp.core.types import Api, DetectionKind, Query
from mediaapp.services.face_matching import assign_faces

pytestmark = pytest.mark.slow

OBAMA, BIDEN = "Barack Obama", "Joe Biden"


def person_rows(lib, photo):
    """The local person detections of ``photo``: [(name, confidence, box)]."""
    sha = lib.sha_of(photo)
    return [(d.name, d.confidence, d.box) for d in lib.library.detections([sha], [DetectionKind.PERSON])[sha]
            if d.source == "local"]


def test_import_stores_every_face_with_embedding_crop_and_details(faces_library, testdata):
    lib = faces_library
    faces = lib.library.people.store.faces()
    # 19 photos: one face each, two in kit_with_rose and two_people, three in obama_and_biden (a child)
    assert len(faces) == 23
    per_photo = {}
    for f in faces:
        per_photo.setdefault(f.sha256, []).append(f)
    assert len(per_photo[lib.sha_of("obama_and_biden.jpg")]) == 3
    assert len(per_photo[lib.sha_of("kit_with_rose.jpg")]) == 2
    from PIL import Image
    for f in faces:
        assert 0 <= f.box.left <= 1 and 0 < f.box.width <= 1 and 50 <= f.confidence <= 100
        assert {lm["Type"] for lm in f.landmarks} == {"eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose"}
        assert set(f.pose) == {"Roll", "Yaw", "Pitch"} and set(f.quality) == {"Brightness", "Sharpness"}
        crop = lib.library.people.crop_path(f.crop)
        with Image.open(crop) as im:
            assert im.size == (FACE_CROP_SIDE, FACE_CROP_SIDE)
    vectors = lib.library.people.store.embeddings([f.id for f in faces])
    assert vectors.shape == (23, 128) and np.all(np.isfinite(vectors))
    # the stored embedding is dlib's descriptor of that face (float32 storage: 1e-6 apart)
    from mediaapp.analysis.local.face_detector import DlibFaceDetector
    from mediaapp.ingest.decode import ANALYSIS_MAX_SIDE, open_rgb
    (face, expected), = DlibFaceDetector().detect_and_embed(open_rgb(lib.photos / "obama.jpg", ANALYSIS_MAX_SIDE))
    stored = lib.face_of("obama.jpg")
    assert np.abs(lib.library.people.store.embeddings([stored.id])[0] - expected).max() < 1e-6
    assert stored.box.to_rekognition() == pytest.approx(face["BoundingBox"])
    # the same person in two photos is close, different people are far (dlib's 0.6)
    a, b = lib.face_of("obama.jpg"), lib.face_of("obama_small.jpg")
    c = lib.face_of("biden.jpg")
    va, vb, vc = lib.library.people.store.embeddings([a.id, b.id, c.id])
    assert np.linalg.norm(va - vb) < 0.6 < np.linalg.norm(va - vc)
    # nobody is named yet: no person detection anywhere, unknown faces are "Face" rows
    assert lib.library.facets(Query(), "persons") == []
    dets = lib.library.detections([lib.sha_of("two_people.jpg")], [DetectionKind.FACE])
    assert len(dets[lib.sha_of("two_people.jpg")]) == 2


def test_unknown_faces_are_clustered_by_person(faces_library, testdata):
    lib = faces_library
    groups = lib.library.people.groups()
    assert all(g.name is None for g in groups)
    photo_sets = [lib.names_of({f.sha256 for f in lib.library.people.store.faces(face_ids=g.face_ids)})
                  for g in groups]
    for person in (OBAMA, BIDEN, "Kit Harington", "Rose Leslie", "Alex Lacamoire", "Lin-Manuel Miranda"):
        assert photos_of(testdata, person) in photo_sets, person
    # six people plus the child in the corner of obama_and_biden.jpg
    assert len(groups) == 7 and sum(len(g.face_ids) for g in groups) == 23
    assert groups == lib.library.people.groups()  # stable when nothing changed


def test_naming_a_group_names_every_face_of_it_and_search_finds_the_photos(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    group = lib.group_of("obama.jpg")
    people.name_group(group.key, OBAMA)
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA)
    assert lib.person_photos("barack obama") == photos_of(testdata, OBAMA)  # names are case-insensitive
    assert {f.name: f.count for f in lib.library.facets(Query(), "persons")} == {OBAMA: 8}
    (name, confidence, box), = person_rows(lib, "two_people.jpg")
    assert name == OBAMA and confidence == 100.0 and box is not None  # named by the user
    assert [(p.name, p.source, p.faces, p.photos) for p in people.persons()] == [(OBAMA, "local", 8, 8)]
    # the named group is listed first, under its name
    assert people.groups()[0].name == OBAMA and len(people.groups()) == 7


def test_a_named_face_names_the_others_automatically(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    people.name_faces([lib.face_of("obama.jpg").id], OBAMA)
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA)
    assert not lib.person_photos(OBAMA) & (photos_of(testdata, BIDEN) - photos_of(testdata, OBAMA))
    auto = lib.face_of("obama_small.jpg")
    assert auto.assigned_by == "auto" and DEFAULT_SIMILARITY_THRESHOLD <= auto.similarity < 100
    (name, confidence, _box), = person_rows(lib, "obama_small.jpg")
    assert (name, confidence) == (OBAMA, pytest.approx(auto.similarity))
    # in two_people.jpg only Obama's face is named; Biden's stays unknown
    assert lib.face_of("two_people.jpg", 1).person_name == OBAMA
    assert lib.face_of("two_people.jpg", 0).person_name is None


def test_photos_imported_later_are_named_and_keep_group_ids(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    people.name_group(lib.group_of("obama.jpg").key, OBAMA)
    biden_group = lib.group_of("biden.jpg")
    report = lib.library.import_paths([lib.later])
    assert report.analysed == 2 and report.failed == []
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA, exclude=())
    assert "biden2.jpg" not in lib.person_photos(OBAMA)
    # the local engine got the named people: its stored response names Obama itself
    response = lib.library.show(str(lib.later / "obama2.jpg"))[Api.RECOGNIZE_CELEBRITIES.value]
    assert [c["Name"] for c in response["CelebrityFaces"]] == [OBAMA]
    from mediaapp.analysis.validate import validate_response
    validate_response(Api.RECOGNIZE_CELEBRITIES.value, response)
    # the unknown Biden group keeps its id and takes the new Biden face
    after = lib.group_of("biden.jpg")
    assert after.key == biden_group.key and len(after.face_ids) == len(biden_group.face_ids) + 1


def test_merging_groups_keeps_them_together(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    kit, rose = lib.group_of("kit_harington_john1.jpeg"), lib.group_of("rose_leslie_img1.jpg")
    before = len(people.groups())
    people.merge_groups(rose.key, kit.key)
    merged = lib.group_of("rose_leslie_img1.jpg")
    assert merged.key == kit.key and set(merged.face_ids) == set(kit.face_ids) | set(rose.face_ids)
    assert len(people.groups()) == before - 1
    people.recluster()  # a user's merge survives reclustering
    assert set(lib.group_of("kit_harington_john1.jpeg").face_ids) == set(merged.face_ids)
    # merging an unknown group into a named person names its faces
    people.name_group(lib.group_of("obama.jpg").key, OBAMA)
    people.merge_groups(lib.group_of("biden.jpg").key, lib.group_of("obama.jpg").key)
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA) | photos_of(testdata, BIDEN)


def test_moving_a_face_out_of_a_person_keeps_it_out(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    people.name_faces([lib.face_of("obama.jpg").id], OBAMA)
    wrong = lib.face_of("obama_small.jpg")
    assert wrong.person_name == OBAMA
    people.move_out([wrong.id])
    assert "obama_small.jpg" not in lib.person_photos(OBAMA)
    assert person_rows(lib, "obama_small.jpg") == []
    people.rematch()  # automatic naming never gives it back
    assert lib.face_of("obama_small.jpg").person_name is None
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA) - {"obama_small.jpg"}
    # it is an unknown face again, in a group
    assert lib.group_of("obama_small.jpg").name is None


def test_moving_a_face_out_of_an_unknown_group_gives_it_its_own(faces_library):
    lib = faces_library
    people = lib.library.people
    group = lib.group_of("obama.jpg")
    face = lib.face_of("obama-480p.jpg")
    people.move_out([face.id])
    alone = lib.group_of("obama-480p.jpg")
    assert alone.face_ids == (face.id,) and alone.key != group.key
    rest = lib.group_of("obama.jpg")
    assert rest.key == group.key and set(rest.face_ids) == set(group.face_ids) - {face.id}
    people.recluster()
    assert lib.group_of("obama-480p.jpg").face_ids == (face.id,)


def test_rejected_faces_leave_groups_names_and_boxes(faces_library):
    lib = faces_library
    people = lib.library.people
    child = lib.face_of("obama_and_biden.jpg", 2)
    assert child.person_name is None
    people.reject([child.id])
    assert all(child.id not in g.face_ids for g in people.groups())
    sha = lib.sha_of("obama_and_biden.jpg")
    assert len(lib.library.detections([sha], [DetectionKind.FACE])[sha]) == 2
    people.name_group(lib.group_of("obama.jpg").key, OBAMA)
    named = lib.face_of("obama3.jpg")
    people.reject([named.id])
    assert "obama3.jpg" not in lib.person_photos(OBAMA)
    assert lib.face_of("obama3.jpg").state == "rejected"


def test_forget_person_and_forget_all(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    people.name_group(lib.group_of("biden.jpg").key, BIDEN)
    report = people.enrol(OBAMA, [testdata / "3_faces/face_recognition/obama.jpg"])
    assert report.photos == 8 and report.problems == []
    example = lib.library.people.store.faces(origin="example")
    assert len(example) == 1 and os.path.exists(people.crop_path(example[0].crop))
    assert people.forget_person("BARACK OBAMA")
    assert lib.person_photos(OBAMA) == set() and not os.path.exists(people.crop_path(example[0].crop))
    assert lib.library.people.store.faces(origin="example") == []
    assert lib.face_of("obama.jpg").person_name is None and lib.group_of("obama.jpg").name is None
    assert lib.person_photos(BIDEN) == photos_of(testdata, BIDEN)
    assert not people.forget_person(OBAMA)

    touched = people.forget_all()
    assert touched == 19
    assert people.store.face_count() == 0 and people.persons() == [] and not people.crops_dir.exists()
    assert lib.library.facets(Query(), "persons") == []
    sha = lib.sha_of("two_people.jpg")
    assert lib.library.detections([sha])[sha] == []
    assert Api.RECOGNIZE_CELEBRITIES.value not in lib.library.show(str(lib.photos / "two_people.jpg"))
    # the next import analyses the photos again and finds their faces, unnamed
    lib.library.import_paths([lib.photos / "two_people.jpg"])
    assert len(people.store.faces()) == 2 and people.persons() == []


def test_enrolment_reports_photos_without_faces(faces_library, testdata, tmp_path):
    people = faces_library.library.people
    no_face = testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg"  # cars
    report = people.enrol("Nobody", [no_face, tmp_path / "missing.jpg"])
    problems = dict(report.problems)
    assert report.enrolled == [] and problems[str(no_face)] == "no face found"
    assert problems[str(tmp_path / "missing.jpg")].startswith("cannot read")
    assert people.persons() == []
    with pytest.raises(ValueError):
        people.name_faces([1], "   ")


def test_faces_off_stores_nothing_and_switching_on_analyses_again(testdata, tmp_path):
    from mediaapp.library import Library

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy2(testdata / "3_faces/face_recognition/two_people.jpg", photos)
    root = tmp_path / "lib"
    off = Library(root, settings={**SETTINGS, "faces_enabled": False})
    try:
        assert off.engine_config("local")["faces_enabled"] is False
        report = off.import_paths([photos])
        assert report.analysed == 1
        assert off.people.store.face_count() == 0 and not (root / "faces").exists()
        record = off.show(str(photos / "two_people.jpg"))
        assert record[Api.RECOGNIZE_CELEBRITIES.value] == {"CelebrityFaces": [], "UnrecognizedFaces": []}
        assert record["analyses"][Api.RECOGNIZE_CELEBRITIES.value][0]["Params"] == "Faces=off"
        assert record["analyses"][Api.RECOGNIZE_CELEBRITIES.value][0]["EngineVersion"] == "nofaces"
        with pytest.raises(RuntimeError):
            off.people.enrol(OBAMA, [photos / "two_people.jpg"])
    finally:
        off.close()
    on = Library(root, settings=SETTINGS)
    try:
        report = on.import_paths([photos])
        assert report.analysed == 1 and report.cached == 0  # the faces-off answer is not reused
        assert len(on.people.store.faces()) == 2
    finally:
        on.close()


def test_assign_faces_gives_a_person_once_per_photo_and_honours_exclusions():
    # an algorithm check on hand-made vectors: two faces of one photo both close to one person
    base = np.zeros(128)
    base[0] = 1.0
    near, nearer = base.copy(), base.copy()
    near[1], nearer[1] = 0.3, 0.1  # distances 0.3 and 0.1 from the reference
    refs, ref_persons = np.stack([base]), [7]
    result = assign_faces(np.stack([near, nearer]), ["p", "p"], refs, ref_persons)
    assert result[0] == (None, None) and result[1][0] == 7 and result[1][1] > 99
    # the same faces in two photos are both named
    assert [r[0] for r in assign_faces(np.stack([near, nearer]), ["p", "q"], refs, ref_persons)] == [7, 7]
    # an excluded pair is never made; a person the user named in the photo is not given twice
    assert assign_faces(np.stack([nearer]), ["p"], refs, ref_persons, excluded={0: {7}}) == [(None, None)]
    assert assign_faces(np.stack([nearer]), ["p"], refs, ref_persons, occupied={"p": {7}}) == [(None, None)]
    with pytest.raises(ValueError):
        assign_faces(np.stack([near]), ["p"], refs, ref_persons, threshold=120)


def test_cloud_names_live_beside_local_names(faces_library, testdata):
    """A recorded Rekognition RecognizeCelebrities answer (engine ``rekognition``) is never touched by local
    naming; both names are searchable and listed with their source."""
    from mediaapp.analysis.validate import load_sample
    from mediaapp.core.apis import flatten

    lib = faces_library
    sha = lib.sha_of("two_people.jpg")
    cloud = load_sample(testdata / "4_rekognition/asyncaws_tests/RecognizeCelebrities.json")
    (cloud_name,) = [c["Name"] for c in cloud["CelebrityFaces"]]
    lib.library.catalog.store_analysis(sha256=sha, api=Api.RECOGNIZE_CELEBRITIES.value, engine="rekognition",
                                       engine_version="recorded", params="", response=cloud,
                                       detections=flatten(Api.RECOGNIZE_CELEBRITIES, cloud, "rekognition"))
    lib.library.people.name_group(lib.group_of("obama.jpg").key, OBAMA)
    lib.library.people.move_out([lib.face_of("obama_small.jpg").id])  # another edit: cloud rows stay
    persons = {(d.name, d.source) for d in lib.library.detections([sha], [DetectionKind.PERSON])[sha]}
    assert persons == {(OBAMA, "local"), (cloud_name, "rekognition")}
    assert lib.person_photos(cloud_name) == {"two_people.jpg"}
    assert "two_people.jpg" in lib.person_photos(OBAMA)
    listed = {(p.name, p.source, p.photos) for p in lib.library.people.persons()}
    assert listed == {(OBAMA, "local", 7), (cloud_name, "rekognition", 1)}


def test_edits_name_the_other_faces_without_holding_the_catalog_write_lock(faces_library, testdata, monkeypatch):
    """While an edit matches every face against the references, another writer (an import, the CLI) can
    still write: each time similarities are computed, a second SQLite connection takes the write lock."""
    import sqlite3

    import mediaapp.services.face_matching as people_module

    lib = faces_library
    people = lib.library.people
    probes: list[bool] = []
    similarity = people_module.distance_to_similarity

    def probing(distance):
        other = sqlite3.connect(lib.library.catalog.path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            probes.append(True)
        except sqlite3.OperationalError:  # database is locked
            probes.append(False)
        finally:
            other.close()
        return similarity(distance)

    monkeypatch.setattr(people_module, "distance_to_similarity", probing)
    people.name_faces([lib.face_of("biden.jpg").id], BIDEN)
    people.name_faces([lib.face_of("obama.jpg").id], OBAMA)
    people.move_out([lib.face_of("obama_small.jpg").id])
    people.reject([lib.face_of("obama.jpg").id])  # Obama's only reference
    assert len(probes) >= 4 and all(probes), probes
    # and the edits did their work
    assert lib.person_photos(BIDEN) == photos_of(testdata, BIDEN)
    assert lib.person_photos(OBAMA) == set()


def test_imports_reuse_the_references_until_another_process_changes_them(faces_library, testdata, monkeypatch):
    from mediaapp.catalog.face_store import FaceStore
    from mediaapp.library import Library

    lib = faces_library
    people = lib.library.people
    people.name_group(lib.group_of("obama.jpg").key, OBAMA)  # reads the references once
    reads = []
    real = FaceStore.reference_faces
    monkeypatch.setattr(FaceStore, "reference_faces",
                        lambda store, version: reads.append(store) or real(store, version))
    # another process (the CLI, a second window) names Biden in the same library
    other = Library(lib.root)
    try:
        biden = next(g for g in other.people.groups() if lib.face_of("biden.jpg").id in g.face_ids)
        other.people.name_group(biden.key, BIDEN)
    finally:
        other.close()
    reads.clear()
    report = lib.library.import_paths([lib.later])
    assert report.analysed == 2 and report.failed == []
    assert len(reads) == 1  # read again once, for both photos: the references had changed
    assert "biden2.jpg" in lib.person_photos(BIDEN) and "obama2.jpg" in lib.person_photos(OBAMA)
    assert lib.person_photos(BIDEN) == photos_of(testdata, BIDEN, exclude=())


def test_enrolling_names_the_photos_in_search_at_once(faces_library, testdata):
    lib = faces_library
    report = lib.library.people.enrol(OBAMA, [testdata / "3_faces/face_recognition/obama.jpg"])
    assert report.photos == 8
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA)
    assert lib.library.catalog.feed.pending(SEARCH) == []  # nothing left for the next import to index


def test_people_list_counts_photos_still_in_the_library(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    people.name_group(lib.group_of("obama.jpg").key, OBAMA)
    # the file is deleted: the next import forgets its path, and with it the asset
    lib.library.catalog.remove_files([str(lib.photos / "obama-480p.jpg")])
    lib.library.sync_index()
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA) - {"obama-480p.jpg"}
    assert [(p.name, p.faces, p.photos) for p in people.persons()] == [(OBAMA, 7, 7)]


def test_naming_faces_names_exactly_those_still_there(faces_library, testdata):
    lib = faces_library
    people = lib.library.people
    shown = lib.group_of("obama.jpg").face_ids  # what the user saw
    rejected = lib.face_of("obama3.jpg")
    people.reject([rejected.id])  # meanwhile, elsewhere
    person = people.name_faces(shown, OBAMA)
    assert lib.face_of("obama3.jpg").state == "rejected" and lib.face_of("obama3.jpg").person_id is None
    named = {f.id for f in people.store.faces(person_id=person) if f.assigned_by == "user"}
    assert named == set(shown) - {rejected.id}
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA) - {"obama3.jpg"}
    with pytest.raises(ValueError):
        people.name_faces([rejected.id], BIDEN)
    assert [p.name for p in people.persons()] == [OBAMA]


def test_a_changed_match_threshold_is_applied_to_every_face(faces_library, testdata):
    from mediaapp.library import Library

    lib = faces_library
    people = lib.library.people
    people.name_faces([lib.face_of("obama.jpg").id], OBAMA)  # 7 more photos named automatically (similarity < 100)
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA)
    lib.library.update_settings(face_match_threshold=100.0)  # no automatic name reaches 100
    assert [(p.name, p.faces) for p in people.persons()] == [(OBAMA, 1)]
    assert lib.person_photos(OBAMA) == {"obama.jpg"}
    # the threshold the faces were named with is kept in the library: a later session with another setting
    # (settings.json edited, --library of the CLI) applies its own
    other = Library(lib.root, settings={"face_match_threshold": DEFAULT_SIMILARITY_THRESHOLD})
    try:
        (group, *_) = other.people.groups()
        assert group.name == OBAMA and group.photos == 8
    finally:
        other.close()
    assert lib.person_photos(OBAMA) == photos_of(testdata, OBAMA)


def test_an_import_names_photos_while_an_edit_holds_the_people_lock(faces_library, testdata):
    """Naming an imported photo needs only the catalog's write transaction: an edit busy planning (or a long
    recluster) holding ``People``'s lock does not stop the import. (The join timeout only turns a deadlock
    into a failure; it measures nothing.)"""
    import threading

    lib = faces_library
    people = lib.library.people
    people.name_group(lib.group_of("obama.jpg").key, OBAMA)
    held, release = threading.Event(), threading.Event()

    def edit_in_progress() -> None:
        with people._lock:
            held.set()
            release.wait()

    editor = threading.Thread(target=edit_in_progress)
    editor.start()
    assert held.wait(60)
    reports = []
    importer = threading.Thread(target=lambda: reports.append(lib.library.import_paths([lib.later])))
    importer.start()
    importer.join(300)
    finished = not importer.is_alive()
    release.set()
    editor.join()
    importer.join()
    assert finished, "the import waited for the People lock"
    assert reports[0].analysed == 2 and reports[0].failed == []
    assert "obama2.jpg" in lib.person_photos(OBAMA) and "biden2.jpg" not in lib.person_photos(OBAMA)
