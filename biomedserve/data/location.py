"""Where the BLURB data lives.

The data is never shipped with biomedserve (licences differ per dataset), so it is read in place
from a directory the user names: ``--data-dir``, else ``$BIOMEDSERVE_DATA``, else the first of
``./data/blurb`` and ``../shared/blurb`` that exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from biomedserve.errors import DataNotFoundError

ENV_VAR = "BIOMEDSERVE_DATA"
DEFAULT_CANDIDATES = (Path("data/blurb"), Path("../shared/blurb"))
# Evaluation-only NER sets from other corpora (never trained on): found the same way.
CROSSCORPUS_ENV_VAR = "BIOMEDSERVE_CROSSCORPUS"
CROSSCORPUS_CANDIDATES = (Path("data/crosscorpus"), Path("../shared/crosscorpus"))


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the BLURB data directory, or raise naming every place that was looked at."""
    return _resolve(data_dir, ENV_VAR, DEFAULT_CANDIDATES, "BLURB data")


def resolve_crosscorpus_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the cross-corpus evaluation directory (``--crosscorpus-dir``, ``$BIOMEDSERVE_CROSSCORPUS``,
    ``./data/crosscorpus``, ``../shared/crosscorpus``), or raise naming every place looked at."""
    return _resolve(data_dir, CROSSCORPUS_ENV_VAR, CROSSCORPUS_CANDIDATES, "cross-corpus data")


def _resolve(data_dir, env_var: str, candidates: tuple[Path, ...], what: str) -> Path:
    if data_dir is not None and str(data_dir) != "":
        return _existing_dir(Path(data_dir), "--data-dir")
    env = os.environ.get(env_var)
    if env:
        return _existing_dir(Path(env), f"${env_var}")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c.resolve()) for c in candidates)
    raise DataNotFoundError(f"no {what} directory found; looked for {looked}. Pass --data-dir or set ${env_var}.")


def _existing_dir(path: Path, source: str) -> Path:
    if path.is_file():
        raise DataNotFoundError(f"data directory {path} (from {source}) is a file, not a directory")
    if not path.is_dir():
        raise DataNotFoundError(f"data directory {path} (from {source}) does not exist")
    return path
