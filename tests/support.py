"""Helpers shared by the top-level tests: a small real-data import set and a file hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: A small, varied import set: (source under testdata, name in the import folder).
SAMPLE_FILES = [
    ("1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg", "people/2007_000032.jpg"),
    ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "cars/000004.jpg"),
    ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "cars/copy of 000004.jpg"),
    ("5_formats/containers/photoprism_example.bmp", "formats/example.bmp"),
    ("5_formats/orientation/vips_rotation_6.jpg", "formats/rotation_6.jpg"),
    ("5_formats/broken/photoprism_this-is-a-jpeg.png", "formats/this-is-a-jpeg.png"),
    ("5_formats/broken/pillow_broken.png", "broken/broken.png"),
    ("5_formats/broken/vips_truncated.jpg", "broken/truncated.jpg"),
]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file (test helper)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()



#: The engine of ``replay_library``: real recorded Rekognition answers (``tests/replay_engine.py``).
REPLAY_ENGINE = "replay_engine:ReplayEngine"

#: Three VOC photos; the replayed DetectLabels answer (awscli sample) labels each of them "Car".
REPLAY_PHOTOS = ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "1_objects/voc/VOC2007/JPEGImages/000005.jpg",
                 "1_objects/voc/VOC2007/JPEGImages/000002.jpg")


def replay_settings(testdata: Path, **options) -> dict:
    """Library settings naming the replay engine only (one worker); ``options`` go to the engine (``delay``)."""
    return {"engines": [REPLAY_ENGINE], "workers": 1,
            "engine_config": {REPLAY_ENGINE: {"testdata": str(testdata), **options}}}


def replay_folder(testdata: Path, tmp_path: Path) -> tuple[Path, Path]:
    """``REPLAY_PHOTOS`` copied to ``tmp_path / "photos"`` and a library root at ``tmp_path / "lib"`` whose saved
    settings are ``replay_settings`` (nothing imported yet); returns ``(root, photos)``."""
    import shutil

    from mediaapp.settings import save_settings

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in REPLAY_PHOTOS:
        shutil.copy(testdata / name, photos / Path(name).name)
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, replay_settings(testdata))
    return root, photos


def replay_library(testdata: Path, tmp_path: Path) -> Path:
    """Create a library at ``tmp_path / "lib"`` holding ``REPLAY_PHOTOS`` analysed by the replay engine.

    Its settings (saved) name the replay engine and one worker; the library
    is closed again. Returns its root.
    """
    from mediaapp.library import Library

    root, photos = replay_folder(testdata, tmp_path)
    lib = Library(root)
    try:
        assert lib.import_paths([photos]).imported == len(REPLAY_PHOTOS)
    finally:
        lib.close()
    return root


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released): a server that is down."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
