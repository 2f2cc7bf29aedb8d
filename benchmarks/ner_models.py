"""The BLURB study's per-set NER models, shared by the benchmarks that compare against them.

The BLURB study (``benchmarks/blurb.py``) trains each NER set's standard run (seed 1) and keeps its
model at ``models/<set>-<label>``. The multi-type and pretraining benchmarks need the same models: they
ask for the same run (same recipe, so the same key) and either find it finished, wait while another
process holds its claim, or train it themselves; a run is never trained twice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from blurb import claim

from biomedserve.recipes import find_recipe, load_recipe
from biomedserve.sweep import RunSpec, run_one, run_path

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
