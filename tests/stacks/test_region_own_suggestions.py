"""Our own automatic face names, read back from a sidecar, stay suggestions (reviewer finding).

The sidecar writer writes every named face as an MWG region, automatic
suggestions too, and lists them in mediaapp's private ``Owned*`` list so it
does not read them back as the file's own. When another program rewrites the
sidecar and drops that list, the regions look like any other program's
names. A region that repeats the name automatic matching gave a face must
then leave that face a suggestion (``assigned_by`` ``auto``), not make it a
user-confirmed reference for matching; a region naming someone else is still
the file's (the user's) word. Real face photos, the local engine, exiftool.
"""

from __future__ import annotations

from metadata_support import needs_exiftool
from test_region_names_seed_people import _faces, _library, _photo_and_copy, _region_sidecar

pytestmark = needs_exiftool

NAME = "Barack Obama"


def test_a_region_repeating_an_automatic_name_does_not_confirm_it(testdata, tmp_path):
    photos = tmp_path / "photos"
    named_photo, suggested_photo = _photo_and_copy(testdata, photos, "obama_copy.jpg")  # other bytes, the same face
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos])
        (named,) = _faces(lib, named_photo)
        lib.people.name_faces([named.id], NAME)                   # the user's word on one photo...
        (suggested,) = _faces(lib, suggested_photo)
        assert (suggested.person_name, suggested.assigned_by) == (NAME, "auto")   # ...suggested on the other
        # another program rewrote the sidecar: our suggestion is there as a plain region, no Owned* list
        _region_sidecar(suggested_photo, suggested.box, NAME, grow=1.0)
        lib.import_paths([photos])                                # the sidecar is read again
        (suggested,) = _faces(lib, suggested_photo)
        assert (suggested.person_name, suggested.assigned_by) == (NAME, "auto")
        # a region naming someone else still names the face as the file says
        suggested_photo.with_suffix(".xmp").unlink()
        _region_sidecar(suggested_photo, suggested.box, "Somebody Else", grow=1.0)
        lib.import_paths([photos])
        (suggested,) = _faces(lib, suggested_photo)
        assert (suggested.person_name, suggested.assigned_by) == ("Somebody Else", "user")
    finally:
        lib.close()
