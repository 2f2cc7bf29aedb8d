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
would shrink it). Scores go to ``Span._.biomedserve_score`` and to the span group
``doc.spans["biomedserve"]`` (``attrs["scores"]``). ``nlp.to_disk()`` copies the model files into
the pipeline folder, so ``spacy.load()`` needs nothing else.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, minibatch

from biomedserve.runtime import Predictor

SPAN_KEY = "biomedserve"
MODEL_FOLDER = "model"
ALIGNMENT_MODES = ("expand", "contract", "strict")

if not Span.has_extension("biomedserve_score"):
    Span.set_extension("biomedserve_score", default=None)


class BiomedserveNER:
    def __init__(self, nlp: Language, name: str, model: str | None, batch_size: int, alignment_mode: str,
                 variant: str):
        if alignment_mode not in ALIGNMENT_MODES:
            raise ValueError(f"alignment_mode must be one of {ALIGNMENT_MODES}, not {alignment_mode!r}")
        self.name = name
        self.batch_size = batch_size
        self.alignment_mode = alignment_mode
        self.variant = variant
        self.model_path = Path(model) if model else None
        # spacy.load() builds the component from its config before from_disk() brings the model
        # files: a configured path that is not on this machine is therefore not an error yet.
        exists = self.model_path is not None and self.model_path.exists()
        self.predictor = Predictor.from_dir(self.model_path, variant=variant) if exists else None

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

    def _annotate(self, doc: Doc, entities) -> None:
        spans, scores = [], []
        for entity in entities:
            span = doc.char_span(entity.start, entity.end, label=entity.label, alignment_mode=self.alignment_mode)
            if span is not None:
                span._.biomedserve_score = entity.score
                spans.append(span)
                scores.append(entity.score)
        kept = filter_spans(spans)  # expansion can make neighbours overlap: keep the longest
        doc.ents = kept
        group_scores = [span._.biomedserve_score for span in kept]
        doc.spans[SPAN_KEY] = kept
        doc.spans[SPAN_KEY].attrs["scores"] = group_scores

    # -- serialisation: the model travels with the pipeline
    def to_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> None:
        predictor = self._require()
        target = Path(path) / MODEL_FOLDER
        if target.exists():
            shutil.rmtree(target)
        keep = {predictor.variant, "biomedserve.json", "README.md", "config.json", "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"}
        target.mkdir(parents=True)
        for item in predictor.model_dir.iterdir():
            if item.is_file() and item.name in keep:
                shutil.copy2(item, target / item.name)

    def from_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> "BiomedserveNER":
        self.model_path = Path(path) / MODEL_FOLDER
        self.predictor = Predictor.from_dir(self.model_path, variant=self.variant)
        return self


@Language.factory(
    "biomedserve_ner",
    default_config={"model": None, "batch_size": 64, "alignment_mode": "expand", "variant": "auto"},
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
)
def make_biomedserve_ner(nlp: Language, name: str, model: str | None, batch_size: int, alignment_mode: str,
                         variant: str) -> BiomedserveNER:
    return BiomedserveNER(nlp, name, model, batch_size, alignment_mode, variant)
