"""Convert a TensorFlow.js *graph model* (``model.json`` + weight shards) to ONNX.

TensorFlow.js graph models are a frozen TensorFlow GraphDef serialised as JSON
(``modelTopology.node``: one dict per TF op with ``name``, ``op``, ``input``
and ``attr``) plus binary weight shards described by ``weightsManifest``.
This module reads that format and writes an equivalent ONNX graph with the
``onnx`` package. It is used once per model, when the model is fetched; at
analysis time only onnxruntime is needed.

Design (written for this project; formats from the public TensorFlow
``GraphDef``/``AttrValue`` and ONNX operator specifications):

- Every tensor keeps TensorFlow's layout (NHWC for images). Ops that ONNX
  defines only for NCHW (Conv, MaxPool, Resize) are wrapped in a pair of
  Transpose nodes. This keeps every elementwise op's broadcasting exactly as
  in TensorFlow; a peephole pass then removes Transpose pairs that cancel and
  onnxruntime's layout optimiser removes most of the rest at load time.
- Nodes whose inputs are all constants are evaluated with numpy at
  conversion time (constant folding), which removes the shape arithmetic
  that TF->TFJS exporters leave behind (``SparseToDense`` and friends).
- Only the ops the pinned models use are supported; anything else raises
  ``UnsupportedOpError`` naming the op, so a new model fails loudly rather
  than converting wrongly.

Weights may be stored as float32, int32, float16 (``quantization.dtype ==
"float16"``) or affine uint8/uint16 (``value = q * scale + min``), the forms
the ``tensorflowjs`` converter writes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: ONNX opset the converted graphs declare. 17 is supported by every
#: onnxruntime release since 1.12 and has every operator used below.
OPSET = 17

_TF_DTYPES = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
    "DT_HALF": np.float16,
    "DT_UINT8": np.uint8,
}

_MANIFEST_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_,
                    "float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


class ConversionError(Exception):
    """The TFJS model could not be read or converted; ``str()`` says why."""


class UnsupportedOpError(ConversionError):
    """The graph uses a TensorFlow op this converter does not implement."""


@dataclass
class TfjsNode:
    """One TensorFlow op of a TFJS graph: ``inputs`` are tensor refs ``name:index``."""

    name: str
    op: str
    inputs: list[str]
    attrs: dict


@dataclass
class TfjsGraph:
    """A parsed TFJS graph model.

    ``nodes`` maps node name to ``TfjsNode``; ``weights`` maps a Const node's
    name to its value (numpy, dequantised to the manifest's dtype);
    ``inputs`` maps each graph input tensor name (``input_1:0``) to its
    static shape (list of ints, -1 for unknown) and numpy dtype;
    ``outputs`` lists the signature's output tensor names.
    """

    nodes: dict[str, TfjsNode]
    weights: dict[str, np.ndarray]
    inputs: dict[str, tuple[list[int], type]]
    outputs: list[str]
    metadata: dict = field(default_factory=dict)


def _attr_value(value: dict):
    """Decode one TF ``AttrValue`` JSON dict into a Python value."""
    if "list" in value:
        lst = value["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        if "s" in lst:
            return [base64.b64decode(v).decode("utf-8") for v in lst["s"]]
        if "type" in lst:
            return list(lst["type"])
        return []
    if "s" in value:
        return base64.b64decode(value["s"]).decode("utf-8")
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return value["type"]
    if "shape" in value:
        dims = value["shape"].get("dim", [])
        return [int(d.get("size", -1)) for d in dims]
    return value


def _ref(name: str) -> str:
    """Normalise a TF tensor reference to ``node:index``."""
    return name if ":" in name.split("/")[-1] else f"{name}:0"


def load_tfjs_graph(model_json: str | Path) -> TfjsGraph:
    """Read a TFJS graph model from ``model_json`` and the shards next to it.

    Raises ``ConversionError`` when the file is not a graph model, a shard is
    missing or shorter than the manifest says, or a weight uses a storage
    form not listed in the module docstring.
    """
    path = Path(model_json)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"cannot read TFJS model {path}: {exc}") from exc
    if doc.get("format") != "graph-model" or "modelTopology" not in doc:
        raise ConversionError(f"{path.name} is not a TensorFlow.js graph model")

    nodes: dict[str, TfjsNode] = {}
    for raw in doc["modelTopology"].get("node", []):
        attrs = {k: _attr_value(v) for k, v in raw.get("attr", {}).items()}
        inputs = [_ref(i) for i in raw.get("input", []) if not i.startswith("^")]
        nodes[raw["name"]] = TfjsNode(raw["name"], raw["op"], inputs, attrs)

    weights: dict[str, np.ndarray] = {}
    for group in doc.get("weightsManifest", []):
        try:
            buf = b"".join((path.parent / p).read_bytes() for p in group["paths"])
        except OSError as exc:
            raise ConversionError(f"missing weight shard for {path.name}: {exc}") from exc
        offset = 0
        for spec in group["weights"]:
            value, offset = _read_weight(buf, offset, spec)
            weights[spec["name"]] = value
        if offset != len(buf):
            raise ConversionError(f"weight shards of {path.name} hold {len(buf)} bytes, manifest uses {offset}")

    sig = doc.get("signature", {})
    inputs = {}
    for name, spec in sig.get("inputs", {}).items():
        dims = [int(d.get("size", -1)) for d in spec.get("tensorShape", {}).get("dim", [])]
        inputs[_ref(name)] = (dims, _TF_DTYPES.get(spec.get("dtype", "DT_FLOAT"), np.float32))
    outputs = [_ref(n) for n in sig.get("outputs", {})]
    out_shapes = {_ref(n): [int(d.get("size", -1)) for d in spec.get("tensorShape", {}).get("dim", [])]
                  for n, spec in sig.get("outputs", {}).items()}
    if not inputs:
        inputs = {f"{n.name}:0": (n.attrs.get("shape", []), np.float32)
                  for n in nodes.values() if n.op == "Placeholder"}
    if not outputs:  # no signature (older exporters): the graph's sinks, the ops no other op reads
        used = {i.split(":")[0] for n in nodes.values() for i in n.inputs}
        outputs = [f"{n.name}:0" for n in nodes.values() if n.name not in used and n.op not in ("Const", "NoOp")]
    if not outputs:
        raise ConversionError(f"{path.name} has no signature outputs")
    meta = {k: doc.get(k) for k in ("generatedBy", "convertedBy", "format")}
    meta["output_shapes"] = out_shapes
    return TfjsGraph(nodes, weights, inputs, outputs, meta)


def _read_weight(buf: bytes, offset: int, spec: dict) -> tuple[np.ndarray, int]:
    shape = [int(s) for s in spec["shape"]]
    count = int(np.prod(shape)) if shape else 1
    target = _MANIFEST_DTYPES.get(spec["dtype"])
    if target is None:
        raise ConversionError(f"weight {spec['name']}: unsupported dtype {spec['dtype']}")
    quant = spec.get("quantization")
    stored = np.dtype(_MANIFEST_DTYPES.get(quant["dtype"]) if quant else target)
    nbytes = count * stored.itemsize
    if offset + nbytes > len(buf):
        raise ConversionError(f"weight {spec['name']} runs past the end of its shard")
    raw = np.frombuffer(buf, dtype=stored.newbyteorder("<"), count=count, offset=offset)
    if quant and quant["dtype"] in ("uint8", "uint16"):
        if "scale" not in quant:
            raise ConversionError(f"weight {spec['name']}: lookup-table quantisation is not supported")
        value = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant.get("min", 0.0))
        value = value.astype(target)
    else:
        value = raw.astype(target)
    return value.reshape(shape), offset + nbytes


# ---------------------------------------------------------------------------
# numpy evaluation of ops whose inputs are all constant (constant folding)

def _np_strided_slice(x, begin, end, strides, attrs):
    if attrs.get("ellipsis_mask", 0) or attrs.get("new_axis_mask", 0):
        raise UnsupportedOpError("StridedSlice with ellipsis_mask/new_axis_mask")
    slices = []
    for i in range(len(begin)):
        b = None if attrs.get("begin_mask", 0) >> i & 1 else int(begin[i])
        e = None if attrs.get("end_mask", 0) >> i & 1 else int(end[i])
        if attrs.get("shrink_axis_mask", 0) >> i & 1:
            slices.append(int(begin[i]))
        else:
            slices.append(slice(b, e, int(strides[i])))
    return np.asarray(x[tuple(slices)])


def _np_sparse_to_dense(indices, output_shape, values, default):
    out = np.full(np.asarray(output_shape).reshape(-1), default, dtype=np.asarray(values).dtype
                  if np.asarray(values).size else np.asarray(default).dtype)
    idx = np.asarray(indices)
    if idx.size:
        if idx.ndim == 1:
            idx = idx[:, None]
        out[tuple(idx.T)] = values
    return out


_FOLD = {
    "Identity": lambda n, a: a[0],
    "Add": lambda n, a: np.add(a[0], a[1]),
    "AddV2": lambda n, a: np.add(a[0], a[1]),
    "Sub": lambda n, a: np.subtract(a[0], a[1]),
    "Mul": lambda n, a: np.multiply(a[0], a[1]),
    "Cast": lambda n, a: a[0].astype(_TF_DTYPES[n.attrs["DstT"]]),
    "Reshape": lambda n, a: a[0].reshape([int(v) for v in np.asarray(a[1]).reshape(-1)]),
    "ExpandDims": lambda n, a: np.expand_dims(a[0], int(a[1])),
    "ConcatV2": lambda n, a: np.concatenate(a[:-1], axis=int(a[-1])),
    "Pack": lambda n, a: np.stack(a, axis=n.attrs.get("axis", 0)),
    "Shape": lambda n, a: np.asarray(a[0].shape, dtype=np.int32),
    "SparseToDense": lambda n, a: _np_sparse_to_dense(*a),
    "StridedSlice": lambda n, a: _np_strided_slice(*a, n.attrs),
    "Transpose": lambda n, a: np.transpose(a[0], [int(p) for p in a[1]]),
}


# ---------------------------------------------------------------------------
# the converter

class _Builder:
    """Accumulates ONNX nodes and initialisers while walking the TF graph.

    ``op_<TFOp>(node, out)`` methods are the per-op translations: each
    emits the ONNX nodes computing TF node ``node`` into the value named
    ``out`` (``name:0``; extra outputs are ``name:1``...), in TF's layout.
    """

    def __init__(self, graph: TfjsGraph):
        import onnx  # noqa: F401  (fail early with ImportError when absent)
        self.g = graph
        self.consts: dict[str, np.ndarray] = {}
        self.aliases: dict[str, str] = {}
        self.nodes: list = []
        self.inits: dict[str, np.ndarray] = {}
        self.counter = 0
        self.shapes: dict[str, list[int]] = {}
        self.channels: dict[str, int] = {}

    # -- names and constants -------------------------------------------------
    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__{self.counter}"

    def name(self, ref: str) -> str:
        """The ONNX value name for TF tensor ``ref`` (materialising constants)."""
        ref = self.aliases.get(ref, ref)
        if ref in self.consts and ref not in self.inits:
            self.inits[ref] = self.consts[ref]
        return ref

    def const(self, ref: str) -> np.ndarray:
        ref = self.aliases.get(ref, ref)
        if ref not in self.consts:
            raise ConversionError(f"expected a constant for {ref}")
        return self.consts[ref]

    def is_const(self, ref: str) -> bool:
        return self.aliases.get(ref, ref) in self.consts

    def add_const(self, value, base: str) -> str:
        name = self.fresh(base)
        self.inits[name] = np.asarray(value)
        self.consts[name] = np.asarray(value)
        return name

    def emit(self, op: str, inputs: list[str], outputs: list[str] | None = None, base: str = "", **attrs) -> list[str]:
        import onnx.helper as oh
        outputs = outputs or [self.fresh(base or op)]
        self.nodes.append(oh.make_node(op, inputs, outputs, name=self.fresh(base or op), **attrs))
        return outputs

    def to_nchw(self, x: str) -> str:
        return self.emit("Transpose", [x], perm=[0, 3, 1, 2], base=x + "/nchw")[0]

    def to_nhwc(self, x: str, out: str) -> str:
        return self.emit("Transpose", [x], [out], perm=[0, 2, 3, 1])[0]

    # -- walking ---------------------------------------------------------------
    def order(self, outputs: list[str]) -> list[TfjsNode]:
        """Nodes needed for ``outputs`` in dependency order (iterative DFS)."""
        seen: set[str] = set()
        out: list[TfjsNode] = []
        for ref in outputs:
            stack = [(ref.split(":")[0], False)]
            while stack:
                name, done = stack.pop()
                if done:
                    out.append(self.g.nodes[name])
                    continue
                if name in seen:
                    continue
                if name not in self.g.nodes:
                    raise ConversionError(f"graph refers to a missing node {name}")
                seen.add(name)
                stack.append((name, True))
                for inp in reversed(self.g.nodes[name].inputs):
                    src = inp.split(":")[0]
                    if src not in seen:
                        stack.append((src, False))
        return out

    def convert_node(self, node: TfjsNode) -> None:
        out0 = f"{node.name}:0"
        if node.op == "Const":
            if node.name not in self.g.weights:
                raise ConversionError(f"no weight stored for Const {node.name}")
            self.consts[out0] = self.g.weights[node.name]
            return
        if node.op == "Placeholder":
            return
        if node.op in _FOLD and node.inputs and all(self.is_const(i) for i in node.inputs):
            self.consts[out0] = np.asarray(_FOLD[node.op](node, [self.const(i) for i in node.inputs]))
            return
        handler = getattr(self, f"op_{node.op.lstrip('_')}", None)
        if handler is None:
            raise UnsupportedOpError(f"TensorFlow op {node.op} (node {node.name}) is not supported")
        handler(node, out0)

    # -- op handlers (one per TF op) -------------------------------------------
    def op_Identity(self, n, out):
        self.aliases[out] = self.aliases.get(n.inputs[0], n.inputs[0])

    def _binary(self, onnx_op, n, out):
        a, b = (self.name(i) for i in n.inputs[:2])
        self.emit(onnx_op, [a, b], [out])

    def op_Add(self, n, out):
        self._binary("Add", n, out)

    op_AddV2 = op_BiasAdd = op_Add

    def op_Sub(self, n, out):
        self._binary("Sub", n, out)

    def op_Mul(self, n, out):
        self._binary("Mul", n, out)

    def op_RealDiv(self, n, out):
        self._binary("Div", n, out)

    def op_Equal(self, n, out):
        self._binary("Equal", n, out)

    def op_FloorDiv(self, n, out):
        dtype = n.attrs.get("T", "DT_FLOAT")
        if dtype == "DT_FLOAT":
            q = self.emit("Div", [self.name(n.inputs[0]), self.name(n.inputs[1])])[0]
            self.emit("Floor", [q], [out])
        else:
            # integer floor division; ONNX integer Div truncates, so correct
            # the quotient by -1 where the remainder is non-zero and the signs differ
            a, b = self.name(n.inputs[0]), self.name(n.inputs[1])
            q = self.emit("Div", [a, b])[0]
            r = self.emit("Mod", [a, b], fmod=1)[0]
            zero = self.add_const(np.array(0, dtype=_TF_DTYPES[dtype]), "zero")
            nz = self.emit("Not", [self.emit("Equal", [r, zero])[0]])[0]
            neg = self.emit("Xor", [self.emit("Less", [a, zero])[0], self.emit("Less", [b, zero])[0]])[0]
            fix = self.emit("Cast", [self.emit("And", [nz, neg])[0]], to=_onnx_type(_TF_DTYPES[dtype]))[0]
            self.emit("Sub", [q, fix], [out])

    def op_FloorMod(self, n, out):
        if n.attrs.get("T", "DT_FLOAT") == "DT_FLOAT":
            raise UnsupportedOpError("FloorMod on floats")
        self.emit("Mod", [self.name(n.inputs[0]), self.name(n.inputs[1])], [out], fmod=0)

    def op_Relu(self, n, out):
        self.emit("Relu", [self.name(n.inputs[0])], [out])

    def op_Relu6(self, n, out):
        lo = self.add_const(np.array(0, np.float32), "zero")
        hi = self.add_const(np.array(6, np.float32), "six")
        self.emit("Clip", [self.name(n.inputs[0]), lo, hi], [out])

    def op_LeakyRelu(self, n, out):
        self.emit("LeakyRelu", [self.name(n.inputs[0])], [out], alpha=float(n.attrs.get("alpha", 0.2)))

    def op_Sigmoid(self, n, out):
        self.emit("Sigmoid", [self.name(n.inputs[0])], [out])

    def op_Softmax(self, n, out):  # TF normalises over the last axis, as ONNX Softmax (opset >= 13) with axis -1
        self.emit("Softmax", [self.name(n.inputs[0])], [out], axis=-1)

    def op_Minimum(self, n, out):  # elementwise, with numpy broadcasting (as TF)
        self._binary("Min", n, out)

    def op_Maximum(self, n, out):
        self._binary("Max", n, out)

    def op_FusedMatMul(self, n, out):
        """Grappler's MatMul with fused BiasAdd (and optionally Relu): Gemm, then the activation."""
        a = n.attrs
        fused = list(a.get("fused_ops", []))
        unknown = [f for f in fused if f not in ("BiasAdd", "Relu")]
        if unknown or "BiasAdd" not in fused:
            raise UnsupportedOpError(f"{n.op} fused with {fused}")
        relu = "Relu" in fused
        y = self.emit("Gemm", [self.name(i) for i in n.inputs[:3]], None if relu else [out], base=n.name,
                      transA=int(bool(a.get("transpose_a", False))), transB=int(bool(a.get("transpose_b", False))))[0]
        if relu:
            self.emit("Relu", [y], [out])

    def op_Transpose(self, n, out):
        perm = [int(p) for p in self.const(n.inputs[1])]
        self.emit("Transpose", [self.name(n.inputs[0])], [out], perm=perm)

    def op_Reshape(self, n, out):
        shape = self.add_const(np.asarray(self.const(n.inputs[1]), np.int64).reshape(-1), "shape")
        self.emit("Reshape", [self.name(n.inputs[0]), shape], [out])

    def op_ExpandDims(self, n, out):
        axes = self.add_const(np.asarray(self.const(n.inputs[1]), np.int64).reshape(-1), "axes")
        self.emit("Unsqueeze", [self.name(n.inputs[0]), axes], [out])

    def op_Cast(self, n, out):
        self.emit("Cast", [self.name(n.inputs[0])], [out], to=_onnx_type(_TF_DTYPES[n.attrs["DstT"]]))

    def op_ConcatV2(self, n, out):
        axis = int(self.const(n.inputs[-1]))
        self.emit("Concat", [self.name(i) for i in n.inputs[:-1]], [out], axis=axis)

    def op_SplitV(self, n, out):
        sizes = np.asarray(self.const(n.inputs[1]), np.int64).reshape(-1)
        if (sizes < 0).any():
            raise UnsupportedOpError("SplitV with an inferred (-1) size")
        axis = int(self.const(n.inputs[2]))
        split = self.add_const(sizes, "split")
        outs = [f"{n.name}:{i}" for i in range(len(sizes))]
        self.emit("Split", [self.name(n.inputs[0]), split], outs, axis=axis)

    def op_Pad(self, n, out):
        paddings = np.asarray(self.const(n.inputs[1]), np.int64)
        pads = self.add_const(np.concatenate([paddings[:, 0], paddings[:, 1]]), "pads")
        inputs = [self.name(n.inputs[0]), pads]
        if n.op == "PadV2":
            value = np.asarray(self.const(n.inputs[2]), np.float32).reshape(())
            inputs.append(self.add_const(value, "padvalue"))
        self.emit("Pad", inputs, [out], mode="constant")

    op_PadV2 = op_Pad

    def op_Mean(self, n, out):
        axes = [int(a) for a in np.asarray(self.const(n.inputs[1])).reshape(-1)]
        self.emit("ReduceMean", [self.name(n.inputs[0])], [out], axes=axes,
                  keepdims=int(bool(n.attrs.get("keep_dims", False))))

    def op_TopKV2(self, n, out):
        k = self.add_const(np.asarray(self.const(n.inputs[1]), np.int64).reshape(1), "k")
        idx64 = self.fresh(n.name + "/indices64")
        self.emit("TopK", [self.name(n.inputs[0]), k], [out, idx64], axis=-1, largest=1,
                  sorted=int(bool(n.attrs.get("sorted", True))))
        self.emit("Cast", [idx64], [f"{n.name}:1"], to=_onnx_type(np.int32))

    def op_GatherV2(self, n, out):
        if n.attrs.get("batch_dims", 0):
            raise UnsupportedOpError("GatherV2 with batch_dims")
        axis = int(self.const(n.inputs[2]))
        self.emit("Gather", [self.name(n.inputs[0]), self.name(n.inputs[1])], [out], axis=axis)

    def op_StridedSlice(self, n, out):
        a = n.attrs
        if a.get("ellipsis_mask", 0) or a.get("new_axis_mask", 0):
            raise UnsupportedOpError("StridedSlice with ellipsis_mask/new_axis_mask")
        begin, end, strides = (np.asarray(self.const(i), np.int64).reshape(-1) for i in n.inputs[1:4])
        big = np.iinfo(np.int64).max
        starts, ends, axes, steps, squeeze = [], [], [], [], []
        for i in range(len(begin)):
            step = int(strides[i])
            b = int(begin[i])
            e = int(end[i])
            if a.get("shrink_axis_mask", 0) >> i & 1:
                e, step = (b + 1 if b != -1 else big), 1
                squeeze.append(i)
            else:
                if a.get("begin_mask", 0) >> i & 1:
                    b = 0 if step > 0 else -1
                if a.get("end_mask", 0) >> i & 1:
                    e = big if step > 0 else -big
            starts.append(b), ends.append(e), axes.append(i), steps.append(step)
        ins = [self.name(n.inputs[0])] + [self.add_const(np.asarray(v, np.int64), "slice")
                                          for v in (starts, ends, axes, steps)]
        if squeeze:
            sliced = self.emit("Slice", ins)[0]
            self.emit("Squeeze", [sliced, self.add_const(np.asarray(squeeze, np.int64), "axes")], [out])
        else:
            self.emit("Slice", ins, [out])

    def _conv(self, n, out, depthwise: bool):
        a = n.attrs
        if a.get("data_format", "NHWC") != "NHWC":
            raise UnsupportedOpError(f"{n.op} with data_format {a.get('data_format')}")
        w = np.asarray(self.const(n.inputs[1]), np.float32)  # TF: H, W, Cin(/groups), Cout  | depthwise: H, W, C, M
        strides = a.get("strides", [1, 1, 1, 1])[1:3]
        dil = a.get("dilations", [1, 1, 1, 1])[1:3]
        if depthwise:
            kh, kw, c, m = w.shape
            kernel = w.reshape(kh, kw, 1, c * m).transpose(3, 2, 0, 1)  # -> C*M, 1, H, W
            group = c
        else:
            kernel = w.transpose(3, 2, 0, 1)  # -> Cout, Cin/groups, H, W
            group = None
        fused = a.get("fused_ops", [])
        inputs = [self.to_nchw(self.name(n.inputs[0])), self.add_const(np.ascontiguousarray(kernel), "kernel")]
        extra = {}
        if "BiasAdd" in fused:
            inputs.append(self.add_const(np.asarray(self.const(n.inputs[2]), np.float32).reshape(-1), "bias"))
        unknown = [f for f in fused if f not in ("BiasAdd", "Relu", "Relu6", "LeakyRelu")]
        if unknown:
            raise UnsupportedOpError(f"{n.op} fused with {unknown}")
        padding = a.get("padding", "VALID")
        if padding == "SAME":
            extra["auto_pad"] = "SAME_UPPER"  # TF puts the odd pixel at the end, as SAME_UPPER does
        elif padding == "EXPLICIT":
            p = a.get("explicit_paddings", [])
            extra["pads"] = [p[2], p[4], p[3], p[5]]
        if group is None:
            cin_w = w.shape[2]
            group = self._group_hint(n.inputs[0], cin_w)
        y = self.emit("Conv", inputs, kernel_shape=list(kernel.shape[2:]), strides=list(strides),
                      dilations=list(dil), group=int(group), base=n.name, **extra)[0]
        for f in fused:
            if f == "Relu":
                y = self.emit("Relu", [y])[0]
            elif f == "Relu6":
                y = self.emit("Clip", [y, self.add_const(np.array(0, np.float32), "zero"),
                                       self.add_const(np.array(6, np.float32), "six")])[0]
            elif f == "LeakyRelu":
                y = self.emit("LeakyRelu", [y], alpha=float(a.get("leakyrelu_alpha", 0.2)))[0]
        self.to_nhwc(y, out)

    def _group_hint(self, ref: str, cin_w: int) -> int:
        """Groups of a plain Conv2D: input channels / filter input channels (1 when unknown)."""
        cin = self.channels.get(self.aliases.get(ref, ref))
        if cin is None or cin == cin_w:
            return 1
        if cin % cin_w:
            raise ConversionError(f"conv input has {cin} channels, filter expects {cin_w}")
        return cin // cin_w

    def op_Conv2D(self, n, out):
        self._conv(n, out, depthwise=False)

    op_FusedConv2D = op_Conv2D

    def op_DepthwiseConv2dNative(self, n, out):
        self._conv(n, out, depthwise=True)

    op_FusedDepthwiseConv2dNative = op_DepthwiseConv2dNative

    def op_MaxPool(self, n, out):
        a = n.attrs
        extra = {"auto_pad": "SAME_UPPER"} if a.get("padding") == "SAME" else {}
        y = self.emit("MaxPool", [self.to_nchw(self.name(n.inputs[0]))], kernel_shape=a["ksize"][1:3],
                      strides=a["strides"][1:3], base=n.name, **extra)[0]
        self.to_nhwc(y, out)

    def op_ResizeBilinear(self, n, out):
        a = n.attrs
        if a.get("align_corners"):
            mode = "align_corners"
        elif a.get("half_pixel_centers"):
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        hw = np.asarray(self.const(n.inputs[1]), np.int64).reshape(-1)
        x = self.to_nchw(self.name(n.inputs[0]))
        c = self.channels.get(self.aliases.get(n.inputs[0], n.inputs[0]))
        if c is None:
            raise ConversionError(f"ResizeBilinear {n.name}: channel count unknown")
        sizes = self.add_const(np.array([1, c, hw[0], hw[1]], np.int64), "sizes")
        y = self.emit("Resize", [x, "", "", sizes], mode="linear", coordinate_transformation_mode=mode,
                      base=n.name)[0]
        self.to_nhwc(y, out)


def _onnx_type(dtype) -> int:
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _infer_channels(builder: _Builder, order: list[TfjsNode]) -> None:
    """Record each TF tensor's last-dimension size where it follows from the graph.

    Only needed to tell grouped from plain convolutions and to build Resize's
    ``sizes``; computed with a small forward pass over static shapes.
    """
    shapes: dict[str, list[int]] = {}
    for ref, (dims, _dtype) in builder.g.inputs.items():
        shapes[ref] = list(dims)
    for n in order:
        out = f"{n.name}:0"
        ins = [shapes.get(i) for i in n.inputs]
        try:
            shape = _shape_rule(n, ins, builder)
        except Exception:  # shape unknown: leave it out
            shape = None
        if shape is not None:
            shapes[out] = shape
            if n.op in ("SplitV",):
                sizes = [int(s) for s in builder.g.weights.get(n.inputs[1].split(":")[0], [])]
                axis = int(builder.g.weights[n.inputs[2].split(":")[0]])
                for i, s in enumerate(sizes):
                    sub = list(ins[0])
                    sub[axis] = s
                    shapes[f"{n.name}:{i}"] = sub
    builder.shapes = shapes
    builder.channels = {k: v[-1] for k, v in shapes.items() if v}


def _shape_rule(n: TfjsNode, ins: list, b: _Builder):
    w = b.g.weights
    if n.op == "Const":
        return list(w[n.name].shape)
    x = ins[0] if ins else None
    if n.op in ("Identity", "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Softmax", "Cast"):
        return x
    if n.op in ("Add", "AddV2", "Sub", "Mul", "BiasAdd", "RealDiv", "Equal", "Minimum", "Maximum"):
        a, c = ins[0], ins[1]
        r = max(len(a), len(c))
        a, c = [1] * (r - len(a)) + a, [1] * (r - len(c)) + c
        return [max(p, q) for p, q in zip(a, c)]
    if n.op == "Transpose":
        perm = [int(p) for p in w[n.inputs[1].split(":")[0]]]
        return [x[p] for p in perm]
    if n.op in ("Pad", "PadV2"):
        p = w[n.inputs[1].split(":")[0]]
        return [d + int(p[i][0]) + int(p[i][1]) for i, d in enumerate(x)]
    if n.op in ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "MaxPool"):
        if n.op == "MaxPool":
            k, cout = n.attrs["ksize"][1:3], x[3]
        else:
            f = w[n.inputs[1].split(":")[0]].shape
            k = f[:2]
            cout = f[2] * f[3] if "Depthwise" in n.op else f[3]
        s = n.attrs.get("strides", [1, 1, 1, 1])[1:3]
        if n.attrs.get("padding") == "SAME":
            hw = [-(-x[1 + i] // s[i]) for i in range(2)]
        else:
            hw = [(x[1 + i] - k[i]) // s[i] + 1 for i in range(2)]
        return [x[0], hw[0], hw[1], cout]
    if n.op == "_FusedMatMul":
        f = w[n.inputs[1].split(":")[0]].shape
        rows = x[1] if n.attrs.get("transpose_a") else x[0]
        return [rows, f[0] if n.attrs.get("transpose_b") else f[1]]
    if n.op == "ConcatV2":
        axis = int(w[n.inputs[-1].split(":")[0]])
        parts = ins[:-1]
        axis %= len(parts[0])
        out = list(parts[0])
        out[axis] = sum(p[axis] for p in parts)
        return out
    if n.op == "ResizeBilinear":
        hw = [int(v) for v in w[n.inputs[1].split(":")[0]]]
        return [x[0], hw[0], hw[1], x[3]]
    if n.op == "Mean":
        axes = [int(a) % len(x) for a in np.asarray(w[n.inputs[1].split(":")[0]]).reshape(-1)]
        return [1 if i in axes else d for i, d in enumerate(x)] if n.attrs.get("keep_dims") else \
            [d for i, d in enumerate(x) if i not in axes]
    if n.op == "SplitV":
        return None
    return None


def _cancel_transposes(builder: _Builder, keep: set[str]) -> None:
    """Peephole: fold Transpose->Transpose chains and drop identity transposes.

    A Transpose whose input comes from another Transpose with a single
    consumer is replaced by one Transpose with the composed permutation; an
    identity permutation is removed by renaming its output to its input
    everywhere. ``keep`` holds value names (graph outputs) never renamed away.
    """
    from onnx import helper

    changed = True
    while changed:
        changed = False
        producers = {o: nd for nd in builder.nodes for o in nd.output}
        consumers: dict[str, int] = {}
        for nd in builder.nodes:
            for i in nd.input:
                consumers[i] = consumers.get(i, 0) + 1
        for nd in list(builder.nodes):
            if nd.op_type != "Transpose":
                continue
            perm = list(helper.get_attribute_value(nd.attribute[0]))
            src = producers.get(nd.input[0])
            if src is not None and src.op_type == "Transpose" and consumers.get(src.output[0], 0) == 1 \
                    and src.output[0] not in keep:
                inner = list(helper.get_attribute_value(src.attribute[0]))
                composed = [inner[p] for p in perm]
                new = helper.make_node("Transpose", [src.input[0]], list(nd.output), name=nd.name, perm=composed)
                builder.nodes[builder.nodes.index(nd)] = new
                builder.nodes.remove(src)
                changed = True
                break
            if perm == sorted(perm) and nd.output[0] not in keep:
                old, new_name = nd.output[0], nd.input[0]
                builder.nodes.remove(nd)
                for other in builder.nodes:
                    for j, i in enumerate(other.input):
                        if i == old:
                            other.input[j] = new_name
                changed = True
                break


def convert(graph: TfjsGraph, outputs: list[str] | None = None, doc_string: str = ""):
    """Convert ``graph`` into an ``onnx.ModelProto`` (opset ``OPSET``).

    ``outputs``: TF tensor names to expose (default: the signature's). The
    ONNX graph's inputs and outputs are named after the TF tensors without
    the ``:0`` suffix (``input_1``, ``Identity_3``) and keep TF's shapes and
    layouts (a model with an NCHW input keeps it). Raises
    ``UnsupportedOpError`` for ops not listed in this module and
    ``ConversionError`` for inconsistent graphs. The result passes
    ``onnx.checker.check_model``.
    """
    import onnx
    from onnx import helper, numpy_helper

    outputs = [_ref(o) for o in (outputs or graph.outputs)]
    b = _Builder(graph)
    order = b.order(outputs)
    _infer_channels(b, order)
    for node in order:
        b.convert_node(node)

    def clean(ref: str) -> str:
        return ref[:-2] if ref.endswith(":0") else ref.replace(":", "_")

    out_infos = []
    keep = set()
    for ref in outputs:
        src = b.name(ref)
        dst = clean(ref)
        b.emit("Identity", [src], [dst], base="output")
        keep.add(dst)
        dtype = np.float32
        shape = graph.metadata.get("output_shapes", {}).get(ref) or b.shapes.get(ref)
        out_infos.append(helper.make_tensor_value_info(dst, _onnx_type(dtype), shape))
    in_infos = []
    for ref, (dims, dtype) in graph.inputs.items():
        in_infos.append(helper.make_tensor_value_info(clean(ref), _onnx_type(dtype), dims))
        for nd in b.nodes:
            for j, i in enumerate(nd.input):
                if i == ref:
                    nd.input[j] = clean(ref)
    _cancel_transposes(b, keep)
    used = {i for nd in b.nodes for i in nd.input}
    inits = [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in b.inits.items() if k in used]
    g = helper.make_graph(b.nodes, "converted", in_infos, out_infos, initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="mediaapp.models.tfjs_convert", doc_string=doc_string)
    model.ir_version = 8  # readable by onnxruntime >= 1.10
    try:
        onnx.checker.check_model(model)
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:  # onnx raises several exception types
        raise ConversionError(f"converted graph is not valid ONNX: {exc}") from exc
    return model


def convert_file(model_json: str | Path, onnx_path: str | Path, outputs: list[str] | None = None,
                 doc_string: str = "") -> Path:
    """Convert the TFJS graph model at ``model_json`` and write ONNX to ``onnx_path``.

    Writes to a temporary name and renames, so a crash never leaves a
    half-written model. Returns ``onnx_path``. Raises ``ConversionError``.
    """
    import onnx

    model = convert(load_tfjs_graph(model_json), outputs, doc_string)
    dst = Path(onnx_path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".part")
    onnx.save(model, str(tmp))
    tmp.replace(dst)
    return dst
