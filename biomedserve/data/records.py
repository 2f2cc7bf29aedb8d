"""Typed records for every BLURB task type.

Readers turn files into these; tasks turn these into model features. Keeping them plain
(frozen dataclasses of strings and lists) means any front-end can build them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaggedSentence:
    """A pre-tokenised sentence with one tag per token (NER: IOB2; PICO: IO).

    ``doc_id`` is the enclosing document (JNLPBA/EBM-PICO ``-DOCSTART-`` id) when the file has one;
    ``doc_index`` counts ``-DOCSTART-`` markers, because JNLPBA repeats some ids for distinct documents.
    """

    tokens: list[str]
    tags: list[str]
    doc_id: str | None = None
    doc_index: int | None = None


UNSURE = "?"  # a teacher's tag below its confidence bar in ``TypedLayersSentence.pseudo``: no signal


@dataclass(frozen=True)
class TypedLayersSentence:
    """A pre-tokenised sentence with one untyped IOB2 layer (``B``/``I``/``O``) per entity type its corpus annotates.

    A multi-type set (``NER-multitype``) joins corpora that each annotate some types only: a BC2GM
    sentence's chemicals are not marked, which says nothing about whether there are any. ``layers``
    therefore holds exactly the annotated types (``types``); every other type is unknown for this
    sentence, not absent. Layers may overlap (a gene inside a disease name). ``corpus`` is the BLURB
    (or derived) set the sentence came from.

    ``pseudo`` (training only, :mod:`biomedserve.training.pseudo_labels`) holds a teacher model's tags for types
    the corpus does not annotate: ``B``/``I``/``O`` where the teacher was sure, ``?`` where it was not
    (no training signal for that word and type). It never holds a type of ``layers``.
    """

    tokens: list[str]
    layers: dict[str, list[str]]
    corpus: str
    doc_id: str | None = None
    doc_index: int | None = None
    pseudo: dict[str, list[str]] = field(default_factory=dict)

    @property
    def types(self) -> tuple[str, ...]:
        """The entity types this sentence's corpus annotates."""
        return tuple(self.layers)


@dataclass(frozen=True)
class PairInstance:
    """A classification or regression instance over one text or a text pair.

    Relation extraction: ``text_a`` is the masked sentence, ``text_b`` is None.
    Sentence similarity: both sentences, ``label`` is the float score.
    QA: ``text_a`` is the question, ``text_b`` the context.
    """

    id: str
    text_a: str
    text_b: str | None
    label: str | float


@dataclass(frozen=True)
class DocumentInstance:
    """A multi-label document (HoC abstract): its sentences and the union of their labels."""

    id: str
    sentences: list[str]
    sentence_labels: list[frozenset[str]]
    labels: frozenset[str] = field(default_factory=frozenset)


def running_texts(record: TaggedSentence | TypedLayersSentence | PairInstance | DocumentInstance) -> list[str]:
    """The running text of one record: a tagged sentence's tokens joined by spaces, a document's
    sentences joined, a pair's texts. Unlabeled text for pretraining and self-training comes from here."""
    if isinstance(record, (TaggedSentence, TypedLayersSentence)):
        return [" ".join(record.tokens)]
    if isinstance(record, DocumentInstance):
        return [" ".join(record.sentences)]
    if isinstance(record, PairInstance):
        return [t for t in (record.text_a, record.text_b) if t]
    return []
