"""Document classification (HoC): the hallmarks of cancer, multi-label.

The model classifies sentences (the corpus labels sentences); an abstract's predicted labels are
the union of its sentences' (a class is predicted when any sentence gives it probability ≥ 0.5),
its gold labels the union of its sentences' gold labels, and the metric is micro F1 over the ten
hallmarks at abstract level — BLURB's evaluation. During training, dev is scored per sentence
(the Trainer may reorder rows), which only serves to pick the best epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomedserve.data.records import DocumentInstance
from biomedserve.runtime import builtin as task_types
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.classification import (
    HALLMARKS,
    documents_to_sentences,
    multi_hot,
    multilabel_micro_f1,
)
from biomedserve.text.encoding import encode_pair

THRESHOLD = 0.5


def features(records: Sequence[DocumentInstance], tokenizer, label2id, spec, recipe) -> list[dict]:
    classes = list(spec.labels)
    return [
        {**encode_pair(tokenizer, sentence, None, recipe.max_length, True), "labels": multi_hot(labels, classes)}
        for sentence, labels in documents_to_sentences(records)
    ]


def trainer_metrics(id2label: dict[int, str], spec):
    def compute(eval_pred) -> dict[str, float]:
        pred = (eval_pred.predictions > 0).astype(int)  # logit > 0 ⇔ probability > 0.5
        return {"f1": multilabel_micro_f1(eval_pred.label_ids.astype(int), pred)}

    return compute


def evaluate(predictor, records: Sequence[DocumentInstance], spec, progress: bool = False) -> dict[str, float]:
    probs = predictor.predict_documents([doc.sentences for doc in records], progress=progress)
    gold = np.array([multi_hot(doc.labels, spec.labels) for doc in records], dtype=int)
    return {"f1": multilabel_micro_f1(gold, (probs >= THRESHOLD).astype(int))}


DOC_CLASSIFICATION = TaskDefinition(
    task_type=task_types.DOC_CLASSIFICATION,
    onnx_task="text-classification",
    metric="f1",
    labels=lambda spec: list(HALLMARKS),
    features=features,
    trainer_metrics=trainer_metrics,
    evaluate=evaluate,
    problem_type="multi_label_classification",
)

