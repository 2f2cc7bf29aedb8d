"""What a task type is to everything that uses a trained model: one record per type, keyed by name.

A :class:`TaskType` names the runtime predictor class, what it reads (:class:`InputKind`) and
what it returns (:class:`OutputKind`). The CLI, the service, the spaCy component and the annotator
choose what to do from the kinds, never from a task's name, so a new task type is one
registration (``biomedserve.tasks.register_task``) and no edit to any front-end. This module is a
leaf (it imports only ``biomedserve.errors``), so the model directory and the runtime can read it
without loading training code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from biomedserve.errors import BiomedserveError


class InputKind(str, Enum):
    """What one input of a task type is."""

    TEXT = "text"                # raw text of any length
    TEXT_PAIR = "text_pair"      # two texts, e.g. question + context
    ENTITY_PAIR = "entity_pair"  # a sentence whose two entities are (or are to be) masked
    DOCUMENT = "document"        # an abstract, classified as a whole


class OutputKind(str, Enum):
    """What one result of a task type is (the classes in ``biomedserve.runtime.results``)."""

    ENTITIES = "entities"  # Entities: spans of the input text
    LABEL = "label"        # Label: one class and the probabilities of all
    LABELS = "labels"      # Labels: the classes over a threshold and the probabilities of all
    SCORE = "score"        # Score: one number


@dataclass(frozen=True)
class TaskType:
    """A task type as the runtime and the front-ends see it.

    ``predictor`` is the ``biomedserve.runtime.Predictor`` subclass that runs its models;
    ``auto_model`` the name of the transformers ``AutoModelFor*`` class of its head (resolved only
    where PyTorch runs: training and ``--backend torch``); ``title`` how people call it;
    ``description`` how BLURB scores it (the model card says so).
    """

    name: str
    predictor: type
    input_kind: InputKind
    output_kind: OutputKind
    auto_model: str
    title: str
    description: str


TASK_TYPES: dict[str, TaskType] = {}


def register_task_type(task_type: TaskType) -> TaskType:
    """Make ``task_type`` known by its name (registering the same record again is harmless)."""
    known = TASK_TYPES.get(task_type.name)
    if known is not None and known != task_type:
        raise BiomedserveError(f"task type {task_type.name!r} is already registered differently")
    TASK_TYPES[task_type.name] = task_type
    return task_type


def task_types_of(input_kind: InputKind | None = None, output_kind: OutputKind | None = None) -> list[str]:
    """Names of the registered task types with these kinds (``None`` matches any), in registration order."""
    return [t.name for t in TASK_TYPES.values()
            if input_kind in (None, t.input_kind) and output_kind in (None, t.output_kind)]
