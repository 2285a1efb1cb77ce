"""Named face regions a file already carries (MWG, written by exiftool) name the faces the local engine finds.

On a real face photo of ``testdata/3_faces``: the local engine finds the face; a sidecar region drawn around it,
larger than the detector's box as Lightroom's and digiKam's are, gives its name to that face in People as if the
user had named it (``People._seed_from_regions``, ``REGION_IOU``), whether the region was read before the face
was found or after. A face the user named otherwise keeps the user's name; a region elsewhere names nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from metadata_support import needs_exiftool, write_sidecar
from PIL import Image

from mediaapp.core.types import BoundingBox, Query
from mediaapp.library import Library
from mediaapp.services.people_service import REGION_IOU
from mediaapp.settings import save_settings

pytestmark = needs_exiftool

PHOTO = "3_faces/face_recognition/obama.jpg"
NAME = "Barack Obama"
#: Faces only: the object and text models would only slow this down.
SETTINGS = {"workers": 1, "apis": ["RecognizeCelebrities"]}


def _library(tmp_path: Path, name: str = "lib") -> Library:
    root = tmp_path / name
    root.mkdir()
    save_settings(root, SETTINGS)
    return Library(root)


def _region_sidecar(photo: Path, box: BoundingBox, name: str = NAME, grow: float = 1.35) -> Path:
    """A ``NAME.xmp`` sidecar with one MWG Face region ``name`` centred on ``box``, ``grow`` times its size."""
    with Image.open(photo) as img:
        w, h = img.size
    cx, cy = box.left + box.width / 2, box.top + box.height / 2
    region = (f"-XMP-mwg-rs:RegionInfo={{AppliedToDimensions={{W={w},H={h},Unit=pixel}},RegionList=[{{Area={{"
              f"X={cx:.4f},Y={cy:.4f},W={min(box.width * grow, 1):.4f},H={min(box.height * grow, 1):.4f},"
              f"Unit=normalized}},Name={name},Type=Face}}]}}")
    return write_sidecar(photo, photo.with_suffix(".xmp"), region)


def _photo(testdata: Path, folder: Path) -> Path:
    """``PHOTO`` copied to ``folder / "obama.jpg"`` (the folder made); its path."""
    folder.mkdir()
    photo = folder / "obama.jpg"
    shutil.copy(testdata / PHOTO, photo)
    return photo


def _photo_and_copy(testdata: Path, folder: Path, copy_name: str) -> tuple[Path, Path]:
    """``_photo`` plus ``folder / copy_name``: ``PHOTO`` re-encoded (JPEG quality 85), other bytes, the same face."""
    photo = _photo(testdata, folder)
    other = folder / copy_name
    Image.open(testdata / PHOTO).convert("RGB").save(other, quality=85)
    return photo, other


def _faces(lib: Library, photo: Path):
    return lib.people.store.faces(sha256s=[lib.catalog.sha_for_path(str(photo))])


def _found_face(testdata: Path, tmp_path: Path) -> BoundingBox:
    """The detector's box of the photo's one face (imported once, without any region)."""
    photo = _photo(testdata, tmp_path / "probe")
    lib = _library(tmp_path, "probe-lib")
    try:
        lib.import_paths([photo.parent])
        faces = _faces(lib, photo)
        assert len(faces) == 1 and faces[0].person_id is None
        return faces[0].box
    finally:
        lib.close()


def test_region_read_before_the_face_was_found_names_it(testdata, tmp_path):
    box = _found_face(testdata, tmp_path)
    photo = _photo(testdata, tmp_path / "photos")
    photos = photo.parent
    _region_sidecar(photo, box)
    lib = _library(tmp_path)
    try:
        report = lib.import_paths([photos])
        assert not report.failed
        (face,) = _faces(lib, photo)
        assert (face.person_name, face.assigned_by) == (NAME, "user")
        assert [p.name for p in lib.people.persons() if p.name == NAME]
        assert [h.path for h in lib.search(Query(persons=(NAME,))).hits] == [str(photo)]
    finally:
        lib.close()


def test_region_added_later_names_the_face_found_earlier_unless_the_user_named_it(testdata, tmp_path):
    photos = tmp_path / "photos"
    photo, other = _photo_and_copy(testdata, photos, "obama_copy_named.jpg")  # other bytes, the same face
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos])
        (face,) = _faces(lib, photo)
        (named,) = _faces(lib, other)
        assert face.person_id is None
        lib.people.name_faces([named.id], "Somebody Else")        # the user's word
        _region_sidecar(photo, face.box)
        _region_sidecar(other, named.box)
        lib.import_paths([photos])                               # the sidecars are read again (new mtime)
        (face,) = _faces(lib, photo)
        (named,) = _faces(lib, other)
        assert (face.person_name, face.assigned_by) == (NAME, "user")
        assert (named.person_name, named.assigned_by) == ("Somebody Else", "user")
    finally:
        lib.close()


def test_region_elsewhere_names_no_face(testdata, tmp_path):
    box = _found_face(testdata, tmp_path)
    photo = _photo(testdata, tmp_path / "photos")
    photos = photo.parent
    # the same size, moved aside by its own width: no overlap
    aside = BoundingBox(min(box.left + box.width * 1.2, 1 - box.width), box.top, box.width, box.height)
    _region_sidecar(photo, aside, grow=1.0)
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos])
        (face,) = _faces(lib, photo)
        assert face.person_id is None
        assert 0 < REGION_IOU < 0.5
    finally:
        lib.close()
