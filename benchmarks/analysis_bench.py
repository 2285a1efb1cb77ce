"""Throughput of the product's default on-device analysis on 12 MP photos, with per-part timings.

Usage::

    python benchmarks/analysis_bench.py [--count 24] [--workers N] [--cache-dir DIR] [--apis labels,text]

What runs is what a library's import runs when nothing is named: the APIs of
``Settings().apis`` (``core/apis.default_apis``: the ``ApiSpec.default`` ones)
that the ``local`` engine answers (``core/apis.engine_apis`` with its
descriptor, as ``services/importer.ImportPipeline._analyse`` picks them), at
the default ``min_confidence`` / ``max_labels`` / ``faces_enabled`` and with
``Settings().workers`` worker processes (None: one per core, as
``tasks.WorkerPool``). ``--apis`` overrides the set (short names or operation
names) and ``--workers`` the pool size, to look at one part alone.

Photos: the real test photos of ``1_objects`` (VOC/labelme, people, cars,
planes...) and ``3_faces`` enlarged to 4000x3000 (bicubic, letterboxed on a
grey canvas when their aspect differs) and saved as quality-92 JPEGs in
``--cache-dir`` (default: a temporary directory), plus the real 4032x3024
iPhone HEIC of ``5_formats``. Nothing is written into the repository.

Part 1, per-part timings (one process, one onnxruntime thread per session as
in a worker of a 2-process pool on 2 cores, ``tasks.init_worker``): each photo
goes through ``analysis.analysis_worker.analyse_image`` (the worker task:
decode, every API, face records, response validation) with timers wrapped
around its parts: ``decode`` (``ingest.media.open_for_analysis``), ``faces``
(dlib detection + landmarks + embeddings, shared by DetectLabels,
DetectFaces and RecognizeCelebrities), ``objects`` (COCO detector),
``concepts`` (ImageNet classifier; target <= 40 ms), ``similarity``
(embedding extras, perceptual hashes), ``face-details`` (DetectFaces' 68-point
landmarks, attributes and expression), ``text`` (DetectText), ``moderation``
(DetectModerationLabels), ``face-records`` (crops written) and ``other``
(validation, merging, the rest). Median wall and CPU time per image.

Part 2, throughput: the same task on every photo through the product's
``WorkerPool``, reported as images/s (target >= 1.5 images/s on 12 MP
photos, issues 10 and 11). Models are loaded in every worker before the
clock starts. Meanwhile the parent process runs a 16 ms heartbeat (a
stand-in for the GUI event loop) and prints its worst and 99th-percentile
lateness.

Before either part the engine's ``prepare`` runs, as an import's does
(models fetched or converted once, never timed).

Figures depend on the machine and its load: the run prints
``os.getloadavg`` before and after each part; only a run whose 1-minute load
stayed below about 1.5 (nothing else running) is a fair figure on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))



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


def default_jobs(paths: list[Path], crops: Path, apis_arg: str | None = None) -> tuple[list[tuple], list[str]]:
    """The ``analyse_image`` argument tuples of a default import of ``paths``, and the API names they run.

    APIs: ``apis_arg`` (comma-separated short or operation names) when given,
    else the library default (``Settings().apis``) filtered for the ``local``
    engine by ``core.apis.engine_apis``, as the import pipeline does.
    """
    from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
    from mediaapp.analysis.registry import engine_class
    from mediaapp.core.analysis import LOCAL_ENGINE
    from mediaapp.core.apis import engine_apis, parse_api
    from mediaapp.settings import Settings

    settings = Settings()
    desc = engine_class(LOCAL_ENGINE).descriptor
    if apis_arg:
        wanted = engine_apis([parse_api(a) for a in apis_arg.split(",") if a.strip()], desc.apis,
                             desc.default_apis, True)
    else:
        wanted = engine_apis([parse_api(a) for a in settings.apis], desc.apis, desc.default_apis, False)
    names = [a.value for a in wanted]
    config = {"faces_enabled": settings.faces_enabled, "face_crops_dir": str(crops)}
    params = AnalysisParams(settings.max_labels, settings.min_confidence)
    jobs = [(LOCAL_ENGINE, config, names, ImageRef(f"{i:064x}", str(p)), params) for i, p in enumerate(paths)]
    return jobs, names


#: (part name, module, attribute) of the functions timed in part 1; methods of the shared analysers are
#: wrapped on their instances (``_instrument``). The order is the printing order.
PARTS = ("decode", "faces", "objects", "concepts", "similarity", "face-details", "text", "moderation",
         "face-records")


class PartTimer:
    """Wall and CPU seconds spent in each part of ``PARTS`` for the image being analysed."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def wrap(self, name: str, fn):
        """``fn`` with its wall and CPU time added to part ``name`` on every call."""
        def timed(*args, **kwargs):
            start, start_cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - start
                self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - start_cpu
        return timed


def _instrument(engine, timer: PartTimer) -> None:
    """Wrap the parts of the local ``engine`` (and the functions it imports per call) with ``timer``."""
    from mediaapp.analysis.local import engine as engine_module
    from mediaapp.analysis.local import face_attributes, face_records, similarity

    engine_module.open_for_analysis = timer.wrap("decode", engine_module.open_for_analysis)
    face_attributes.face_details = timer.wrap("face-details", face_attributes.face_details)
    similarity.similarity_extras = timer.wrap("similarity", similarity.similarity_extras)
    face_records.face_records = timer.wrap("face-records", face_records.face_records)
    for name, obj, method in (("faces", engine.faces, "detect_and_embed"),
                              ("objects", engine.objects, "detect_labels"),
                              ("concepts", engine.concepts, "predict"),
                              ("text", engine.ocr, "detect_text"),
                              ("moderation", engine.moderation, "detect_moderation_labels")):
        setattr(obj, method, timer.wrap(name, getattr(obj, method)))


def warm_up_job(jobs: list[tuple]) -> tuple:
    """The first of ``jobs`` whose photo has a face (so the face models load in warm-up too), else the first."""
    from mediaapp.analysis.analysis_worker import analyse_image

    for job in jobs[:12]:
        outcomes = analyse_image(*job)
        if any(o.api == "DetectFaces" and o.response and o.response.get("FaceDetails") for o in outcomes):
            return job
    return jobs[0]


def part_timings(jobs: list[tuple]) -> tuple[dict[str, list[float]], dict[str, list[float]], int]:
    """Run ``jobs`` one by one in this process with timers on each part (see the module docstring).

    Returns ``(wall seconds per part per image, CPU seconds per part per
    image, failed API answers)``; parts include ``total`` and ``other``.
    The first job runs once untimed first, so models are loaded.
    """
    from mediaapp.analysis.analysis_worker import analyse_image
    from mediaapp.analysis.registry import create_engine

    analyse_image(*warm_up_job(jobs))  # loads every model
    timer = PartTimer()
    _instrument(create_engine(jobs[0][0], jobs[0][1]), timer)
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    failures = 0
    for job in jobs:
        timer.wall.clear()
        timer.cpu.clear()
        start, start_cpu = time.perf_counter(), time.process_time()
        outcomes = analyse_image(*job)
        total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        failures += sum(1 for o in outcomes if o.response is None)
        for name in PARTS:
            wall.setdefault(name, []).append(timer.wall.get(name, 0.0))
            cpu.setdefault(name, []).append(timer.cpu.get(name, 0.0))
        wall.setdefault("other", []).append(total - sum(timer.wall.values()))
        cpu.setdefault("other", []).append(total_cpu - sum(timer.cpu.values()))
        wall.setdefault("total", []).append(total)
        cpu.setdefault("total", []).append(total_cpu)
    return wall, cpu, failures


def full_analysis(jobs: list[tuple], workers: int | None) -> tuple[float, int, list[float]]:
    """Run ``jobs`` through the product's worker pool and task (``WorkerPool``, ``analyse_image``).

    Returns ``(wall seconds, failed API answers, heartbeat lateness list)``.
    Models are loaded in every worker before the clock starts (one image per
    worker), as they stay loaded during a real import.
    """
    from mediaapp.analysis.analysis_worker import analyse_image
    from mediaapp.tasks import WorkerPool

    failures: list[str] = []

    def on_result(item, outcomes) -> None:
        failures.extend(o.error for o in outcomes if o.response is None)

    def on_failure(item, exc) -> None:
        failures.append(str(exc))

    pool = WorkerPool(workers)
    warm = warm_up_job(jobs)
    try:
        pool.run(analyse_image, [warm] * pool.workers, on_result, on_failure)  # warm-up: models load in each worker
        failures.clear()
        with Heartbeat() as beat:
            start = time.perf_counter()
            pool.run(analyse_image, jobs, on_result, on_failure)
            wall = time.perf_counter() - start
    finally:
        pool.close()
    if failures:
        print(f"  first failure: {failures[0]}", file=sys.stderr)
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


def _load() -> str:
    """``os.getloadavg`` as text (1, 5, 15 minutes)."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    """Run the per-part and throughput parts and print their figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=24, help="number of 12 MP photos (default 24)")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: the library default, Settings().workers: one per core)")
    ap.add_argument("--apis", default=None, help="comma-separated APIs instead of the library default")
    ap.add_argument("--testdata", default=str(REPO.parent / "shared" / "testdata"))
    ap.add_argument("--cache-dir", default=None, help="where the generated photos are kept (default: temp dir)")
    ap.add_argument("--skip-parts", action="store_true", help="skip part 1 (per-part timings)")
    ap.add_argument("--skip-throughput", action="store_true", help="skip part 2 (throughput)")
    args = ap.parse_args()

    from mediaapp.settings import Settings
    from mediaapp.tasks import ORT_THREADS_ENV, WorkerPool, init_worker

    if args.workers is None:
        args.workers = Settings().workers  # the library default (None: one process per core)

    # Part 1 runs in this process as in one worker of a one-process-per-core pool: one thread for onnxruntime,
    # OpenMP and OpenBLAS (tasks.init_worker), set before numpy loads; the pool's workers get their own share.
    own_env = [] if args.skip_parts else [v for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", ORT_THREADS_ENV)
                                           if v not in os.environ]
    if own_env:
        init_worker(1)
    tmp = tempfile.TemporaryDirectory(prefix="mediaapp-bench-")
    photo_dir = Path(args.cache_dir) if args.cache_dir else Path(tmp.name)
    try:
        paths = make_photos(Path(args.testdata), photo_dir, args.count)
        if not paths:
            print(f"no test photos under {args.testdata} (--testdata)", file=sys.stderr)
            return 2
        jobs, names = default_jobs(paths, Path(tmp.name) / "face-crops", args.apis)
        from mediaapp.analysis.registry import create_engine
        from mediaapp.core.types import Api
        # As an import does before its workers start: fetch or convert the models the APIs need.
        for api, problem in create_engine(jobs[0][0], jobs[0][1]).prepare([Api(n) for n in names]).items():
            print(f"{api.value} cannot run: {problem}", file=sys.stderr)
        print(f"{len(paths)} photos of ~4000x3000 (12 MP); cpu count {os.cpu_count()}; APIs: {', '.join(names)}")
        if not args.skip_parts:
            print(f"\nper-part time per image, one process, {os.environ[ORT_THREADS_ENV]} onnxruntime thread(s)"
                  f" (load average before: {_load()})")
            wall, cpu, failures = part_timings(jobs)
            print("  part          wall median   wall max   CPU median   (ms)")
            for name, values in wall.items():
                if name in ("total", "other") or any(values):
                    print(f"  {name:<12} {statistics.median(values) * 1000:10.1f} {max(values) * 1000:10.1f}"
                          f" {statistics.median(cpu[name]) * 1000:12.1f}")
            mean_total, mean_cpu = statistics.fmean(wall["total"]), statistics.fmean(cpu["total"])
            print(f"  one process: {1 / mean_total:.2f} images/s (mean {mean_total * 1000:.0f} ms wall,"
                  f" {mean_cpu * 1000:.0f} ms CPU per image)"
                  + (f"; {failures} API failures" if failures else ""))
            print(f"  CPU-bound estimate for {WorkerPool(args.workers).workers} worker processes:"
                  f" {WorkerPool(args.workers).workers / mean_cpu:.2f} images/s (workers / mean CPU per image;"
                  f" steadier than wall time on a loaded machine, but no substitute for part 2 on a quiet one)")
            print(f"  load average after: {_load()}; peak RSS of this process"
                  f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
            for var in own_env:  # the worker processes get their share from the pool (tasks.init_worker)
                del os.environ[var]
        if not args.skip_throughput:
            before = _load()
            wall_s, failures, late = full_analysis(jobs, args.workers)
            workers = WorkerPool(args.workers).workers
            print(f"\nfull default analysis as an import runs it (tasks.WorkerPool, {workers} worker processes,"
                  f" analysis_worker.analyse_image):")
            print(f"  {len(paths)} photos in {wall_s:.1f} s = {len(paths) / wall_s:.2f} images/s"
                  f" (target >= 1.5 images/s)" + (f"; {failures} API failures" if failures else ""))
            print(f"  load average before: {before}; after: {_load()}; peak RSS of the largest worker"
                  f" {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")
            if late:
                p99 = late[min(len(late) - 1, int(0.99 * len(late)))]
                print(f"  parent 16 ms heartbeat lateness: p99 {p99 * 1000:.1f} ms, worst {late[-1] * 1000:.1f} ms")
    finally:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
