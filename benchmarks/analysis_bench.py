"""Latency of each local analyser and throughput of full local analysis on 4000x3000 photos.

Usage::

    python benchmarks/analysis_bench.py [--count 12] [--workers 2] [--model nanodet] [--cache-dir DIR]

Photos: the real test photos of ``1_objects`` (VOC/labelme, people, cars,
planes...) and ``3_faces`` enlarged to 4000x3000 (bicubic, letterboxed on a
grey canvas when their aspect differs) and saved as quality-92 JPEGs in
``--cache-dir`` (default: a temporary directory), plus the real 4032x3024
iPhone HEIC of ``5_formats``. Nothing is written into the repository.

Part 1, latency (one process): each photo is decoded once the way the local
engine does (``open_rgb(path, max_side=2048)``), then each analyser runs on
the decoded image; the median per analyser is printed, with decoding shown
separately. Analysers: labels (``ObjectDetector.detect_labels``), text
(``RapidOcrTextDetector.detect_text``), faces (``DlibFaceDetector.detect_faces``);
an analyser that cannot be imported is skipped with a message. Targets:
labels <= 80 ms/image.

Part 2, throughput: full local analysis of every photo as an import runs it:
the product's ``WorkerPool`` of ``--workers`` processes (each gets its share
of the cores for onnxruntime) running ``analysis.analysis_worker.analyse_image`` with
the ``local`` engine (decode, DetectLabels with faces, DetectText,
RecognizeCelebrities with face embeddings and crops, response validation),
reported as images/s. Target >= 1 image/s. Meanwhile the parent process
runs a 16 ms heartbeat (a stand-in for the GUI event loop, which stays in
the parent while workers analyse) and prints its worst and 99th-percentile
lateness, to show the interface would stay responsive.

``--only labels,faces`` restricts both parts to some analysers.
Figures depend on the machine and its load; the run prints ``os.getloadavg``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ANALYSIS_MAX_SIDE = 2048  # as mediaapp.ingest.decode.ANALYSIS_MAX_SIDE (imported late: the benchmark sets up sys.path)


def make_photos(testdata: Path, out_dir: Path, count: int, size=(4000, 3000)) -> list[Path]:
    """Write up to ``count`` 4000x3000 JPEGs made from the real test photos; return their paths."""
    from PIL import Image

    from mediaapp.ingest.decode import DecodeError, open_rgb
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = sorted((testdata / "1_objects").rglob("*.jpg")) + sorted((testdata / "3_faces").rglob("*.jpg"))
    paths = []
    heic = testdata / "5_formats/containers/photoprism_iphone_7.heic"
    if heic.exists():
        paths.append(heic)
    for src in sources:
        if len(paths) >= count:
            break
        dst = out_dir / f"{src.parent.name}_{src.stem}_{size[0]}x{size[1]}.jpg"
        if not dst.exists():
            try:
                img = open_rgb(src)
            except DecodeError:
                continue  # the truncated VOC files
            scale = min(size[0] / img.width, size[1] / img.height)
            big = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC)
            canvas = Image.new("RGB", size, (128, 128, 128))
            canvas.paste(big, ((size[0] - big.width) // 2, (size[1] - big.height) // 2))
            canvas.save(dst, quality=92)
        paths.append(dst)
    return paths[:count]


def _analysers(model: str | None, threads: int | None, only: tuple[str, ...] = ("labels", "text", "faces")):
    """``[(name, callable(img))]`` for every importable analyser in ``only``; prints what was skipped."""

    def labels():
        from mediaapp.analysis.local.objects import ObjectDetector
        det = ObjectDetector(model=model, threads=threads)
        det.load()
        return lambda img: det.detect_labels(img, None, 50)

    def text():
        from mediaapp.analysis.local.ocr import RapidOcrTextDetector
        return RapidOcrTextDetector().detect_text

    def faces():
        from mediaapp.analysis.local.face_detector import DlibFaceDetector
        return DlibFaceDetector().detect_faces

    out = []
    for name, factory in (("labels", labels), ("text", text), ("faces", faces)):
        if name not in only:
            continue
        try:
            out.append((name, factory()))
        except Exception as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
    return out


def full_analysis(paths: list[Path], workers: int, crops: Path) -> tuple[float, int, list[float]]:
    """Analyse ``paths`` with the ``local`` engine through the product's worker pool and task.

    Returns ``(wall seconds, failed API answers, heartbeat lateness list)``.
    Models are loaded in every worker before the clock starts (one image per
    worker), as they stay loaded during a real import.
    """
    from mediaapp.analysis.analysis_worker import analyse_image
    from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
    from mediaapp.tasks import WorkerPool

    config = {"faces_enabled": True, "face_crops_dir": str(crops)}
    apis = ["DetectLabels", "DetectText", "RecognizeCelebrities"]
    jobs = [("local", config, apis, ImageRef(f"{i:064x}", str(p)), AnalysisParams()) for i, p in enumerate(paths)]
    failures: list[str] = []

    def on_result(item, outcomes) -> None:
        failures.extend(o.error for o in outcomes if o.response is None)

    def on_failure(item, exc) -> None:
        failures.append(str(exc))

    pool = WorkerPool(workers)
    try:
        pool.run(analyse_image, jobs[:workers], on_result, on_failure)  # warm-up: models load in each worker
        failures.clear()
        with Heartbeat() as beat:
            start = time.perf_counter()
            pool.run(analyse_image, jobs, on_result, on_failure)
            wall = time.perf_counter() - start
    finally:
        pool.close()
    return wall, len(failures), sorted(beat.lateness)


class Heartbeat:
    """A 16 ms periodic tick in a thread of the parent process, recording how late each tick fires."""

    def __init__(self, period: float = 0.016):
        self.period = period
        self.lateness: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        due = time.perf_counter() + self.period
        while not self._stop.is_set():
            time.sleep(max(0.0, due - time.perf_counter()))
            now = time.perf_counter()
            self.lateness.append(max(0.0, now - due))
            due = max(due + self.period, now)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main() -> int:
    """Run the latency and throughput parts and print their figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=12, help="number of 4000x3000 photos (default 12)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default=None, help="detector model (default: the manifest default)")
    ap.add_argument("--testdata", default=str(REPO.parent / "shared" / "testdata"))
    ap.add_argument("--cache-dir", default=None, help="where the generated photos are kept (default: temp dir)")
    ap.add_argument("--threads", type=int, default=None,
                    help="onnxruntime threads for the latency part (default: onnxruntime's choice)")
    ap.add_argument("--only", default="labels,text,faces", help="comma-separated analysers to run")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()

    tmp = None
    if args.cache_dir:
        photo_dir = Path(args.cache_dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="mediaapp-bench-")
        photo_dir = Path(tmp.name)
    paths = make_photos(Path(args.testdata), photo_dir, args.count)
    print(f"{len(paths)} photos of ~4000x3000; cpu count {os.cpu_count()}, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")

    from mediaapp.ingest.decode import open_rgb
    only = tuple(n.strip() for n in args.only.split(",") if n.strip())
    analysers = _analysers(args.model, threads=args.threads, only=only)
    for _, fn in analysers:  # warm up: load models, first-run allocations
        fn(open_rgb(paths[0], max_side=ANALYSIS_MAX_SIDE))
    timings: dict[str, list[float]] = {"decode": []}
    cpu: dict[str, list[float]] = {"decode": []}
    for path in paths:
        start, start_cpu = time.perf_counter(), time.process_time()
        img = open_rgb(path, max_side=ANALYSIS_MAX_SIDE)
        timings["decode"].append(time.perf_counter() - start)
        cpu["decode"].append(time.process_time() - start_cpu)
        for name, fn in analysers:
            start, start_cpu = time.perf_counter(), time.process_time()
            fn(img)
            timings.setdefault(name, []).append(time.perf_counter() - start)
            cpu.setdefault(name, []).append(time.process_time() - start_cpu)
    print(f"\nper-image latency, one process, onnxruntime threads={args.threads or 'default'}"
          " (wall median / wall max / CPU-time median, ms):")
    for name, values in timings.items():
        target = "  (target <= 80 ms)" if name == "labels" else ""
        print(f"  {name:<7} {statistics.median(values) * 1000:8.1f} / {max(values) * 1000:8.1f}"
              f" / {statistics.median(cpu[name]) * 1000:8.1f}{target}")
    print("  (CPU time is the sum over the process's threads; on a loaded machine it is the steadier figure)")
    if len(analysers) < len(only):
        print("  note: some analysers were skipped, so the full-analysis figures below are incomplete")

    if args.skip_throughput:
        return 0
    wall, failures, late = full_analysis(paths, args.workers, Path(photo_dir) / "face-crops")
    print(f"\nfull local analysis as an import runs it (mediaapp.tasks.WorkerPool +"
          f" analysis.analysis_worker.analyse_image: decode, DetectLabels, DetectText, RecognizeCelebrities"
          f" with face embeddings and crops),"
          f" {args.workers} worker processes:")
    print(f"  {len(paths)} photos in {wall:.1f} s = {len(paths) / wall:.2f} images/s (target >= 1 image/s)"
          + (f"; {failures} API failures" if failures else ""))
    if late:
        p99 = late[min(len(late) - 1, int(0.99 * len(late)))]
        print(f"  parent 16 ms heartbeat lateness: p99 {p99 * 1000:.1f} ms, worst {late[-1] * 1000:.1f} ms")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
