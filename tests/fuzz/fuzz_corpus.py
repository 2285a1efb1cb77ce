"""A generator of hostile input files: real images and result files, mutated deterministically.

``image_corpus(testdata, out, seed)`` writes mutants of real images of every
container the app reads (JPEG, CMYK JPEG, PNG, BMP, GIF, WebP, TIFF, HEIC,
AVIF from ``5_formats`` of the shared test data, camera RAW from
``8_sidecars``) and returns one ``Mutant`` per file: truncated at several points, bytes flipped, a range zeroed, the
header followed by zeros, the structure kept with the pixel data zeroed,
garbage appended, renamed to another image
extension (these still decode), plus an empty file, random bytes under an
image name and a PNG declaring 30,000 x 30,000 pixels (a decompression
bomb). ``result_corpus(record, out, seed)`` does the same for a result file
of ``mediaapp import-results``: truncations, flipped bytes, members replaced
by values of the wrong JSON type, deep nesting.

The same ``seed`` gives the same files. ``tests/fuzz/test_fuzz.py`` imports
the corpus on every ``make test``; to keep one for a manual run::

    python tests/fuzz/fuzz_corpus.py OUT_DIR [--seed N] [--testdata DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

#: Seed images (relative to the shared test data): one or two per container the app reads.
SEEDS = (
    "5_formats/metadata/pillow_iptc.jpg",
    "5_formats/color_depth/pillow_pil_sample_cmyk.jpg",
    "5_formats/orientation/photoprism_rotate_6.png",
    "5_formats/containers/photoprism_example.bmp",
    "5_formats/containers/pillow_iss634.gif",
    "5_formats/containers/photoprism_norway-kjetil-moe.webp",
    "5_formats/containers/vips_sample.tif",
    "5_formats/containers/pillow_heif_zPug_3.heic",
    "5_formats/containers/photoprism_fox.profile0.8bpc.yuv420.avif",
    # camera RAW through LibRaw (ingest/raw.py): a DNG (lossy-JPEG tiles) and a Kodak KDC
    "8_sidecars/photoprism_canon_eos_6d.dng",
    "8_sidecars/rawpy_RAW_KODAK_DC50.KDC",
)

#: Where truncations cut, as fractions of the file size.
CUTS = (0.02, 0.3, 0.6, 0.95)

#: Extensions a renamed mutant gets (the content decides how it is read).
RENAMES = (".jpg", ".png", ".heic", ".txt")


@dataclass(frozen=True)
class Mutant:
    """One generated file: ``path``, the ``seed`` file it came from ('' if none), the mutation ``kind``.

    ``decodable`` is True when the mutation leaves the image intact
    (``renamed``, ``appended``), False when it must not decode (``empty``,
    ``random``, ``header+zeros`` except for BMP and WebP, ``bomb``) and None when it
    may go either way.
    """

    path: Path
    seed: str
    kind: str
    decodable: bool | None


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` 8-bit grey pixels, with one tiny IDAT chunk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


#: Where the pixel data starts, by marker: PNG's first IDAT chunk, an ISO BMFF ``mdat`` box, JPEG's SOS
#: segment (the marker is followed by a 4-byte length for the first two, a 2-byte one for SOS).
_DATA_MARKERS = ((b"IDAT", 4), (b"mdat", 4), (b"\xff\xda", 2))

#: Whether a file whose pixel data is all zeros decodes, by extension: never for PNG (zlib refuses
#: zeros); JPEG and WebP decoders turn zeros into a flat picture without an error, and HEIF/AVIF ones
#: may, so those may go either way.
DATA_ZEROS_DECODABLE: dict[str, bool | None] = {".png": False}


def _pixel_data_start(data: bytes) -> int | None:
    """Offset just past the first pixel-data marker and its length field (``_DATA_MARKERS``), or None."""
    for marker, length in _DATA_MARKERS:
        at = data.find(marker, 8)
        if at >= 0:
            return at + len(marker) + length
    return None


def image_corpus(testdata: Path, out: Path, seed: int = 13) -> list[Mutant]:
    """Write the image mutants to ``out`` (created); return them. Raises ``OSError`` for unreadable seeds."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    made: list[Mutant] = []

    def write(name: str, data: bytes, source: str, kind: str, decodable: bool | None) -> None:
        path = out / name
        path.write_bytes(data)
        made.append(Mutant(path, source, kind, decodable))

    for index, rel in enumerate(SEEDS):
        data = (testdata / rel).read_bytes()
        stem, ext = f"{index:02d}-{Path(rel).stem}", Path(rel).suffix
        for cut in CUTS:
            write(f"{stem}-cut{int(cut * 100)}{ext}", data[:max(1, int(len(data) * cut))], rel, "truncated", None)
        for round_ in range(3):
            flipped = bytearray(data)
            for _ in range(1 + round_ * 7):
                at = rng.randrange(16, len(flipped))
                flipped[at] ^= 1 << rng.randrange(8)
            write(f"{stem}-flip{round_}{ext}", bytes(flipped), rel, "flipped", None)
        start = rng.randrange(len(data) // 4, len(data) // 2)
        write(f"{stem}-zeroed{ext}", data[:start] + bytes(len(data) // 4) + data[start + len(data) // 4:], rel,
              "zeroed", None)
        # uncompressed BMP pixels may all be zero (a black picture), and libwebp decodes a VP8 stream of
        # zeros as flat grey without an error: only there may it decode
        write(f"{stem}-header+zeros{ext}", data[:32] + bytes(256 * 1024), rel, "header+zeros",
              None if ext in (".bmp", ".webp") else False)
        data_at = _pixel_data_start(data)
        if data_at is not None:  # the whole structure kept, the pixel data replaced by zeros (a crashed copy)
            write(f"{stem}-data-zeros{ext}", data[:data_at] + bytes(max(len(data) - data_at, 64 * 1024)), rel,
                  "data+zeros", DATA_ZEROS_DECODABLE.get(ext.lower()))
        write(f"{stem}-appended{ext}", data + bytes(rng.randrange(256) for _ in range(4096)), rel, "appended",
              True)
        write(f"{stem}-renamed{RENAMES[index % len(RENAMES)]}", data, rel, "renamed", True)
    write("empty.jpg", b"", "", "empty", False)
    write("random.png", bytes(rng.randrange(256) for _ in range(8192)), "", "random", False)
    write("bomb.png", _png_bomb(30_000, 30_000), "", "bomb", False)
    return made


def result_corpus(record: dict, out: Path, seed: int = 13) -> list[tuple[Path, str]]:
    """Write mutants of the result ``record`` (one JSON object) to ``out`` as ``.json`` files.

    Returns ``(path, sha256)`` per file: each mutant is about an image of its
    own (``record["sha256"]`` replaced by the file's number as 64 hex
    digits), so a test can tell which files were stored. Mutations:
    truncations, flipped bytes, each member (at every depth) replaced in turn
    by a value of another JSON type, a list of records mixing good and bad
    ones, and nesting 5,000 levels deep.
    """
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    made: list[tuple[Path, str]] = []

    def own(value: dict) -> tuple[dict, str]:
        sha = f"{len(made):064x}"
        return {**value, "sha256": sha}, sha

    def write(name: str, data: bytes, sha: str) -> None:
        path = out / f"{len(made):03d}-{name}.json"
        path.write_bytes(data)
        made.append((path, sha))

    for cut in CUTS:
        mine, sha = own(record)
        text = json.dumps(mine).encode()
        write(f"cut{int(cut * 100)}", text[:int(len(text) * cut)], sha)
    for round_ in range(4):
        mine, sha = own(record)
        flipped = bytearray(json.dumps(mine).encode())
        for _ in range(1 + round_ * 3):
            at = rng.randrange(len(flipped))
            flipped[at] ^= 1 << rng.randrange(8)
        write(f"flip{round_}", bytes(flipped), sha)
    wrong: list[object] = ["text", 7, 1.5e308, True, None, [], {}, [[["deep"]]]]
    for number, path in enumerate(_member_paths(record)):
        mine, sha = own(record)
        write(f"type{number}", json.dumps(_replaced(mine, path, wrong[number % len(wrong)])).encode(), sha)
    mine, sha = own(record)
    write("mixed-list", json.dumps([mine, "bad", _replaced(mine, _member_paths(mine)[0], []), mine]).encode(), sha)
    mine, sha = own(record)
    write("deep", b'{"sha256": "' + sha.encode() + b'", "DetectLabels": ' + b"[" * 5000 + b"]" * 5000 + b"}", sha)
    return made


def _member_paths(value: object, prefix: tuple = (), limit: int = 60) -> list[tuple]:
    """Paths (tuples of keys and indexes) of the members of ``value``, breadth first, at most ``limit``."""
    found: list[tuple] = []
    queue: list[tuple[tuple, object]] = [(prefix, value)]
    while queue and len(found) < limit:
        path, item = queue.pop(0)
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in list(children)[:4]:
            found.append((*path, key))
            queue.append(((*path, key), child))
    return found[:limit]


def _replaced(record: dict, path: tuple, value: object) -> dict:
    """A deep copy of ``record`` with the member at ``path`` set to ``value``."""
    copy = json.loads(json.dumps(record))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def main() -> None:
    """Write an image corpus (and a result-file corpus from the awscli DetectLabels sample) to OUT_DIR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "testdata")
    args = parser.parse_args()
    images = image_corpus(args.testdata, args.out / "images", args.seed)
    labels = json.loads((args.testdata / "4_rekognition/awscli/detect-labels.json").read_text())
    results = result_corpus({"sha256": "0" * 64, "DetectLabels": labels}, args.out / "results", args.seed)
    print(f"{len(images)} image files and {len(results)} result files in {args.out}")


if __name__ == "__main__":
    main()
