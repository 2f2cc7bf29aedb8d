"""Runtime predictors for the sequence-level tasks: relations, QA, similarity, HoC.

They share the base class's batching; each adds the input shape its users have (a masked sentence,
a question and a context, two sentences, an abstract) and the output they want (a label with
probabilities, a score, hallmarks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomedserve.runtime.predictor import InputError, Predictor, softmax
from biomedserve.runtime.results import Label, Labels, Score
from biomedserve.text.encoding import encode_pair
from biomedserve.text.words import split_sentences

Pair = tuple[str, "str | None"]


def _check_text(value, what: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{what} is {type(value).__name__}, expected str")
    return value


class SequencePredictor(Predictor):
    """Encodes texts or pairs like training did (segment ids included) and returns head outputs."""

    @property
    def single_segment(self) -> bool:
        return bool(self.meta.recipe.get("single_segment", False))

    def predict_raw(self, pairs: Sequence[Pair], progress: bool = False) -> np.ndarray:
        """Head outputs (logits or regression values), one row per pair, in input order."""
        encoded = [encode_pair(self.tokenizer, a, b, self.meta.max_length, self.single_segment) for a, b in pairs]
        if not encoded:
            return np.zeros((0, len(self.meta.labels)), dtype=np.float32)
        segments = [e["token_type_ids"] for e in encoded] if "token_type_ids" in encoded[0] else None
        return np.stack(self._run([e["input_ids"] for e in encoded], segments, progress=progress))

    def predict_proba(self, pairs: Sequence[Pair], progress: bool = False) -> np.ndarray:
        return softmax(self.predict_raw(pairs, progress=progress))


class PairClassifierPredictor(SequencePredictor):
    """Relation extraction (a masked sentence) and yes/no/maybe QA (question + context)."""

    def predict(self, texts: str | Pair | Sequence[str] | Sequence[Pair]) -> Label | list[Label]:
        """A :class:`Label` per input — a masked sentence, or a (question, context) pair; one input
        (a string or a tuple) gives one Label, a list gives a list."""
        single = isinstance(texts, (str, tuple))
        items = [texts] if single else list(texts)
        pairs = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                pairs.append((item, None))
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                pairs.append((_check_text(item[0], f"input {index} first text"),
                              _check_text(item[1], f"input {index} second text")))
            else:
                raise InputError(f"input {index} must be a string or a (text, text) pair")
        probs = self.predict_proba(pairs)
        labels = self.meta.labels
        results = [Label(labels[int(row.argmax())], {label: round(float(p), 6) for label, p in zip(labels, row)})
                   for row in probs]
        return results[0] if single else results


class SimilarityPredictor(SequencePredictor):
    """BIOSSES-style similarity of two sentences on the 0–4 scale.

    A cross-encoder reads both sentences in one input. A bi-encoder (the card's ``head``) embeds each
    sentence alone — all of a batch's sentences in one run — and scores ``scale · cos + shift``.
    """

    def predict_raw(self, pairs: Sequence[Pair], progress: bool = False) -> np.ndarray:
        head = self.meta.head or {}
        if head.get("head") != "biencoder":
            return super().predict_raw(pairs, progress=progress)
        texts = [a for a, _ in pairs] + [b or "" for _, b in pairs]
        if not pairs:
            return np.zeros((0, 1), dtype=np.float32)
        encoded = [encode_pair(self.tokenizer, t, None, self.meta.max_length, True)["input_ids"] for t in texts]
        vectors = np.stack(self._run(encoded, progress=progress))
        first, second = vectors[: len(pairs)], vectors[len(pairs):]
        cosine = (first * second).sum(axis=-1)  # the graph's vectors are L2-normalised
        return (head["scale"] * cosine + head["shift"]).astype(np.float32).reshape(-1, 1)

    def predict(self, pairs: Pair | Sequence[Pair]) -> Score | list[Score]:
        """A :class:`Score` per (sentence, sentence) pair: one tuple gives one Score, a list a list."""
        single = isinstance(pairs, tuple)
        items = [pairs] if single else list(pairs)
        checked = [(_check_text(a, f"pair {i} first"), _check_text(b, f"pair {i} second")) for i, (a, b) in enumerate(items)]
        raw = self.predict_raw(checked).reshape(-1)
        results = [Score(round(float(np.clip(v, 0.0, 4.0)), 4)) for v in raw]
        return results[0] if single else results


class DocumentClassifierPredictor(SequencePredictor):
    """HoC hallmarks of an abstract: sentences are classified, the abstract takes the max per class."""

    threshold = 0.5

    def predict_documents(self, documents: Sequence[Sequence[str]], progress: bool = False) -> np.ndarray:
        """Per-document class probabilities: the maximum over its sentences (0 for an empty document)."""
        flat = [(s, None) for doc in documents for s in doc]
        probs = 1 / (1 + np.exp(-self.predict_raw(flat, progress=progress))) if flat else np.zeros((0, 0))
        out = np.zeros((len(documents), len(self.meta.labels)), dtype=np.float32)
        start = 0
        for i, doc in enumerate(documents):
            if doc:
                out[i] = probs[start:start + len(doc)].max(axis=0)
            start += len(doc)
        return out

    def predict(self, abstracts: str | Sequence[str]) -> Labels | list[Labels]:
        """The :class:`Labels` of each abstract: one string gives one, a list a list."""
        single = isinstance(abstracts, str)
        items = [abstracts] if single else list(abstracts)
        docs = [split_sentences(_check_text(a, f"abstract {i}")) for i, a in enumerate(items)]
        probs = self.predict_documents(docs)
        results = [Labels([name for name, p in zip(self.meta.labels, row) if p >= self.threshold],
                          {name: round(float(p), 6) for name, p in zip(self.meta.labels, row)})
                   for row in probs]
        return results[0] if single else results
