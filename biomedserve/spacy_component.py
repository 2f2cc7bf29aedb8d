"""spaCy pipeline component ``biomedserve_ner``: a drop-in for a scispaCy NER model.

    import spacy
    nlp = spacy.blank("en")                          # or any pipeline: the component only sets entities
    nlp.add_pipe("biomedserve_ner", config={"model": "models/bc5cdr-minilm"})
    doc = nlp("Naloxone reversed the hypotensive effect of clonidine.")
    [(e.text, e.label_, e._.biomedserve_score) for e in doc.ents]

The factory is registered through the ``spacy_factories`` entry point, so spaCy finds it by name
after ``pip install``. The runtime ``Predictor`` (ONNX Runtime) reads ``doc.text`` — it splits words
and windows long documents itself — and its character offsets are mapped onto spaCy tokens with
``alignment_mode="expand"`` by default: an entity that starts or ends inside a spaCy token grows to
the whole token, so no entity is lost at a token boundary (``strict`` would drop it, ``contract``
would shrink it). Every prediction goes to the span group ``doc.spans["biomedserve"]`` (overlaps
included; scores in ``attrs["scores"]`` and ``Span._.biomedserve_score``). ``doc.ents`` keeps the
entities earlier components set, as spaCy's ``entity_ruler`` does: on overlap the existing entity
wins unless ``overwrite_ents=True``. ``nlp.to_disk()`` copies the model directory into the pipeline
folder (every file its card lists: each ONNX variant, the PyTorch weights), so ``spacy.load()`` needs nothing else and can pick any
variant.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from spacy.language import Language
from spacy.pipeline.span_ruler import prioritize_existing_ents_filter, prioritize_new_ents_filter
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from biomedserve.errors import ModelDirError
from biomedserve.modeldir import ModelMeta, read_meta, variant_file
from biomedserve.runtime import Entity, Predictor
from biomedserve.tasktypes import OutputKind

SPAN_KEY = "biomedserve"
MODEL_FOLDER = "model"
ALIGNMENT_MODES = ("expand", "contract", "strict")

if not Span.has_extension("biomedserve_score"):
    Span.set_extension("biomedserve_score", default=None)


def graph_files(meta: ModelMeta) -> set[str]:
    """The ONNX graphs the card lists: ``model.onnx`` (fp32) and one file per variant."""
    return {variant_file(name) for name in ("fp32", *meta.variants)}


def carried_files(model_dir: Path) -> list[str]:
    """The files of ``model_dir`` a saved pipeline carries: everything but an ONNX graph the card
    does not list (a variant still being built, a stray export). The PyTorch weights travel too: the
    card lists them, and a model directory is checked against every file its card lists when opened.

    The card is read now, not when the model was loaded, so a variant built since is carried too.
    """
    graphs = graph_files(read_meta(model_dir))
    return sorted(item.name for item in model_dir.iterdir()
                  if item.is_file() and (item.name in graphs or not item.name.endswith(".onnx")))


def saved_variants(model_dir: Path) -> list[str]:
    """The variants of the card whose graph file is present in ``model_dir`` (``fp32`` first)."""
    try:
        meta = read_meta(model_dir)
    except ModelDirError:
        return []
    return [name for name in ("fp32", *meta.variants) if (model_dir / variant_file(name)).is_file()]


def load_entity_model(path: Path, variant: str) -> Predictor:
    """The predictor of ``path``, which must return entities (its task type's output kind)."""
    predictor = Predictor.from_dir(path, variant=variant)
    if predictor.task_type.output_kind is not OutputKind.ENTITIES:
        raise ModelDirError(f"{path} is a {predictor.meta.task!r} model; biomedserve_ner needs one that "
                            "finds entities")
    return predictor


def merge_entities(existing: Iterable[Span], predicted: Iterable[Span], overwrite: bool) -> list[Span]:
    """``doc.ents`` after adding ``predicted`` to ``existing``: no two spans overlap, so assigning
    the result to ``doc.ents`` cannot raise.

    The semantics of spaCy's ``entity_ruler`` ``overwrite_ents``: an existing entity overlapping
    nothing always stays; where spans overlap, the existing entity wins unless ``overwrite``, in
    which case the prediction replaces every entity it overlaps. Predictions that overlap each
    other (token expansion can make neighbours collide) keep the longest, then the first. spaCy's
    own ``span_ruler`` filters implement exactly this.
    """
    merge = prioritize_new_ents_filter if overwrite else prioritize_existing_ents_filter
    return sorted(merge(existing, [span for span in predicted if len(span)]))


class BiomedserveNER:
    def __init__(self, nlp: Language, name: str, model: str | None, batch_size: int, alignment_mode: str,
                 variant: str, overwrite_ents: bool = False):
        if alignment_mode not in ALIGNMENT_MODES:
            raise ValueError(f"alignment_mode must be one of {ALIGNMENT_MODES}, not {alignment_mode!r}")
        self.name = name
        self.batch_size = batch_size
        self.alignment_mode = alignment_mode
        self.variant = variant
        self.overwrite_ents = overwrite_ents
        self.model_path = Path(model) if model else None
        # spacy.load() builds the component from its config before from_disk() brings the model
        # files: a configured path that is not on this machine is therefore not an error yet.
        exists = self.model_path is not None and self.model_path.exists()
        self.predictor = load_entity_model(self.model_path, variant) if exists else None

    def _require(self) -> Predictor:
        if self.predictor is None:
            where = f" ({self.model_path} does not exist)" if self.model_path else ""
            raise ValueError(f"{self.name}: no model loaded{where}; "
                             "add it with config={'model': 'models/<name>'}")
        return self.predictor

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc], batch_size=1)))

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        predictor = self._require()
        for batch in minibatch(docs, size=batch_size or self.batch_size):
            for doc, entities in zip(batch, predictor.predict([doc.text for doc in batch])):
                self._annotate(doc, entities)
                yield doc

    def _annotate(self, doc: Doc, entities: Iterable[Entity]) -> None:
        """Put every prediction in ``doc.spans`` and merge them into ``doc.ents`` (see :func:`merge_entities`)."""
        predicted, scores = [], []
        for entity in entities:
            span = doc.char_span(entity.start, entity.end, label=entity.label, alignment_mode=self.alignment_mode)
            if span is not None:  # only "strict" or "contract" can fail to align
                span._.biomedserve_score = entity.score
                predicted.append(span)
                scores.append(entity.score)
        doc.ents = merge_entities(doc.ents, predicted, self.overwrite_ents)
        doc.spans[SPAN_KEY] = predicted
        doc.spans[SPAN_KEY].attrs["scores"] = scores

    # -- serialisation: the model travels with the pipeline
    def to_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> None:
        """Copy the model directory (every graph its card lists, see :func:`carried_files`) into
        ``path/model``, so ``spacy.load()`` can choose any variant.

        The copy is made beside the target and swapped in at the end: a failed copy leaves the
        previous save intact, and saving a loaded pipeline back over its own folder works.
        """
        source = self._require().model_dir
        target = Path(path) / MODEL_FOLDER
        staging = target.with_name(MODEL_FOLDER + ".partial")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        for name in carried_files(source):
            shutil.copy2(source / name, staging / name)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)

    def from_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> "BiomedserveNER":
        """Load the model saved in ``path/model`` with the configured ``variant``; a variant that was
        not saved is an error naming it and the ones that were."""
        folder = Path(path) / MODEL_FOLDER
        try:
            predictor = load_entity_model(folder, self.variant)
        except ModelDirError as exc:
            saved = ", ".join(saved_variants(folder)) or "none"
            raise ModelDirError(f"{self.name}: variant {self.variant!r} cannot be loaded from {folder} ({exc}); "
                                f"variants saved with this pipeline: {saved}") from None
        self.model_path, self.predictor = folder, predictor
        return self


@Language.factory(
    "biomedserve_ner",
    default_config={"model": None, "batch_size": 64, "alignment_mode": "expand", "variant": "auto",
                    "overwrite_ents": False},
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
)
def make_biomedserve_ner(nlp: Language, name: str, model: str | None, batch_size: int, alignment_mode: str,
                         variant: str, overwrite_ents: bool) -> BiomedserveNER:
    return BiomedserveNER(nlp, name, model, batch_size, alignment_mode, variant, overwrite_ents)
