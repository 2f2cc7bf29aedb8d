"""Files that ship with the package: the training recipes, the spaCy baseline config, the BentoML service.

The repository keeps one copy of each where people read and edit them: ``train/`` and ``service/``.
pyproject.toml maps those folders onto the subpackages ``biomedserve._recipes`` and ``biomedserve._service``,
so a wheel carries them inside ``biomedserve/`` and an editable install resolves the same names to the
checkout; either way they are found through ``importlib.resources``, from any working directory.
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

RECIPES = "biomedserve._recipes"
SERVICE = "biomedserve._service"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
"""The folder that holds the ``biomedserve`` package: a checkout, or site-packages."""
_CHECKOUT_FOLDERS = {RECIPES: "train", SERVICE: "service"}


def is_installed(package: str) -> bool:
    """Whether ``package`` (``RECIPES`` or ``SERVICE``) imports as a subpackage of biomedserve."""
    return importlib.util.find_spec(package) is not None


def package_folder(package: str) -> Path:
    """The folder of ``package``'s files (``RECIPES`` or ``SERVICE``).

    Installed (a wheel, or an editable install), it is the subpackage's folder. A checkout imported
    without that mapping (on PYTHONPATH, or an editable install made before the mapping existed)
    falls back to its own ``train/`` or ``service/``. Pip installs packages unzipped, so the folder
    is a real path that spaCy, BentoML and ``extends:`` can read.
    """
    if is_installed(package):
        return Path(str(resources.files(package)))
    return SOURCE_ROOT / _CHECKOUT_FOLDERS[package]
