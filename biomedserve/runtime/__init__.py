"""Inference runtime: load a model directory once, predict many times.

Importing it registers the built-in task types (``biomedserve.runtime.builtin``).
"""

from biomedserve.runtime import builtin  # noqa: F401  (registers the built-in task types)
from biomedserve.runtime.multi_ner import MultiTypeNerPredictor
from biomedserve.runtime.predictor import (
                                          InputError,
                                          NerPredictor,
                                          Predictor,
                                          entity_types,
                                          refuse_collapsed,
                                          select_types,
)
from biomedserve.runtime.results import Entities, Entity, Label, Labels, Score, TaggedWords

__all__ = ["Entities", "Entity", "InputError", "Label", "Labels", "MultiTypeNerPredictor", "NerPredictor", "Predictor",
           "Score", "TaggedWords", "entity_types", "refuse_collapsed", "select_types"]
