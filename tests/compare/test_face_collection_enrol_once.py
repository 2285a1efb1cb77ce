"""Enrolling the same photo twice under the same name pays IndexFaces once (reviewer finding).

botocore's Stubber answers with a real recorded IndexFaces response; it has
exactly one IndexFaces queued, so a second one (a second charge and a
duplicate face in the collection) fails the test.
"""

from __future__ import annotations

import hashlib
import shutil

from botocore.stub import ANY
from cloud.stubs import sample

from mediaapp.cli.main import main
from mediaapp.library import Library


def test_the_same_photo_enrolled_again_is_not_indexed_again(aws, testdata, root, tmp_path, capsys):
    photo = testdata / "3_faces" / "face_recognition" / "obama.jpg"
    copy = tmp_path / "obama-copy.jpg"            # the same bytes under another name: the same image
    shutil.copy(photo, copy)
    enrol = sample(testdata, "botocore_examples/IndexFaces.json")
    aws.add_client_error("create_collection", "ResourceAlreadyExistsException", "exists")
    aws.add_response("index_faces", enrol, {
        "CollectionId": "mediaapp-team-lib", "Image": {"Bytes": photo.read_bytes()},
        "ExternalImageId": hashlib.sha256(photo.read_bytes()).hexdigest(), "MaxFaces": 1, "QualityFilter": "AUTO",
        "DetectionAttributes": ["DEFAULT"]})
    assert main(["--library", str(root), "people", "add", "Ana", str(photo), str(copy),
                 "--engine", "rekognition"]) == 0
    assert "already enrolled as Ana" in capsys.readouterr().err
    aws.add_client_error("create_collection", "ResourceAlreadyExistsException", "exists")
    assert main(["--library", str(root), "people", "add", "ana", str(photo), "--engine", "rekognition"]) == 0
    out = capsys.readouterr()
    assert "already enrolled as ana; not indexed again" in out.err
    aws.assert_no_pending_responses()
    lib = Library(root)
    try:
        faces = lib.face_collection().faces(person="Ana")
    finally:
        lib.close()
    assert [f.face_id for f in faces] == [enrol["FaceRecords"][0]["Face"]["FaceId"]]
    # another name may enrol the same photo (a separate, paid IndexFaces)
    aws.add_client_error("create_collection", "ResourceAlreadyExistsException", "exists")
    aws.add_response("index_faces", enrol, {"CollectionId": ANY, "Image": ANY, "ExternalImageId": ANY,
                                            "MaxFaces": 1, "QualityFilter": "AUTO", "DetectionAttributes": ANY})
    assert main(["--library", str(root), "people", "add", "Bo", str(photo), "--engine", "rekognition"]) == 0
    aws.assert_no_pending_responses()
