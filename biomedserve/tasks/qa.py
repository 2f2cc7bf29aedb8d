"""Yes/no(/maybe) question answering (PubMedQA, BioASQ): classify a question + context pair.

Metric: accuracy. The context is the second segment; a pair longer than the model is cut from its
longer text (in practice the context); ``single_segment`` in the recipe gives both texts segment id 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biomedserve.data.records import PairInstance
from biomedserve.runtime import builtin as task_types
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.classification import accuracy, predicted_labels
from biomedserve.tasks.relation import features


def trainer_metrics(id2label: dict[int, str], spec):
    def compute(eval_pred) -> dict[str, float]:
        pred = np.argmax(eval_pred.predictions, axis=-1)
        return {"accuracy": accuracy(eval_pred.label_ids.tolist(), pred.tolist())}

    return compute


def evaluate(predictor, records: Sequence[PairInstance], spec, progress: bool = False) -> dict[str, float]:
    pred = predicted_labels(predictor, records, progress)
    return {"accuracy": accuracy([r.label for r in records], pred)}


QA = TaskDefinition(
    task_type=task_types.QA,
    onnx_task="text-classification",
    metric="accuracy",
    labels=lambda spec: list(spec.labels),
    features=features,
    trainer_metrics=trainer_metrics,
    evaluate=evaluate,
)

