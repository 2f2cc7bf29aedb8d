"""Typed results of ``Predictor.predict``: one class per output kind, each with ``to_dict()``.

``to_dict()`` is the JSON the CLI prints and the service returns for one input, so no front-end
shapes results by task. A string (or one pair) in gives one result, a list in gives a list.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Entity:
    """An entity found in raw text: ``text[start:end]`` with its label and mean word confidence.

    ``guideline`` names the annotation guideline its head follows where the model knows several for
    its label (``GENE`` to BC2GM's or the BioNLP shared tasks'); ``abbreviation_of`` is the long form
    when the entity is an abbreviation defined in the same text (``"tumour necrosis factor"`` for
    ``TNF``). Both are left out of :meth:`to_dict` when unset, so other models' output is unchanged.
    """

    start: int
    end: int
    text: str
    label: str
    score: float
    guideline: str | None = None
    abbreviation_of: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None or k not in _OPTIONAL}


_OPTIONAL = ("guideline", "abbreviation_of")


class Entities(list):
    """The entities of one text, in text order: a list of :class:`Entity` (compares as a list)."""

    def to_dict(self) -> dict:
        return {"entities": [e.to_dict() for e in self]}

    def of_types(self, types: Collection[str]) -> "Entities":
        """Only the entities whose label is one of ``types``, in the same order."""
        return Entities(e for e in self if e.label in types)

    def non_overlapping(self) -> "Entities":
        """A subset in which no two entities share a character, in text order, for views that cannot
        draw overlaps (displaCy's entity style): the highest score first, ties to the longer, then the
        earlier entity. A multi-type model's overlapping entities (a gene inside a disease name) all
        stay in the list itself."""
        kept: list[Entity] = []
        for entity in sorted(self, key=lambda e: (-e.score, -(e.end - e.start), e.start)):
            if all(entity.end <= k.start or k.end <= entity.start for k in kept):
                kept.append(entity)
        return Entities(sorted(kept, key=lambda e: (e.start, e.end)))


@dataclass(frozen=True)
class Label:
    """One class of a single-label head, and the probability of every class."""

    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return {"label": self.label, "probabilities": dict(self.probabilities)}


@dataclass(frozen=True)
class Labels:
    """The classes of a multi-label head at or over its threshold, and the probability of every class."""

    labels: list[str]
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "probabilities": dict(self.probabilities)}


@dataclass(frozen=True)
class Score:
    """One number from a regression head (BIOSSES similarity, 0–4)."""

    score: float

    def to_dict(self) -> dict:
        return {"score": self.score}


@dataclass(frozen=True)
class TaggedWords:
    """Per-word tags and their probabilities for one pre-tokenised sequence."""

    tags: list[str]
    scores: list[float]
