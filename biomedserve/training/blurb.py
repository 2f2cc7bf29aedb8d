"""The BLURB score: the mean over task types of the mean score within each type (Gu et al. 2021).

PICO is a task type of its own in BLURB; where its train split is missing (as here) it cannot be
fine-tuned and is left out — callers say so next to the score.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

from biomedserve.data.registry import DATASETS


def blurb_score(scores: Mapping[str, float]) -> dict:
    """``{"score", "per_type", "datasets", "missing_types"}`` from ``{dataset: score in points}``."""
    per_type: dict[str, list[float]] = {}
    for dataset, score in scores.items():
        if score is not None:
            per_type.setdefault(DATASETS[dataset].task, []).append(score)
    type_means = {task: statistics.fmean(values) for task, values in per_type.items()}
    all_types = {spec.task for spec in DATASETS.values()}
    return {
        "score": round(statistics.fmean(type_means.values()), 2) if type_means else None,
        "per_type": {t: round(v, 2) for t, v in type_means.items()},
        "datasets": sorted(d for d, s in scores.items() if s is not None),
        "missing_types": sorted(all_types - set(type_means)),
    }
