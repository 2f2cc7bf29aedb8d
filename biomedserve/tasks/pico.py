"""PICO extraction (EBM-PICO): token classification with IO tags over Participants, Interventions
and Outcomes.

BLURB scores it at token (word) level: the macro average of the F1 of each PICO class, ``O`` not
counted. Training, windowing and runtime are NER's; only the labels and the metric differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score

from biomedserve.data.records import TaggedSentence
from biomedserve.runtime import builtin as task_types
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.ner import IGNORE_INDEX, encode_sentences

PICO_LABELS = ["O", "I-PAR", "I-INT", "I-OUT"]


def token_macro_f1(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    """Per-class and macro word-level F1 (points) over the PICO classes."""
    classes = PICO_LABELS[1:]
    per_class = f1_score(gold, pred, labels=classes, average=None, zero_division=0)
    scores = {f"f1_{c[2:]}": 100 * float(v) for c, v in zip(classes, per_class)}
    scores["macro_f1"] = 100 * float(np.mean(per_class))
    return scores


def trainer_metrics(id2label: dict[int, str], spec=None):
    def compute(eval_pred) -> dict[str, float]:
        predictions = np.argmax(eval_pred.predictions, axis=-1)
        keep = eval_pred.label_ids != IGNORE_INDEX
        gold = [id2label[int(i)] for i in eval_pred.label_ids[keep]]
        pred = [id2label[int(i)] for i in predictions[keep]]
        return token_macro_f1(gold, pred)

    return compute


def evaluate(predictor, sentences: Sequence[TaggedSentence], spec, progress: bool = False) -> dict[str, float]:
    predicted = predictor.predict_words([s.tokens for s in sentences], progress=progress)
    gold = [tag for s in sentences for tag in s.tags]
    pred = [tag for p in predicted for tag in p.tags]
    return token_macro_f1(gold, pred)


PICO = TaskDefinition(
    task_type=task_types.PICO,
    onnx_task="token-classification",
    metric="macro_f1",
    labels=lambda spec: list(PICO_LABELS),
    features=lambda records, tok, label2id, spec, recipe: encode_sentences(
        records, tok, label2id, list, recipe.max_length
    ),
    trainer_metrics=trainer_metrics,
    evaluate=evaluate,
    token_level=True,
)

