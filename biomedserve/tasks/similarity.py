"""Sentence similarity (BIOSSES): a regression head on the sentence pair; metric Pearson r.

The gold score is the mean of five annotators in [0, 4]. The runtime clips its output to that range
for users; evaluation uses the raw output (clipping would only change Pearson for outliers).
"""

from __future__ import annotations

from collections.abc import Sequence

from biomedserve.data.records import PairInstance
from biomedserve.runtime import builtin as task_types
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.classification import pearson
from biomedserve.text.encoding import encode_pair


def features(records: Sequence[PairInstance], tokenizer, label2id, spec, recipe) -> list[dict]:
    """The pair as one input (cross-encoder), or each sentence alone (``head: biencoder``)."""
    if recipe.head == "biencoder":
        def alone(text: str) -> dict:  # encoded as the runtime encodes one sentence (SimilarityPredictor)
            encoded = encode_pair(tokenizer, text, None, recipe.max_length, True)
            return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

        return [{**alone(r.text_a), **{f"{k}_b": v for k, v in alone(r.text_b).items()}, "labels": float(r.label)}
                for r in records]
    return [
        {**encode_pair(tokenizer, r.text_a, r.text_b, recipe.max_length, recipe.single_segment),
         "labels": float(r.label)}
        for r in records
    ]


def trainer_metrics(id2label: dict[int, str], spec):
    def compute(eval_pred) -> dict[str, float]:
        return {"pearson": pearson(eval_pred.label_ids.reshape(-1), eval_pred.predictions.reshape(-1))}

    return compute


def evaluate(predictor, records: Sequence[PairInstance], spec, progress: bool = False) -> dict[str, float]:
    raw = predictor.predict_raw([(r.text_a, r.text_b) for r in records], progress=progress)
    return {"pearson": pearson([float(r.label) for r in records], raw.reshape(-1))}


SIMILARITY = TaskDefinition(
    task_type=task_types.SIMILARITY,
    onnx_task="text-classification",
    metric="pearson",
    labels=lambda spec: ["score"],
    features=features,
    trainer_metrics=trainer_metrics,
    evaluate=evaluate,
    problem_type="regression",
)

