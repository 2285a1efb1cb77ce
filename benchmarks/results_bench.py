"""Big result files: ``import-results``, ``export`` and ``search --json --limit 0`` in bounded memory (issue 13).

Builds a library of ``--assets`` small distinct photos (default 200;
generated with Pillow, imported without analysis through ``Library``), then
writes one result file of ``--records`` records (default 800, about 220 MB:
each image's DetectLabels and DetectText answers are the real awscli
samples from the shared test data, the labels repeated up to Rekognition's
maximum of 1,000, so a record is about 270 KB). The first ``--assets``
records are about the library's photos, the rest about images not in it.
Each step runs as the real command in a child process and prints its wall
time and peak RSS (``ru_maxrss`` of the child):

1. ``mediaapp import-results FILE``;
2. ``mediaapp export DIR`` (every engine);
3. ``mediaapp search --json --limit 0 --label Car`` (every photo matches).

Issue 13 measured 358 s and 3.6 GB for a 229 MB file, and 91 s and 7.7 GB
for the search. Target: peak RSS flat in the file size (stream), not a
multiple of it.

Run: ``python benchmarks/results_bench.py [--records 800] [--assets 200] [--testdata DIR]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mediaapp.library import Library  # noqa: E402


def _photos(folder: Path, count: int) -> list[str]:
    """Write ``count`` distinct 64x48 JPEGs to ``folder``; return their SHA-256s."""
    folder.mkdir(parents=True)
    shas = []
    for i in range(count):
        path = folder / f"img{i:05d}.jpg"
        Image.new("RGB", (64, 48), ((i * 7) % 256, (i * 13) % 256, (i // 256) % 256)).save(path, quality=95)
        shas.append(hashlib.sha256(path.read_bytes()).hexdigest())
    return shas


def _result_file(path: Path, shas: list[str], records: int, testdata: Path) -> int:
    """Write ``records`` records as one JSON list to ``path``; return its size in bytes."""
    samples = testdata / "4_rekognition" / "awscli"
    labels = json.loads((samples / "detect-labels.json").read_text())
    text = json.loads((samples / "detect-text.json").read_text())
    names = [dict(label, Name=f"{label['Name']}{i}" if i else label["Name"])
             for i in range(250) for label in labels["Labels"]][:1000]
    labels = {**labels, "Labels": names}
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        for i in range(records):
            sha = shas[i] if i < len(shas) else hashlib.sha256(f"other{i}".encode()).hexdigest()
            f.write(("," if i else "") + json.dumps({"sha256": sha, "DetectLabels": labels, "DetectText": text}))
        f.write("]")
    return path.stat().st_size


def _run(label: str, *args: str) -> None:
    """Run ``python -m mediaapp.cli.main ARGS`` and print its wall time and peak RSS (``os.wait4``)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "mediaapp.cli.main", *args], cwd=REPO, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if child.returncode:
            sys.exit(f"{label} failed ({child.returncode}): {err.read().decode()[-2000:]}")
        if label == "search":
            summary = f"{out.seek(0, os.SEEK_END):,} bytes of JSON"
        else:
            summary = out.read().decode().strip().splitlines()[-1]
    print(f"{label:16s} {wall:8.1f} s   peak RSS {usage.ru_maxrss / 1024:6.0f} MB   {summary}")


def main() -> None:
    """Parse the arguments, build the data and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=800)
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shas = _photos(work / "photos", args.assets)
        lib = Library(work / "lib", settings={"workers": 2})
        try:
            lib.import_paths([work / "photos"], engines=[])
        finally:
            lib.close()
        size = _result_file(work / "results.json", shas, args.records, args.testdata)
        print(f"{args.assets} photos in the library; result file: {args.records} records, {size / 1e6:.0f} MB")
        _run("import-results", "--library", str(work / "lib"), "import-results", str(work / "results.json"))
        _run("export", "--library", str(work / "lib"), "export", str(work / "out"))
        _run("search", "--library", str(work / "lib"), "search", "--json", "--limit", "0", "--label", "Car")


if __name__ == "__main__":
    main()
