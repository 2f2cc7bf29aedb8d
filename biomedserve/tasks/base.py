"""What a BLURB task type must provide to be trained, exported, evaluated and served.

One :class:`TaskDefinition` per task type; the trainer, exporter and evaluator only talk to this
interface, so adding a task type is adding a module, not an ``if`` branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from biomedserve.data.registry import DatasetSpec


@dataclass(frozen=True)
class TaskDefinition:
    """A task type: its model head, features, training metric and evaluation.

    ``auto_model`` is the transformers ``AutoModelFor*`` class of the head; ``onnx_task`` the
    optimum export task; ``metric`` the name of the BLURB metric in points (0–100).
    ``evaluate(predictor, records, spec, progress=False)`` scores a runtime predictor on records in file order.
    """

    name: str
    auto_model: Any
    onnx_task: str
    metric: str
    labels: Callable[[DatasetSpec], list[str]]
    features: Callable[[Sequence[Any], Any, dict[str, int], DatasetSpec, int], list[dict[str, Any]]]
    trainer_metrics: Callable[[dict[int, str]], Callable[[Any], dict[str, float]]]
    evaluate: Callable[..., dict[str, float]]  # (predictor, records, spec, progress=False)
