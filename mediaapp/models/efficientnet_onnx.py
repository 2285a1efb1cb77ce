"""Build an ONNX graph of EfficientNet-Lite from a PyTorch ``state_dict`` read without torch.

EfficientNet-Lite (Tan & Le, "EfficientNet", 2019; the Lite variants of the
TensorFlow ``efficientnet/lite`` builder) is a stem 3x3/2 convolution, a chain
of MBConv blocks (1x1 expansion, depthwise kxk, 1x1 projection, identity skip
when the shape is kept), a 1x1 head convolution to 1280 channels, global
average pooling and a fully connected layer to the 1000 ImageNet-1k classes.
The Lite variants use ReLU6 instead of swish, no squeeze-and-excitation, and a
fixed stem and head. Every convolution is followed by batch normalisation
(epsilon 1e-3); we fold it into the convolution's weights and bias.

The state_dict's names are those of the ``efficientnet-lite-pytorch`` port
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` / ``_depthwise_conv`` /
``_project_conv`` with ``_bn0``/``_bn1``/``_bn2``, ``_conv_head``, ``_bn1``,
``_fc``). Kernel sizes and channel counts come from the weights' shapes; the
strides come from the Lite builder's stage table (stage strides 1, 2, 2, 2, 1,
2, 1; a stage starts where a block changes the channel count). Padding is
TensorFlow's ``SAME`` for the fixed input size (the extra pixel goes to the
bottom/right), which is what the weights were trained with.

The graph has one input ``image`` (float32 ``[N, 3, H, W]``, RGB, already
normalised by the caller) and two outputs: ``logits`` ``[N, 1000]`` and
``features`` ``[N, 1280]`` (the pooled head activations before the classifier).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

#: Batch-norm epsilon of the EfficientNet-Lite builder.
BN_EPS = 1e-3

#: Stride of each stage's first block (EfficientNet-Lite builder's block table).
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)

#: ONNX opset the graph is written for (onnxruntime supports it everywhere we run).
OPSET = 13


class GraphBuildError(Exception):
    """The state_dict does not have the EfficientNet-Lite layout this builder knows."""


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow SAME padding: ``(before, after, output size)`` along one axis of ``size`` pixels."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


class _Builder:
    def __init__(self, sd: Mapping[str, np.ndarray]):
        from onnx import helper, numpy_helper
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.sd = sd
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, arr: np.ndarray, stem: str) -> str:
        name = self.name(stem)
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def w(self, key: str) -> np.ndarray:
        try:
            return np.asarray(self.sd[key], dtype=np.float32)
        except KeyError:
            raise GraphBuildError(f"the checkpoint lacks {key}") from None

    def conv_bn(self, x: str, conv: str, bn: str, size: tuple[int, int], stride: int, groups: int = 1,
                relu6: bool = True) -> tuple[str, tuple[int, int]]:
        weight = self.w(f"{conv}.weight")
        gamma, beta = self.w(f"{bn}.weight"), self.w(f"{bn}.bias")
        mean, var = self.w(f"{bn}.running_mean"), self.w(f"{bn}.running_var")
        scale = gamma / np.sqrt(var + BN_EPS)
        folded = weight * scale[:, None, None, None]
        bias = beta - mean * scale
        k = weight.shape[-1]
        top, bottom, oh = _same_pads(size[0], k, stride)
        left, right, ow = _same_pads(size[1], k, stride)
        out = self.name(conv.replace(".", "_"))
        self.nodes.append(self.helper.make_node(
            "Conv", [x, self.const(folded, "W"), self.const(bias.astype(np.float32), "B")], [out],
            kernel_shape=[k, k], strides=[stride, stride], pads=[top, left, bottom, right], group=groups))
        if relu6:
            clipped = self.name("relu6")
            self.nodes.append(self.helper.make_node(
                "Clip", [out, self.const(np.array(0.0, np.float32), "lo"),
                         self.const(np.array(6.0, np.float32), "hi")], [clipped]))
            out = clipped
        return out, (oh, ow)


def build_efficientnet_lite(state_dict: Mapping[str, np.ndarray], input_size: int, doc_string: str = ""):
    """The ``onnx.ModelProto`` of EfficientNet-Lite for ``state_dict`` at ``input_size`` pixels square.

    ``state_dict`` maps the port's parameter names to float32 arrays (see
    ``mediaapp.models.torch_pickle.load_state_dict``). Raises
    ``GraphBuildError`` when a parameter is missing or the block layout is not
    EfficientNet-Lite's; the returned model passes ``onnx.checker``.
    """
    from onnx import TensorProto, checker, helper

    b = _Builder(state_dict)
    size = (input_size, input_size)
    x, size = b.conv_bn("image", "_conv_stem", "_bn0", size, 2)
    n_blocks = 1 + max((int(k.split(".")[1]) for k in state_dict if k.startswith("_blocks.")), default=-1)
    if n_blocks == 0:
        raise GraphBuildError("the checkpoint has no MBConv blocks")
    stage = -1
    prev_out = None
    for i in range(n_blocks):
        p = f"_blocks.{i}"
        project = b.w(f"{p}._project_conv.weight")
        depthwise = b.w(f"{p}._depthwise_conv.weight")
        in_ch = depthwise.shape[0] if f"{p}._expand_conv.weight" not in state_dict else \
            b.w(f"{p}._expand_conv.weight").shape[1]
        out_ch = project.shape[0]
        first = prev_out is None or in_ch != out_ch
        if first:
            stage += 1
            if stage >= len(STAGE_STRIDES):
                raise GraphBuildError(f"block {i} starts an eighth stage; not EfficientNet-Lite")
        stride = STAGE_STRIDES[stage] if first else 1
        h = x
        if f"{p}._expand_conv.weight" in state_dict:
            h, _ = b.conv_bn(h, f"{p}._expand_conv", f"{p}._bn0", size, 1)
        h, new_size = b.conv_bn(h, f"{p}._depthwise_conv", f"{p}._bn1", size, stride, groups=depthwise.shape[0])
        h, _ = b.conv_bn(h, f"{p}._project_conv", f"{p}._bn2", new_size, 1, relu6=False)
        if stride == 1 and in_ch == out_ch:
            summed = b.name("add")
            b.nodes.append(helper.make_node("Add", [h, x], [summed]))
            h = summed
        x, size, prev_out = h, new_size, out_ch
    x, size = b.conv_bn(x, "_conv_head", "_bn1", size, 1)
    pooled = b.name("pool")
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    b.nodes.append(helper.make_node("Flatten", [pooled], ["features"], axis=1))
    fc_w, fc_b = b.w("_fc.weight"), b.w("_fc.bias")
    b.nodes.append(helper.make_node("Gemm", ["features", b.const(fc_w, "fcW"), b.const(fc_b, "fcB")],
                                    ["logits"], transB=1))
    graph = helper.make_graph(
        b.nodes, "efficientnet_lite",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, input_size, input_size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", fc_w.shape[0]]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", fc_w.shape[1]])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="mediaapp", doc_string=doc_string)
    model.ir_version = 8
    checker.check_model(model)
    return model
