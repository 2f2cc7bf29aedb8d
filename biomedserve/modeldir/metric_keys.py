"""Names of the scores a model card records: ``<split>/<backend>`` or ``<split>/<backend>@<n>``.

A score taken on the first ``n`` examples of a split is kept apart from the full split's score
(``dev/onnx@200`` beside ``dev/onnx``), so a quick check never passes for the real figure. Every
place that writes or reads ``ModelMeta.metrics`` builds and parses the key here, not with string
formatting of its own. A leaf module: it imports nothing from biomedserve.
"""

from __future__ import annotations

from typing import NamedTuple


class MetricKey(NamedTuple):
    """One key of ``ModelMeta.metrics``, parsed."""

    split: str
    backend: str = "onnx"
    limit: int | None = None  # scored on the first ``limit`` examples only; None: the whole split

    def __str__(self) -> str:
        return f"{self.split}/{self.backend}" + (f"@{self.limit}" if self.limit else "")


def metric_key(split: str, backend: str = "onnx", limit: int | None = None) -> str:
    """``metric_key("dev", "onnx", 200)`` → ``"dev/onnx@200"``; no (or a zero) limit: the whole split."""
    return str(MetricKey(split, backend, limit or None))


def parse_metric_key(key: str) -> MetricKey:
    """The inverse of :func:`metric_key`; a malformed key is a ``ValueError`` that quotes it."""
    split, slash, rest = key.partition("/")
    backend, at, limit = rest.partition("@")
    if not (split and slash and backend) or (at and not limit.isdigit()):
        raise ValueError(f"{key!r} is not a metric key of the form <split>/<backend>[@<n>]")
    return MetricKey(split, backend, int(limit) if at else None)
