"""ONNX Runtime sessions as the local engine's models use them: CPU only, full graph optimisation,
an optional intra-op thread count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["cpu_session"]


def cpu_session(path: str | Path, threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for the ONNX file ``path`` on ``CPUExecutionProvider``, with
    ``ORT_ENABLE_ALL`` graph optimisation; ``threads`` (when truthy) sets ``intra_op_num_threads`` and one
    inter-op thread, else ONNX Runtime picks. Raises ``ImportError`` when onnxruntime is missing and
    onnxruntime's own exceptions when the file cannot be loaded (callers turn them into
    ``EngineUnavailableError``)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
