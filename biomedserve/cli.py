"""The biomedserve command: one sub-command per job.

    biomedserve data stats            what the BLURB data holds
    biomedserve train                 fine-tune, export and score a model directory
    biomedserve evaluate              score a model directory on a split
    biomedserve predict               entities in a text, as JSON
    biomedserve export                (re-)export a model directory to ONNX
    biomedserve annotate              annotate PubMed XML / JSONL / text files in bulk, resumably
    biomedserve quickstart            the whole path on the embedded encoder, in minutes
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from biomedserve.errors import BiomedserveError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0],
                  pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Inspect the BLURB data directory.")
app.add_typer(data_app, name="data")
err = Console(stderr=True, soft_wrap=True)  # never fold paths in error messages

DATA_DIR_HELP = "BLURB data directory (default: $BIOMEDSERVE_DATA, else ./data/blurb, else ../shared/blurb)."
DEFAULT_MODEL = Path("models/bc5chem-minilm")
SAMPLE_TEXT = (
    "Selegiline-induced postural hypotension in Parkinson's disease: a longitudinal study on the "
    "effects of drug withdrawal. Naloxone reversed the hypotensive effect of clonidine, whereas "
    "5-fluorouracil and cisplatin (CDDP) did not."
)


def _fail(exc: BiomedserveError | str) -> None:
    """Print the error (user text literally: a glob's brackets are not markup) and exit 2."""
    err.print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(code=2)


def _say(message: str) -> None:
    """A progress message from the library, printed literally."""
    err.print(message, markup=False, highlight=False)


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (test runners swap and close it)."""

    def write(self, text: str) -> None:
        sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _show_library_log() -> None:
    """biomedserve's own log lines (e.g. which graph a model runs, and why) go to stderr."""
    logger = logging.getLogger("biomedserve")
    if not logger.handlers:
        handler = logging.StreamHandler(_CurrentStderr())
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _parse_bf16(value: str | None) -> bool | str | None:
    """``--bf16 auto|true|false`` → the recipe field's value (None leaves the recipe's)."""
    if value is None:
        return None
    choices = {"auto": "auto", "true": True, "false": False}
    if value.lower() not in choices:
        raise BiomedserveError(f"--bf16 must be auto, true or false, not {value!r}")
    return choices[value.lower()]


def _known_dataset(name: str) -> str:
    """The dataset's canonical name; an unknown one is an error listing the known datasets."""
    from biomedserve.data.registry import get_dataset

    return get_dataset(name).name


def _quiet_libraries() -> None:
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    _show_library_log()


@data_app.command("stats")
def data_stats(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="Only these datasets (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object {dataset: {split: counts}}."),
) -> None:
    """Counts per dataset and split, in MANIFEST.md's units (NER: mentions; PICO: non-O tokens)."""
    from biomedserve.data.registry import get_dataset
    from biomedserve.data.stats import all_stats

    try:
        names = [get_dataset(n).name for n in dataset] if dataset else None
        stats = all_stats(data_dir, names)
    except BiomedserveError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(stats))
        return
    table = Table(title="BLURB data")
    for column in ("dataset", "split", "sentences / instances", "mentions / non-O tokens", "labels"):
        table.add_column(column)
    for name, splits in stats.items():
        for split, counts in splits.items():
            units = counts.get("instances", counts.get("sentences"))
            extra = counts.get("mentions", counts.get("non_o_tokens", ""))
            labels = counts.get("labels")
            label_text = ", ".join(f"{k}={v}" for k, v in labels.items()) if labels else (
                f"mean {counts['score_mean']}" if "score_mean" in counts else "")
            table.add_row(name, split, str(units), str(extra), label_text)
    Console().print(table)


@app.command()
def train(
    dataset: str = typer.Option(..., "--dataset", "-d", help="BLURB dataset folder name, e.g. BC5-chem."),
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
) -> None:
    """Fine-tune on a BLURB dataset, export ONNX, score dev and test, write the model card.

    Example: biomedserve train --dataset BC5-chem --out models/bc5chem-minilm
    """
    from biomedserve.recipes import find_recipe, load_recipe
    from biomedserve.training import TrainOptions
    from biomedserve.training import train as run_training

    _quiet_libraries()
    try:
        dataset = _known_dataset(dataset)
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise BiomedserveError(f"{out} already exists; pass --overwrite to replace it")
        chosen = load_recipe(find_recipe(recipe, dataset)).override(
            base_model=base_model, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
            batch_size=batch_size, seed=seed, bf16=_parse_bf16(bf16))
        if chosen.dataset != dataset:
            raise BiomedserveError(f"recipe is for {chosen.dataset}, not {dataset}")
        meta = run_training(chosen, out, TrainOptions(data_dir=data_dir, limit_train=limit_train,
                                                      limit_eval=limit_eval))
    except BiomedserveError as exc:
        _fail(exc)
    err.print(f"[green]wrote {escape(str(out))}[/] in {meta.train_seconds:.0f} s of training")
    bf16 = meta.provenance.get("bf16") or {}
    _say(f"  precision: {'bf16 autocast' if bf16.get('used') else 'fp32'} ({bf16.get('reason', 'not recorded')})")
    for key, scores in sorted(meta.metrics.items()):
        err.print(f"  {key}: " + ", ".join(f"{name} {value:.2f}" for name, value in scores.items()))


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="Model directory."),
    split: str = typer.Option("test", "--split", help="train, dev or test."),
    backend: str = typer.Option("onnx", "--backend", help="onnx (default) or torch."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    limit: Optional[int] = typer.Option(None, help="Only the first N examples."),
    record: bool = typer.Option(False, "--record", help="Write the score into the model card."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on the last line."),
) -> None:
    """Score a model on a split of its dataset with the BLURB metric (NER: entity-level strict F1)."""
    from biomedserve.evaluation import evaluate_model

    _quiet_libraries()
    try:
        result = evaluate_model(model, split=split, backend=backend, data_dir=data_dir, limit=limit,
                                record=record, progress=not as_json)
    except BiomedserveError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(result.summary()))
    else:
        details = ", ".join(f"{k} {v:.2f}" for k, v in result.details.items())
        print(f"{result.model} on {result.dataset} {split} ({result.n} examples, {backend}): {details}")


@app.command()
def predict(
    model: Path = typer.Argument(..., help="Model directory."),
    texts: list[str] = typer.Argument(None, help="Texts to annotate; '-' or none reads lines from stdin."),
    backend: str = typer.Option("onnx", "--backend", help="onnx (default) or torch."),
) -> None:
    """Print predictions as JSON, one object per text (NER: entities with start, end, text, label, score).

    Relation models take a sentence with both entities masked; QA models a 'question<TAB>context'
    line; similarity models 'sentence1<TAB>sentence2'; HoC models an abstract.
    """
    from biomedserve.runtime import Predictor
    from biomedserve.tasktypes import InputKind

    _quiet_libraries()
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        _fail("no input text: give texts as arguments, or lines on stdin ('-')")
    try:
        predictor = Predictor.from_dir(model, backend=backend)
        pairs = predictor.task_type.input_kind is InputKind.TEXT_PAIR
        inputs = [tuple(t.split("\t", 1)) if pairs else t for t in texts]
        if pairs and any(len(i) != 2 for i in inputs):
            raise BiomedserveError("this model takes pairs: give each input as 'first<TAB>second'")
        results = predictor.predict(inputs)
    except BiomedserveError as exc:
        _fail(exc)
    for text, result in zip(texts, results):
        print(json.dumps({"text": text, **result.to_dict()}, ensure_ascii=False))


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


@app.command()
def sweep(
    dataset: str = typer.Option(..., "--dataset", "-d", help="BLURB dataset folder name."),
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
    from biomedserve.recipes import find_recipe, load_recipe
    from biomedserve.sweep import expand, run_one, select_on_dev, summarize

    _quiet_libraries()
    try:
        dataset = _known_dataset(dataset)
        chosen = load_recipe(find_recipe(recipe, dataset)).override(base_model=base_model)
        runs = expand(recipe, chosen, _parse_seeds(seeds), _parse_grid(grid or []))
        outcomes = []
        for index, run in enumerate(runs, 1):
            err.print(f"[bold]run {index}/{len(runs)}[/]: {escape(run.variant)} seed {run.recipe.seed}")
            outcomes.append(run_one(run, results, data_dir=data_dir, progress=True))
    except BiomedserveError as exc:
        _fail(exc)
    table = Table(title=f"{dataset}: test {outcomes[0]['metric']} over seeds")
    for column in ("variant", "n", "mean", "std", "min", "max", "catastrophic", "dev mean"):
        table.add_column(column)
    summary, dev = summarize(outcomes), summarize(outcomes, split="dev")
    for variant, stats in summary.get(dataset, {}).items():
        table.add_row(variant, *(str(stats[k]) for k in ("n", "mean", "std", "min", "max", "catastrophic")),
                      str(dev[dataset][variant]["mean"]))
    Console().print(table)
    if grid:
        _say(f"selected on dev: {select_on_dev(outcomes)}")


@app.command()
def export(
    model: Path = typer.Argument(..., help="Model directory."),
    optimize: Optional[str] = typer.Option(None, "--optimize", help="ORT graph optimisation preset: O1, O2, O3 or O4."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="int8: dynamic quantisation for this CPU's ISA."),
    fp16: bool = typer.Option(False, "--fp16", help="fp16 graph for CUDA GPUs (implies O4)."),
    force: bool = typer.Option(False, "--force", help="Make the variant the default even if it fails the gate."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    limit: Optional[int] = typer.Option(None, help="Gate on the first N dev examples only (quick checks)."),
) -> None:
    """Export to ONNX, or build a faster variant beside model.onnx and gate it on dev.

    With no option: (re-)export the PyTorch weights to model.onnx. With --optimize/--quantize/--fp16:
    build model.<variant>.onnx, score it on dev against fp32, and make it the default only if it
    loses at most 0.5 points (--force overrides). int8 failing the gate is retried with the known
    remedies (per-channel weights, head kept in fp32, QUInt8 weights).

    Example: biomedserve export models/bc5chem-minilm --optimize O2 --quantize int8
    """
    from biomedserve.export import build_model_dir
    from biomedserve.modeldir import ONNX_FILE, read_meta
    from biomedserve.variants import VariantPlan, build_variant

    _quiet_libraries()
    try:
        if not (optimize or quantize or fp16):
            build_model_dir(model, read_meta(model))  # the tail of `train`, without scoring
            err.print(f"[green]exported {escape(str(model / ONNX_FILE))}[/]")
            return
        plan = VariantPlan(optimize=optimize, quantize=quantize, fp16=fp16)
        err.print(f"building variant [bold]{plan.name}[/] of {escape(str(model))}"
                  + (f" (int8 for {plan.isa})" if plan.quantize else ""))
        record = build_variant(model, plan, force=force, data_dir=data_dir, limit=limit, log=_say)
    except BiomedserveError as exc:
        _fail(exc)
    default = read_meta(model).default_variant
    if record.passed:
        err.print(f"[green]{plan.name} passed the gate[/] ({escape(record.reason)}); default variant on CPU: {default}")
    elif record.forced:
        err.print(f"[yellow]{plan.name} failed the gate ({escape(record.reason)}) but --force made it the default[/]")
    else:
        err.print(f"[yellow]{plan.name} is stored but NOT the default:[/] {escape(record.reason)}")


@app.command()
def serve(
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated model dirs (default: all in models/)."),
    port: int = typer.Option(3000, "--port", help="HTTP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0 for all)."),
    batching: bool = typer.Option(True, "--batching/--no-batching", help="Merge concurrent requests by token budget."),
) -> None:
    """Start the BentoML HTTP service (POST /ner, /relations, /qa, /similarity, /classify; GET /models,
    /visualize; /healthz, /readyz, /metrics). Every model is checked before the server starts.
    """
    from biomedserve.serving.launch import bentoml_command
    from biomedserve.serving.store import MODELS_ENV, ModelStore

    _quiet_libraries()
    try:
        store = ModelStore.load(models)  # fail here, with a clear message, not at the first request
    except BiomedserveError as exc:
        _fail(exc)
    names = ", ".join(f"{n} ({s.task}, {s.predictor.variant})" for n, s in store.by_name.items())
    _say(f"serving {names} on http://{host}:{port}")
    env = {**os.environ, MODELS_ENV: ",".join(str(Path(s.predictor.model_dir).resolve()) for s in store.by_name.values()),
           "BIOMEDSERVE_BATCHING": "1" if batching else "0", "BENTOML_DO_NOT_TRACK": "true"}
    command = bentoml_command(host, port)
    os.execvpe(command[0], command, env)


@app.command()
def baseline(
    dataset: str = typer.Option(..., "--dataset", "-d", help="NER dataset, e.g. BC5-chem or BC5CDR."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (the pipeline is <out>/model-best)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override train/spacy/ner.cfg's step budget."),
    limit: Optional[int] = typer.Option(None, help="Only the first N sentences of train and dev (smoke runs)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """Train the scispaCy-recipe baseline (spaCy CNN + transition-based NER) on a BLURB NER set."""
    from biomedserve.spacy_baseline import train_baseline

    try:
        dataset = _known_dataset(dataset)
        overrides = {"training.max_steps": max_steps} if max_steps else {}
        best = train_baseline(dataset, out, data_dir=data_dir, limit=limit, overrides=overrides)
    except BiomedserveError as exc:
        _fail(exc)
    err.print(f"[green]baseline pipeline: {escape(str(best))}[/] (spacy.load it, or run benchmarks/vs_scispacy.py)")


@app.command()
def annotate(
    inputs: list[str] = typer.Argument(..., help="PubMed XML (.xml, .xml.gz), JSONL (.jsonl[.gz]), .txt files, "
                                                 "directories (recursive) or quoted globs."),
    models: list[str] = typer.Option(..., "--models", "-m", help="Model directories, comma-separated or repeated "
                                                                 "(NER models, and HoC document classifiers)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file; a .gz name is gzip-compressed."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="jsonl, pubtator, bioc (BioC XML) or bioc-json "
                                                                   "(default: from OUT's suffix, else jsonl)."),
    engine: str = typer.Option("local", "--engine", help="local (this process) or ray (an actor pool)."),
    variant: str = typer.Option("auto", "--variant", help="ONNX variant for every model: auto (the gated default), "
                                                         "fp32, int8, o2, o2-int8..."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Discard OUT and its unfinished job; start afresh."),
    group_size: int = typer.Option(64, "--group-size", help="Documents per model call (part of the job: int8 "
                                                            "results depend on it)."),
    chunk_size: int = typer.Option(2000, "--chunk-size", help="Records per committed chunk (work lost to a crash)."),
    errors: Optional[Path] = typer.Option(None, "--errors", help="Errors file (default: OUT.errors.jsonl)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="local: ONNX Runtime threads (default: all cores)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address",
                                              help="ray: cluster address (default: $RAY_ADDRESS, else a local instance)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="ray: actors (default: CPUs / --cpus-per-actor)."),
    cpus_per_actor: int = typer.Option(1, "--cpus-per-actor", help="ray: CPUs (and ONNX Runtime threads) per actor."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
) -> None:
    """Annotate documents in bulk: entities (and HoC classes) per abstract, resumably.

    \b
    Examples:
      biomedserve annotate pubmed25n0001.xml.gz \\
          -m models/bc5chem-minilm -o out/0001.jsonl
      biomedserve annotate baseline/ updatefiles/ --variant int8 \\
          -m models/bc5cdr-minilm,models/bc2gm-minilm -o out/pubmed.pubtator
      biomedserve annotate 'abstracts/*.jsonl' --engine ray \\
          -m models/bc5chem-minilm -o out/abstracts.xml      # BioC XML

    \b
    Inputs: PubMed/MEDLINE XML (PMID, title, abstract with its labelled
    sections, dates; a DeleteCitation removes earlier records), JSONL
    ({"id", "text"} or {"id", "title", "abstract"}), .txt files (one
    document each). A malformed record, or the rest of a truncated file,
    is logged to OUT.errors.jsonl and skipped; the job goes on.

    \b
    Resuming: re-run the same command after a crash or kill; it goes on
    from the last committed chunk and OUT is byte-identical to an
    uninterrupted run. Other models, format or group size, or an input
    whose content changed (inputs are known by their SHA-256): refused,
    naming what changed (--overwrite starts afresh). Ray: --engine ray starts a local Ray instance, or
    joins the cluster at --ray-address / $RAY_ADDRESS.
    """
    from biomedserve.annotate import annotate as run_annotate

    _quiet_libraries()
    model_dirs = [m.strip() for item in models for m in item.split(",") if m.strip()]
    try:
        summary = run_annotate(inputs, model_dirs, out, format=fmt, engine=engine, variant=variant,
                               overwrite=overwrite, group_size=group_size, chunk_size=chunk_size, errors=errors,
                               threads=threads, ray_address=ray_address, concurrency=concurrency,
                               cpus_per_actor=cpus_per_actor, progress=progress, log=_say)
    except BiomedserveError as exc:
        _fail(exc)
    table = Table(title=f"annotate → {escape(str(summary.out))} ({summary.format})")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("documents written", str(summary.documents))
    if summary.deleted:
        table.add_row("left out (DeleteCitation)", str(summary.deleted))
    for label, count in summary.entities.items():
        table.add_row(f"entities: {escape(label)}", str(count))
    table.add_row("errors (skipped records)",
                  f"{summary.errors}" + (f" → {escape(str(summary.errors_file))}" if summary.errors else ""))
    if summary.already_complete:
        table.add_row("this run", "already complete")
    else:
        table.add_row("this run", f"{summary.documents_this_run} documents in {summary.seconds:.1f} s "
                                  f"({summary.docs_per_s:.1f} docs/s, {summary.engine})")
        if summary.resumed_from_chunk:
            table.add_row("chunks already done at start", str(summary.resumed_from_chunk))
    err.print(table)


@app.command()
def quickstart(
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Where the default model lives."),
    text: str = typer.Option(SAMPLE_TEXT, "--text", help="Text to annotate at the end."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
) -> None:
    """The main job on the embedded encoder: train BC5-chem NER if missing, export, annotate a text."""
    from biomedserve.metric_keys import metric_key
    from biomedserve.modeldir import read_meta

    _quiet_libraries()
    try:
        ready = (model / "biomedserve.json").is_file() and (model / "model.onnx").is_file()
        if not ready:
            err.print(f"[bold]{escape(str(model))} not found: fine-tuning the embedded MiniLM on BC5-chem "
                      "(standard recipe; about 10 minutes on 2 CPU cores)[/]")
            train(dataset="BC5-chem", out=model, recipe="standard", base_model=None, epochs=None,
                  max_steps=None, learning_rate=None, batch_size=None, seed=None, bf16=None, data_dir=data_dir,
                  limit_train=None, limit_eval=None, overwrite=True)
        else:
            meta = read_meta(model)
            test = meta.metrics.get(metric_key("test"), {})
            _say(f"using {model} (test F1 {test.get('f1', float('nan')):.2f})")
    except BiomedserveError as exc:
        _fail(exc)
    predict(model=model, texts=[text], backend="onnx")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
