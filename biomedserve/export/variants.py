"""Faster forms of an exported model — graph-optimised, int8, fp16 — each proven on dev before use.

``model.onnx`` (fp32) is the reference. A variant is built with optimum (``ORTOptimizer`` for the
O1–O4 presets; for dynamic int8, ``AutoQuantizationConfig``'s preset for the CPU's instruction set),
stored beside it as ``model.<name>.onnx``, scored on the dev split, and only then recorded in the
card (a :class:`~biomedserve.modeldir.card.VariantRecord`) — made the default only if it loses at most
``MAX_LOSS`` points against fp32. Building, gating and recording are separate steps
(:func:`optimised_stage`/:func:`quantize_int8`, :func:`dev_score`/:func:`gate_int8`/:func:`judge`,
:func:`record_variant`); :func:`build_variant` runs them in that order. Dynamic int8 is known to
wreck token classification in some models, silently (onnxruntime #8660, optimum #151), so when the
first int8 attempt fails the gate the known remedies are tried in turn: per-channel weights, the
classifier and output projections left in fp32, and, where U8S8 kernels saturate (not on VNNI), QUInt8 weights.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from biomedserve.errors import BiomedserveError
from biomedserve.hardware import cpu_isa
from biomedserve.modeldir.card import (
    ONNX_FILE,
    OPTIMIZE_LEVELS,
    GateAttempt,
    ModelMeta,
    VariantRecord,
    pick_cpu_default,
    read_meta,
    record_files,
    variant_file,
    write_meta,
)
from biomedserve.modeldir.metric_keys import metric_key

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
    """The remedies worth trying on ``isa``, in order.

    QUInt8 weights answer the U8S8 saturation of AVX2 and plain AVX-512 kernels; a VNNI CPU has no
    such saturation, and U8U8 there leaves its fast U8S8 kernel: measured no faster than fp32 and
    less accurate (``benchmarks/vs_scispacy.py``, figures in ``benchmarks/results/history/``).
    """
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


@dataclass(frozen=True)
class GateOptions:
    """How a variant is scored against fp32: the dev split (its first ``limit`` examples if set)."""

    data_dir: str | Path | None = None
    limit: int | None = None
    progress: bool = True


def dev_score(model_dir: Path, graph_file: str, gate: GateOptions) -> float:
    """The task's metric on dev for one graph file of ``model_dir``, read without the card's variant
    list (``Predictor.from_dir(graph=...)``), so a graph is scored before anything records it."""
    from biomedserve.export.evaluation import evaluate_model
    from biomedserve.runtime import Predictor

    predictor = Predictor.from_dir(model_dir, graph=graph_file, verify=False)
    return evaluate_model(model_dir, split="dev", data_dir=gate.data_dir, limit=gate.limit, predictor=predictor,
                          progress=gate.progress).score


def reference_dev(model_dir: Path, meta: ModelMeta, gate: GateOptions, log: Callable[[str], None]) -> float:
    """fp32's dev score: the card's, when it was taken on the same examples, else scored now."""
    from biomedserve.tasks import get_task

    reference = meta.metrics.get(metric_key("dev", "onnx", gate.limit), {}).get(get_task(meta.task).metric)
    if reference is None:
        log("scoring fp32 on dev (the reference)…")
        reference = dev_score(model_dir, ONNX_FILE, gate)
    return reference


@contextmanager
def optimised_stage(model_dir: Path, plan: VariantPlan, target: Path) -> Iterator[Path]:
    """The graph to quantise (or the finished graph without int8): ``model.onnx`` after ``plan``'s
    optimisation level, written to ``target`` or, when int8 follows, to a hidden stage file removed after."""
    source = model_dir / ONNX_FILE
    stage = model_dir / ".stage.onnx"
    try:
        if plan.optimize:
            yield optimize_graph(source, model_dir, plan.optimize, for_gpu=plan.fp16,
                                 target=stage if plan.quantize else target)
        else:
            yield source
    finally:
        stage.unlink(missing_ok=True)


def gate_int8(model_dir: Path, stage: Path, target: Path, plan: VariantPlan, reference: float, gate: GateOptions,
              log: Callable[[str], None]) -> tuple[str, list[GateAttempt]]:
    """Quantise ``stage`` into ``target`` with each remedy for the CPU class in turn until one passes
    the gate; leave the most accurate attempt in ``target``. Returns its remedy and every attempt."""
    attempts: list[GateAttempt] = []
    for remedy in int8_remedies(plan.isa):
        quantize_int8(stage, model_dir, plan.isa, remedy, target)
        score = dev_score(model_dir, target.name, gate)
        attempts.append(GateAttempt(remedy=remedy.name, dev=round(score, 4), loss=round(reference - score, 4)))
        log(f"  int8 ({remedy.name}): dev {score:.2f} vs fp32 {reference:.2f}")
        if reference - score <= MAX_LOSS:
            break
    best = max(attempts, key=lambda a: a.dev)
    if best is not attempts[-1]:  # rebuild the most accurate attempt
        quantize_int8(stage, model_dir, plan.isa, next(r for r in INT8_REMEDIES if r.name == best.remedy), target)
    return best.remedy, attempts


def judge(record: VariantRecord, force: bool) -> VariantRecord:
    """``record`` with the gate's verdict: passed, loss, reason, and whether ``force`` overrides a failure."""
    if record.dev is None:
        verdict = {"passed": None, "loss": None,
                   "reason": "fp16 needs a CUDA GPU to be evaluated; it is used on GPU once gated there (or with --force)"}
    else:
        loss = round(record.reference_dev - record.dev, 4)
        passed = bool(loss <= MAX_LOSS)
        verdict = {"passed": passed, "loss": loss,
                   "reason": "within the accuracy gate" if passed
                   else f"loses {loss:.2f} dev points against fp32 (limit {MAX_LOSS})"}
    return record.model_copy(update={**verdict, "forced": bool(force and not verdict["passed"])})


def record_variant(model_dir: Path, record: VariantRecord, force: bool = False) -> VariantRecord:
    """Write ``record`` into the card with its graph's checksum, and move the defaults: a GPU variant
    that passed (or is forced) becomes the GPU default; on CPU a forced variant becomes the default,
    else the fastest-ranked one that passed (:func:`biomedserve.modeldir.card.pick_cpu_default`)."""
    meta = read_meta(model_dir)
    meta.variants[record.name] = record
    meta.files.update(record_files(model_dir, [record.graph_file]))
    if record.fp16:
        if record.passed or force:
            meta.default_gpu_variant = record.name
    elif record.forced:
        meta.default_variant = record.name
    else:
        meta.default_variant = pick_cpu_default(meta.variants, meta.default_variant)
    write_meta(model_dir, meta)
    return record


def build_variant(model_dir: str | Path, plan: VariantPlan, force: bool = False, data_dir=None,
                  limit: int | None = None, progress: bool = True, log=print) -> VariantRecord:
    """Build ``plan``'s graph, gate it on dev against fp32, then record it in the card; return the record.

    The card is written once, at the end: while graphs are built and scored it is as before, so an
    interrupted build leaves at most an unrecorded graph file behind, never a half-written card.
    """
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    if not (model_dir / ONNX_FILE).is_file():
        raise BiomedserveError(f"{model_dir} has no {ONNX_FILE} to start from: run `biomedserve export` first")
    gate = GateOptions(data_dir=data_dir, limit=limit, progress=progress)
    reference = reference_dev(model_dir, meta, gate, log)
    target = model_dir / variant_file(plan.name)
    remedy, attempts, dev = None, [], None
    with optimised_stage(model_dir, plan, target) as stage:
        if plan.quantize:
            remedy, attempts = gate_int8(model_dir, stage, target, plan, reference, gate, log)
            dev = max(a.dev for a in attempts)
        elif not plan.fp16 or _gpu_available():
            dev = round(dev_score(model_dir, target.name, gate), 4)
    record = VariantRecord(
        name=plan.name, graph_file=target.name, optimize=plan.optimize, quantize=plan.quantize, fp16=plan.fp16,
        isa=plan.isa if plan.quantize else None, remedy=remedy, reference_dev=round(reference, 4), dev=dev,
        max_loss=MAX_LOSS, dev_limit=limit, attempts=attempts)
    return record_variant(model_dir, judge(record, force), force)
