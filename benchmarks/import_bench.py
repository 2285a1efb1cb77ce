"""Import throughput: ``process_file`` in 2 worker processes versus libvips' ``vipsthumbnail``.

Generates ``--count`` photographic-looking JPEGs (default 200 at 4000x3000,
quality 92, with EXIF DateTimeOriginal/Make/Model; every fourth one has EXIF
Orientation 6) and caches them in ``--cache-dir`` so later runs reuse them.
Then, with the files in the page cache, it times:

1. ours: ``scan.iter_files`` + ``ingest_worker.process_file`` (sniff, SHA-256, EXIF,
   320-px JPEG thumbnail) through a ``ProcessPoolExecutor`` of ``--workers``;
2. vips: ``vipsthumbnail --size 320`` (auto-rotates; JPEG Q=85) on the same
   files, ``--workers`` parallel processes through ``xargs -P``, 10 files per
   process so start-up cost is amortised as a batch tool would.

Prints images/s for each and the wall-time ratio ours/vips (target <= 1.5).
Then imports the same folder through ``Library.import_paths`` (catalog and
index included, no analysis) and again unchanged, printing the re-import
time per 1,000 files (target: well under a second).
Needs ``vipsthumbnail`` (Debian: ``apt-get install libvips-tools``) for step 2.

Run: ``python benchmarks/import_bench.py [--count 200] [--size 4000x3000]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediaapp.ingest.ingest_worker import process_file
from mediaapp.ingest.scan import iter_files


def _smooth(rng: np.random.Generator, grid: tuple[int, int], size: tuple[int, int],
            amplitude: int) -> np.ndarray:
    """Random RGB ``grid`` (w, h) bicubic-upsampled to ``size``: gradients and blobs, int16 around 0."""
    w, h = grid
    small = rng.integers(128 - amplitude, 128 + amplitude, (h, w, 3), dtype=np.uint8)
    big = Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(big).astype(np.int16) - 128


_NOISE: np.ndarray | None = None


def _noise(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Sensor-like Gaussian noise (sigma 6) for ``size``, from a tile shared per process."""
    global _NOISE
    if _NOISE is None:
        _NOISE = np.random.default_rng(0).normal(0, 6, (1024, 1024, 3)).astype(np.int16)
    w, h = size
    reps = (-(-h // 1024), -(-w // 1024), 1)
    shifted = np.roll(_NOISE, (int(rng.integers(1024)), int(rng.integers(1024))), axis=(0, 1))
    return np.tile(shifted, reps)[:h, :w]


def make_photo(index: int, size: tuple[int, int], path: Path) -> None:
    """Write one synthetic photo: broad colour gradients, mid-scale texture and sensor noise.

    Deterministic per ``index``. The mix gives JPEG sizes close to a real
    12 Mpx camera photo (about 3-5 MB at quality 92).
    """
    rng = np.random.default_rng(index)
    w, h = size
    pixels = 128 + _smooth(rng, (4, 3), size, 90) + _smooth(rng, (w // 16, h // 16), size, 28)
    pixels += _noise(rng, size)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    exif[0x0110] = f"Model {index % 5}"
    exif[0x0112] = 6 if index % 4 == 3 else 1
    exif.get_ifd(0x8769)[0x9003] = f"2024:{1 + index % 12:02d}:{1 + index % 28:02d} 12:{index % 60:02d}:00"
    tmp = path.with_suffix(".part")
    img.save(tmp, "JPEG", quality=92, exif=exif)
    os.replace(tmp, path)


def _make_one(args: tuple[int, tuple[int, int], str]) -> None:
    """Pool helper: ``make_photo`` unless the file is already cached."""
    index, size, path = args
    if not os.path.exists(path):
        make_photo(index, size, Path(path))


def ensure_photos(cache: Path, count: int, size: tuple[int, int], workers: int) -> list[str]:
    """Create (or reuse) ``count`` photos of ``size`` in ``cache``; return their paths."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = [str(cache / f"bench_{i:04d}.jpg") for i in range(count)]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"generating {len(missing)} photos {size[0]}x{size[1]} in {cache} ...", flush=True)
        start = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_make_one, [(i, size, p) for i, p in enumerate(paths)]))
        print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
    return paths


def warm(paths: list[str]) -> None:
    """Read every file once so both contenders start with a warm page cache."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


def run_ours(folder: Path, paths: list[str], workers: int) -> float:
    """Scan ``folder`` and import every file with ``process_file``; return wall seconds."""
    thumbs = Path(tempfile.mkdtemp(prefix="bench_thumbs_"))
    try:
        start = time.perf_counter()
        errors: list[tuple[str, str]] = []
        entries = [e.path for e in iter_files([folder], lambda p, r: errors.append((p, r)))
                   if e.path.endswith(".jpg")]
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(process_file, entries, [str(thumbs)] * len(entries)))
        elapsed = time.perf_counter() - start
        failed = [r for r in results if r.error_stage]
        if failed or errors or len(results) != len(paths):
            raise SystemExit(f"import failed: {failed[:3]} {errors[:3]} ({len(results)} results)")
        return elapsed
    finally:
        shutil.rmtree(thumbs, ignore_errors=True)


def run_library(folder: Path, paths: list[str], workers: int) -> tuple[float, float]:
    """Import ``folder`` through ``Library.import_paths`` (no analysis), then again unchanged.

    Returns ``(first, again)`` wall seconds. The first run adds what
    ``run_ours`` leaves out: catalog rows, the search index, error
    bookkeeping. The second is the size+mtime check alone (nothing hashed
    or decoded; the issue's target is well under 1 s per 1,000 files).
    """
    from mediaapp.library import Library

    root = Path(tempfile.mkdtemp(prefix="bench_lib_"))
    try:
        lib = Library(root, settings={"workers": workers, "engines": []})
        try:
            start = time.perf_counter()
            report = lib.import_paths([folder], engines=[])
            first = time.perf_counter() - start
            if report.imported + report.duplicates != len(paths) or report.failed:
                raise SystemExit(f"library import: {report.imported} of {len(paths)}, failed {report.failed[:3]}")
            start = time.perf_counter()
            again = lib.import_paths([folder], engines=[])
            second = time.perf_counter() - start
            if again.unchanged != len(paths):
                raise SystemExit(f"re-import saw {again.unchanged} unchanged of {len(paths)}")
            return first, second
        finally:
            lib.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_vips(paths: list[str], workers: int) -> float:
    """Make the same thumbnails with ``vipsthumbnail`` via ``xargs -P``; return wall seconds."""
    out = Path(tempfile.mkdtemp(prefix="bench_vips_"))
    try:
        start = time.perf_counter()
        subprocess.run(
            ["xargs", "-0", "-P", str(workers), "-n", "10", "vipsthumbnail", "--size", "320",
             "-o", f"{out}/%s.jpg[Q=85]"],
            input="\0".join(paths).encode(), check=True)
        elapsed = time.perf_counter() - start
        made = len(list(out.iterdir()))
        if made != len(paths):
            raise SystemExit(f"vipsthumbnail made {made} of {len(paths)} thumbnails")
        return elapsed
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    """Parse flags, prepare photos, time both contenders and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="number of photos (default 200)")
    parser.add_argument("--size", default="4000x3000", help="WxH in pixels (default 4000x3000)")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    parser.add_argument("--reimport-files", type=int, default=2000,
                        help="also time the unchanged re-import of this many small JPEGs (default 2000; 0 = skip)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where generated photos are kept (default: $TMPDIR/mediaapp_import_bench_v2_WxH)")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    cache = args.cache_dir or Path(tempfile.gettempdir()) / f"mediaapp_import_bench_v2_{w}x{h}"
    paths = ensure_photos(cache, args.count, (w, h), args.workers)
    # Time exactly these files: link them into a fresh folder so --count can be
    # smaller than what the cache holds.
    folder = Path(tempfile.mkdtemp(prefix="bench_in_"))
    try:
        for p in paths:
            os.symlink(p, folder / os.path.basename(p))
        mb = sum(os.path.getsize(p) for p in paths) / 1e6
        print(f"{len(paths)} photos {w}x{h}, {mb / len(paths):.2f} MB each on average, "
              f"{args.workers} processes, {os.cpu_count()} CPUs")
        warm(paths)
        ours = run_ours(folder, paths, args.workers)
        print(f"ours (scan+sniff+sha256+EXIF+thumbnail): {ours:6.2f} s  {len(paths) / ours:6.1f} images/s")
        warm(paths)
        first, again = run_library(folder, paths, args.workers)
        print(f"Library.import_paths (+ catalog + index): {first:6.2f} s  {len(paths) / first:6.1f} images/s")
        print(f"re-import, unchanged:                    {again:6.3f} s  = {again / len(paths) * 1000:.3f} s"
              f" per 1,000 files (target well under 1 s)")
        if shutil.which("vipsthumbnail") is None:
            print("vipsthumbnail not found (apt-get install libvips-tools): no comparison")
            return
        warm(paths)
        vips = run_vips(paths, args.workers)
        print(f"vipsthumbnail --size 320:                {vips:6.2f} s  {len(paths) / vips:6.1f} images/s")
        print(f"ratio ours/vips: {ours / vips:.2f} (target <= 1.5)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.reimport_files:
        many = Path(tempfile.mkdtemp(prefix="bench_many_"))
        try:
            small = [str(many / f"d{i // 500:02d}" / f"s{i:05d}.jpg") for i in range(args.reimport_files)]
            for i, p in enumerate(small):
                os.makedirs(os.path.dirname(p), exist_ok=True)
                Image.new("RGB", (64, 48), (i % 256, (i // 256) % 256, 90)).save(p, quality=80)
            first, again = run_library(many, small, args.workers)
            folders = len({os.path.dirname(p) for p in small})
            print(f"{len(small)} small files in {folders} folders: import {first:.2f} s, "
                  f"re-import unchanged {again:.3f} s = {again / len(small) * 1000:.3f} s per 1,000 files")
        finally:
            shutil.rmtree(many, ignore_errors=True)


if __name__ == "__main__":
    main()
