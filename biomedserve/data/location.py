"""Where the BLURB data and the extra NER training corpora live.

The data is never shipped with biomedserve (licences differ per dataset), so it is read in place
from a directory the user names: ``--data-dir``, else ``$BIOMEDSERVE_DATA``, else the first of
``./data/blurb`` and ``../shared/blurb`` that exists. The extra training corpora (BioNLP shared-task
proteins, LINNAEUS species) sit beside it: ``$BIOMEDSERVE_CORPORA``, else ``corpora/`` next to the
BLURB folder, else ``./data/corpora`` or ``../shared/corpora``.
"""

from __future__ import annotations

import os
from pathlib import Path

from biomedserve.errors import DataNotFoundError

ENV_VAR = "BIOMEDSERVE_DATA"
DEFAULT_CANDIDATES = (Path("data/blurb"), Path("../shared/blurb"))
CORPORA_ENV_VAR = "BIOMEDSERVE_CORPORA"
CORPORA_CANDIDATES = (Path("data/corpora"), Path("../shared/corpora"))


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the BLURB data directory, or raise naming every place that was looked at."""
    return resolve_dir(data_dir, ENV_VAR, DEFAULT_CANDIDATES, "BLURB data")


def resolve_corpora_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The extra training corpora's folder: ``$BIOMEDSERVE_CORPORA``, else ``corpora/`` beside the BLURB
    folder ``data_dir`` names (``--data-dir`` keeps meaning the BLURB folder), else the candidates."""
    if not os.environ.get(CORPORA_ENV_VAR) and data_dir is not None and str(data_dir) != "":
        sibling = Path(data_dir).parent / "corpora"
        if sibling.is_dir():
            return sibling
    return resolve_dir(None, CORPORA_ENV_VAR, CORPORA_CANDIDATES, "extra NER corpora")


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
