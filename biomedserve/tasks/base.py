"""What a BLURB task type must provide to be trained, exported, evaluated and served.

One :class:`TaskDefinition` per task type; the trainer, exporter and evaluator only talk to this
interface, and it carries the runtime's :class:`~biomedserve.modeldir.task_types.TaskType` (predictor class,
input and output kinds) that the front-ends dispatch on, so adding a task type is adding a module
and one ``register_task`` call, not an ``if`` branch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import transformers

from biomedserve.data.registry import DatasetSpec
from biomedserve.modeldir.task_types import TaskType


@dataclass(frozen=True)
class TaskDefinition:
    """A task type: its model head, features, training metric and evaluation.

    * ``task_type``: what the runtime and front-ends know of it (name, predictor class, kinds,
      the ``AutoModelFor*`` class of its head, built with ``problem_type``: ``regression``,
      ``multi_label_classification`` or None).
    * ``onnx_task``: the optimum export task.
    * ``metric``: the name of the BLURB metric, reported in points (0–100).
    * ``labels(spec)``: the output layout of the head.
    * ``features(records, tokenizer, label2id, spec, recipe)``: training features.
    * ``trainer_metrics(id2label, spec)``: ``compute_metrics`` for dev evaluation in the Trainer.
    * ``evaluate(predictor, records, spec, progress=False)``: BLURB metric of a runtime predictor,
      on records in file order.
    * ``token_level``: token classification (pads labels with -100) rather than sequence level.
    * ``collator(tokenizer)``: the batch collator, when the labels are not one id per token or per
      example (None: transformers' token or padding collator).
    * ``compute_loss(outputs, labels, num_items_in_batch=None)``: the Trainer's ``compute_loss_func``,
      when the head's own loss does not fit the labels (None: the model's loss).

    A feature may carry ``corpus`` (the corpus its record came from), which corpus sampling reads
    (``corpus_sampling_temperature``); the collator leaves it out of the batch.
    """

    task_type: TaskType
    onnx_task: str
    metric: str
    labels: Callable[[DatasetSpec], list[str]]
    features: Callable[..., list[dict[str, Any]]]
    trainer_metrics: Callable[[dict[int, str], DatasetSpec], Callable[[Any], dict[str, float]]]
    evaluate: Callable[..., dict[str, float]]
    problem_type: str | None = None
    token_level: bool = False
    collator: Callable[[Any], Callable[[list[dict[str, Any]]], dict[str, Any]]] | None = None
    compute_loss: Callable[..., Any] | None = None

    @property
    def name(self) -> str:
        return self.task_type.name

    @property
    def description(self) -> str:
        return self.task_type.description

    @property
    def auto_model(self) -> Any:
        """The transformers ``AutoModelFor*`` class of the head."""
        return getattr(transformers, self.task_type.auto_model)
