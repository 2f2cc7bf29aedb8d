"""SHA-256 of files: what model cards, data provenance and annotation jobs record to name exact bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes as stored, read in blocks (constant memory whatever its size)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
