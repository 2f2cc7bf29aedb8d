"""ONNX export of biomedserve's own sequence heads (:mod:`biomedserve.modeling.heads`).

Hugging Face heads go through optimum (:mod:`biomedserve.export.onnx`); these are plain
``nn.Module``s, so they are exported with ``torch.onnx`` behind small wrappers that give the graph
one named output, and the graph is checked against PyTorch on the export batch before it is kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from biomedserve.modeling.heads import BiEncoder, PooledClassifier


@contextmanager
def tracer_warnings_silenced() -> Iterator[None]:
    """Silence ``torch.jit.TracerWarning`` while a graph is traced.

    Tracing a transformers encoder warns that a tensor made in ``forward`` (the attention mask's
    ``1.0``) is recorded as a constant; that is what is meant here, and the graph is checked against
    PyTorch after export (optimum's validation, :func:`_check_parity`), so a wrong constant would fail there.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


class _Embedder(nn.Module):
    """A :class:`BiEncoder`'s sentence vectors, as one graph output."""

    def __init__(self, model: BiEncoder):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.embed(input_ids, attention_mask)


class _Logits(nn.Module):
    """A :class:`PooledClassifier`'s logits, as one graph output."""

    def __init__(self, model: PooledClassifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        return self.model(input_ids, attention_mask, token_type_ids).logits


def export_head_onnx(model: nn.Module, target: Path, uses_token_types: bool) -> Path:
    """Export with ``torch.onnx`` (opset 17, dynamic batch and sequence axes).

    A :class:`PooledClassifier` becomes ``(input_ids, attention_mask[, token_type_ids]) → logits``;
    a :class:`BiEncoder` becomes ``(input_ids, attention_mask) → embeddings``: the runtime embeds
    both sentences of a pair in one batch and applies the cosine and affine itself.
    """
    ids = torch.tensor([[101, 2000, 2001, 102], [101, 2002, 102, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    axes = {"batch": 0, "sequence": 1}
    if isinstance(model, BiEncoder):
        module, args, names, output = _Embedder(model), (ids, mask), ["input_ids", "attention_mask"], "embeddings"
    else:
        module, args, output = _Logits(model), (ids, mask), "logits"
        names = ["input_ids", "attention_mask"]
        if uses_token_types:
            args, names = (ids, mask, torch.zeros_like(ids)), [*names, "token_type_ids"]
    module.eval()  # the exporter restores the wrapper's mode afterwards, recursively: it must be eval too
    dynamic = {name: axes for name in names}
    dynamic[output] = {"batch": 0}
    tmp = Path(target).with_suffix(".tmp.onnx")
    with torch.no_grad(), tracer_warnings_silenced():
        torch.onnx.export(module, args, str(tmp), input_names=names, output_names=[output],
                          dynamic_axes={n: {i: a for a, i in d.items()} for n, d in dynamic.items()},
                          opset_version=17, dynamo=False)
    _check_parity(module, args, names, tmp)
    tmp.replace(target)
    return Path(target)


def _check_parity(module: nn.Module, args: tuple, names: list[str], graph: Path, atol: float = 1e-3) -> None:
    """The exported graph must give what PyTorch gives on the export batch (as optimum's validation)."""
    import numpy as np
    import onnxruntime as ort

    with torch.no_grad():
        want = module(*args).numpy()
    got = ort.InferenceSession(str(graph)).run(None, {n: a.numpy() for n, a in zip(names, args)})[0]
    if not np.allclose(got, want, atol=atol):
        graph.unlink(missing_ok=True)
        raise ValueError(f"ONNX export differs from PyTorch by up to {np.abs(got - want).max():.2e} (limit {atol})")
