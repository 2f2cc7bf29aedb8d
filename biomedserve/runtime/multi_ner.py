"""The multi-type NER predictor: one encoder, one forward pass per window, entities of every type.

The model is a plain token-classification graph whose ``3 × n_types`` outputs are one O/B/I head
per entity type, laid out type by type (``CHEMICAL:O``, ``CHEMICAL:B``, ``CHEMICAL:I``,
``DISEASE:O``, ...: :func:`type_head_labels`). Each type is decoded on its own with the strict IOB2
rule of the single-type models, so a gene inside a disease name is returned as both.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.runtime.predictor import NerPredictor, softmax, span_entity
from biomedserve.runtime.results import Entities, TaggedWords
from biomedserve.text.decoding import tags_to_spans
from biomedserve.text.words import Word, first_words, resplit

TYPE_TAGS = ("O", "B", "I")  # the order of each type's three outputs


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

    @property
    def io_scheme(self) -> bool:
        return False

    @property
    def entity_types(self) -> list[str]:
        return list(self._types)

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

    def _entities(self, text: str, words: Sequence[Word], rows: Sequence[np.ndarray], types: Collection[str]) -> Entities:
        entities = []
        for entity_type in types:
            layer = self._layer(rows, self._types.index(entity_type))
            entities += [span_entity(text, words, span, layer.scores) for span in tags_to_spans(layer.tags)]
        return Entities(sorted(entities, key=lambda e: (e.start, e.end, e.label)))
