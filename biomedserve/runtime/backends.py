"""Execution backends: the same batch of ids in, logits out, from ONNX Runtime or PyTorch.

ONNX Runtime is the default (faster, no autograd). PyTorch runs the saved weights, for parity
checks and for users who want eager mode. Both choose CUDA when it is there and fall back to CPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biomedserve.errors import BiomedserveError, ModelDirError


class OnnxBackend:
    """An ``onnxruntime.InferenceSession`` over ``model.onnx`` with the graph's own input names."""

    name = "onnx"

    def __init__(self, path: Path, providers: list[str] | None = None, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise BiomedserveError(
                "ONNX Runtime is not installed: pip install 'biomedserve[cpu]' (or '[gpu]')"
            ) from None
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        available = ort.get_available_providers()
        chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=chosen)
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf types
            raise ModelDirError(f"{path} could not be loaded by ONNX Runtime: {exc}") from None
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.providers = self.session.get_providers()

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: array for name, array in batch.items() if name in self.inputs}
        return self.session.run(None, feed)[0]


class TorchBackend:
    """The saved PyTorch weights through their ``AutoModelFor*`` class, in inference mode."""

    name = "torch"

    def __init__(self, path: Path, auto_model, threads: int | None = None):
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.model = auto_model.from_pretrained(str(path)).to(self.device).eval()
        except Exception as exc:
            raise ModelDirError(f"{path}: PyTorch weights could not be loaded: {exc}") from None
        self.providers = [self.device]

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        with self.torch.inference_mode():
            tensors = {k: self.torch.from_numpy(v).to(self.device) for k, v in batch.items()}
            return self.model(**tensors).logits.float().cpu().numpy()
