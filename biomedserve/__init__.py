"""biomedserve: fine-tune, export, serve and batch-run biomedical encoders on the BLURB tasks.

The one entry point for inference is :class:`Predictor`::

    from biomedserve import Predictor
    ner = Predictor.from_dir("models/bc5chem-minilm")
    ner.predict("Selegiline-induced postural hypotension")

``Predictor`` is imported lazily so that ``import biomedserve.data`` does not load transformers.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Entity", "Predictor", "__version__"]


def __getattr__(name: str):
    if name in ("Predictor", "Entity"):
        from biomedserve import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'biomedserve' has no attribute {name!r}")
