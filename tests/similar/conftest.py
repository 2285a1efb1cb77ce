"""Fixtures of the similar-photos suite: real photos and near-copies made from them, imported with the local engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance
from support import labels_library

#: The photo the near-copies are made of (a basenji) and the unrelated ones (another dog, a castle, a shark).
ORIGINAL = "6_imagenet/n02110806_basenji.JPEG"
UNRELATED = {"corgi.jpg": "6_imagenet/n02113023_Pembroke.JPEG",  # the shared photo most like the dog (cosine 0.5)
             "castle.jpg": "6_imagenet/n02980441_castle.JPEG",
             "shark.jpg": "6_imagenet/n01491361_tiger_shark.JPEG"}
#: The near-copies of ORIGINAL (file name -> what was done), as the issue lists them.
COPIES = ("dog_small.jpg", "dog_q40.jpg", "dog_crop.jpg", "dog_bright.jpg")


def make_copies(original: Path, folder: Path) -> None:
    """Write ``COPIES`` of ``original`` into ``folder``: resized to half, JPEG quality 40, 10% cropped, +20% bright."""
    img = Image.open(original).convert("RGB")
    w, h = img.size
    img.resize((w // 2, h // 2), Image.Resampling.LANCZOS).save(folder / "dog_small.jpg", quality=90)
    img.save(folder / "dog_q40.jpg", quality=40)
    img.crop((0, 0, round(w * 0.9), round(h * 0.9))).save(folder / "dog_crop.jpg", quality=90)
    ImageEnhance.Brightness(img).enhance(1.2).save(folder / "dog_bright.jpg", quality=90)


@pytest.fixture(scope="module")
def photos(testdata, tmp_path_factory) -> Path:
    """``photos/``: the dog in ``a/`` with two copies, two more copies in ``b/``, the unrelated ones in ``c/``."""
    root = tmp_path_factory.mktemp("similar") / "photos"
    for sub in ("a", "b", "c"):
        (root / sub).mkdir(parents=True)
    shutil.copyfile(testdata / ORIGINAL, root / "a" / "dog.jpg")
    make_copies(testdata / ORIGINAL, root / "a")
    for name in ("dog_crop.jpg", "dog_bright.jpg"):
        (root / "a" / name).rename(root / "b" / name)
    for name, rel in UNRELATED.items():
        shutil.copyfile(testdata / rel, root / "c" / name)
    return root


@pytest.fixture(scope="module")
def library(photos, tmp_path_factory):
    """The photos imported with the local engine's DetectLabels (concepts and embedding), faces off."""
    lib = labels_library(photos, tmp_path_factory, 8)
    yield lib
    lib.close()
