"""Run the models on a group of documents and build the output records.

Both engines call :class:`Annotator` — the local engine in its own process, the Ray engine once per
actor — and it calls nothing but the runtime ``Predictor``: the same windowing, batching and strict
decoding as ``biomedserve predict``, the service and the spaCy component.

Entity models (NER, PICO: text in, entities out) run first, in the order given; document
classifiers (HoC: a document in) after them — chosen by their task type's kinds, not by name. Each
passage (title, abstract section, text) is a separate input to the NER models, so no entity
straddles two passages; offsets are shifted to the document text and checked against it. Where a
model's card resolves abbreviations, that is done over the whole document after (a short form defined
in the title counts in the abstract too).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from biomedserve.annotate.writers import record_line
from biomedserve.data.documents import Annotated, Document, Group, item_to_dict
from biomedserve.errors import BiomedserveError
from biomedserve.modeldir.card import variant_name
from biomedserve.modeldir.task_types import TASK_TYPES, InputKind, OutputKind, TaskType, task_types_of
from biomedserve.runtime.abbreviations import resolve_abbreviations
from biomedserve.runtime.results import Entity

ENTITY_MODELS = (InputKind.TEXT, OutputKind.ENTITIES)  # a passage's text in, entities out


class UnsupportedModelError(BiomedserveError):
    """A model whose task the annotator cannot apply to documents."""


@dataclass(frozen=True)
class ModelSpec:
    """How to open one model: its directory, ONNX variant and ONNX Runtime threads, and for a model
    with a head per annotation guideline, the guideline to follow (None: the card's default)."""

    path: str
    variant: str = "auto"
    threads: int | None = None
    guideline: str | dict[str, str] | None = None
    allow_collapsed: bool = False  # a model whose card says it collapsed is refused otherwise


@dataclass(frozen=True)
class ModelInfo:
    """What a record says about a model: ``version`` names the exact graph (variant + SHA-256 prefix)."""

    name: str
    version: str
    task: str
    variant: str
    path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def annotates_entities(task_type: TaskType) -> bool:
    """Whether models of ``task_type`` find entities in each passage (else they classify documents)."""
    return (task_type.input_kind, task_type.output_kind) == ENTITY_MODELS


def describe_model(spec: ModelSpec) -> ModelInfo:
    """Name, task and graph version of a model directory, without loading it (the Ray driver's view)."""
    from biomedserve.checksums import file_sha256
    from biomedserve.modeldir.card import read_meta
    from biomedserve.modeldir.variant_choice import choose_variant
    from biomedserve.runtime import (
        builtin,  # noqa: F401  (registers the built-in task types)
        refuse_collapsed,
    )

    meta = read_meta(spec.path)
    task_type = TASK_TYPES.get(meta.task)
    if task_type is None or not (annotates_entities(task_type) or task_type.input_kind is InputKind.DOCUMENT):
        raise UnsupportedModelError(
            f"{spec.path} is a {meta.task!r} model; annotate runs NER ({', '.join(task_types_of(*ENTITY_MODELS))}) "
            f"and document classification ({', '.join(task_types_of(InputKind.DOCUMENT))}) models")
    refuse_collapsed(meta, spec.path, spec.allow_collapsed)
    graph = choose_variant(meta, spec.variant, None).graph_file
    record = meta.files.get(graph)
    digest = record.sha256 if record is not None else file_sha256(Path(spec.path) / graph)
    variant = variant_name(graph)
    return ModelInfo(meta.name, f"{variant}-{digest[:12]}{_output_options(meta, spec)}", meta.task, variant,
                     str(Path(spec.path).resolve()))


def _output_options(meta, spec: ModelSpec) -> str:
    """What besides the graph changes a model's entities (the guideline followed, abbreviation
    resolution, the species lexicon), as a version suffix: a resumed job with other settings is refused, not mixed."""
    view = spec.guideline if spec.guideline is not None else meta.guideline_defaults
    if isinstance(view, dict):
        view = ",".join(f"{t}={g}" for t, g in sorted(view.items()))
    return ((f"+guideline:{view}" if view else "") + ("+abbreviations" if meta.resolve_abbreviations else "")
            + ("+species-lexicon" if meta.species_lexicon else ""))


def order_models(specs: Sequence[ModelSpec]) -> tuple[list[ModelSpec], list[ModelInfo]]:
    """NER models first (in the order given), then document classifiers; names must be distinct."""
    described = [(spec, describe_model(spec)) for spec in specs]
    entities = [annotates_entities(TASK_TYPES[info.task]) for _, info in described]
    ordered = [d for d, e in zip(described, entities) if e] + [d for d, e in zip(described, entities) if not e]
    names = [info.name for _, info in ordered]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UnsupportedModelError(f"two models are named {duplicates[0]!r}; entities would be ambiguous")
    if not ordered:
        raise UnsupportedModelError("no models given")
    return [s for s, _ in ordered], [i for _, i in ordered]


def build_record(doc: Document, entities: list[dict[str, Any]], classifications: list[dict[str, Any]],
                 models: Sequence[ModelInfo]) -> dict[str, Any]:
    """The output record (the JSONL format; the other writers render it)."""
    record: dict[str, Any] = {"id": doc.id, "title": doc.title, "text": doc.text,
                              "passages": [p.to_dict() for p in doc.passages]}
    if doc.dates:
        record["dates"] = doc.dates
    record["entities"] = entities
    if classifications:
        record["classifications"] = classifications
    record["models"] = [{"name": m.name, "version": m.version} for m in models]
    return record


class Annotator:
    """Loaded predictors, NER first; :meth:`annotate` turns a group of documents into record lines."""

    def __init__(self, specs: Sequence[ModelSpec]):
        from biomedserve.runtime import Predictor

        ordered, self.infos = order_models(specs)
        self.guidelines = [spec.guideline for spec in ordered]
        self.predictors = [Predictor.from_dir(spec.path, variant=spec.variant, threads=spec.threads)
                           for spec in ordered]
        for info, predictor in zip(self.infos, self.predictors):
            if variant_name(predictor.variant) != info.variant:  # the card changed between describe and load
                raise UnsupportedModelError(f"{info.path}: variant changed while loading")

    def annotate(self, docs: Sequence[Document]) -> list[str]:
        """One canonical JSON line per document, in order. One predictor call per model per group."""
        passages = [(index, p) for index, doc in enumerate(docs) for p in doc.passages if p.text.strip()]
        texts = [p.text for _, p in passages]
        entities: list[list[tuple[tuple, dict[str, Any]]]] = [[] for _ in docs]
        classifications: list[list[dict[str, Any]]] = [[] for _ in docs]
        for rank, (info, predictor, guideline) in enumerate(zip(self.infos, self.predictors, self.guidelines)):
            if annotates_entities(predictor.task_type):
                options = {"guideline": guideline} if guideline is not None else {}
                results = predictor.predict(texts, abbreviations=False, **options) if texts else []
                per_doc: list[list[Entity]] = [[] for _ in docs]
                for (index, passage), found in zip(passages, results):
                    per_doc[index] += [replace(e, start=e.start + passage.offset, end=e.end + passage.offset)
                                       for e in found]
                for index, found in enumerate(per_doc):
                    if predictor.resolves_abbreviations:  # over the whole document: title and abstract
                        found = resolve_abbreviations(docs[index].text, found)
                    entities[index] += [((e.start, e.end, rank, e.label), _entity_record(e, info.name))
                                        for e in found]
            else:
                for index, result in enumerate(predictor.predict([doc.text for doc in docs]) if docs else []):
                    classifications[index].append({"model": info.name, **result.to_dict()})
        lines = []
        for doc, keyed, classes in zip(docs, entities, classifications):
            found = [e for _, e in sorted(keyed, key=lambda pair: pair[0])]
            for e in found:
                if doc.text[e["start"]:e["end"]] != e["text"]:  # a bug, never bad input
                    raise RuntimeError(f"document {doc.id}: entity offsets {e['start']}:{e['end']} do not index its text")
            lines.append(record_line(build_record(doc, found, classes, self.infos)))
        return lines


def _entity_record(e: Entity, model: str) -> dict[str, Any]:
    """One entity of the output record (its offsets into the document's text)."""
    record = {"start": e.start, "end": e.end, "text": e.text, "type": e.label, "score": e.score, "model": model}
    if e.guideline is not None:
        record["guideline"] = e.guideline
    if e.abbreviation_of is not None:
        record["abbreviation_of"] = e.abbreviation_of
    return record


def annotate_group(annotator: Annotator, group: Group) -> Annotated:
    """The group's documents through the models (one call per model), other items passed through."""
    started = time.time()
    lines = iter(annotator.annotate(group.documents))
    entries = [{"id": item.id, "line": next(lines)} if isinstance(item, Document) else item_to_dict(item)
               for item in group.items]
    return Annotated(group.file_index, group.start, entries, (started, time.time()))
