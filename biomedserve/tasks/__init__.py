"""Task definitions, one per BLURB task type, looked up by the name a dataset or model card gives."""

from __future__ import annotations

from biomedserve.errors import BiomedserveError
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.hoc import DOC_CLASSIFICATION
from biomedserve.tasks.ner import NER
from biomedserve.tasks.pico import PICO
from biomedserve.tasks.qa import QA
from biomedserve.tasks.relation import RELATION
from biomedserve.tasks.similarity import SIMILARITY

TASKS: dict[str, TaskDefinition] = {t.name: t for t in (NER, PICO, RELATION, SIMILARITY, DOC_CLASSIFICATION, QA)}


def get_task(name: str) -> TaskDefinition:
    """The definition of task type ``name``; unsupported types say which ones exist."""
    try:
        return TASKS[name]
    except KeyError:
        raise BiomedserveError(f"unknown task type {name!r}; supported: {', '.join(TASKS)}") from None
