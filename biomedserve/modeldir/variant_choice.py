"""Which ONNX graph of a model directory runs on this host, and why.

The card says which variant is the default (gated on dev accuracy on one instruction-set class); this
module decides, at load, whether that choice holds here. ``Predictor.from_dir`` (which the service and
the spaCy component load through) and the annotator's model description both ask it, so the decision is
made once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from biomedserve.errors import ModelDirError
from biomedserve.hardware import cpu_isa
from biomedserve.modeldir.card import ModelMeta, pick_cpu_default, variant_file, variant_name


@dataclass(frozen=True)
class GraphChoice:
    """The ONNX graph a predictor runs, and why (logged once at load)."""

    variant: str
    graph_file: str
    reason: str
    fallback: bool = False  # the card's default was not trusted on this host


def choose_variant(meta: ModelMeta, variant: str, providers: list[str] | None) -> GraphChoice:
    """The ONNX graph for ``variant`` on this host (see :meth:`Predictor.from_dir`).

    An int8 graph's accuracy gate holds for the instruction-set class it ran on (U8S8 kernels saturate
    without VNNI), so on another class ``auto`` takes the best variant gated for this one, else fp32.
    """
    isa = cpu_isa()
    if variant != "auto":
        if variant != "fp32" and variant not in meta.variants:
            known = ", ".join(["fp32", *meta.variants])
            raise ModelDirError(f"{meta.name} has no variant {variant!r}; it has: {known}")
        gated_on = meta.variants[variant].isa if variant in meta.variants else None
        reason = "asked for by name" + (f" (int8 gated on {gated_on}, not on this {isa} CPU)"
                                        if gated_on and gated_on != isa else "")
        return GraphChoice(variant, variant_file(variant), reason)
    if "CUDAExecutionProvider" in (providers or _available_providers()):
        # int8 graphs (MatMulInteger) are CPU kernels: a GPU takes its gated fp16 variant or fp32
        name = meta.default_gpu_variant or "fp32"
        return GraphChoice(name, variant_file(name), "the card's GPU default" if meta.default_gpu_variant
                           else "no fp16 variant gated for GPU")
    name = meta.default_variant
    gated_on = meta.variants[name].isa if name in meta.variants else None
    if not gated_on or gated_on == isa:
        why = "the card's gated CPU default" + (f" (gated on this {isa} CPU class)" if gated_on else "")
        return GraphChoice(name, variant_file(name), why)
    trusted = {n: e for n, e in meta.variants.items() if e.isa in (None, isa)}
    chosen = pick_cpu_default(trusted, "fp32")
    reason = (f"the card's default {name} was gated on a {gated_on} CPU and this one is {isa}, where int8 "
              f"arithmetic differs; re-gate here with `biomedserve export --quantize int8`")
    return GraphChoice(chosen, variant_file(chosen), reason, fallback=True)


def explicit_graph(model_dir: Path, graph: str | Path) -> GraphChoice:
    """The choice for a graph named by file: it must lie in ``model_dir`` (the tokenizer and card are there)."""
    path = Path(graph)
    if len(path.parts) > 1 and path.resolve().parent != model_dir.resolve():
        raise ModelDirError(f"graph {str(graph)!r} is not a file in {model_dir}")
    return GraphChoice(variant_name(path.name), path.name, "named by file (not read from the card)")


def _available_providers() -> list[str]:
    try:
        import onnxruntime as ort

        return ort.get_available_providers()
    except ImportError:
        return []
