"""The torch-free checkpoint reader and the ONNX graph built from it, on the real weights and photos."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mediaapp.analysis.local.classifier import preprocess
from mediaapp.models.classifiers import (
    checkpoint_path,
    classifier_path,
    convert_classifier,
    get_classifier,
    is_classifier_cached,
)
from mediaapp.models.fetch import FetchError
from mediaapp.models.torch_pickle import CheckpointError, load_state_dict


def test_reads_the_legacy_checkpoint_without_torch():
    state = load_state_dict(checkpoint_path(get_classifier()))
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_fc.weight"].dtype == np.float32
    # Batch-norm variances are never negative: the bytes were read at the right offsets, not shifted.
    variances = [v for k, v in state.items() if k.endswith("running_var")]
    assert len(variances) == 49 and all((v >= 0).all() and np.isfinite(v).all() for v in variances)
    assert np.median(np.concatenate(variances)) > 0.01


@pytest.mark.parametrize("wnid", ["n01491361", "n02085936", "n02980441", "n07873807", "n09256479"])
def test_converted_model_names_the_photos_class(classifier, imagenet, wnid):
    from mediaapp.ingest.decode import open_rgb

    path, index, _ = imagenet[wnid]
    prediction = classifier.predict(open_rgb(path))
    assert int(np.argmax(prediction.logits)) == index
    assert prediction.probs.shape == (1000,) and abs(prediction.probs.sum() - 1) < 1e-6


def test_logits_match_a_numpy_forward_pass_of_the_checkpoint(classifier, imagenet):
    """The ONNX graph against an independent numpy evaluation of the same weights (conv, BN, ReLU6)."""
    import sys
    from pathlib import Path

    from mediaapp.ingest.decode import open_rgb

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from label_eval import numpy_reference

    path, index, _ = imagenet["n01491361"]
    spec = classifier.spec
    batch = preprocess(open_rgb(path), spec.input_size, spec.input["crop"], spec.input["mean"], spec.input["std"])
    reference = numpy_reference(load_state_dict(checkpoint_path(spec)), batch[0])
    got = classifier.run(batch).logits
    assert int(np.argmax(reference)) == index
    np.testing.assert_allclose(got, reference, atol=2e-3)


def test_conversion_is_cached_and_refuses_a_tampered_checkpoint(classifier_dir, tmp_path, monkeypatch):
    spec = get_classifier()
    assert is_classifier_cached(classifier_dir, spec)
    assert classifier_path(classifier_dir, spec).stat().st_size > 10_000_000
    tampered = tmp_path / "tampered.pth"
    data = bytearray(checkpoint_path(spec).read_bytes())
    data[-5] ^= 0xFF
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr("mediaapp.models.classifiers.checkpoint_path", lambda s: tampered)
    with pytest.raises(FetchError, match="sha256"):
        convert_classifier(tmp_path / "models", spec)
    assert not is_classifier_cached(tmp_path / "models", spec)


def test_reader_refuses_code_in_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo owned",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(obj, fh, protocol=2)
        pickle.dump(Evil(), fh, protocol=2)
    with pytest.raises(CheckpointError, match="not allowed"):
        load_state_dict(path)


def test_reader_refuses_a_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.pth"
    with open(path, "wb") as fh:
        pickle.dump(12345, fh, protocol=2)
    with pytest.raises(CheckpointError):
        load_state_dict(path)


def _stand_in_torch(monkeypatch):
    """Install stand-in ``torch`` / ``torch._utils`` modules so pickle can write torch's globals by name.

    Returns ``(storage_type, rebuild)``: the ``torch.FloatStorage`` class and the
    ``torch._utils._rebuild_tensor_v2`` function the pickled checkpoint references (the latter raises if
    ever called). The caller removes both modules with ``monkeypatch.delitem`` before reading.
    """
    import sys
    import types

    torch_mod, utils_mod = types.ModuleType("torch"), types.ModuleType("torch._utils")
    storage_type = type("FloatStorage", (), {"__module__": "torch"})
    torch_mod.FloatStorage = storage_type

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch_mod)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_mod)
    return storage_type, _rebuild_tensor_v2


def test_reader_handles_the_zip_layout_and_strided_tensors(tmp_path, monkeypatch):
    """A checkpoint in torch >= 1.6's zip layout, written here with stand-ins for torch's globals."""
    import sys
    import zipfile
    from collections import OrderedDict

    storage_type, _rebuild_tensor_v2 = _stand_in_torch(monkeypatch)

    class Storage:
        def __init__(self, key, numel):
            self.key, self.numel = key, numel

    class Tensor:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride, False, OrderedDict())

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", storage_type, obj.key, "cpu", obj.numel)
            return None

    values = np.arange(8, dtype="<f4")
    shared = Storage("0", 8)
    state = OrderedDict([("a.weight", Tensor(shared, 0, (2, 3), (1, 2))),  # a transposed view
                         ("b.bias", Tensor(shared, 6, (2,), (1,)))])
    import io
    buf = io.BytesIO()
    Writer(buf, protocol=2).dump(state)
    path = tmp_path / "zip.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/data/0", values.tobytes())
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delitem(sys.modules, "torch._utils")
    got = load_state_dict(path)
    np.testing.assert_array_equal(got["a.weight"], np.array([[0, 2, 4], [1, 3, 5]], np.float32))
    np.testing.assert_array_equal(got["b.bias"], np.array([6, 7], np.float32))


def _crafted_zip_checkpoint(path, monkeypatch, offset, size, stride, numel=4):
    """A zip-layout checkpoint of one tensor ``(offset, size, stride)`` over a ``numel``-float storage."""
    import io
    import sys
    import zipfile
    from collections import OrderedDict

    storage_type, _rebuild_tensor_v2 = _stand_in_torch(monkeypatch)

    class Tensor:
        def __reduce__(self):
            return (_rebuild_tensor_v2, ("STORAGE", offset, size, stride, False, OrderedDict()))

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", storage_type, "0", "cpu", numel) if obj == "STORAGE" else None

    buf = io.BytesIO()
    Writer(buf, protocol=2).dump(OrderedDict([("w", Tensor())]))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/data/0", np.zeros(numel, "<f4").tobytes())
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delitem(sys.modules, "torch._utils")


@pytest.mark.parametrize("offset, size, stride", [
    (0, (1000,), (-100000,)),   # a negative stride: the strided view read outside the storage (segfault)
    (-2, (2,), (1,)),           # a negative offset: silently read from the storage's end
    (0, (-3,), (1,)),           # a negative size: numpy's ValueError escaped
    (0, 5, 1),                  # a size that is not a tuple: TypeError escaped
    (0, (2, 2), (1,)),          # fewer strides than dimensions
    (0, (10**12,), (0,)),       # an expanded tensor of a trillion elements: MemoryError, or the machine's memory
])
def test_reader_refuses_a_crafted_tensor_layout_with_checkpoint_error(tmp_path, monkeypatch, offset, size, stride):
    """Offsets, sizes and strides come from the file: anything torch.save cannot write is ``CheckpointError``."""
    path = tmp_path / "crafted.pth"
    _crafted_zip_checkpoint(path, monkeypatch, offset, size, stride)
    with pytest.raises(CheckpointError):
        load_state_dict(path)
