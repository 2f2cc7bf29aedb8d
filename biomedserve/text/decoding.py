"""Per-word tags → entity spans, the one decoding that the runtime and the NER metric share.

Strict IOB2 as in seqeval's strict mode (BLURB's NER metric), so the entities the runtime returns
are exactly the ones the metric counts; IO runs for EBM-PICO, whose tags carry no ``B-``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TagSpan:
    """Words ``[start, end)`` tagged as one entity of ``label``."""

    start: int
    end: int
    label: str


def tags_to_spans(tags: Sequence[str]) -> list[TagSpan]:
    """Strict IOB2 decoding: an entity starts at ``B-X`` and continues over ``I-X``.

    A stray ``I-X`` (after ``O`` or another type) opens nothing — as in seqeval's strict mode.
    """
    spans: list[TagSpan] = []
    start: int | None = None
    label: str | None = None
    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, _, kind = tag.partition("-")
        if start is not None and not (prefix == "I" and kind == label):
            spans.append(TagSpan(start, index, label))
            start, label = None, None
        if prefix == "B":
            start, label = index, kind
    return spans


def io_tags_to_spans(tags: Sequence[str]) -> list[TagSpan]:
    """IO decoding (EBM-PICO): a maximal run of the same ``I-X`` is one span of ``X``."""
    spans: list[TagSpan] = []
    start: int | None = None
    label: str | None = None
    for index, tag in enumerate(list(tags) + ["O"]):
        kind = tag.partition("-")[2] if tag != "O" else None
        if start is not None and kind != label:
            spans.append(TagSpan(start, index, label))
            start = None
        if kind is not None and start is None:
            start, label = index, kind
    return spans
