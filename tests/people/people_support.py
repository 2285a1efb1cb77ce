"""Helpers of the People tests: which photos show whom (identities.csv) and an open library's handle."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

FACES = "3_faces/face_recognition"
#: Photos imported after the session library was built (by the tests that need "imported later").
LATER = ("obama2.jpg", "biden2.jpg")
#: The settings every People test library uses.
SETTINGS = {"workers": 1, "apis": ["RecognizeCelebrities"]}


def identities(testdata: Path) -> dict[str, set[str]]:
    """File name -> the people identities.csv says it shows ("(partial face)" notes dropped)."""
    with open(testdata / "3_faces" / "identities.csv", newline="") as fh:
        return {row["local_path"].rsplit("/", 1)[1]:
                {n.replace("(partial face)", "").strip() for n in row["person(s)"].split(";")}
                for row in csv.DictReader(fh)}


def photos_of(testdata: Path, person: str, exclude: tuple[str, ...] = LATER) -> set[str]:
    """The file names identities.csv lists for ``person`` (minus ``exclude``)."""
    return {name for name, people in identities(testdata).items() if person in people and name not in exclude}


@dataclass
class FacesLibrary:
    """An open library of the 3_faces photos: ``library``, its ``root``, the ``photos`` folder, held-back ``later``."""

    library: object
    root: Path
    photos: Path
    later: Path

    def sha_of(self, name: str) -> str:
        """The sha256 of the imported photo ``name``."""
        return self.library.catalog.sha_for_path(str(self.photos / name))

    def names_of(self, shas) -> set[str]:
        """File names of these assets."""
        assets = self.library.assets(shas)
        return {Path(a.paths[0]).name for a in assets.values()}

    def person_photos(self, name: str) -> set[str]:
        """File names of the photos ``search --person name`` finds."""
        from mediaapp.core.types import Query

        page = self.library.search(Query(persons=(name,), limit=None))
        return {Path(h.path).name for h in page.hits}

    def group_of(self, photo: str, index: int = 0):
        """The group (``FaceGroup``) holding face ``index`` (largest first) of ``photo``."""
        sha = self.sha_of(photo)
        face = next(f for f in self.library.people.store.faces(sha256s=[sha]) if f.face_index == index)
        return next(g for g in self.library.people.groups() if face.id in g.face_ids)

    def face_of(self, photo: str, index: int = 0):
        """The stored face ``index`` of ``photo`` (a ``FaceRecord``)."""
        sha = self.sha_of(photo)
        return next(f for f in self.library.people.store.faces(sha256s=[sha], states=("ok", "rejected"))
                    if f.face_index == index)
