"""The TFJS -> ONNX converter: op semantics on a small graph, and faithfulness on the real models.

Faithfulness: ``tfjs_reference.json`` holds outputs of the ORIGINAL TFJS
graphs, computed once with @tensorflow/tfjs (CPU backend) in Node by
``tools/make_reference.py`` on real photos. The converted ONNX graphs run by
onnxruntime must match every stored value within 1e-4 of the tensor's
largest magnitude (at least 1e-4 absolute). Measured worst case: 5e-4 on
CenterNet's box sizes (largest value 443), 1e-5 relative overall.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from reference_input import REFERENCE_IMAGES, reference_input

from mediaapp.models import get_model
from mediaapp.models.fetch import model_path
from mediaapp.models.tfjs_convert import UnsupportedOpError, convert, convert_file, load_tfjs_graph

HERE = Path(__file__).parent
TOLERANCE = 1e-4


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _write_graph(tmp: Path, nodes: list[dict], weights: list[tuple[str, np.ndarray, bool]], inputs, outputs) -> Path:
    """Write a TFJS graph model; weights are (name, value, store_as_float16)."""
    specs, blobs = [], []
    for name, value, half in weights:
        spec = {"name": name, "shape": list(value.shape), "dtype": "float32" if value.dtype == np.float32 else "int32"}
        if half:
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(value.astype("<f2").tobytes())
        else:
            blobs.append(value.astype("<f4" if value.dtype == np.float32 else "<i4").tobytes())
        specs.append(spec)
    (tmp / "w.bin").write_bytes(b"".join(blobs))
    doc = {"format": "graph-model", "generatedBy": "test", "convertedBy": "test",
           "modelTopology": {"node": nodes},
           "signature": {"inputs": inputs, "outputs": outputs},
           "weightsManifest": [{"paths": ["w.bin"], "weights": specs}]}
    path = tmp / "model.json"
    path.write_text(json.dumps(doc))
    return path


def _tf_conv_same(x, w, stride):
    """NHWC conv with TensorFlow's SAME padding (odd padding pixel at the end), direct loops."""
    n, h, wd, _c = x.shape
    kh, kw, _, co = w.shape
    oh, ow = -(-h // stride), -(-wd // stride)
    ph = max((oh - 1) * stride + kh - h, 0)
    pw = max((ow - 1) * stride + kw - wd, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = np.zeros((n, oh, ow, co), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def _tf_depthwise_same(x, w):
    c = x.shape[3]
    return np.concatenate([_tf_conv_same(x[..., k:k + 1], w[:, :, k:k + 1, :], 1) for k in range(c)], axis=3)


def _tf_resize_half_pixel(x, size):
    """TensorFlow ResizeBilinear(half_pixel_centers=True) written from its definition."""
    n, h, w, c = x.shape
    oh, ow = size
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        fy = (i + 0.5) * h / oh - 0.5
        y0 = int(np.floor(fy))
        ly = fy - y0
        ya, yb = min(max(y0, 0), h - 1), min(max(y0 + 1, 0), h - 1)
        for j in range(ow):
            fx = (j + 0.5) * w / ow - 0.5
            x0 = int(np.floor(fx))
            lx = fx - x0
            xa, xb = min(max(x0, 0), w - 1), min(max(x0 + 1, 0), w - 1)
            top = x[:, ya, xa] * (1 - lx) + x[:, ya, xb] * lx
            bottom = x[:, yb, xa] * (1 - lx) + x[:, yb, xb] * lx
            out[:, i, j] = top * (1 - ly) + bottom * ly
    return out


def test_small_graph_matches_tensorflow_semantics(tmp_path):
    rng = np.random.default_rng(7)
    w1 = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    b1 = rng.normal(size=4).astype(np.float32)
    dw = rng.normal(size=(3, 3, 4, 1)).astype(np.float32)
    w1h = w1.astype(np.float16).astype(np.float32)  # stored as float16 in the model
    same, nhwc = {"s": _b64("SAME")}, {"s": _b64("NHWC")}
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "w1", "op": "Const"}, {"name": "b1", "op": "Const"}, {"name": "dw", "op": "Const"},
        {"name": "size", "op": "Const"}, {"name": "six", "op": "Const"},
        {"name": "conv", "op": "_FusedConv2D", "input": ["x", "w1", "b1"],
         "attr": {"padding": same, "data_format": nhwc, "strides": {"list": {"i": ["1", "2", "2", "1"]}},
                  "fused_ops": {"list": {"s": [_b64("BiasAdd"), _b64("Relu")]}}, "num_args": {"i": "1"}}},
        {"name": "dconv", "op": "DepthwiseConv2dNative", "input": ["conv", "dw"],
         "attr": {"padding": same, "data_format": nhwc, "strides": {"list": {"i": ["1", "1", "1", "1"]}}}},
        {"name": "r6", "op": "Relu6", "input": ["dconv"]},
        {"name": "up", "op": "ResizeBilinear", "input": ["r6", "size"],
         "attr": {"half_pixel_centers": {"b": True}, "align_corners": {"b": False}}},
        {"name": "out", "op": "Mul", "input": ["up", "six"]},
        {"name": "Identity", "op": "Identity", "input": ["out"]},
    ]
    weights = [("w1", w1, True), ("b1", b1, False), ("dw", dw, False),
               ("size", np.array([6, 6], np.int32), False), ("six", np.array(0.5, np.float32), False)]
    model_json = _write_graph(tmp_path, nodes, weights,
                              {"x:0": {"name": "x:0", "dtype": "DT_FLOAT", "tensorShape": {"dim": [
                                  {"size": "1"}, {"size": "6"}, {"size": "6"}, {"size": "2"}]}}},
                              {"Identity:0": {"name": "Identity:0", "dtype": "DT_FLOAT"}})
    onnx_path = convert_file(model_json, tmp_path / "m.onnx")
    x = rng.normal(size=(1, 6, 6, 2)).astype(np.float32)
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    y = np.maximum(_tf_conv_same(x, w1h, 2) + b1, 0)          # 6x6 -> 3x3, padding (0, 1) per side
    y = np.clip(_tf_depthwise_same(y, dw), 0, 6)
    expected = _tf_resize_half_pixel(y, (6, 6)) * 0.5
    assert got.shape == (1, 6, 6, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_unsupported_op_is_named(tmp_path):
    nodes = [{"name": "x", "op": "Placeholder"}, {"name": "e", "op": "Erf", "input": ["x"]}]
    model_json = _write_graph(tmp_path, nodes, [], {"x:0": {"name": "x:0", "dtype": "DT_FLOAT",
                                                            "tensorShape": {"dim": [{"size": "2"}]}}},
                              {"e:0": {"name": "e:0", "dtype": "DT_FLOAT"}})
    with pytest.raises(UnsupportedOpError, match="Erf"):
        convert(load_tfjs_graph(model_json))


@pytest.mark.parametrize("name", ["nanodet", "centernet"])
def test_converted_model_matches_original_tfjs(name, model_cache, testdata):
    reference = json.loads((HERE / "tfjs_reference.json").read_text())["models"][name]
    spec = get_model(name)
    assert reference["version"] == spec.version
    session = ort.InferenceSession(str(model_path(model_cache, spec)), providers=["CPUExecutionProvider"])
    for rel in REFERENCE_IMAGES:
        batch = reference_input(spec, testdata / rel)
        names = [o.name for o in session.get_outputs()]
        outputs = dict(zip(names, session.run(names, {session.get_inputs()[0].name: batch})))
        expected = reference["images"][rel]
        assert set(expected) == set(outputs)
        for out_name, ref in expected.items():
            value = outputs[out_name]
            assert list(value.shape) == ref["shape"], out_name
            flat = value.reshape(-1)
            idx = np.array([i for i, _ in ref["samples"]])
            want = np.array([v for _, v in ref["samples"]])
            tol = TOLERANCE * max(ref["absmax"], 1.0)
            worst = float(np.abs(flat[idx] - want).max())
            assert worst <= tol, f"{name} {rel} {out_name}: max |onnx - tfjs| = {worst:g} > {tol:g}"
            assert abs(float(flat.mean()) - ref["mean"]) <= tol

