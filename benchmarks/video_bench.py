"""Import and on-device analysis time per minute of video, for the shared test videos.

Imports each video of ``../shared/testdata/7_video`` (or the folder given) into a fresh library with
the ``local`` engine, one at a time, and prints for each: its duration, the frames sampled, the
wall-clock seconds of the import (ingest: probe and poster; analysis: sampling and every model on
each frame) and those seconds per minute of video. Models load in the first import's worker, so the
first file also pays for that; the ``warm`` line repeats the first file with the models loaded.

    .venv/bin/python benchmarks/video_bench.py [FOLDER]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from mediaapp.ingest import video
from mediaapp.library import Library

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    """Run the benchmark over ``argv[0]`` (default: the shared test videos); returns the exit code."""
    folder = Path(argv[0]) if argv else REPO.parent / "shared" / "testdata" / "7_video"
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in video.VIDEO_EXTENSIONS)
    if not videos:
        print(f"no videos in {folder}")
        return 1
    print(f"{'video':32} {'duration s':>10} {'frames':>6} {'import s':>9} {'s per video min':>16}")
    with tempfile.TemporaryDirectory(prefix="video-bench-") as tmp:
        lib = Library(Path(tmp) / "lib", settings={"engines": ["local"], "workers": 1})
        try:
            for label, path in [(p.name, p) for p in videos] + [("warm: " + videos[0].name, videos[0])]:
                run = Path(tmp) / f"run-{time.monotonic_ns()}"
                run.mkdir()
                copy = run / path.name
                shutil.copy(path, copy)
                with open(copy, "ab") as f:  # new bytes: analysed again, not answered from the catalog
                    f.write(run.name.encode())
                duration = video.probe_video(copy).duration_ms / 1000
                frames = len(video.sample_frames(copy, 1024))
                start = time.perf_counter()
                report = lib.import_paths([run])
                seconds = time.perf_counter() - start
                problems = f"  ({len(report.failed)} problems)" if report.failed else ""
                print(f"{label[:32]:32} {duration:10.1f} {frames:6d} {seconds:9.2f} "
                      f"{seconds / (duration / 60):16.1f}{problems}")
        finally:
            lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
