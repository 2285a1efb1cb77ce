"""Produce tests/models/tfjs_reference.json: outputs of the ORIGINAL TFJS graphs.

Run once by a developer (needs Node >= 18 and ``npm install`` in tools/):

    cd tools && npm install && cd ..
    python tools/make_reference.py [--testdata ../shared/testdata] [--models DIR]

For each model of the manifest and each photo of
``tests/models/reference_input.REFERENCE_IMAGES`` it builds the deterministic
input, runs the original TFJS graph with @tensorflow/tfjs (CPU backend) via
``tools/tfjs_reference.mjs``, and stores a small sample of each output
tensor (its shape, mean, largest absolute value, the 40 largest entries and
40 entries at seeded random positions) — numbers only, no images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "models"))

from reference_input import REFERENCE_IMAGES, reference_input  # noqa: E402

from mediaapp.models import all_models, default_model_dir  # noqa: E402
from mediaapp.models.fetch import fetch_sources, sources_dir  # noqa: E402

SAMPLES = 40


def sample(values: np.ndarray, rng: np.random.Generator) -> dict:
    """Shape, summary statistics and (index, value) pairs of one output tensor."""
    flat = values.reshape(-1).astype(np.float64)
    top = np.argsort(-flat, kind="stable")[:SAMPLES]
    rand = rng.choice(flat.size, size=min(SAMPLES, flat.size), replace=False)
    idx = sorted(set(int(i) for i in np.concatenate([top, rand])))
    return {"shape": list(values.shape), "mean": float(flat.mean()), "absmax": float(np.abs(flat).max()),
            "samples": [[i, float(flat[i])] for i in idx]}


def main() -> int:
    """Write the reference JSON; exit 0 on success."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testdata", default=str(REPO.parent / "shared" / "testdata"))
    ap.add_argument("--models", default=None, help="model cache (default: mediaapp's)")
    ap.add_argument("--out", default=str(REPO / "tests" / "models" / "tfjs_reference.json"))
    args = ap.parse_args()
    root = Path(args.models) if args.models else default_model_dir()
    models = all_models()
    doc = {"_comment": "Sampled outputs of the original TFJS graphs (tools/make_reference.py, @tensorflow/tfjs "
                       "CPU backend in Node) on the inputs of tests/models/reference_input.py.", "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in models.values():
            fetch_sources(root, spec, others=list(models.values()))
            graph = sources_dir(root, spec) / Path(spec.graph).name
            entry = {"version": spec.version, "images": {}}
            for rel in REFERENCE_IMAGES:
                batch = reference_input(spec, Path(args.testdata) / rel)
                inp = Path(tmp) / "input.bin"
                out = Path(tmp) / "out.json"
                batch.astype("<f4").tofile(inp)
                subprocess.run(["node", str(REPO / "tools" / "tfjs_reference.mjs"), str(graph), str(inp),
                                ",".join(map(str, batch.shape)), str(out)], check=True, cwd=REPO / "tools")
                result = json.loads(out.read_text())
                rng = np.random.default_rng(0)
                outputs = {}
                for name, value in sorted(result["outputs"].items()):
                    arr = np.asarray(value["data"], np.float32).reshape(value["shape"])
                    outputs[name.split(":")[0]] = sample(arr, rng)
                entry["images"][rel] = outputs
                entry["tfjs"] = result["tfjs"]
                entry["backend"] = result["backend"]
            doc["models"][spec.name] = entry
    Path(args.out).write_text(json.dumps(doc, indent=0) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
