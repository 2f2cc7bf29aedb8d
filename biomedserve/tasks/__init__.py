"""Task definitions, one per BLURB task type, looked up by the name a dataset or model card gives.

``register_task`` makes a task type known to training, evaluation, the runtime and every front-end
at once: the definition here, its :class:`~biomedserve.modeldir.task_types.TaskType` in the runtime's table.
"""

from __future__ import annotations

from biomedserve.errors import BiomedserveError
from biomedserve.modeldir.task_types import register_task_type
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.hoc import DOC_CLASSIFICATION
from biomedserve.tasks.multi_ner import MULTI_NER
from biomedserve.tasks.ner import NER
from biomedserve.tasks.pico import PICO
from biomedserve.tasks.qa import QA
from biomedserve.tasks.relation import RELATION
from biomedserve.tasks.similarity import SIMILARITY

TASKS: dict[str, TaskDefinition] = {}


def register_task(definition: TaskDefinition) -> TaskDefinition:
    """Make ``definition`` trainable and its task type loadable, servable and annotatable."""
    register_task_type(definition.task_type)
    TASKS[definition.name] = definition
    return definition


for _definition in (NER, PICO, RELATION, SIMILARITY, DOC_CLASSIFICATION, QA, MULTI_NER):
    register_task(_definition)


def get_task(name: str) -> TaskDefinition:
    """The definition of task type ``name``; unsupported types say which ones exist."""
    try:
        return TASKS[name]
    except KeyError:
        raise BiomedserveError(f"unknown task type {name!r}; supported: {', '.join(TASKS)}") from None
