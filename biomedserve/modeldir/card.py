"""The model directory: what a trained model is on disk, and the checks made when opening one.

Layout of ``models/<name>/``::

    biomedserve.json   task, dataset, labels, max length, recipe, metrics, provenance, file checksums
    README.md          the model card, for people
    config.json, model.safetensors          PyTorch weights (for further training, --backend torch)
    tokenizer.json, tokenizer_config.json, vocab.txt, special_tokens_map.json
    model.onnx         the exported graph the runtime uses by default
    model.<variant>.onnx                    faster forms of it (biomedserve.export.variants), listed on the card

Opening a directory validates ``biomedserve.json`` and checks the backend's files against the
recorded sizes and SHA-256 sums, so a truncated or swapped file fails at load, not at the first
request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from biomedserve.atomic import atomic_write
from biomedserve.checksums import file_sha256
from biomedserve.errors import ModelDirError

META_FILE = "biomedserve.json"
CARD_FILE = "README.md"
ONNX_FILE = "model.onnx"
TORCH_FILES = ("config.json", "model.safetensors")
HEAD_CONFIG, HEAD_WEIGHTS = "head.json", "head.safetensors"  # a biomedserve.modeling.heads head beside the encoder
OPTIMIZE_LEVELS = ("O1", "O2", "O3", "O4")  # optimum's graph optimisation presets, lightest first
# tokenizer.json is required: without it transformers would rebuild a tokenizer from vocab.txt,
# silently a different one if vocab.txt is damaged
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")


def variant_file(name: str) -> str:
    """The graph file of variant ``name`` in a model directory: ``fp32`` → ``model.onnx``,
    ``int8`` → ``model.int8.onnx``. A variant is a name; its graph is a file: keep them apart."""
    return ONNX_FILE if name == "fp32" else f"model.{name}.onnx"


def variant_name(graph_file: str) -> str:
    """The inverse of :func:`variant_file`: ``model.int8.onnx`` → ``int8``."""
    return "fp32" if graph_file == ONNX_FILE else graph_file.removeprefix("model.").removesuffix(".onnx")


class FileRecord(BaseModel):
    size: int
    sha256: str


class GateAttempt(BaseModel):
    """One int8 configuration tried against the accuracy gate, and how it scored on dev."""

    remedy: str
    dev: float
    loss: float  # dev points lost against fp32


class VariantRecord(BaseModel):
    """A faster graph of the model (``biomedserve.export.variants``) and its accuracy gate on dev, as the card keeps it.

    ``name`` is what ``--variant``/``variant=`` take; ``graph_file`` is the ONNX file in the model
    directory. Cards written before this record existed stored the graph as ``file`` and had no
    ``name``: both are filled in on load (:meth:`ModelMeta._records`), so old cards still open.
    """

    model_config = ConfigDict(extra="allow")  # keep what a newer writer adds

    name: str
    graph_file: str
    optimize: str | None = None  # O1–O4
    quantize: str | None = None  # int8
    fp16: bool = False
    isa: str | None = None  # the CPU class an int8 graph was gated on: its accuracy holds there
    remedy: str | None = None  # the int8 configuration kept (see variants.INT8_REMEDIES)
    reference_dev: float | None = None  # fp32's dev score the variant was measured against
    dev: float | None = None  # None: not evaluated (fp16 without a GPU)
    loss: float | None = None
    passed: bool | None = None
    forced: bool = False  # the default by --force although it failed the gate
    reason: str = ""
    max_loss: float | None = None
    dev_limit: int | None = None  # gated on the first N dev examples; None: all of them
    attempts: list[GateAttempt] = []

    @model_validator(mode="before")
    @classmethod
    def _old_file_key(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "file" in data and "graph_file" not in data:
            data = {k: v for k, v in data.items() if k != "file"} | {"graph_file": data["file"]}
        return data

    def __getitem__(self, key: str) -> Any:
        """Read a field by name, as callers written against the dict records do."""
        if key not in type(self).model_fields and key not in (self.model_extra or {}):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``dict.get`` over the fields (see :meth:`__getitem__`)."""
        try:
            return self[key]
        except KeyError:
            return default


def variant_records(variants: Mapping[str, "VariantRecord | Mapping[str, Any]"]) -> dict[str, VariantRecord]:
    """``{name: VariantRecord}`` from records or their dict form; a dict without ``name`` or
    ``graph_file`` (an older card) takes them from its key. A record filed under another name is an error."""
    records = {}
    for key, entry in variants.items():
        if not isinstance(entry, VariantRecord):
            entry = {"name": key, **entry}
            if "file" not in entry:
                entry.setdefault("graph_file", variant_file(entry["name"]))
            entry = VariantRecord.model_validate(entry)
        if entry.name != key:
            raise ValueError(f"the record filed as {key!r} is named {entry.name!r}")
        records[key] = entry
    return records


def _speed_rank(record: VariantRecord) -> tuple[int, int]:
    """int8 first (the large CPU win), then the *lighter* graph.

    ONNX Runtime applies its own full graph optimisation when it loads any graph, so optimum's
    offline fusions on top gained nothing, and with int8 its fused QAttention ran slower than the
    separate quantised MatMuls: ``benchmarks/inference.py``, figures in
    ``benchmarks/results/inference_cpu.json``.
    """
    level = OPTIMIZE_LEVELS.index(record.optimize) + 1 if record.optimize else 0
    return (1 if record.quantize else 0, -level)


def pick_cpu_default(variants: Mapping[str, "VariantRecord | Mapping[str, Any]"], current: str) -> str:
    """The fastest-ranked CPU variant that passed the gate (a forced current default is kept)."""
    records = variant_records(variants)
    if current in records and records[current].forced:
        return current
    passed = {n: r for n, r in records.items() if r.passed and not r.fp16}
    if not passed:
        return "fp32"
    return max(passed, key=lambda n: _speed_rank(passed[n]))


class ModelMeta(BaseModel):
    """The machine-readable half of the model card."""

    model_config = ConfigDict(extra="allow")

    format_version: int = 1
    name: str
    task: str
    dataset: str
    labels: list[str]
    # relation models: the entity types the training sentences were masked with (@CHEMICAL$, @GENE$)
    entity_masks: tuple[str, str] | None = None
    # NER models: the entity types they return, and which corpus of the training set annotated which
    # types (a multi-type model learnt each type only from the corpora that annotate it)
    entity_types: list[str] | None = None
    corpus_types: dict[str, list[str]] | None = None
    # a multi-type model with a head per (type, guideline): the guideline each type follows by default
    # (chosen on dev; `biomedserve export --guideline TYPE=NAME` sets it); unset: the type's first head
    guideline_defaults: dict[str, str] = {}
    # NER models: whether predict() resolves the abbreviations a text defines unless the caller says
    # (biomedserve.runtime.abbreviations; chosen on dev, set by `biomedserve export --abbreviations on`)
    resolve_abbreviations: bool = False
    # NER models that find SPECIES: whether predict() merges in the NCBI Taxonomy lexicon's names
    # (biomedserve.runtime.species_lexicon; chosen on dev, set by `biomedserve export --species-lexicon on`)
    species_lexicon: bool = False
    # a biomedserve.modeling.heads head (pooling, or the bi-encoder's scale and shift); None: Hugging Face's own
    head: dict[str, Any] | None = None
    max_length: int
    base_model: str
    recipe: dict[str, Any]
    metrics: dict[str, dict[str, float]] = {}
    provenance: dict[str, Any] = {}
    files: dict[str, FileRecord] = {}
    train_seconds: float | None = None
    # the trivial floor of the task on each scored split (the training set's majority answer through the
    # same metric) and whether the model sits on it (biomedserve.export.floors): front-ends refuse a
    # collapsed model unless told --allow-collapsed
    floor: dict[str, Any] | None = None
    collapsed: bool = False
    collapse_reason: str = ""
    # faster forms of model.onnx (biomedserve.export.variants), each gated on dev against fp32
    variants: dict[str, VariantRecord] = {}
    default_variant: str = "fp32"
    default_gpu_variant: str | None = None

    @field_validator("variants", mode="before")
    @classmethod
    def _records(cls, value: Any) -> Any:
        return variant_records(value) if isinstance(value, Mapping) else value


def label_guidelines(labels: list[str]) -> dict[str, list[str]]:
    """Per type, the guidelines of a multi-type head's ``<type>@<guideline>:O`` labels (the card stays
    torch- and runtime-free, so it reads the layout itself)."""
    known: dict[str, list[str]] = {}
    for label in labels[::3]:
        head = label.partition(":")[0]
        if "@" in head:
            known.setdefault(head.partition("@")[0], []).append(head.partition("@")[2])
    return known


def record_files(model_dir: Path, names: list[str]) -> dict[str, FileRecord]:
    """Size and checksum of each existing file in ``names``."""
    return {
        name: FileRecord(size=(model_dir / name).stat().st_size, sha256=file_sha256(model_dir / name))
        for name in names
        if (model_dir / name).is_file()
    }


def model_files(model_dir: Path) -> list[str]:
    """Every file of the model directory that the card should record (all but the card itself)."""
    return sorted(p.name for p in Path(model_dir).iterdir()
                  if p.is_file() and p.name not in (META_FILE, CARD_FILE) and not p.name.startswith("."))


def write_meta(model_dir: Path, meta: ModelMeta) -> None:
    """Write ``biomedserve.json`` atomically and regenerate the human model card."""
    target = model_dir / META_FILE
    atomic_write(target, meta.model_dump_json(indent=2) + "\n")
    (model_dir / CARD_FILE).write_text(render_card(meta), encoding="utf-8")


def read_meta(model_dir: str | Path) -> ModelMeta:
    """Parse and validate ``biomedserve.json``; any problem names the directory and the field."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelDirError(f"model directory {model_dir} does not exist")
    path = model_dir / META_FILE
    if not path.is_file():
        raise ModelDirError(f"{model_dir} is not a biomedserve model directory: {META_FILE} is missing")
    try:
        return ModelMeta.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
                             for e in exc.errors())
        raise ModelDirError(f"{path} is corrupt: {problems}") from None
    except UnicodeDecodeError:
        raise ModelDirError(f"{path} is corrupt: not UTF-8 text") from None


def verify_files(model_dir: str | Path, meta: ModelMeta, names: tuple[str, ...], checksums: bool = True) -> None:
    """Every file in ``names`` and every file the card records must exist and, if recorded (and
    ``checksums``), match its size and SHA-256 — whichever graph will run, so a damaged file is found
    when the directory is opened, not when someone switches to it."""
    model_dir = Path(model_dir)
    for name in dict.fromkeys([*names, *sorted(meta.files)]):
        path = model_dir / name
        if not path.is_file():
            raise ModelDirError(f"{model_dir} is incomplete: {name} is missing")
        record = meta.files.get(name)
        if record is None or not checksums:
            continue
        size = path.stat().st_size
        if size != record.size:
            raise ModelDirError(
                f"{path} is corrupt: {size} bytes, the card records {record.size} (truncated or replaced?)"
            )
        if file_sha256(path) != record.sha256:
            raise ModelDirError(f"{path} is corrupt: its SHA-256 differs from the one in {META_FILE}")


def _metric_description(task: str) -> str:
    from biomedserve.modeldir.task_types import TASK_TYPES  # each task type says how BLURB scores it

    known = TASK_TYPES.get(task)
    return known.description if known else "unknown task type"


def render_card(meta: ModelMeta) -> str:
    """A Markdown model card: what the model is, how it scored, and where it came from."""
    lines = [
        f"# {meta.name}",
        "",
        f"A biomedserve **{meta.task}** model fine-tuned on **{meta.dataset}** (BLURB) from `{meta.base_model}`.",
        "",
        "## Use",
        "",
        "```python",
        "from biomedserve import Predictor",
        f"model = Predictor.from_dir(\"models/{meta.name}\")",
        "model.predict(...)",
        "```",
        "",
        f"Labels: {', '.join(f'`{label}`' for label in meta.labels)} · max length {meta.max_length} sub-words "
        "(longer texts are windowed, not truncated).",
        "",
    ]
    if meta.corpus_types and len(meta.corpus_types) > 1:
        lines += [f"Entity types: {', '.join(f'`{t}`' for t in meta.entity_types or [])}; annotated by: "
                  + "; ".join(f"{corpus} ({', '.join(types)})" for corpus, types in meta.corpus_types.items())
                  + ". Each corpus trained only the types it annotates.", ""]
    guidelines = label_guidelines(meta.labels)
    if guidelines:
        lines += ["Annotation guidelines (a head each; `predict(..., guideline=...)` picks one): "
                  + "; ".join(f"`{label}`: {', '.join(names)} (default "
                              f"{meta.guideline_defaults.get(label, names[0])})" for label, names in guidelines.items())
                  + ".", ""]
    lines += [
        "## Metrics (points, 0–100)",
        "",
        f"BLURB metric for this task: {_metric_description(meta.task)}.",
        "",
    ]
    columns = sorted({k for scores in meta.metrics.values() for k in scores})
    if columns:
        lines += ["| split / backend | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for key, scores in sorted(meta.metrics.items()):
            lines.append(f"| {key} | " + " | ".join(f"{scores[c]:.2f}" if c in scores else "" for c in columns) + " |")
    else:
        lines.append("Not evaluated yet: `biomedserve evaluate --record`.")
    if meta.floor:
        scored = ", ".join(f"{split} {meta.floor[split]:.2f}" for split in ("dev", "test") if split in meta.floor)
        lines += ["", f"Trivial floor ({meta.floor.get('answer')}): {scored}."]
        if meta.collapsed:
            lines += ["", f"**Collapsed**: {meta.collapse_reason}. `serve`, `predict`, the spaCy component and "
                      "`annotate` refuse this model unless told `--allow-collapsed`."]
    if meta.variants:
        lines += ["", "## Variants", "",
                  f"Default on CPU: **{meta.default_variant}**; on GPU: **{meta.default_gpu_variant or 'fp32'}**.",
                  "", "| variant | file | dev | fp32 dev | loss | gate |", "|---|---|---|---|---|---|"]
        for name, v in sorted(meta.variants.items()):
            dev = "–" if v.dev is None else f"{v.dev:.2f}"
            loss = "–" if v.loss is None else f"{v.loss:.2f}"
            gate = "passed" if v.passed else ("forced" if v.forced else v.reason)
            lines.append(f"| {name} | {v.graph_file} | {dev} | {v.reference_dev or 0:.2f} | {loss} | {gate} |")
    lines += ["", "## Recipe", "", "```json", json.dumps(meta.recipe, indent=2), "```", ""]
    if meta.train_seconds is not None:
        lines += [f"Training time: {meta.train_seconds:.0f} s.", ""]
    bf16 = meta.provenance.get("bf16")
    if isinstance(bf16, dict):
        mode = "bfloat16 autocast (weights fp32)" if bf16.get("used") else "fp32"
        lines += [f"Training precision: {mode}; {bf16.get('reason')}.", ""]
    lines += ["## Provenance", "", "```json", json.dumps(meta.provenance, indent=2), "```", ""]
    lines += ["## Files", "", "| file | bytes | sha256 |", "|---|---|---|"]
    lines += [f"| {name} | {rec.size} | `{rec.sha256[:16]}…` |" for name, rec in sorted(meta.files.items())]
    return "\n".join(lines) + "\n"
