"""spaCy pipeline component ``biomedserve_ner``: a drop-in for a scispaCy NER model.

    import spacy
    nlp = spacy.blank("en")                          # or any pipeline: the component only sets entities
    nlp.add_pipe("biomedserve_ner", config={"model": "models/bc5cdr-minilm"})
    doc = nlp("Naloxone reversed the hypotensive effect of clonidine.")
    [(e.text, e.label_, e._.biomedserve_score) for e in doc.ents]

The factory is registered through the ``spacy_factories`` entry point, so spaCy finds it by name
after ``pip install``. As spaCy's own components do, it splits :meth:`~BiomedserveNER.predict` (the
runtime ``Predictor``, ONNX Runtime, reads ``doc.text``; it splits words and windows long documents
itself) from :meth:`~BiomedserveNER.set_annotations`. Character offsets are mapped onto spaCy tokens
with ``alignment_mode="expand"`` by default: an entity that starts or ends inside a spaCy token grows
to the whole token, so no entity is lost at a token boundary (``strict`` would drop it, ``contract``
would shrink it). Every prediction, of every type, goes to the span group ``doc.spans[spans_key]``
(``spans_key`` defaults to ``"biomedserve"``; overlaps included, as a multi-type model predicts a gene
inside a disease name; scores in ``attrs["scores"]`` and ``Span._.biomedserve_score``). ``doc.ents``
cannot overlap, so predictions that do are resolved by score (highest first; ties the longer, then
the earlier); it keeps the entities earlier components set, as spaCy's ``entity_ruler`` does: on
overlap the existing entity wins (and the best prediction elsewhere stays) unless
``overwrite_ents=True``. ``nlp.to_disk()`` copies the model directory into the pipeline folder
(every file its card lists: each ONNX variant, the PyTorch weights), so ``spacy.load()`` needs
nothing else and can pick any variant.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from spacy.language import Language
from spacy.pipeline.span_ruler import prioritize_new_ents_filter
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.modeldir.files import carried_files, saved_variants
from biomedserve.modeldir.task_types import OutputKind
from biomedserve.runtime import Entities, Entity, Predictor, refuse_collapsed

SPANS_KEY = "biomedserve"  # the default ``spans_key``
MODEL_FOLDER = "model"
ALIGNMENT_MODES = ("expand", "contract", "strict")


def _score_key(span: Span) -> tuple[str, int, int, str]:
    return ("biomedserve_score", span.start_char, span.end_char, span.label_)


# spaCy keys a Span extension's value by the span's offsets alone, so two predictions over the same
# characters with different labels (a multi-type model) would share one score: keyed by label too.
if not Span.has_extension("biomedserve_score"):
    Span.set_extension("biomedserve_score", getter=lambda span: span.doc.user_data.get(_score_key(span)),
                       setter=lambda span, score: span.doc.user_data.__setitem__(_score_key(span), score))


def load_entity_model(path: Path, variant: str, allow_collapsed: bool = False) -> Predictor:
    """The predictor of ``path``, which must return entities (its task type's output kind) and, unless
    ``allow_collapsed``, not be collapsed onto its task's trivial answer."""
    predictor = Predictor.from_dir(path, variant=variant)
    refuse_collapsed(predictor.meta, path, allow_collapsed)
    if predictor.task_type.output_kind is not OutputKind.ENTITIES:
        raise ModelDirError(f"{path} is a {predictor.meta.task!r} model; biomedserve_ner needs one that "
                            "finds entities")
    return predictor


def resolve_overlaps(predicted: Iterable[tuple[Span, float]], fixed: Iterable[Span] = ()) -> list[Span]:
    """The scored predicted spans that can join ``fixed`` in ``doc.ents``: no two share a token.

    Where predictions overlap (entities of different types, or neighbours that token expansion made
    collide), the higher score wins; on equal scores the longer span, then the earlier one. A span
    overlapping ``fixed`` is passed over, so the next best in its place can still be kept. Empty
    spans are dropped. spaCy's ``filter_spans`` keeps the longest, which would let a long
    low-confidence span hide a confident one inside it.
    """
    ranked = sorted(predicted, key=lambda pair: (-pair[1], -len(pair[0]), pair[0].start))
    taken = {i for span in fixed for i in range(span.start, span.end)}
    kept = []
    for span, _ in ranked:
        tokens = range(span.start, span.end)
        if tokens and taken.isdisjoint(tokens):
            kept.append(span)
            taken.update(tokens)
    return sorted(kept)


def merge_entities(existing: Iterable[Span], predicted: Iterable[tuple[Span, float]], overwrite: bool) -> list[Span]:
    """``doc.ents`` after adding the scored ``predicted`` spans to ``existing``: no two spans overlap,
    so assigning the result to ``doc.ents`` cannot raise.

    The semantics of spaCy's ``entity_ruler`` ``overwrite_ents``, with predictions chosen by score
    (:func:`resolve_overlaps`): an existing entity overlapping nothing always stays; where spans
    overlap, the existing entity wins unless ``overwrite``, in which case the predictions are chosen
    among themselves and each replaces every entity it overlaps (spaCy's ``span_ruler`` filter).
    """
    existing = list(existing)
    if overwrite:
        return sorted(prioritize_new_ents_filter(existing, resolve_overlaps(predicted)))
    return sorted(existing + resolve_overlaps(predicted, fixed=existing))


class BiomedserveNER:
    def __init__(self, nlp: Language, name: str, model: str | None, batch_size: int, alignment_mode: str,
                 variant: str, overwrite_ents: bool = False, spans_key: str = SPANS_KEY,
                 guideline: str | dict[str, str] | None = None, allow_collapsed: bool = False):
        if alignment_mode not in ALIGNMENT_MODES:
            raise ValueError(f"alignment_mode must be one of {ALIGNMENT_MODES}, not {alignment_mode!r}")
        if not isinstance(spans_key, str) or not spans_key:
            raise ValueError(f"spans_key must be a non-empty string (the doc.spans key), not {spans_key!r}")
        self.name = name
        self.spans_key = spans_key
        self.batch_size = batch_size
        self.alignment_mode = alignment_mode
        self.variant = variant
        self.overwrite_ents = overwrite_ents
        if guideline is not None and not isinstance(guideline, (str, dict)):
            raise ValueError(f"guideline must be a guideline name or a {{type: name}} table, not {guideline!r}")
        self.guideline = dict(guideline) if isinstance(guideline, dict) else guideline
        self.allow_collapsed = allow_collapsed
        self.model_path = Path(model) if model else None
        # spacy.load() builds the component from its config before from_disk() brings the model
        # files: a configured path that is not on this machine is therefore not an error yet.
        exists = self.model_path is not None and self.model_path.exists()
        self.predictor = load_entity_model(self.model_path, variant, allow_collapsed) if exists else None
        self._check_guideline()

    def _check_guideline(self) -> None:
        """A guideline the loaded model has no head for is an error now, not at the first doc."""
        if self.predictor is not None and self.guideline is not None:
            try:
                self.predictor.guideline_view(self.guideline)
            except BiomedserveError as exc:
                raise ValueError(f"{self.name}: {exc}") from None

    def _require(self) -> Predictor:
        if self.predictor is None:
            where = f" ({self.model_path} does not exist)" if self.model_path else ""
            raise ValueError(f"{self.name}: no model loaded{where}; "
                             "add it with config={'model': 'models/<name>'}")
        return self.predictor

    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        self._require()
        for batch in minibatch(docs, size=batch_size or self.batch_size):
            self.set_annotations(batch, self.predict(batch))
            yield from batch

    def predict(self, docs: Iterable[Doc]) -> list[Entities]:
        """The entities of each doc's text (every type the model finds), without touching the docs."""
        texts = [doc.text for doc in docs]
        if self.guideline is None:
            return self._require().predict(texts)
        return self._require().predict(texts, guideline=self.guideline)

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[Iterable[Entity]]) -> None:
        """Write ``predictions`` (one list of entities per doc, e.g. from :meth:`predict`) onto ``docs``:
        all of them to ``doc.spans[spans_key]``, an overlap-free choice to ``doc.ents`` (:func:`merge_entities`)."""
        docs, predictions = list(docs), list(predictions)
        if len(docs) != len(predictions):
            raise ValueError(f"{self.name}: {len(predictions)} predictions for {len(docs)} docs; "
                             "give one list of entities per doc")
        for doc, entities in zip(docs, predictions):
            self._annotate(doc, entities)

    def _annotate(self, doc: Doc, entities: Iterable[Entity]) -> None:
        predicted, scores = [], []
        for entity in entities:
            span = doc.char_span(entity.start, entity.end, label=entity.label, alignment_mode=self.alignment_mode)
            if span is not None:  # only "strict" or "contract" can fail to align
                predicted.append(span)
                scores.append(entity.score)
        pairs = list(zip(predicted, scores))
        doc.ents = merge_entities(doc.ents, pairs, self.overwrite_ents)
        # lowest first: where expansion made two predictions one span, it keeps the score that won
        for span, score in sorted(pairs, key=lambda pair: pair[1]):
            span._.biomedserve_score = score
        doc.spans[self.spans_key] = predicted
        doc.spans[self.spans_key].attrs["scores"] = scores

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
            predictor = load_entity_model(folder, self.variant, self.allow_collapsed)
        except ModelDirError as exc:
            saved = ", ".join(saved_variants(folder)) or "none"
            raise ModelDirError(f"{self.name}: variant {self.variant!r} cannot be loaded from {folder} ({exc}); "
                                f"variants saved with this pipeline: {saved}") from None
        self.model_path, self.predictor = folder, predictor
        self._check_guideline()
        return self


@Language.factory(
    "biomedserve_ner",
    default_config={"model": None, "batch_size": 64, "alignment_mode": "expand", "variant": "auto",
                    "overwrite_ents": False, "spans_key": SPANS_KEY, "guideline": None, "allow_collapsed": False},
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
)
def make_biomedserve_ner(nlp: Language, name: str, model: str | None, batch_size: int, alignment_mode: str,
                         variant: str, overwrite_ents: bool, spans_key: str,
                         guideline: str | dict[str, str] | None, allow_collapsed: bool) -> BiomedserveNER:
    return BiomedserveNER(nlp, name, model, batch_size, alignment_mode, variant, overwrite_ents, spans_key, guideline,
                          allow_collapsed)
