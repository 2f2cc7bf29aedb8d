"""Inference runtime: load a model directory once, predict many times."""

from biomedserve.runtime.predictor import Entity, InputError, NerPredictor, Predictor, TaggedWords

__all__ = ["Entity", "InputError", "NerPredictor", "Predictor", "TaggedWords"]
