"""Faster forms of an exported model — graph-optimised, int8, fp16 — each proven on dev before use.

``model.onnx`` (fp32) is the reference. A variant is built with optimum (``ORTOptimizer`` for the
O1–O4 presets, ``ORTQuantizer`` for dynamic int8 with a configuration chosen from the CPU's
instruction set), stored beside it as ``model.<name>.onnx``, evaluated on the dev split, and made
the default only if it loses at most ``MAX_LOSS`` points against fp32. Dynamic int8 is known to
wreck token classification in some models, silently (onnxruntime #8660, optimum #151), so when the
first int8 attempt fails the gate the known remedies are tried in turn: per-channel weights, the
classifier and output projections left in fp32, and, where U8S8 kernels saturate (not on VNNI), QUInt8 weights.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from biomedserve.errors import BiomedserveError
from biomedserve.hardware import cpu_isa
from biomedserve.modeldir import OPTIMIZE_LEVELS, pick_cpu_default, variant_file

MAX_LOSS = 0.5  # points of the task's dev metric a variant may lose and still become the default


@dataclass(frozen=True)
class QuantRemedy:
    """One int8 configuration to try; later ones trade speed for accuracy."""

    name: str
    per_channel: bool
    exclude_head: bool = False  # keep the classifier (and the last layer's output MatMul) in fp32
    unsigned_weights: bool = False  # QUInt8 instead of QInt8 weights


INT8_REMEDIES = (
    QuantRemedy("per-tensor", per_channel=False),
    QuantRemedy("per-channel", per_channel=True),
    QuantRemedy("per-channel, head in fp32", per_channel=True, exclude_head=True),
    QuantRemedy("per-channel, head in fp32, QUInt8 weights", per_channel=True, exclude_head=True,
                unsigned_weights=True),
)


def int8_remedies(isa: str) -> tuple[QuantRemedy, ...]:
    """The remedies worth trying on ``isa``. QUInt8 weights answer the U8S8 saturation of AVX2 and
    plain AVX-512 kernels; a VNNI CPU has no such saturation, and U8U8 leaves its fast U8S8 kernel.
    On this project's avx512_vnni host the BC5-disease int8 that this remedy had built ran 6,040.8
    words/s against fp32's 6,217.9 (``benchmarks/results/history/vs_scispacy_2026-11-29T20-35_842af4c.json``;
    the remedy was on the model's card, which that report did not yet name): no faster, less accurate."""
    return tuple(r for r in INT8_REMEDIES if not (r.unsigned_weights and isa == "avx512_vnni"))


@dataclass
class VariantPlan:
    """What to build: an optimisation level, int8 quantisation, fp16 (GPU) — in that order."""

    optimize: str | None = None
    quantize: str | None = None
    fp16: bool = False
    isa: str = field(default_factory=cpu_isa)

    def __post_init__(self):
        if self.optimize is not None and self.optimize not in OPTIMIZE_LEVELS:
            raise BiomedserveError(f"--optimize must be one of {', '.join(OPTIMIZE_LEVELS)}, not {self.optimize!r}")
        if self.quantize not in (None, "int8"):
            raise BiomedserveError(f"--quantize supports only int8, not {self.quantize!r}")
        if self.fp16 and self.quantize:
            raise BiomedserveError("--fp16 and --quantize int8 are exclusive: choose one")
        if self.optimize == "O4" or self.fp16:
            self.optimize, self.fp16 = "O4", True  # O4 is O3 + fp16, for GPU

    @property
    def name(self) -> str:
        parts = [self.optimize.lower()] if self.optimize else []
        if self.fp16:
            parts.append("fp16")
        if self.quantize:
            parts.append("int8")
        return "-".join(parts) or "fp32"


def head_nodes(onnx_path: Path) -> list[str]:
    """Names of the MatMul/Gemm nodes that feed the output: the classifier and its input projection."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    matmuls = [n for n in model.graph.node if n.op_type in ("MatMul", "Gemm")]
    return [n.name for n in matmuls[-2:]]


def optimize_graph(source: Path, config_dir: Path, level: str, for_gpu: bool, target: Path) -> Path:
    """ORTOptimizer with an O1–O4 preset; writes ``target``."""
    from optimum.onnxruntime import AutoOptimizationConfig, ORTOptimizer

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".opt-") as tmp:
        staged = Path(tmp) / "in"
        staged.mkdir()
        shutil.copy(source, staged / "model.onnx")
        shutil.copy(config_dir / "config.json", staged / "config.json")
        optimizer = ORTOptimizer.from_pretrained(staged, file_names=["model.onnx"])
        config = AutoOptimizationConfig.with_optimization_level(level, for_gpu=for_gpu)
        optimizer.optimize(config, save_dir=Path(tmp) / "out", file_suffix="")
        produced = next((Path(tmp) / "out").glob("*.onnx"))
        shutil.move(str(produced), target)
    return target


def quantize_int8(source: Path, config_dir: Path, isa: str, remedy: QuantRemedy, target: Path) -> Path:
    """Dynamic int8 with optimum's preset for ``isa`` and one remedy applied; writes ``target``.

    The preset (weight type, symmetry, reduce-range) comes from optimum's ``AutoQuantizationConfig``;
    ONNX Runtime's ``quantize_dynamic`` applies it, because it can also quantise a graph that
    ``ORTOptimizer`` has already fused (fused ``Attention`` becomes ``QAttention``) when told that
    tensors of the Microsoft-domain operators are float.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from optimum.onnxruntime import AutoQuantizationConfig

    make = {"avx512_vnni": AutoQuantizationConfig.avx512_vnni, "avx512": AutoQuantizationConfig.avx512,
            "avx2": AutoQuantizationConfig.avx2, "arm64": AutoQuantizationConfig.arm64}[isa]
    preset = make(is_static=False, per_channel=remedy.per_channel)
    exclude = head_nodes(source) if remedy.exclude_head else []
    weight_type = QuantType.QUInt8 if remedy.unsigned_weights else preset.weights_dtype
    tmp = target.with_suffix(".tmp.onnx")
    quantize_dynamic(
        str(source), str(tmp), per_channel=preset.per_channel, reduce_range=preset.reduce_range,
        weight_type=weight_type, nodes_to_exclude=exclude,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT,
                       "WeightSymmetric": preset.weights_symmetric,
                       "ActivationSymmetric": preset.activations_symmetric},
    )
    tmp.replace(target)
    return target


def _gpu_available() -> bool:
    try:
        import onnxruntime as ort

        return "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:
        return False


def build_variant(model_dir: str | Path, plan: VariantPlan, force: bool = False, data_dir=None,
                  limit: int | None = None, progress: bool = True, log=print) -> dict:
    """Build ``plan``'s variant, gate it on dev against fp32, record it in the card; return its entry."""
    from biomedserve.evaluation import evaluate_model
    from biomedserve.modeldir import ONNX_FILE, read_meta, record_files, write_meta
    from biomedserve.runtime import Predictor

    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    source = model_dir / ONNX_FILE
    if not source.is_file():
        raise BiomedserveError(f"{model_dir} has no {ONNX_FILE} to start from: run `biomedserve export` first")
    metric_key = "dev/onnx" + (f"@{limit}" if limit else "")

    def dev_score(variant: str) -> float:
        predictor = Predictor.from_dir(model_dir, variant=variant, verify=False)
        return evaluate_model(model_dir, split="dev", data_dir=data_dir, limit=limit, predictor=predictor,
                              progress=progress).score

    from biomedserve.tasks import get_task

    reference = meta.metrics.get(metric_key, {}).get(get_task(meta.task).metric)
    if reference is None:
        log("scoring fp32 on dev (the reference)…")
        reference = dev_score("fp32")
    name = plan.name
    target = model_dir / variant_file(name)
    stage = source
    if plan.optimize:
        stage = optimize_graph(source, model_dir, plan.optimize, for_gpu=plan.fp16,
                               target=target if not plan.quantize else model_dir / ".stage.onnx")
    entry: dict = {"file": target.name, "optimize": plan.optimize, "quantize": plan.quantize, "fp16": plan.fp16,
                   "isa": plan.isa if plan.quantize else None, "reference_dev": round(reference, 4),
                   "max_loss": MAX_LOSS, "dev_limit": limit, "attempts": []}
    try:
        if plan.quantize:
            for remedy in int8_remedies(plan.isa):
                quantize_int8(stage, model_dir, plan.isa, remedy, target)
                meta.variants[name] = {**entry, "remedy": remedy.name}  # so the predictor can open it
                write_meta(model_dir, meta)
                score = dev_score(name)
                entry["attempts"].append({"remedy": remedy.name, "dev": round(score, 4),
                                          "loss": round(reference - score, 4)})
                log(f"  int8 ({remedy.name}): dev {score:.2f} vs fp32 {reference:.2f}")
                if reference - score <= MAX_LOSS:
                    break
            best = max(entry["attempts"], key=lambda a: a["dev"])
            if best["remedy"] != entry["attempts"][-1]["remedy"]:  # rebuild the most accurate attempt
                quantize_int8(stage, model_dir, plan.isa, next(r for r in INT8_REMEDIES if r.name == best["remedy"]),
                              target)
            entry["remedy"], entry["dev"] = best["remedy"], best["dev"]
        elif plan.fp16 and not _gpu_available():
            entry["dev"] = None
        else:
            meta.variants[name] = entry
            write_meta(model_dir, meta)
            entry["dev"] = round(dev_score(name), 4)
    finally:
        (model_dir / ".stage.onnx").unlink(missing_ok=True)

    if entry["dev"] is None:
        entry["passed"] = None
        entry["reason"] = "fp16 needs a CUDA GPU to be evaluated; it is used on GPU once gated there (or with --force)"
    else:
        entry["loss"] = round(reference - entry["dev"], 4)
        entry["passed"] = bool(entry["loss"] <= MAX_LOSS)
        entry["reason"] = (f"loses {entry['loss']:.2f} dev points against fp32 (limit {MAX_LOSS})"
                           if not entry["passed"] else "within the accuracy gate")
    entry["forced"] = bool(force and not entry["passed"])
    meta = read_meta(model_dir)
    meta.variants[name] = entry
    meta.files.update(record_files(model_dir, [target.name]))
    if plan.fp16:
        if entry["passed"] or force:
            meta.default_gpu_variant = name
    elif entry["forced"]:
        meta.default_variant = name
    else:
        meta.default_variant = pick_cpu_default(meta.variants, meta.default_variant)
    write_meta(model_dir, meta)
    return entry
