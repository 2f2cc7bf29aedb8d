"""Score a model directory on a BLURB split through the runtime, exactly as users will run it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from biomedserve.data.registry import get_dataset
from biomedserve.modeldir.card import read_meta, write_meta
from biomedserve.modeldir.metric_keys import metric_key
from biomedserve.runtime import Predictor
from biomedserve.tasks import get_task


@dataclass(frozen=True)
class EvalResult:
    model: str
    dataset: str
    split: str
    backend: str
    metric: str
    score: float
    details: dict[str, float]
    n: int

    def summary(self) -> dict:
        """The one-line JSON shape the CLI prints with ``--json``."""
        return {"model": self.model, "dataset": self.dataset, "split": self.split,
                "backend": self.backend, "metric": self.metric, "score": round(self.score, 4)}


def evaluate_model(model_dir: str | Path, split: str = "test", backend: str = "onnx",
                   data_dir: str | Path | None = None, limit: int | None = None,
                   record: bool = False, predictor: Predictor | None = None,
                   progress: bool = False) -> EvalResult:
    """Evaluate in file order; with ``record`` the score is written into the model card
    (only for full splits: a ``limit``-ed score is kept apart as ``<split>@<n>``)."""
    model_dir = Path(model_dir)
    predictor = predictor or Predictor.from_dir(model_dir, backend=backend)
    meta = predictor.meta
    spec = get_dataset(meta.dataset)
    task = get_task(meta.task)
    records = spec.load(split, data_dir)
    if limit:
        records = records[:limit]
    scores = {k: float(v) for k, v in task.evaluate(predictor, records, spec, progress=f"scoring {split}" if progress else False).items()}
    result = EvalResult(meta.name, spec.name, split, backend, task.metric, scores[task.metric], scores, len(records))
    if record:
        fresh = read_meta(model_dir)
        fresh.metrics[metric_key(split, backend, limit)] = {k: round(v, 4) for k, v in scores.items()}
        write_meta(model_dir, fresh)
    return result
