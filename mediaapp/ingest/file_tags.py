"""What a file already says about itself: its XMP, its XMP sidecars and its IPTC-IIM, merged.

Sidecars are found by name next to the file, two conventions
(``sidecar_candidates``): ``NAME.EXT.xmp`` (darktable, digiKam: one sidecar
per file) and ``NAME.xmp`` (Lightroom, Capture One, Bridge: the RAW's
sidecar; a JPEG of the same name shares it). ``read_file_tags`` reads the
sidecars, then the blocks inside the file (``media.read_embedded``), and
merges them (``FileTags``):

- keywords: every source's, without repeats (ignoring case); a flat keyword
  that a hierarchical one already names (as its leaf or an ancestor:
  Lightroom writes both) is not repeated;
- title, description, rating, label, date created: the first source that
  has one, in the order ``NAME.EXT.xmp``, ``NAME.xmp``, the embedded XMP,
  IPTC-IIM (a sidecar is what a catalogue program wrote last; the embedded
  copy is often the camera's or an older export's). Captions cameras write
  by themselves (``OLYMPUS DIGITAL CAMERA``) are not descriptions;
- face regions: those of the first source that has any (the same faces are
  often written both inside the file and in its sidecar).

A source that cannot be read (bad XML, a DTD, too large, unreadable) is one
problem in ``FileTags.problems`` and the others are still read. Nothing is
ever written: sidecars and originals are opened read-only.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mediaapp.fsio import open_regular
from mediaapp.ingest.iptc import parse_iptc
from mediaapp.ingest.media import read_embedded
from mediaapp.ingest.xmp import MAX_XMP_BYTES, Region, XmpError, XmpFacts, parse_xmp

__all__ = ["EMBEDDED_IPTC", "EMBEDDED_XMP", "FileTags", "Region", "Sidecar", "find_sidecars", "read_file_tags",
           "sidecar_candidates"]

#: ``FileTags.sources`` names of the blocks inside the file.
EMBEDDED_XMP = "embedded XMP"
EMBEDDED_IPTC = "embedded IPTC-IIM"

#: Captions cameras put in by themselves, not written by anyone (compared ignoring case and spaces).
CAMERA_CAPTIONS = frozenset({
    "olympus digital camera", "sony dsc", "minolta digital camera", "konica minolta digital camera",
    "samsung digital camera", "kodak digital still camera", "exif_jpeg_picture", "lg digital camera",
})


@dataclass(frozen=True, slots=True)
class Sidecar:
    """An XMP sidecar found next to a file: its ``path``, ``size`` in bytes and ``mtime_ns`` (``st_mtime_ns``)."""

    path: str
    size: int
    mtime_ns: int


@dataclass(slots=True)
class FileTags(XmpFacts):
    """What one file says about itself, merged from its sources (see the module docstring).

    The fields of ``xmp.XmpFacts`` (keyword paths root first, title,
    description, label, rating -1 to 5, date_created as written, regions as
    ratios of the image as displayed), merged, plus ``sources``: what was
    read, in order (sidecar paths, ``EMBEDDED_XMP``, ``EMBEDDED_IPTC``), and
    ``problems``: one readable line per source that could not be read.
    Plain, picklable data.
    """

    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def sidecar_candidates(path: str) -> list[str]:
    """The sidecar names that may belong to ``path``, in precedence order.

    ``NAME.EXT.xmp`` then ``NAME.xmp`` (``photo.cr2`` -> ``photo.cr2.xmp``,
    ``photo.xmp``), each in lower and upper case (``.XMP``, as Windows tools
    write it). No I/O.
    """
    stem, ext = os.path.splitext(path)
    names = [path + ".xmp", path + ".XMP"]
    if ext.lower() != ".xmp":
        names += [stem + ".xmp", stem + ".XMP"]
    return list(dict.fromkeys(names))


def find_sidecars(paths: Iterable[str]) -> list[Sidecar]:
    """The sidecars that exist for any of ``paths`` (the files holding one image's bytes), in precedence order.

    Regular files only (``os.stat``, following links); one file seen under
    two names (``.xmp`` and ``.XMP`` on a case-insensitive disk) counts once.
    A name that cannot be looked at (permissions) is skipped. Cheap: a few
    ``stat`` calls per path, no reads.
    """
    found: list[Sidecar] = []
    seen: set[tuple[int, int]] = set()
    for path in paths:
        for name in sidecar_candidates(path):
            try:
                st = os.stat(name)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                found.append(Sidecar(name, st.st_size, st.st_mtime_ns))
    return found


def read_sidecar(path: str) -> XmpFacts:
    """Parse the XMP sidecar at ``path`` (read-only, at most ``MAX_XMP_BYTES``).

    Raises ``XmpError`` (too large, not XMP, refused XML) and ``OSError``
    (cannot be read; ``fsio.NotRegularFileError`` for a FIFO or device).
    """
    with open_regular(path) as stream:
        data = stream.read(MAX_XMP_BYTES + 1)
    if len(data) > MAX_XMP_BYTES:
        raise XmpError(f"larger than the {MAX_XMP_BYTES >> 20} MiB read")
    return parse_xmp(data)


def read_file_tags(path: str, sidecars: Sequence[str] = ()) -> FileTags:
    """Read and merge what ``path`` and its ``sidecars`` (paths, in precedence order) say about it.

    ``sidecars`` usually come from ``find_sidecars`` (in the importing
    process, so the cache key can include them). A sidecar or embedded block
    that cannot be read is a line in ``FileTags.problems``; the rest is still
    read. Raises ``DecodeError`` when ``path`` is not a media file this app
    reads and ``OSError`` when it cannot be read at all.
    """
    tags = FileTags()
    readings: list[XmpFacts] = []
    for sidecar in sidecars:
        name = os.path.basename(sidecar)
        try:
            readings.append(read_sidecar(sidecar))
            tags.sources.append(sidecar)
        except XmpError as exc:
            tags.problems.append(f"sidecar {name}: {exc}")
        except OSError as exc:
            tags.problems.append(f"sidecar {name}: cannot be read ({exc.strerror or exc})")
    embedded = read_embedded(path)
    tags.problems += embedded.problems
    if embedded.xmp is not None:
        try:
            readings.append(parse_xmp(embedded.xmp))
            tags.sources.append(EMBEDDED_XMP)
        except XmpError as exc:
            tags.problems.append(f"{EMBEDDED_XMP}: {exc}")
    iptc = parse_iptc(embedded.iptc) if embedded.iptc else None
    if iptc is not None and (iptc.keywords or iptc.title or iptc.description or iptc.date_created):
        tags.sources.append(EMBEDDED_IPTC)
        readings.append(XmpFacts(keywords=[(k,) for k in iptc.keywords], title=iptc.title,
                                 description=iptc.description, date_created=iptc.date_created))
    _merge(tags, readings)
    return tags


def _merge(tags: FileTags, readings: list[XmpFacts]) -> None:
    """Fill ``tags`` from ``readings`` in precedence order (see the module docstring)."""
    paths: dict[tuple[str, ...], tuple[str, ...]] = {}  # case-folded path -> first spelling
    for facts in readings:
        for keyword in facts.keywords:
            paths.setdefault(tuple(part.casefold() for part in keyword), keyword)
    in_hierarchies = {part for folded in paths if len(folded) > 1 for part in folded}
    tags.keywords = [keyword for folded, keyword in paths.items()
                     if len(folded) > 1 or folded[0] not in in_hierarchies]
    for facts in readings:
        tags.title = tags.title or facts.title
        if tags.description is None and facts.description and not _camera_caption(facts.description):
            tags.description = facts.description
        tags.rating = tags.rating if tags.rating is not None else facts.rating
        tags.label = tags.label or facts.label
        tags.date_created = tags.date_created or facts.date_created
        tags.regions = tags.regions or list(facts.regions)


def _camera_caption(text: str) -> bool:
    """Whether ``text`` is a caption a camera writes by itself (``CAMERA_CAPTIONS``)."""
    return " ".join(text.split()).casefold() in CAMERA_CAPTIONS
