"""What a BLURB task type must provide to be trained, exported, evaluated and served.

One :class:`TaskDefinition` per task type; the trainer, exporter and evaluator only talk to this
interface, so adding a task type is adding a module, not an ``if`` branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from biomedserve.data.registry import DatasetSpec


@dataclass(frozen=True)
class TaskDefinition:
    """A task type: its model head, features, training metric and evaluation.

    * ``auto_model``: the transformers ``AutoModelFor*`` class of the head, built with
      ``problem_type`` (``regression``, ``multi_label_classification`` or None).
    * ``onnx_task``: the optimum export task.
    * ``metric``: the name of the BLURB metric, reported in points (0–100).
    * ``labels(spec)``: the output layout of the head.
    * ``features(records, tokenizer, label2id, spec, recipe)``: training features.
    * ``trainer_metrics(id2label, spec)``: ``compute_metrics`` for dev evaluation in the Trainer.
    * ``evaluate(predictor, records, spec, progress=False)``: BLURB metric of a runtime predictor,
      on records in file order.
    * ``token_level``: token classification (pads labels with -100) rather than sequence level.
    """

    name: str
    auto_model: Any
    onnx_task: str
    metric: str
    labels: Callable[[DatasetSpec], list[str]]
    features: Callable[..., list[dict[str, Any]]]
    trainer_metrics: Callable[[dict[int, str], DatasetSpec], Callable[[Any], dict[str, float]]]
    evaluate: Callable[..., dict[str, float]]
    problem_type: str | None = None
    token_level: bool = False
    description: str = ""
