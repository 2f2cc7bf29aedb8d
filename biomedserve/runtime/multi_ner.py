"""The multi-type NER predictor: one encoder, one forward pass per window, entities of every type.

The model is a plain token-classification graph whose ``3 × n_types`` outputs are one O/B/I head
per entity type, laid out type by type (``CHEMICAL:O``, ``CHEMICAL:B``, ``CHEMICAL:I``,
``DISEASE:O``, ...: :func:`type_head_labels`). Each type is decoded on its own with the strict IOB2
rule of the single-type models, so a gene inside a disease name is returned as both.

A model trained on corpora that annotate one type to different guidelines has a head per guideline,
``<type>@<guideline>`` (``GENE@BC2GM``, ``GENE@BioNLP``). It returns the type (``GENE``) from one of
them: the card's ``guideline_defaults`` (chosen on dev), else the first; a caller may ask for another
(``predict(..., guideline="BioNLP")``), and each such entity names its ``guideline``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

import numpy as np

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.runtime.predictor import InputError, NerPredictor, softmax, span_entity
from biomedserve.runtime.results import Entities, TaggedWords
from biomedserve.text.decoding import tags_to_spans
from biomedserve.text.words import Word, first_words, resplit

TYPE_TAGS = ("O", "B", "I")  # the order of each type's three outputs
GUIDELINE_MARK = "@"  # <type>@<guideline>: one head per guideline of a type


def split_head_type(head: str) -> tuple[str, str | None]:
    """``GENE@BioNLP`` → ``("GENE", "BioNLP")``; a head of a type with one guideline → ``(type, None)``."""
    label, _, guideline = head.partition(GUIDELINE_MARK)
    return label, guideline or None


def head_guidelines(heads: Sequence[str]) -> dict[str, list[str]]:
    """Per entity type with named guidelines, the guidelines its heads follow, in head order."""
    known: dict[str, list[str]] = {}
    for head in heads:
        label, guideline = split_head_type(head)
        if guideline is not None:
            known.setdefault(label, []).append(guideline)
    return known


def select_view(guideline: str | Mapping[str, str] | None, heads: Sequence[str], defaults: Mapping[str, str],
                model: str = "the model") -> dict[str, str]:
    """The head that serves each entity type: ``defaults`` (type → guideline), else the type's first
    head, overridden by ``guideline`` — a name (every type that has it) or ``{type: name}``. A guideline
    or type the model does not know raises :class:`InputError` listing what it knows."""
    view: dict[str, str] = {}
    for head in heads:
        view.setdefault(split_head_type(head)[0], head)
    known = head_guidelines(heads)
    for label, name in defaults.items():
        view[label] = f"{label}{GUIDELINE_MARK}{name}"
    if guideline is None:
        return view
    listed = "; ".join(f"{label}: {', '.join(names)}" for label, names in known.items()) or "none"
    if isinstance(guideline, str):
        matching = [label for label, names in known.items() if guideline in names]
        if not matching:
            raise InputError(f"guideline: {model} knows no guideline {guideline!r}; it knows {listed}")
        wanted = {label: guideline for label in matching}
    elif isinstance(guideline, Mapping):
        wanted = dict(guideline)
    else:
        raise InputError(f"guideline must be a name or a {{type: name}} mapping, not {type(guideline).__name__}")
    for label, name in wanted.items():
        if name not in known.get(label, []):
            raise InputError(f"guideline: {model} has no {label!r} head to guideline {name!r}; it knows {listed}")
        view[label] = f"{label}{GUIDELINE_MARK}{name}"
    return view


def type_head_labels(entity_types: Sequence[str]) -> list[str]:
    """The output layout of a multi-type head: ``<type>:O``, ``<type>:B``, ``<type>:I`` per type, in order."""
    return [f"{entity_type}:{tag}" for entity_type in entity_types for tag in TYPE_TAGS]


def parse_type_head_labels(labels: Sequence[str]) -> list[str]:
    """The entity types of a multi-type head's labels (the inverse of :func:`type_head_labels`);
    any other layout is a ``ValueError`` quoting it."""
    types = [label.partition(":")[0] for label in labels[::3]]
    if len(labels) % 3 or list(labels) != type_head_labels(types):
        raise ValueError(f"labels {list(labels)!r} are not <type>:O, <type>:B, <type>:I per type")
    return types


class MultiTypeNerPredictor(NerPredictor):
    """Entities of every type of a multi-type model, overlaps across types allowed.

    Each window's logits are read as ``[words, n_types, 3]`` and soft-maxed per type; each type's
    tags are decoded with :func:`~biomedserve.text.decoding.tags_to_spans`. ``predict`` returns the
    entities of all types sorted by ``(start, end, label)``; ``Entity.score`` is the mean probability
    of its words' tags under its type's head, as for a single-type model.
    """

    def __init__(self, model_dir, meta, backend, tokenizer, **kwargs):
        super().__init__(model_dir, meta, backend, tokenizer, **kwargs)
        try:
            self._types = parse_type_head_labels(meta.labels)
        except ValueError as exc:
            raise ModelDirError(f"{model_dir}: not a multi-type NER model: {exc}") from None
        self._defaults = dict(getattr(meta, "guideline_defaults", None) or {})
        try:
            self._default_view = select_view(None, self._types, self._defaults, self.name)
            unknown = [h for h in self._default_view.values() if h not in self._types]
            if unknown:
                raise InputError(f"no head {unknown[0]!r}")
        except InputError as exc:
            raise ModelDirError(f"{model_dir}: guideline_defaults {self._defaults} do not match its heads: {exc}") from None

    @property
    def io_scheme(self) -> bool:
        return False

    @property
    def entity_types(self) -> list[str]:
        """The types it returns (a type with several guideline heads once: ``GENE``)."""
        return list(dict.fromkeys(split_head_type(head)[0] for head in self._types))

    @property
    def head_types(self) -> list[str]:
        return list(self._types)

    @property
    def guidelines(self) -> dict[str, list[str]]:
        return head_guidelines(self._types)

    @property
    def default_guidelines(self) -> dict[str, str]:
        """The guideline each multi-guideline type follows when the caller names none."""
        return {label: split_head_type(head)[1] for label, head in self._default_view.items()
                if split_head_type(head)[1] is not None}

    def guideline_view(self, guideline: str | Mapping[str, str] | None) -> Mapping[str, str]:
        return self._default_view if guideline is None else select_view(guideline, self._types, self._defaults,
                                                                          self.name)

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        """``[words, 3 × n_types]`` logits → ``[words, n_types, 3]`` probabilities, one softmax per type."""
        return softmax(logits.reshape(len(logits), len(self._types), len(TYPE_TAGS)))

    def _layer(self, rows: Sequence[np.ndarray], index: int) -> TaggedWords:
        """The IOB2 tags (``B-<type>``) of type ``index`` per word, and their probabilities."""
        entity_type = self._types[index]
        best = [int(row[index].argmax()) for row in rows]
        tags = [tag if tag == "O" else f"{tag}-{entity_type}" for tag in (TYPE_TAGS[b] for b in best)]
        return TaggedWords(tags, [float(row[index][b]) for row, b in zip(rows, best)])

    def _tagged(self, rows: Sequence[np.ndarray]) -> TaggedWords:
        raise BiomedserveError(f"{self.name} tags every word once per entity type: use predict_words_by_type")

    def predict_words_by_type(self, sequences: Sequence[Sequence[str]],
                              progress: bool = False) -> list[dict[str, TaggedWords]]:
        """Each type's IOB2 tags and probabilities for pre-split words (cut as in training, each given
        word read at its first piece), one forward pass per window for all types."""
        split = [resplit(seq) for seq in sequences]
        per_seq = self._word_probs([words for words, _ in split], progress)
        results = []
        for (_, owner), rows in zip(split, per_seq):
            kept = [rows[k] for k in first_words(owner)]
            results.append({t: self._layer(kept, i) for i, t in enumerate(self._types)})
        return results

    def predict_words(self, sequences: Sequence[Sequence[str]], progress: bool = False) -> list[TaggedWords]:
        """Not one tag per word here (types overlap): :meth:`predict_words_by_type` gives a layer per type."""
        raise BiomedserveError(f"{self.name} tags every word once per entity type: use predict_words_by_type")

    def _entities(self, text: str, words: Sequence[Word], rows: Sequence[np.ndarray], types: Collection[str],
                  view: Mapping[str, str] | None = None) -> Entities:
        view = view or self._default_view
        entities = []
        for entity_type in types:
            head = view[entity_type]
            layer = self._layer(rows, self._types.index(head))
            guideline = split_head_type(head)[1]
            entities += [replace(span_entity(text, words, span, layer.scores), label=entity_type, guideline=guideline)
                         for span in tags_to_spans(layer.tags)]
        return Entities(sorted(entities, key=lambda e: (e.start, e.end, e.label)))
