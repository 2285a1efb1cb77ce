"""Helpers shared by the top-level tests: a small real-data import set and a file hash."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
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


#: The analyses the replay engine has recorded answers for (the library's default set grows with new APIs).
REPLAYED_APIS = ["DetectLabels", "DetectText", "RecognizeCelebrities"]

#: A camera RAW (Canon EOS 6D DNG) that LibRaw decodes; ``shoot_raw_jpeg`` pairs it with a JPEG.
DNG = "8_sidecars/photoprism_canon_eos_6d.dng"


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


def shoot_raw_jpeg(testdata: Path, folder: Path, stem: str = "IMG_0001", jpeg_ext: str = ".JPG") -> tuple[Path, Path]:
    """A RAW+JPEG pair in ``folder`` as a camera set to RAW+JPEG writes it: the shared ``DNG`` as ``STEM.dng``
    and its LibRaw decode saved by Pillow as ``STEM`` + ``jpeg_ext`` (quality 90). Returns ``(raw, jpeg)``."""
    import shutil

    from mediaapp.ingest import media

    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"{stem}.dng"
    shutil.copy(testdata / DNG, raw)
    jpeg = folder / f"{stem}{jpeg_ext}"
    media.open_for_analysis(raw).convert("RGB").save(jpeg, "JPEG", quality=90)
    return raw, jpeg


def open_replay_library(testdata: Path, tmp_path: Path, **settings):
    """An open ``Library`` at ``tmp_path / "lib"`` whose saved settings are ``replay_settings`` with
    ``REPLAYED_APIS`` and then ``settings``; nothing imported. The caller closes it."""
    from mediaapp.library import Library
    from mediaapp.settings import save_settings

    root = tmp_path / "lib"
    root.mkdir(exist_ok=True)
    save_settings(root, {**replay_settings(testdata), "apis": REPLAYED_APIS, **settings})
    return Library(root)


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``check`` every 0.1 s until it is true or ``timeout`` seconds passed; its last answer.

    A deadline for behaviour that happens on another thread (a watcher's import), not a timing assert."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


#: What the local engine's DetectLabels version looked like before the classifier (detector + faces).
OLD_LABEL_VERSION = "nanodet-416@human-models-3.0.4/cal-raw+dlib-20.0.1/hog"
#: The ``6_imagenet`` photos of ``relabel_library``: the first two labelled by ``OLD_LABEL_VERSION``.
RELABEL_PHOTOS = ("n01491361_tiger_shark.JPEG", "n01664065_loggerhead.JPEG", "n01534433_junco.JPEG")


def store_local_labels(library, path: Path, version: str) -> str:
    """Store a local DetectLabels answer ("Animal", Confidence 90) for ``path`` as made by ``version``, as an
    import would store it; returns the photo's sha256."""
    from mediaapp.core.apis import Api, flatten
    from mediaapp.core.types import LOCAL_ENGINE

    sha = library.show(path)["sha256"]
    response = {"Labels": [{"Name": "Animal", "Confidence": 90.0, "Instances": [], "Parents": [],
                            "Aliases": [], "Categories": []}], "LabelModelVersion": version}
    library.catalog.store_analysis(sha256=sha, api=Api.DETECT_LABELS.value, engine=LOCAL_ENGINE,
                                   engine_version=version, params="{}", response=response,
                                   detections=flatten(Api.DETECT_LABELS.value, response, LOCAL_ENGINE))
    return sha


def relabel_library(testdata: Path, tmp_path: Path):
    """An open ``Library`` at ``tmp_path / "lib"`` of the three ``RELABEL_PHOTOS`` (copied to
    ``tmp_path / "photos"``, imported without analysis): the first two labelled by ``OLD_LABEL_VERSION``,
    the third by the current local label model, and indexed. Returns ``(library, photos folder)``;
    the caller closes the library."""
    import shutil

    from mediaapp.library import Library
    from mediaapp.services.relabel import local_label_version

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in RELABEL_PHOTOS:
        shutil.copy(testdata / "6_imagenet" / name, photos / name)
    lib = Library(tmp_path / "lib")
    report = lib.import_paths([photos], engines=[])
    assert report.imported == 3
    versions = (OLD_LABEL_VERSION, OLD_LABEL_VERSION, local_label_version(lib.settings))
    for name, version in zip(RELABEL_PHOTOS, versions):
        store_local_labels(lib, photos / name, version)
    lib.sync_index()  # index the stored answers, as an import does
    return lib, photos


def labels_library(photos, tmp_path_factory, imported: int):
    """A new library of ``photos`` imported with the local engine's DetectLabels only (concepts and embedding),
    faces off; asserts ``imported`` images and no failure. The caller closes it."""
    from mediaapp.library import Library

    lib = Library(tmp_path_factory.mktemp("similar-lib") / "lib",
                  settings={"engines": ["local"], "workers": 1, "apis": ["DetectLabels"], "faces_enabled": False})
    report = lib.import_paths([photos])
    assert report.imported == imported and not report.failed, report.failed
    return lib
