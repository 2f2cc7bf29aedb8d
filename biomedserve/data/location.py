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


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the BLURB data directory, or raise naming every place that was looked at."""
    if data_dir is not None and str(data_dir) != "":
        return _existing_dir(Path(data_dir), "--data-dir")
    env = os.environ.get(ENV_VAR)
    if env:
        return _existing_dir(Path(env), f"${ENV_VAR}")
    for candidate in DEFAULT_CANDIDATES:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c.resolve()) for c in DEFAULT_CANDIDATES)
    raise DataNotFoundError(
        f"no BLURB data directory found; looked for {looked}. "
        f"Pass --data-dir or set ${ENV_VAR}."
    )


def _existing_dir(path: Path, source: str) -> Path:
    if path.is_file():
        raise DataNotFoundError(f"data directory {path} (from {source}) is a file, not a directory")
    if not path.is_dir():
        raise DataNotFoundError(f"data directory {path} (from {source}) does not exist")
    return path
