"""The TFJS converter's additions for the expression model: Softmax, and graphs without a signature (their
outputs are the ops nothing else reads), checked against numpy on a small graph and on the real model."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort

from mediaapp.models.tfjs_convert import convert_file, load_tfjs_graph


def _graph_without_signature(tmp_path, bias: np.ndarray):
    (tmp_path / "w.bin").write_bytes(bias.astype("<f4").tobytes())
    doc = {"format": "graph-model", "modelTopology": {"node": [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [
            {"size": "-1"}, {"size": "2"}, {"size": "2"}, {"size": "3"}]}}}},
        {"name": "b", "op": "Const"},
        {"name": "axes", "op": "Const"},
        {"name": "add", "op": "AddV2", "input": ["x", "b"]},
        {"name": "mean", "op": "Mean", "input": ["add", "axes"], "attr": {"keep_dims": {"b": False}}},
        {"name": "soft", "op": "Softmax", "input": ["mean"]},
        {"name": "Identity", "op": "Identity", "input": ["soft"]},
    ]}, "weightsManifest": [{"paths": ["w.bin"], "weights": [{"name": "b", "shape": [3], "dtype": "float32"}]},
                            {"paths": ["a.bin"], "weights": [{"name": "axes", "shape": [2], "dtype": "int32"}]}]}
    (tmp_path / "a.bin").write_bytes(np.array([1, 2], "<i4").tobytes())
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    return path


def test_softmax_graph_without_signature_matches_numpy(tmp_path):
    rng = np.random.default_rng(3)
    bias = rng.normal(size=3).astype(np.float32)
    model_json = _graph_without_signature(tmp_path, bias)
    assert load_tfjs_graph(model_json).outputs == ["Identity:0"]   # the sink, found without a signature
    onnx_path = convert_file(model_json, tmp_path / "m.onnx")
    x = rng.normal(size=(2, 2, 2, 3)).astype(np.float32)
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    logits = (x + bias).mean(axis=(1, 2))
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_the_pinned_expression_model_converts_and_answers_probabilities():
    from mediaapp.models import default_model_dir
    from mediaapp.models.faces import ensure_face_model, face_model
    from mediaapp.models.fetch import sources_dir

    path = ensure_face_model(default_model_dir())
    spec = face_model("emotion")
    graph = load_tfjs_graph(sources_dir(default_model_dir(), spec) / "emotion.json")
    assert graph.metadata["generatedBy"] == "https://github.com/oarriaga/face_classification"  # the weights' origin
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(-1, 1, size=(3, 64, 64, 1)).astype(np.float32)
    probs = session.run(None, {"input_1": x})[0]
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
