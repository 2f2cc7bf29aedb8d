"""``biomedserve train``, ``sweep``, ``baseline`` and ``quickstart``: the commands that fit a model.

They share the recipe and dataset options, and each ends with a model directory (or a spaCy
pipeline) on disk; scoring and exporting an existing model live in :mod:`biomedserve.cli.model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from biomedserve.cli.common import DATA_DIR_HELP, err, fail, known_dataset, parse_bf16, quiet_libraries, say
from biomedserve.cli.model import predict
from biomedserve.errors import BiomedserveError

DEFAULT_MODEL = Path("models/bc5chem-minilm")
SAMPLE_TEXT = (
    "Selegiline-induced postural hypotension in Parkinson's disease: a longitudinal study on the "
    "effects of drug withdrawal. Naloxone reversed the hypotensive effect of clonidine, whereas "
    "5-fluorouracil and cisplatin (CDDP) did not."
)


def train(
    dataset: str = typer.Option(..., "--dataset", "-d", help="BLURB dataset folder name, e.g. BC5-chem, an extra "
                                "NER corpus (linnaeus, BioNLP09, ...), or a set built from them: BC5CDR (chemicals + "
                                "diseases), NER-multitype (one model, every BLURB NER type), NER-multicorpus (ten "
                                "corpora, a head per gene guideline, SPECIES)."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write, e.g. models/bc5chem-minilm."),
    recipe: str = typer.Option("standard", "--recipe", "-r",
                               help="Recipe name (train/<dataset>/<name>.yaml) or a YAML file."),
    base_model: Optional[str] = typer.Option(None, "--base-model",
                                             help="'default' (embedded MiniLM), a hub id or a local path."),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Override the recipe's epochs."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after N optimiser steps."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Override the learning rate."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Override the batch size."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (data order and head init)."),
    bf16: Optional[str] = typer.Option(None, "--bf16", help="auto (bfloat16 autocast only where the hardware has "
                                       "it natively), true or false. Default: the recipe's (auto)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    limit_train: Optional[int] = typer.Option(None, help="Use only the first N training sentences (smoke runs)."),
    limit_eval: Optional[int] = typer.Option(None, help="Use only the first N dev/test sentences."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing model directory."),
    slimfit: bool = typer.Option(False, "--slimfit", help="Memory-efficient fine-tuning (SlimFit): see below. "
                                 "Uses the recipe's slimfit: block, else its defaults."),
    slimfit_freeze_ratio: Optional[float] = typer.Option(None, "--slimfit-freeze-ratio",
                                                         help="SlimFit: share of layers frozen at a time (0-0.95)."),
    measure_memory: bool = typer.Option(False, "--measure-memory", help="Count training memory exactly "
                                        "(parameters, gradients, optimizer state, peak saved activations) into the card."),
    checkpoint_dir: Optional[Path] = typer.Option(None, "--checkpoint-dir", help="Save resumable checkpoints here "
                                                  "(see below); the same command run again resumes from the last one."),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every", min=1,
                                         help="Optimizer steps between checkpoints (with --checkpoint-dir)."),
) -> None:
    """Fine-tune on a BLURB dataset, export ONNX, score dev and test, write the model card.

    \b
    SlimFit (--slimfit, or a slimfit: block in the recipe; Ardakani et al. 2023): every `interval` steps
    (more often in a run too short to be scheduled 8 times at that interval), each encoder layer is
    scored by how much its weights moved since the last check, and the least-moving share
    (`freeze_ratio`, default 0.75) is frozen until the next check: no gradient, no optimizer state, no
    saved input activation; the activations autograd still keeps are stored in int8. The layers train
    at the recipe's rate times lr_scale (default 1/(1 - freeze_ratio)), as each trains part of the
    time. Training needs less memory and, on CPU, steps are faster; the freezing pattern goes into the
    model card, and the model is an ordinary model directory. It replaces freeze_layers (static
    freezing of the lowest layers).

    \b
    Checkpoints (--checkpoint-dir): for runs longer than a sitting. Every --checkpoint-every steps the
    weights, optimizer, schedule, RNG states, the best dev epoch so far and the seconds spent are saved;
    after a kill, the same command resumes there and ends with the model the uninterrupted run gives.
    Another recipe or other data in the same directory is an error naming what differs. The
    checkpoints are deleted once the model directory is written. Not with --slimfit yet.

    Example: biomedserve train --dataset BC5-chem --out models/bc5chem-minilm
    """
    from biomedserve.training.checkpoints import Checkpointing
    from biomedserve.training.finetune import TrainOptions
    from biomedserve.training.finetune import train as run_training
    from biomedserve.training.recipes import find_recipe, load_recipe

    quiet_libraries()
    try:
        dataset = known_dataset(dataset)
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise BiomedserveError(f"{out} already exists; pass --overwrite to replace it")
        chosen = load_recipe(find_recipe(recipe, dataset)).override(
            base_model=base_model, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
            batch_size=batch_size, seed=seed, bf16=parse_bf16(bf16))
        if slimfit or slimfit_freeze_ratio is not None:
            block = chosen.slimfit.model_dump() if chosen.slimfit else {}
            if slimfit_freeze_ratio is not None:
                block["freeze_ratio"] = slimfit_freeze_ratio
            chosen = chosen.override(slimfit=block)
        if chosen.dataset != dataset:
            raise BiomedserveError(f"recipe is for {chosen.dataset}, not {dataset}")
        checkpoint = Checkpointing(checkpoint_dir, checkpoint_every) if checkpoint_dir else None
        meta = run_training(chosen, out, TrainOptions(data_dir=data_dir, limit_train=limit_train,
                                                      limit_eval=limit_eval, measure_memory=measure_memory,
                                                      checkpoint=checkpoint))
    except BiomedserveError as exc:
        fail(exc)
    err.print(f"[green]wrote {escape(str(out))}[/] in {meta.train_seconds:.0f} s of training")
    bf16 = meta.provenance.get("bf16") or {}
    say(f"  precision: {'bf16 autocast' if bf16.get('used') else 'fp32'} ({bf16.get('reason', 'not recorded')})")
    for key, scores in sorted(meta.metrics.items()):
        err.print(f"  {key}: " + ", ".join(f"{name} {value:.2f}" for name, value in scores.items()))
    memory = meta.provenance.get("training_memory")
    if memory:
        say(f"  training memory: {memory['peak_bytes'] / 2**20:.1f} MiB peak (static "
            f"{memory['peak_static_bytes'] / 2**20:.1f} + saved activations {memory['peak_saved_activation_bytes'] / 2**20:.1f}"
            f"{', int8' if memory['activations_int8'] else ''})")


def _parse_seeds(text: str) -> list[int]:
    """``1,2,5`` or ``1-5``."""
    seeds: list[int] = []
    for part in text.split(","):
        if "-" in part.strip()[1:]:
            low, high = part.split("-", 1)
            seeds += list(range(int(low), int(high) + 1))
        elif part.strip():
            seeds.append(int(part))
    return seeds


def _parse_grid(items: list[str]) -> dict[str, list]:
    """``learning_rate=1e-4,5e-5`` → {"learning_rate": [1e-4, 5e-5]} (values parsed as YAML scalars)."""
    import yaml

    grid = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise BiomedserveError(f"--grid {item!r}: expected field=value1,value2")
        grid[name.strip()] = [yaml.safe_load(v) for v in values.split(",")]
    return grid


def sweep(
    dataset: str = typer.Option(..., "--dataset", "-d", help="BLURB dataset folder name, or BC5CDR, NER-multitype, NER-multicorpus."),
    recipe: str = typer.Option("standard", "--recipe", "-r", help="Recipe name or YAML file."),
    seeds: str = typer.Option("1-5", "--seeds", help="Seeds: '1-5' or '1,2,7'."),
    grid: Optional[list[str]] = typer.Option(None, "--grid", help="field=v1,v2 (repeatable); picked on dev."),
    results: Path = typer.Option(Path("runs/sweep"), "--results", help="Folder of per-run result files."),
    base_model: Optional[str] = typer.Option(None, "--base-model", help="Override the recipe's encoder."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Run a recipe over seeds (and an optional grid), resumably; report mean, std, min, max and
    catastrophic seeds (below half the median). Finished runs are read back, never redone.

    Example: biomedserve sweep -d BIOSSES -r stabilised --seeds 1-5 --grid learning_rate=5e-5,1e-4
    """
    from biomedserve.training.recipes import find_recipe, load_recipe
    from biomedserve.training.sweep import expand, run_one, select_on_dev, summarize

    quiet_libraries()
    try:
        dataset = known_dataset(dataset)
        chosen = load_recipe(find_recipe(recipe, dataset)).override(base_model=base_model)
        runs = expand(recipe, chosen, _parse_seeds(seeds), _parse_grid(grid or []))
        outcomes = []
        for index, run in enumerate(runs, 1):
            err.print(f"[bold]run {index}/{len(runs)}[/]: {escape(run.variant)} seed {run.recipe.seed}")
            outcomes.append(run_one(run, results, data_dir=data_dir, progress=True))
    except BiomedserveError as exc:
        fail(exc)
    table = Table(title=f"{dataset}: test {outcomes[0]['metric']} over seeds")
    for column in ("variant", "n", "mean", "std", "min", "max", "catastrophic", "dev mean"):
        table.add_column(column)
    summary, dev = summarize(outcomes), summarize(outcomes, split="dev")
    for variant, stats in summary.get(dataset, {}).items():
        table.add_row(variant, *(str(stats[k]) for k in ("n", "mean", "std", "min", "max", "catastrophic")),
                      str(dev[dataset][variant]["mean"]))
    Console().print(table)
    if grid:
        say(f"selected on dev: {select_on_dev(outcomes)}")


def baseline(
    dataset: str = typer.Option(..., "--dataset", "-d", help="NER dataset, e.g. BC5-chem or BC5CDR."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (the pipeline is <out>/model-best)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override train/spacy/ner.cfg's step budget."),
    limit: Optional[int] = typer.Option(None, help="Only the first N sentences of train and dev (smoke runs)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Train the scispaCy-recipe baseline (spaCy CNN + transition-based NER) on a BLURB NER set."""
    from biomedserve.training.spacy_baseline import train_baseline

    try:
        dataset = known_dataset(dataset)
        overrides = {"training.max_steps": max_steps} if max_steps else {}
        best = train_baseline(dataset, out, data_dir=data_dir, limit=limit, overrides=overrides)
    except BiomedserveError as exc:
        fail(exc)
    err.print(f"[green]baseline pipeline: {escape(str(best))}[/] (spacy.load it, or run python -m benchmarks.vs_scispacy)")


def quickstart(
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Where the default model lives."),
    text: str = typer.Option(SAMPLE_TEXT, "--text", help="Text to annotate at the end."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """The main job on the embedded encoder: train BC5-chem NER if missing, export, annotate a text."""
    from biomedserve.modeldir.card import META_FILE, ONNX_FILE, read_meta
    from biomedserve.modeldir.metric_keys import metric_key

    quiet_libraries()
    try:
        ready = (model / META_FILE).is_file() and (model / ONNX_FILE).is_file()
        if not ready:
            err.print(f"[bold]{escape(str(model))} not found: fine-tuning the embedded MiniLM on BC5-chem "
                      "(standard recipe; 10 to 25 minutes on 2 CPU cores, the longer where bf16 is not native)[/]")
            train(dataset="BC5-chem", out=model, recipe="standard", base_model=None, epochs=None,
                  max_steps=None, learning_rate=None, batch_size=None, seed=None, bf16=None, data_dir=data_dir,
                  limit_train=None, limit_eval=None, overwrite=True)
        else:
            meta = read_meta(model)
            test = meta.metrics.get(metric_key("test"), {})
            say(f"using {model} (test F1 {test.get('f1', float('nan')):.2f})")
    except BiomedserveError as exc:
        fail(exc)
    predict(model=model, texts=[text], backend="onnx")
