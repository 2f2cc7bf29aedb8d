"""Task definitions, one per BLURB task type, looked up by the name a dataset or model card gives."""

from __future__ import annotations

from biomedserve.errors import BiomedserveError
from biomedserve.tasks.base import TaskDefinition
from biomedserve.tasks.ner import NER

TASKS: dict[str, TaskDefinition] = {NER.name: NER}


def get_task(name: str) -> TaskDefinition:
    """The definition of task type ``name``; unsupported types say which ones exist."""
    try:
        return TASKS[name]
    except KeyError:
        raise BiomedserveError(
            f"task type {name!r} is not supported yet; supported: {', '.join(TASKS)}"
        ) from None
