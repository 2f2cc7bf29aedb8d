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
    return resolve_dir(data_dir, ENV_VAR, DEFAULT_CANDIDATES, "BLURB data")


def resolve_dir(data_dir, env_var: str, candidates: tuple[Path, ...], what: str) -> Path:
    """A data folder: ``data_dir`` if given, else ``$env_var``, else the first of ``candidates`` that exists;
    an error naming every place looked at otherwise (``what`` names the data)."""
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
