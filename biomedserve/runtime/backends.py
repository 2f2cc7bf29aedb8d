"""Execution backends: the same batch of ids in, logits out, from ONNX Runtime or PyTorch.

ONNX Runtime is the default (faster, no autograd). On a CUDA GPU it binds inputs and outputs on
the device (IO binding) so a batch crosses the bus once each way; TensorRT is used when asked for
and installed. PyTorch runs the saved weights, for parity checks and users who want eager mode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.hardware import usable_cores
from biomedserve.modeldir.card import HEAD_CONFIG

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def default_threads() -> int:
    """Intra-op threads: the cores this process may use, read on the running host."""
    return usable_cores()


class OnnxBackend:
    """An ``onnxruntime.InferenceSession`` over one graph, fed only the inputs the graph declares."""

    name = "onnx"

    def __init__(self, path: Path, providers: list[str] | None = None, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise BiomedserveError(
                "ONNX Runtime is not installed: pip install 'biomedserve[cpu]' (or '[gpu]')"
            ) from None
        self.ort = ort
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        # TensorRT builds an engine per input shape (minutes): only when the caller asks for it
        chosen = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=chosen)
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf types
            raise ModelDirError(f"{path} could not be loaded by ONNX Runtime: {exc}") from None
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.output = self.session.get_outputs()[0].name
        self.providers = self.session.get_providers()
        self.on_gpu = any(p in GPU_PROVIDERS for p in self.providers)

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: array for name, array in batch.items() if name in self.inputs}
        if not self.on_gpu:
            return self.session.run([self.output], feed)[0].astype(np.float32, copy=False)
        binding = self.session.io_binding()
        for name, array in feed.items():
            binding.bind_ortvalue_input(name, self.ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), "cuda", 0))
        binding.bind_output(self.output, "cuda", 0)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0].astype(np.float32, copy=False)


class TorchBackend:
    """The saved PyTorch weights through their ``AutoModelFor*`` class, in inference mode."""

    name = "torch"

    def __init__(self, path: Path, auto_model: str, threads: int | None = None):
        """``auto_model`` names the transformers ``AutoModelFor*`` class of the head (its task type's)."""
        import torch
        import transformers

        torch.set_num_threads(threads or default_threads())
        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            if (Path(path) / HEAD_CONFIG).is_file():  # a biomedserve.modeling.heads head, not an AutoModelFor* one
                from biomedserve.modeling.heads import load_head

                self.model = load_head(Path(path)).to(self.device)
            else:
                self.model = getattr(transformers, auto_model).from_pretrained(str(path)).to(self.device).eval()
        except Exception as exc:
            raise ModelDirError(f"{path}: PyTorch weights could not be loaded: {exc}") from None
        self.providers = [self.device]
        if hasattr(self.model, "embed"):  # a bi-encoder: sentence vectors, as its ONNX graph gives
            self._outputs = lambda t: self.model.embed(t["input_ids"], t["attention_mask"])
        else:
            self._outputs = lambda t: self.model(**t).logits

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        with self.torch.inference_mode():
            tensors = {k: self.torch.from_numpy(v).to(self.device) for k, v in batch.items()}
            return self._outputs(tensors).float().cpu().numpy()
