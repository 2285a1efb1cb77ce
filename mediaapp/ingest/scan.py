"""Finding files under folders and recognising images by their first bytes.

Walk policy (``iter_files``):

- Hidden entries (name starting with ``.``) are skipped, files and folders
  alike: ``.git``, ``.thumbnails``, ``.Trash-1000``, and macOS ``._IMG.JPG``
  resource-fork companions, which are not images.
- Symbolic links to folders are followed, but every folder is entered at most
  once (tracked by device and inode), so link loops and overlapping roots
  cannot repeat or hang the walk. Links to files are yielded under the link's
  own path. Dangling links are skipped silently.
- Only regular files are yielded: FIFOs, sockets and devices are skipped (reading
  a FIFO would block forever).
- Entries come out in name order within each folder (deterministic), files of
  a folder before its subfolders.
- A folder that cannot be listed, or a file that vanishes before it is
  stat-ed, is reported through ``on_error(path, reason)`` and the walk goes on.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 32
"""How many leading bytes ``mediaapp.ingest.media.sniff_path`` reads (more only for a long ISO-BMFF ``ftyp`` box)."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file found by ``iter_files``.

    ``path`` is absolute (not symlink-resolved), ``size`` is in bytes and
    ``mtime_ns`` is the modification time in integer nanoseconds since the
    epoch (``os.stat_result.st_mtime_ns``), the pair the catalog compares to
    skip unchanged files.
    """

    path: str
    size: int
    mtime_ns: int


def _reason(exc: OSError) -> str:
    """A short human-readable reason for an ``OSError`` (e.g. ``Permission denied``)."""
    return exc.strerror or str(exc) or type(exc).__name__


def iter_files(roots: Iterable[str | Path],
               on_error: Callable[[str, str], None]) -> Iterator[FileEntry]:
    """Yield every regular, non-hidden file under ``roots`` (see the module doc for the policy).

    ``roots`` may mix folders and single files; each is made absolute. A root
    that does not exist, a folder that cannot be listed and a file that cannot
    be stat-ed each call ``on_error(path, reason)`` once (``reason`` is text
    such as ``"Permission denied"``) and are skipped. Uses ``os.scandir``; each
    file is stat-ed once (the ``DirEntry`` caches it). Never raises ``OSError``.
    """
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        root_path = os.path.abspath(os.fspath(root))
        try:
            st = os.stat(root_path)
        except OSError as exc:
            on_error(root_path, _reason(exc))
            continue
        if stat.S_ISREG(st.st_mode):
            yield FileEntry(root_path, st.st_size, st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            yield from _walk(root_path, st, seen_dirs, on_error)


def _walk(root: str, root_stat: os.stat_result, seen_dirs: set[tuple[int, int]],
          on_error: Callable[[str, str], None]) -> Iterator[FileEntry]:
    """Depth-first walk from ``root`` with an explicit stack (no recursion limit)."""
    stack: list[tuple[str, os.stat_result]] = [(root, root_stat)]
    while stack:
        folder, folder_stat = stack.pop()
        key = (folder_stat.st_dev, folder_stat.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(folder) as it:  # list fully so no handle stays open across yields
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            on_error(folder, _reason(exc))
            continue
        subdirs: list[tuple[str, os.stat_result]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():  # follows links; loops are cut by seen_dirs
                    subdirs.append((entry.path, entry.stat()))
                elif entry.is_file():
                    st = entry.stat()
                    yield FileEntry(entry.path, st.st_size, st.st_mtime_ns)
            except OSError as exc:  # vanished or unreadable between listing and stat
                on_error(entry.path, _reason(exc))
        stack.extend(reversed(subdirs))


# ISO-BMFF (HEIF/AVIF) brands, from ISO/IEC 23008-12 (HEIF) and the AV1 Image
# File Format specification (AVIF).
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
                b"mif1", b"msf1", b"mif2"}
# BMP: valid BITMAPINFOHEADER family sizes at offset 14 (Microsoft's BMP file
# format documentation), so a text file starting with "BM" is not taken for a bitmap.
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def sniff_bytes(head: bytes) -> str | None:
    """Recognise an image format from a file's first bytes (at least 32 for reliability).

    Returns Pillow's format name: ``"JPEG"`` (also for MPO, a multi-picture
    JPEG), ``"PNG"``, ``"WEBP"``, ``"TIFF"`` (including BigTIFF), ``"GIF"``,
    ``"BMP"``, ``"HEIF"`` or ``"AVIF"``; None for anything else. Signatures
    are the formats' published magic numbers; HEIF vs AVIF is decided by the
    ``ftyp`` box's major brand, then its compatible brands. Never raises.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM" and len(head) >= 18 and struct.unpack_from("<I", head, 14)[0] in _BMP_DIB_SIZES:
        return "BMP"
    if head[4:8] == b"ftyp" and len(head) >= 16:
        size = struct.unpack_from(">I", head, 0)[0]
        major = head[8:12]
        compatible = {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
        if major in _AVIF_BRANDS:
            return "AVIF"
        if major in _HEIF_BRANDS - {b"mif1", b"msf1", b"mif2"}:
            return "HEIF"
        if compatible & _AVIF_BRANDS:
            return "AVIF"
        if major in _HEIF_BRANDS or compatible & _HEIF_BRANDS:
            return "HEIF"
    return None
