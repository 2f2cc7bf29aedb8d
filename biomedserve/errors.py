"""Exceptions with messages a user can act on.

Every error biomedserve raises on bad input derives from :class:`BiomedserveError`, so the CLI,
the service and the annotator can turn them into clear messages (or HTTP 4xx) instead of
tracebacks, and tell them apart from genuine bugs.
"""

from __future__ import annotations

from pathlib import Path


class BiomedserveError(Exception):
    """Base class: a problem with the user's input, data or model, not a bug."""


class DataNotFoundError(BiomedserveError):
    """A data directory or dataset could not be found; the message lists where we looked."""


class DataFormatError(BiomedserveError):
    """A malformed line in a dataset file; carries the file and 1-based line number."""

    def __init__(self, path: str | Path, line: int | None, problem: str):
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")


class ModelDirError(BiomedserveError):
    """A model directory is missing, incomplete or corrupt."""


class RecipeError(BiomedserveError):
    """A training recipe could not be found or failed validation."""


class CollapsedModelError(ModelDirError):
    """A model whose card says it sits on its task's trivial floor (``collapsed: true``): the front-ends
    refuse it unless told ``--allow-collapsed``."""
