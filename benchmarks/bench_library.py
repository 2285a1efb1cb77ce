"""A synthetic media library for the GUI and CLI benchmarks, written through the product's own API.

"Through the product's API" means: no table is written by hand. Every asset
goes in as an import would leave it, with the calls the import pipeline
makes: ``Catalog.add_file`` (the asset row, its file and its change-feed
mark), ``thumbnails.save_thumbnail`` (the stored thumbnail) and
``Catalog.store_analysis`` with Rekognition-shaped DetectLabels, DetectText
and RecognizeCelebrities responses flattened by ``mediaapp.core.apis.flatten``.
Then ``Library.sync_index`` (the change feed's search consumer,
``SearchSync``) builds every asset's ``IndexDocument`` from the catalog and
writes the embedded SQLite index, as after an import. Only two shortcuts
are taken, neither of them visible to the code under test: the originals do
not exist (nothing in the grid reads them while the thumbnails decode), and
only ``N_THUMBS`` distinct thumbnails are encoded; every other asset's
thumbnail file (``thumbnails/ab/<sha256>.jpg``) is a hard link to one of
them, so 100,000 assets cost a few MB of disk instead of ~1 GB.

Per asset (deterministic for a seed): 6 labels drawn from 1,000 with
Zipf-like frequencies (weight 1/rank^0.9, up to two parents among the 40
most frequent), two of them with one boxed instance (8 label detections);
2 DetectText LINEs from a 5,000-word vocabulary; a recognised person on
15 % of the assets; a date over 2010-2024 (5 % undated); the path
``/photos/<year>/<month>/IMG_<n>.jpg``. About 10 detections per asset.

A built library is kept in ``<workdir>/library-<n>-s<seed>`` and reused
(``built.json`` marks a complete build).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Distinct thumbnails encoded; the other assets' thumbnail files are hard links to these.
N_THUMBS = 48
N_LABELS = 1000
N_WORDS = 5000
N_PERSONS = 300
#: Assets per catalog write transaction while building.
BATCH = 1000
#: Bump when the generated content changes: a cached library of another version is rebuilt.
VERSION = 1


def label_name(i: int) -> str:
    """The ``i``-th label of the vocabulary (0 = the most frequent): ``Label0000``..."""
    return f"Label{i:04d}"


class _Vocabulary:
    """Labels (with parents), words and persons, and their draw weights."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.labels = [label_name(i) for i in range(N_LABELS)]
        self.label_weights = [1.0 / (i + 1) ** 0.9 for i in range(N_LABELS)]
        self.parents = {name: (() if i < 40 else tuple(rng.sample(self.labels[:40], rng.choice((0, 1, 1, 2)))))
                        for i, name in enumerate(self.labels)}
        self.words = [f"w{i}x" for i in range(N_WORDS)]
        self.word_weights = [1.0 / (i + 1) ** 0.8 for i in range(N_WORDS)]
        self.persons = [f"Person {i}" for i in range(N_PERSONS)]


def _box(rng: random.Random) -> dict[str, float]:
    left, top = rng.uniform(0, 0.6), rng.uniform(0, 0.6)
    return {"Width": rng.uniform(0.1, 0.4), "Height": rng.uniform(0.1, 0.4), "Left": left, "Top": top}


def _responses(rng: random.Random, vocab: _Vocabulary) -> dict[str, dict]:
    """One asset's Rekognition responses by operation name."""
    names = sorted(set(rng.choices(vocab.labels, vocab.label_weights, k=6)))
    labels = []
    for k, name in enumerate(names):
        label: dict = {"Name": name, "Confidence": rng.uniform(50, 100),
                       "Parents": [{"Name": p} for p in vocab.parents[name]], "Instances": []}
        if k < 2:
            label["Instances"].append({"BoundingBox": _box(rng), "Confidence": rng.uniform(50, 100)})
        labels.append(label)
    lines = [" ".join(rng.choices(vocab.words, vocab.word_weights, k=3)) for _ in range(2)]
    text = [{"DetectedText": line, "Type": "LINE", "Id": i, "Confidence": rng.uniform(80, 100),
             "Geometry": {"BoundingBox": _box(rng)}} for i, line in enumerate(lines)]
    out = {"DetectLabels": {"Labels": labels, "LabelModelVersion": "3.0"},
           "DetectText": {"TextDetections": text, "TextModelVersion": "3.0"}}
    if rng.random() < 0.15:
        out["RecognizeCelebrities"] = {"CelebrityFaces": [{
            "Name": rng.choice(vocab.persons), "Id": "bench", "MatchConfidence": rng.uniform(90, 100),
            "Urls": [], "Face": {"BoundingBox": _box(rng), "Confidence": 99.0}}], "UnrecognizedFaces": []}
    return out


def _thumbnail_sources(thumb_dir: Path, seed: int) -> list[str]:
    """``N_THUMBS`` thumbnails written with ``save_thumbnail`` (under made-up sha256s); their paths."""
    from PIL import Image, ImageDraw

    from mediaapp.ingest.thumbnails import save_thumbnail

    rng = random.Random(seed + 7)
    paths = []
    for i in range(N_THUMBS):
        img = Image.new("RGB", (320, 240), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        draw = ImageDraw.Draw(img)
        for _ in range(12):
            x, y = rng.randrange(300), rng.randrange(220)
            draw.ellipse((x, y, x + rng.randrange(20, 120), y + rng.randrange(20, 120)),
                         fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        paths.append(save_thumbnail(img, thumb_dir, f"{0xbe0000 + i:064x}"))
    return paths


def build_library(workdir: Path, n: int, seed: int = 5, quiet: bool = False) -> Path:
    """The library folder of ``n`` synthetic assets (module docstring), built on first use and cached.

    Returns the library root (``<workdir>/library-<n>-s<seed>``). A partial
    build (interrupted) is thrown away and made again. Progress goes to
    stderr unless ``quiet``. Raises ``SystemExit`` when the index does not
    end up holding exactly ``n`` assets.
    """
    import shutil

    from mediaapp.core.apis import flatten
    from mediaapp.ingest.thumbnails import thumbnail_path
    from mediaapp.library import Library

    root = Path(workdir) / f"library-{n}-s{seed}"
    marker = root / "built.json"
    if marker.exists() and json.loads(marker.read_text()).get("version") == VERSION:
        return root
    if root.exists():
        shutil.rmtree(root)
    started = time.perf_counter()
    library = Library(root)
    try:
        catalog = library.catalog
        thumb_dir = library.thumbnail_dir
        sources = _thumbnail_sources(thumb_dir, seed)
        vocab = _Vocabulary(seed)
        rng = random.Random(seed + 1)
        for start in range(0, n, BATCH):
            with catalog.transaction():
                for i in range(start, min(n, start + BATCH)):
                    sha = f"{rng.getrandbits(256):064x}"
                    year, month = rng.randint(2010, 2024), rng.randint(1, 12)
                    taken = None if rng.random() < 0.05 else (
                        f"{year:04d}-{month:02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
                        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")
                    thumb = thumbnail_path(thumb_dir, sha)
                    os.makedirs(os.path.dirname(thumb), exist_ok=True)
                    os.link(sources[i % len(sources)], thumb)
                    catalog.add_file(path=f"/photos/{year}/{month:02d}/IMG_{i:07d}.jpg", size=2_000_000 + i,
                                     mtime_ns=1_600_000_000_000_000_000 + i, sha256=sha,
                                     asset={"format": "jpeg", "width": 4000, "height": 3000, "taken_at": taken,
                                            "camera_make": "Canon", "camera_model": "EOS", "thumbnail": thumb})
                    for api, response in _responses(rng, vocab).items():
                        catalog.store_analysis(sha256=sha, api=api, engine="rekognition", engine_version="bench",
                                               params="{}", response=response,
                                               detections=flatten(api, response, "rekognition"))
            if not quiet:
                print(f"\r  catalogued {min(n, start + BATCH)}/{n}", end="", file=sys.stderr, flush=True)
        if not quiet:
            print("\n  indexing (Library.sync_index)…", file=sys.stderr, flush=True)
        library.sync_index()
        library.local_index.optimize()
        count = library.local_index.count()
        if count != n:
            raise SystemExit(f"the index holds {count} assets after building {n}")
    finally:
        library.close()
    marker.write_text(json.dumps({"version": VERSION, "assets": n, "seed": seed,
                                  "seconds": round(time.perf_counter() - started, 1)}))
    if not quiet:
        print(f"  built {root} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return root
