"""Relation extraction (ChemProt, DDI, GAD): classify a sentence whose two entities are masked.

Metric: micro F1 over the positive relation classes (the dataset's ``negative`` class is
predicted but not scored): ChemProt CPR:3/4/5/6/9, DDI's four types, GAD's class ``1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomedserve.data.records import PairInstance
from biomedserve.runtime import builtin as task_types
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.classification import positive_micro_f1, predicted_labels
from biomedserve.text.encoding import encode_pair


def features(records: Sequence[PairInstance], tokenizer, label2id, spec, recipe) -> list[dict]:
    return [
        {**encode_pair(tokenizer, r.text_a, r.text_b, recipe.max_length, recipe.single_segment),
         "labels": label2id[r.label]}
        for r in records
    ]


def trainer_metrics(id2label: dict[int, str], spec):
    labels = [id2label[i] for i in sorted(id2label)]

    def compute(eval_pred) -> dict[str, float]:
        pred = [id2label[int(i)] for i in np.argmax(eval_pred.predictions, axis=-1)]
        gold = [id2label[int(i)] for i in eval_pred.label_ids]
        return {"f1": positive_micro_f1(gold, pred, labels, spec.negative)}

    return compute


def evaluate(predictor, records: Sequence[PairInstance], spec, progress: bool = False) -> dict[str, float]:
    pred = predicted_labels(predictor, records, progress)
    return {"f1": positive_micro_f1([r.label for r in records], pred, predictor.meta.labels, spec.negative)}


RELATION = TaskDefinition(
    task_type=task_types.RELATION,
    onnx_task="text-classification",
    metric="f1",
    labels=lambda spec: list(spec.labels),
    features=features,
    trainer_metrics=trainer_metrics,
    evaluate=evaluate,
)
