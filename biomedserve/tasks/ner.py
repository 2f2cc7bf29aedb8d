"""Named-entity recognition: labels, training features, the BLURB metric and span decoding.

BLURB's NER files carry untyped ``B``/``I``/``O`` tags; we type them with the dataset's entity
type (``B`` → ``B-CHEMICAL``) so a model's output says what it found. The metric is BLURB's
entity-level strict F1: seqeval in strict IOB2 mode, where an ``I-`` that does not continue an
entity of the same type is not an entity. Span decoding follows the same rule, so the entities
the runtime returns are exactly the ones the metric counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from biomedserve.data.records import TaggedSentence
from biomedserve.runtime import builtin as task_types
from biomedserve.tasks.base import TaskDefinition
from biomedserve.text.decoding import TagSpan, tags_to_spans
from biomedserve.text.encoding import make_windows, word_pieces
from biomedserve.text.words import resplit, spread_tags

IGNORE_INDEX = -100  # label of non-first sub-words and specials: PyTorch's cross-entropy skips it


def label_list(entity_types: Sequence[str]) -> list[str]:
    """``O`` then ``B-``/``I-`` per type, in a fixed order (the model's output layout)."""
    labels = ["O"]
    for entity_type in entity_types:
        labels += [f"B-{entity_type}", f"I-{entity_type}"]
    return labels


def type_tags(tags: Sequence[str], entity_type: str | None) -> list[str]:
    """Untyped BLURB tags → typed IOB2 tags (``B`` → ``B-<type>``); typed tags (merged sets) pass."""
    return [tag if tag == "O" or "-" in tag else f"{tag}-{entity_type}" for tag in tags]


def encode_sentences(
    sentences: Sequence[TaggedSentence],
    tokenizer,
    label2id: dict[str, int],
    to_labels,
    max_length: int,
) -> list[dict[str, list[int]]]:
    """Training features: one feature per window, labels on first sub-words, -100 elsewhere.

    The corpus tokens are first cut into the runtime's words (:func:`resplit`), the words raw text
    will arrive as; a token's tag spreads over its words, so dev F1 during training counts those words.

    ``to_labels`` maps a sentence's file tags to model labels (NER: types them; PICO: as is).
    Uses the runtime's windowing, so a long training sentence is split, not truncated.
    """
    features = []
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    for index, sentence in enumerate(sentences):
        words, owner = resplit(sentence.tokens)
        label_ids = [label2id[t] for t in spread_tags(to_labels(sentence.tags), owner)]
        pieces = word_pieces(tokenizer, words)
        for window in make_windows(index, pieces, cls_id, sep_id, max_length):
            labels = [IGNORE_INDEX] * len(window.input_ids)
            for position, word in zip(window.first_piece, range(window.start, window.end)):
                labels[position] = label_ids[word]
            features.append(
                {
                    "input_ids": window.input_ids,
                    "attention_mask": [1] * len(window.input_ids),
                    "labels": labels,
                }
            )
    return features


def entity_scores(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, float]:
    """BLURB NER metric: entity-level strict precision/recall/F1 in points (0–100)."""
    kwargs = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return {
        "precision": 100 * precision_score(true_tags, pred_tags, **kwargs),
        "recall": 100 * recall_score(true_tags, pred_tags, **kwargs),
        "f1": 100 * f1_score(true_tags, pred_tags, **kwargs),
    }


def trainer_metrics(id2label: dict[int, str], spec=None):
    """``compute_metrics`` for the HF Trainer: first-sub-word logits → tags → strict F1.

    Predictions and labels arrive in the same (possibly length-grouped) order, so pairing them
    row by row is safe here; only pairing with the original examples would not be.
    """

    def compute(eval_pred) -> dict[str, float]:
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        predictions = np.argmax(logits, axis=-1)
        true, pred = [], []
        for p_row, l_row in zip(predictions, labels):
            keep = l_row != IGNORE_INDEX
            true.append([id2label[int(i)] for i in l_row[keep]])
            pred.append([id2label[int(i)] for i in p_row[keep]])
        return entity_scores(true, pred)

    return compute


def evaluate(predictor, sentences: Sequence[TaggedSentence], spec, progress: bool = False) -> dict[str, float]:
    """Score a runtime NER predictor on gold sentences, in file order, with BLURB's metric."""
    predicted = predictor.predict_words([s.tokens for s in sentences], progress=progress)
    gold = [type_tags(s.tags, spec.entity_type) for s in sentences]
    return entity_scores(gold, [p.tags for p in predicted])


NER = TaskDefinition(
    task_type=task_types.NER,
    onnx_task="token-classification",
    metric="f1",
    labels=lambda spec: label_list(spec.entity_types),
    features=lambda records, tok, label2id, spec, recipe: encode_sentences(
        records, tok, label2id, lambda tags: type_tags(tags, spec.entity_type), recipe.max_length
    ),
    trainer_metrics=trainer_metrics,
    evaluate=evaluate,
    token_level=True,
)


def lenient_scores(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, float]:
    """Overlap ("lenient") entity F1 in points, as in the paper's Table 11: a predicted entity is
    correct if it overlaps a gold entity of the same type, and a gold entity is found if a
    predicted one of its type overlaps it."""
    predicted_ok = predicted = found = gold_total = 0
    for gold_seq, pred_seq in zip(true_tags, pred_tags):
        gold = tags_to_spans(gold_seq)
        pred = tags_to_spans(pred_seq)

        def overlaps(a: TagSpan, b: TagSpan) -> bool:
            return a.label == b.label and a.start < b.end and b.start < a.end

        predicted += len(pred)
        gold_total += len(gold)
        predicted_ok += sum(1 for p in pred if any(overlaps(p, g) for g in gold))
        found += sum(1 for g in gold if any(overlaps(g, p) for p in pred))
    precision = predicted_ok / predicted if predicted else 0.0
    recall = found / gold_total if gold_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": 100 * precision, "recall": 100 * recall, "f1": 100 * f1}
