"""Multi-seed runs and small hyperparameter grids, resumable and honest about variance.

Each run is keyed by a hash of its fully resolved recipe (seed included), so a finished run is never
redone — after a crash, a kill or on another day — and two recipes that resolve to the same
hyperparameters share their runs. A run writes one small JSON file (atomically) with its dev and
test scores; the model itself is deleted unless asked for, since a sweep makes many.

The summary per dataset and variant gives mean, std, min, max and the number of **catastrophic
seeds**: runs scoring below half the median of their group (Tinn et al.'s failure mode: a seed
that never leaves the trivial solution); when the median itself is at or below zero, every run at
or below zero.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedserve.atomic import atomic_write
from biomedserve.data.registry import get_dataset
from biomedserve.modeldir.metric_keys import metric_key
from biomedserve.tasks import get_task
from biomedserve.training.recipes import Recipe


@dataclass(frozen=True)
class RunSpec:
    """One fine-tuning run: a resolved recipe and the name of the variant it belongs to."""

    variant: str
    recipe: Recipe

    @property
    def key(self) -> str:
        # fields added after runs were first recorded are left out at their default, so adding
        # an option never orphans finished runs
        later = {name for name, neutral in _ADDED_LATER.items() if getattr(self.recipe, name) in neutral}
        return hashlib.sha1(self.recipe.model_dump_json(exclude=later).encode()).hexdigest()[:16]


# field -> the values that leave a run's key as it was before the field existed. bf16 "auto" is decided
# on the host that trains (and recorded in the result), so it is no hyperparameter of the key either.
_ADDED_LATER: dict[str, tuple[Any, ...]] = {"bf16": (False, "auto"), "reinit_pooler": (False,),
                                            "head_bias_prior": (False,), "pooling": (None,), "head": ("cross",),
                                            "corpus_sampling_temperature": (None,), "head_from_probe": (False,),
                                            "truncation_side": ("right",), "pseudo_label_teacher": (None,),
                                            "pseudo_label_min_score": (0.9,), "pseudo_label_texts": ([],),
                                            "slimfit": (None,)}


def expand(variant: str, recipe: Recipe, seeds: Sequence[int], grid: dict[str, list[Any]] | None = None) -> list[RunSpec]:
    """recipe × grid points × seeds; a grid point's variant name records its values."""
    grid = grid or {}
    names = sorted(grid)
    runs = []
    for values in itertools.product(*(grid[n] for n in names)) if names else [()]:
        point = dict(zip(names, values))
        name = variant + "".join(f"[{k}={v}]" for k, v in point.items())
        runs += [RunSpec(name, recipe.override(**point, seed=seed)) for seed in seeds]
    return runs


def run_path(results_dir: Path, run: RunSpec) -> Path:
    return results_dir / run.recipe.dataset / f"{run.key}.json"


def run_one(run: RunSpec, results_dir: str | Path, data_dir=None, keep_model: Path | None = None,
            progress: bool = False, score_backend: str = "onnx") -> dict[str, Any]:
    """Train, export and score one run unless its result file exists; return the result.

    ``score_backend`` is the runtime backend that scores dev and test (``TrainOptions.score_backend``);
    the result records it as ``scored_with``.
    """
    from biomedserve.training.finetune import TrainOptions, train

    results_dir = Path(results_dir)
    path = run_path(results_dir, run)
    if path.is_file():
        return json.loads(path.read_text())
    task = get_task(get_dataset(run.recipe.dataset).task)
    work = keep_model or results_dir / ".work" / run.key
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    meta = train(run.recipe, work, TrainOptions(data_dir=data_dir, progress=progress, score_backend=score_backend))
    result = {
        "dataset": run.recipe.dataset,
        "variant": run.variant,
        "seed": run.recipe.seed,
        "key": run.key,
        "metric": task.metric,
        "dev": meta.metrics.get(metric_key("dev", score_backend), {}).get(task.metric),
        "test": meta.metrics.get(metric_key("test", score_backend), {}).get(task.metric),
        "test_details": meta.metrics.get(metric_key("test", score_backend), {}),
        "scored_with": score_backend,
        "best_dev_during_training": meta.provenance.get("best_dev"),
        "refit_epochs_on_train_dev": meta.provenance.get("refit_epochs_on_train_dev"),
        "train_seconds": meta.train_seconds,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "recipe": run.recipe.model_dump(),
        "packages": meta.provenance.get("packages"),
        "machine": meta.provenance.get("machine"),
        "accelerator": meta.provenance.get("accelerator", "cpu"),
    }
    if keep_model is None:
        shutil.rmtree(work, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(result, indent=2) + "\n")
    return result


def seed_stats(scores: Iterable[float]) -> dict[str, Any]:
    """mean, std, min, max, median and catastrophic seeds (below half the median)."""
    values = [float(s) for s in scores]
    if not values:
        return {"n": 0}
    median = statistics.median(values)
    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 2),
        "std": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "median": round(median, 2),
        # below half the median; if the median itself is at or below zero the group collapsed and
        # every run at or below zero counts (half of a negative median is not a useful bar)
        "catastrophic": sum(1 for v in values if (v < 0.5 * median if median > 0 else v <= 0)),
        "scores": [round(v, 2) for v in values],
    }


def summarize(results: Sequence[dict[str, Any]], split: str = "test") -> dict[str, dict[str, dict[str, Any]]]:
    """``{dataset: {variant: seed_stats(scores on split)}}``."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in results:
        if r.get(split) is not None:
            groups.setdefault((r["dataset"], r["variant"]), []).append(r[split])
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for (dataset, variant), scores in sorted(groups.items()):
        summary.setdefault(dataset, {})[variant] = seed_stats(scores)
    return summary


def select_on_dev(results: Sequence[dict[str, Any]]) -> str | None:
    """The variant (grid point) with the best mean dev score."""
    by_variant: dict[str, list[float]] = {}
    for r in results:
        if r.get("dev") is not None:
            by_variant.setdefault(r["variant"], []).append(r["dev"])
    if not by_variant:
        return None
    return max(by_variant, key=lambda v: statistics.fmean(by_variant[v]))
