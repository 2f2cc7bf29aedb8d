"""The BLURB study's per-set NER models, shared by the benchmarks that compare against them.

The BLURB study (``benchmarks/blurb.py``) trains each NER set's standard run (seed 1) and keeps its
model at ``models/<set>-<label>``. The multi-type and pretraining benchmarks need the same models: they
ask for the same run (same recipe, so the same key) and either find it finished, wait while another
process holds its claim, or train it themselves; a run is never trained twice.

Results are committed and models are not (``models/`` is ignored), so on a fresh machine a run can be
finished while its model is missing. :func:`kept_run` then trains the same run again into the kept
path, and says how the new scores compare with the recorded ones (on one host a run is
deterministic: the recorded BC5-chem run retrained gave identical figures).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.blurb import claim
from biomedserve.modeldir.metric_keys import metric_key
from biomedserve.training.recipes import find_recipe, load_recipe
from biomedserve.training.sweep import RunSpec, run_one, run_path

NER_SETS = ("BC5-chem", "BC5-disease", "NCBI-disease", "BC2GM", "JNLPBA")


def ner_run(dataset: str, base_model: str, seed: int = 1, max_steps: int | None = None) -> RunSpec:
    """The BLURB study's standard run of ``dataset`` (same key), on ``base_model``."""
    recipe = load_recipe(find_recipe("standard", dataset)).override(seed=seed, base_model=base_model)
    if max_steps:
        recipe = recipe.override(max_steps=max_steps)  # smoke runs only: another key, never shared
    return RunSpec("standard", recipe)


def kept_model(models_dir: Path, dataset: str, label: str) -> Path:
    """Where the study keeps a set's model (``benchmarks/blurb.py``'s ``keep_path``)."""
    return Path(models_dir) / f"{dataset.lower()}-{label}"


def shared_run(run: RunSpec, runs_dir: Path, keep: Path, data_dir, poll: float = 30.0) -> dict:
    """Run it unless finished; when another process (the BLURB study) holds its claim, wait for it."""
    path = run_path(runs_dir, run)
    while not path.is_file():
        if claim(path):
            try:
                return run_one(run, runs_dir, data_dir=data_dir, keep_model=keep, progress=True)
            finally:
                path.with_suffix(".claim").unlink(missing_ok=True)
        print(f"    {run.recipe.dataset}: another process is training this run; waiting", flush=True)
        time.sleep(poll)
    return json.loads(path.read_text())


def has_model(path: Path) -> bool:
    return (Path(path) / "biomedserve.json").is_file()


def kept_run(run: RunSpec, runs_dir: Path, keep: Path, data_dir, poll: float = 30.0) -> dict:
    """:func:`shared_run`, and the model at ``keep`` too: a finished run whose model is missing here is
    trained again into ``keep`` (one process at a time) and its new dev and test scores are returned
    beside the recorded ones as ``retrained`` (the recorded result file is left as it is)."""
    from biomedserve.training.finetune import TrainOptions, train

    result = shared_run(run, runs_dir, keep, data_dir, poll)
    while not has_model(keep):
        if not claim(keep):
            print(f"    {run.recipe.dataset}: another process is retraining {keep}; waiting", flush=True)
            time.sleep(poll)
            continue
        try:
            print(f"    {run.recipe.dataset}: run {run.key} is finished but {keep} is missing: training it again",
                  flush=True)
            meta = train(run.recipe, keep, TrainOptions(data_dir=data_dir))
        finally:
            keep.with_suffix(".claim").unlink(missing_ok=True)
        fresh = {split: meta.metrics.get(metric_key(split), {}).get(result["metric"]) for split in ("dev", "test")}
        result = {**result, "retrained": {**fresh, "train_seconds": meta.train_seconds}}
        print(f"    retrained: dev {fresh['dev']} test {fresh['test']} (recorded: dev {result['dev']} "
              f"test {result['test']})", flush=True)
    return result
