"""Reading a PyTorch checkpoint's tensors without torch.

PyTorch saves a ``state_dict`` with ``torch.save`` in one of two layouts:

* the *legacy* layout (torch < 1.6, and what ``_use_new_zipfile_serialization=False``
  writes): five consecutive pickles/blobs in one file, namely the magic number
  ``0x1950a86a20f9469cfc6c``, the protocol version (1001), a ``sys_info`` dict,
  the object pickle itself, and a pickle listing the storage keys, followed by
  each storage's raw bytes (a little-endian int64 element count, then the
  elements);
* the *zip* layout (torch >= 1.6): a zip archive holding ``*/data.pkl`` and one
  member ``*/data/<key>`` per storage.

In both, tensors are pickled as calls to ``torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, ...)`` and storages as *persistent ids*
``("storage", <StorageType>, key, location, numel)`` (pickle's
``persistent_load`` protocol). This module reads them with a restricted
``pickle.Unpickler`` that resolves only those few globals (anything else raises
``CheckpointError``, so a hostile pickle cannot run code) and turns every
tensor into a ``numpy.ndarray`` view over the storage bytes.

The layouts are described by PyTorch's ``torch/serialization.py``; nothing
here imports torch.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

#: The legacy format's magic number (first pickle of the file).
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

#: Most elements one tensor may have (2**28: 1 GiB of float32). A stride-0 (expanded) tensor is copied out
#: in full, so a crafted size would otherwise ask for terabytes; real checkpoints' tensors are far smaller
#: (EfficientNet-Lite0's largest, its classifier, has 1.28 million).
MAX_TENSOR_ELEMENTS = 2**28
#: Storage class name -> numpy dtype (little-endian).
_STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"), "DoubleStorage": np.dtype("<f8"), "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4"), "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"), "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
}


class CheckpointError(Exception):
    """The file is not a PyTorch checkpoint this reader understands, or it asks for a forbidden global."""


class _StorageType:
    """Marker standing for ``torch.<Name>Storage`` in the pickle."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """A storage referenced by persistent id; ``array`` is filled in once its bytes are read."""

    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype = dtype
        self.numel = numel
        self.array: np.ndarray | None = None


class _TensorRef:
    """A tensor waiting for its storage's bytes: ``(storage, offset, size, stride)`` in elements."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage = storage
        try:
            self.offset = int(offset)
            self.size = tuple(int(s) for s in size)
            self.stride = tuple(int(s) for s in stride)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"a tensor has an unreadable offset, size or stride: {exc}") from None
        # torch.save writes offsets, sizes and strides >= 0; anything else would make the strided view
        # below read memory outside the storage (a crafted checkpoint crashed the process that way).
        if (self.offset < 0 or len(self.size) != len(self.stride)
                or any(n < 0 for n in self.size) or any(st < 0 for st in self.stride)):
            raise CheckpointError("a tensor has a negative offset, size or stride, or a stride per dimension "
                                  "missing")

    def materialise(self) -> np.ndarray:
        """The tensor as a C-contiguous copy of its storage's elements."""
        base = self.storage.array
        if base is None:
            raise CheckpointError("a tensor's storage was never written in the checkpoint")
        if not self.size:
            if self.offset >= base.size:
                raise CheckpointError("a tensor reaches past the end of its storage")
            return np.array(base[self.offset])
        if 0 in self.size:
            return np.zeros(self.size, dtype=base.dtype)
        needed = self.offset + 1 + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if needed > base.size:
            raise CheckpointError("a tensor reaches past the end of its storage")
        if int(np.prod(self.size, dtype=object)) > MAX_TENSOR_ELEMENTS:
            raise CheckpointError(f"a tensor has more than {MAX_TENSOR_ELEMENTS} elements")
        item = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride], writeable=False)
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    if not isinstance(storage, _Storage):
        raise CheckpointError("a tensor is built on something that is not a storage")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *_rest):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only OrderedDict, the tensor/parameter rebuild helpers and storage classes."""

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(f"the checkpoint asks for {module}.{name}, which is not allowed")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError("a storage has an unknown type")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _Storage(storage_type.dtype, int(numel))
        return self._storages[key]


def _materialise(obj):
    if isinstance(obj, _TensorRef):
        return obj.materialise()
    if isinstance(obj, dict):
        return OrderedDict((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def _load_legacy(data: bytes):
    f = io.BytesIO(data)
    safe = _RestrictedUnpickler(f, {})
    try:
        magic = safe.load()
        if magic != LEGACY_MAGIC:
            raise CheckpointError("not a PyTorch checkpoint (wrong magic number)")
        safe.load()  # protocol version
        safe.load()  # sys_info: endianness and type sizes
        storages: dict[str, _Storage] = {}
        obj = _RestrictedUnpickler(f, storages).load()
        keys = _RestrictedUnpickler(f, {}).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"cannot read the checkpoint: {exc}") from exc
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise CheckpointError(f"storage {key} is listed but never used")
        count_bytes = f.read(8)
        if len(count_bytes) != 8:
            raise CheckpointError("the checkpoint ends before its storages")
        count = int.from_bytes(count_bytes, "little", signed=True)
        raw = f.read(count * storage.dtype.itemsize)
        if count < 0 or len(raw) != count * storage.dtype.itemsize:
            raise CheckpointError("a storage is truncated")
        storage.array = np.frombuffer(raw, dtype=storage.dtype)
    return obj


def _load_zip(path: Path):
    try:
        with zipfile.ZipFile(path) as zf:
            pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pkl:
                raise CheckpointError("a zip without data.pkl is not a PyTorch checkpoint")
            prefix = pkl[0][: -len("data.pkl")]
            storages: dict[str, _Storage] = {}
            obj = _RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), storages).load()
            for key, storage in storages.items():
                raw = zf.read(f"{prefix}data/{key}")
                storage.array = np.frombuffer(raw, dtype=storage.dtype)
    except (zipfile.BadZipFile, KeyError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise CheckpointError(f"cannot read the checkpoint: {exc}") from exc
    return obj


def load_state_dict(path: Path | str) -> OrderedDict[str, np.ndarray]:
    """Read the ``state_dict`` saved in ``path`` as ``{name: numpy array}`` (checkpoint order).

    Accepts both the legacy and the zip layout (see the module docstring). A
    checkpoint that wraps its weights (``{"state_dict": ...}``) is unwrapped.
    Arrays keep the stored dtype (float32 for ordinary weights). Raises
    ``CheckpointError`` for anything else, including any global other than the
    allowed tensor helpers, and ``OSError`` when the file cannot be read.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        obj = _load_zip(path)
    else:
        obj = _load_legacy(path.read_bytes())
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError("the checkpoint does not hold a state_dict")
    out = _materialise(obj)
    return OrderedDict((str(k), v) for k, v in out.items() if isinstance(v, np.ndarray))
