"""Writing real XMP sidecars and IPTC with exiftool itself, for the tests of reading what files already say.

exiftool is Debian's ``libimage-exiftool-perl`` (``packaging/system-deps.sh test``, which ``make test`` runs);
without it these tests skip with that reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

EXIFTOOL = shutil.which("exiftool")

needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool not installed (Debian libimage-exiftool-perl: packaging/system-deps.sh test)")

#: What ``tag_everything`` writes: flat keywords, a Lightroom hierarchy, a digiKam tag path, title, description,
#: rating, colour label, date created and one named MWG face region (centre 0.5, 0.5; 0.25 x 0.5 of the image).
TAGS = [
    "-XMP-dc:Subject=Budapest", "-XMP-dc:Subject=Chain Bridge",
    "-XMP-lr:HierarchicalSubject=Animal|Mammal|Dog",
    "-XMP-digiKam:TagsList=Places/Hungary/Danube",
    "-XMP-dc:Title=Evening on the river", "-XMP-dc:Description=Lanterns along the embankment",
    "-XMP-xmp:Rating=4", "-XMP-xmp:Label=Red", "-XMP-photoshop:DateCreated=2021:06:05 19:30:00+02:00",
    "-XMP-mwg-rs:RegionInfo={AppliedToDimensions={W=64,H=48,Unit=pixel},RegionList=[{Area={X=0.5,Y=0.5,"
    "W=0.25,H=0.5,Unit=normalized},Name=Alice Example,Type=Face}]}",
]


def exiftool(*args: str | Path) -> str:
    """Run exiftool quietly with ``args``; returns its standard output. Fails the test when it fails."""
    assert EXIFTOOL is not None
    done = subprocess.run([EXIFTOOL, "-q", "-q", *map(str, args)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def exiftool_json(path: str | Path, *tags: str) -> dict:
    """exiftool's own reading of ``tags`` (``-G1``-style names such as ``-XMP-dc:Subject``) of ``path``, as JSON."""
    return json.loads(exiftool("-j", "-struct", *tags, path))[0]


def make_photo(path: Path, color: tuple[int, int, int] = (200, 120, 40), size: tuple[int, int] = (64, 48)) -> Path:
    """A small JPEG of one ``color`` at ``path``, 64x48 unless ``size`` says otherwise (no metadata)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, quality=90)
    return path


def write_sidecar(photo: Path, sidecar: Path, *tags: str) -> Path:
    """Write the XMP sidecar ``sidecar`` of ``photo`` with exiftool, holding only ``tags`` (``TAGS`` when none).

    exiftool makes it from a blank picture of the same size: made from ``photo`` itself it would start
    as a copy of the XMP ``photo`` may already carry.
    """
    with tempfile.TemporaryDirectory() as scratch:
        with Image.open(photo) as img:
            blank = make_photo(Path(scratch) / "blank.jpg", size=img.size)
        exiftool("-o", sidecar, *(tags or TAGS), blank)
    return sidecar
