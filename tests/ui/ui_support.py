"""Helpers shared by the GUI tests (test files, library settings, the session library's handle)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

#: Real test files (relative to the shared test data): what each shows is in MANIFEST.md.
SESSION_FILES = [
    "1_objects/voc/VOC2007/JPEGImages/000002.jpg",        # a train
    "1_objects/voc/VOC2007/JPEGImages/000004.jpg",        # seven cars
    "1_objects/labelme_voc2011/2011_000025.jpg",          # two buses, a car
    "1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg",   # aeroplanes, people
    "2_text/tesseract/HelloGoogle.tif",                   # the text "Hello Google"
    "3_faces/face_recognition/obama.jpg",                 # one face
    "5_formats/broken/pillow_broken.png",                 # cannot be decoded
]
BROKEN = "pillow_broken.png"


def copy_files(testdata: Path, names: list[str], dest: Path) -> Path:
    """Copy ``names`` from the shared test data into ``dest`` (created); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(testdata / name, dest / Path(name).name)
    return dest


def write_test_settings(library_dir: Path) -> None:
    """Library settings for tests: one worker process (models load once)."""
    from mediaapp.settings import load_settings, save_settings

    settings = load_settings(library_dir)
    settings["workers"] = 1
    save_settings(library_dir, settings)


@dataclass
class AnalysedLibrary:
    """The session's library: ``library`` (open), its ``root``, the ``photos`` folder, the ``report``."""

    library: object
    root: Path
    photos: Path
    report: object

    def path_of(self, name: str) -> str:
        """The absolute path of the copied test file ``name``."""
        return str(self.photos / name)

    def sha_of(self, name: str) -> str:
        """The sha256 the library gives the file ``name``."""
        return self.library.show(self.path_of(name))["sha256"]
