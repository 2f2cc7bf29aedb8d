"""``biomedserve evaluate``, ``predict`` and ``export``: the commands that use an existing model directory.

Each takes a model directory as its argument: score it, run it on texts, or (re-)build its
ONNX graphs. Fitting a model in the first place lives in :mod:`biomedserve.cli.train`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from biomedserve.cli.common import DATA_DIR_HELP, err, fail, parse_guideline, quiet_libraries, say
from biomedserve.errors import BiomedserveError


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
    from biomedserve.export.evaluation import evaluate_model

    quiet_libraries()
    try:
        result = evaluate_model(model, split=split, backend=backend, data_dir=data_dir, limit=limit,
                                record=record, progress=not as_json)
    except BiomedserveError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(result.summary()))
    else:
        details = ", ".join(f"{k} {v:.2f}" for k, v in result.details.items())
        print(f"{result.model} on {result.dataset} {split} ({result.n} examples, {backend}): {details}")


def predict(
    model: Path = typer.Argument(..., help="Model directory."),
    texts: list[str] = typer.Argument(None, help="Texts to annotate; '-' or none reads lines from stdin."),
    backend: str = typer.Option("onnx", "--backend", help="onnx (default) or torch."),
    guideline: Optional[list[str]] = typer.Option(
        None, "--guideline", help="NER models with a head per annotation guideline: follow this one, as a "
        "name for every type that has it (BioNLP) or TYPE=NAME (repeatable). Default: the card's choice."),
    allow_collapsed: bool = typer.Option(False, "--allow-collapsed", help="Use a model whose card says it collapsed "
                                         "onto its task's trivial answer (refused otherwise)."),
) -> None:
    """Print predictions as JSON, one object per text (NER: entities with start, end, text, label, score).

    Relation models take a sentence with both entities masked; QA models a 'question<TAB>context'
    line; similarity models 'sentence1<TAB>sentence2'; HoC models an abstract.
    """
    from biomedserve.modeldir.task_types import InputKind, OutputKind
    from biomedserve.runtime import Predictor, refuse_collapsed

    quiet_libraries()
    if not texts or texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin]
    if not texts:
        fail("no input text: give texts as arguments, or lines on stdin ('-')")
    try:
        predictor = Predictor.from_dir(model, backend=backend)
        refuse_collapsed(predictor.meta, model, allow_collapsed)
        pairs = predictor.task_type.input_kind is InputKind.TEXT_PAIR
        inputs = [tuple(t.split("\t", 1)) if pairs else t for t in texts]
        if pairs and any(len(i) != 2 for i in inputs):
            raise BiomedserveError("this model takes pairs: give each input as 'first<TAB>second'")
        view = parse_guideline(guideline)
        if view is not None and predictor.task_type.output_kind is not OutputKind.ENTITIES:
            raise BiomedserveError("--guideline is for NER models; this model is not one")
        results = predictor.predict(inputs, guideline=view) if view is not None else predictor.predict(inputs)
    except BiomedserveError as exc:
        fail(exc)
    for text, result in zip(texts, results):
        print(json.dumps({"text": text, **result.to_dict()}, ensure_ascii=False))


def _set_card_defaults(model: Path, guideline: list[str] | None, abbreviations: str | None,
                       species_lexicon: str | None = None) -> None:
    """``--guideline`` / ``--abbreviations`` / ``--species-lexicon``: write the served defaults into the card."""
    from biomedserve.export.card_defaults import (
        set_abbreviation_resolution,
        set_guideline_defaults,
        set_species_lexicon,
    )

    if guideline:
        view = parse_guideline(guideline)
        if isinstance(view, str):
            raise BiomedserveError("--guideline for export takes TYPE=NAME pairs (e.g. GENE=BioNLP)")
        now = set_guideline_defaults(model, view)
        err.print(f"[green]default guidelines of {escape(str(model))}:[/] " + ", ".join(f"{t}={g}" for t, g in now.items()))
    if abbreviations:
        set_abbreviation_resolution(model, abbreviations == "on")
        err.print(f"[green]abbreviation resolution of {escape(str(model))}:[/] {abbreviations}")
    if species_lexicon:
        set_species_lexicon(model, species_lexicon == "on")
        err.print(f"[green]species lexicon of {escape(str(model))}:[/] {species_lexicon}")


def export(
    model: Path = typer.Argument(..., help="Model directory."),
    optimize: Optional[str] = typer.Option(None, "--optimize", help="ORT graph optimisation preset: O1, O2, O3 or O4."),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="int8: dynamic quantisation for this CPU's ISA."),
    fp16: bool = typer.Option(False, "--fp16", help="fp16 graph for CUDA GPUs (implies O4)."),
    force: bool = typer.Option(False, "--force", help="Make the variant the default even if it fails the gate."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    limit: Optional[int] = typer.Option(None, help="Gate on the first N dev examples only (quick checks)."),
    guideline: Optional[list[str]] = typer.Option(
        None, "--guideline", help="TYPE=NAME: the annotation guideline a multi-guideline NER model follows by "
        "default (repeatable; written into the card, no graph is rebuilt)."),
    abbreviations: Optional[str] = typer.Option(
        None, "--abbreviations", help="on or off: whether the NER model resolves the abbreviations a text defines "
        "by default (an abbreviation takes its long form's type everywhere in the text)."),
    species_lexicon: Optional[str] = typer.Option(
        None, "--species-lexicon", help="on or off: whether a model that finds SPECIES merges in the NCBI "
        "Taxonomy's species names it missed or cut (`E. coli`, `potato`) by default."),
) -> None:
    """Export to ONNX, or build a faster variant beside model.onnx and gate it on dev.

    With no option: (re-)export the PyTorch weights to model.onnx. With --optimize/--quantize/--fp16:
    build model.<variant>.onnx, score it on dev against fp32, and make it the default only if it
    loses at most 0.5 points (--force overrides). int8 failing the gate is retried with the known
    remedies (per-channel weights, head kept in fp32, QUInt8 weights).

    Example: biomedserve export models/bc5chem-minilm --optimize O2 --quantize int8
    """
    from biomedserve.export.onnx import build_model_dir
    from biomedserve.export.variants import VariantPlan, build_variant
    from biomedserve.modeldir.card import ONNX_FILE, read_meta

    quiet_libraries()
    for flag, value in (("--abbreviations", abbreviations), ("--species-lexicon", species_lexicon)):
        if value not in (None, "on", "off"):
            fail(f"{flag} must be on or off, not {value!r}")
    try:
        if guideline or abbreviations or species_lexicon:
            _set_card_defaults(model, guideline, abbreviations, species_lexicon)
            if not (optimize or quantize or fp16):
                return
        if not (optimize or quantize or fp16):
            build_model_dir(model, read_meta(model))  # the tail of `train`, without scoring
            err.print(f"[green]exported {escape(str(model / ONNX_FILE))}[/]")
            return
        plan = VariantPlan(optimize=optimize, quantize=quantize, fp16=fp16)
        err.print(f"building variant [bold]{plan.name}[/] of {escape(str(model))}"
                  + (f" (int8 for {plan.isa})" if plan.quantize else ""))
        record = build_variant(model, plan, force=force, data_dir=data_dir, limit=limit, log=say)
    except BiomedserveError as exc:
        fail(exc)
    default = read_meta(model).default_variant
    if record.passed:
        err.print(f"[green]{plan.name} passed the gate[/] ({escape(record.reason)}); default variant on CPU: {default}")
    elif record.forced:
        err.print(f"[yellow]{plan.name} failed the gate ({escape(record.reason)}) but --force made it the default[/]")
    else:
        err.print(f"[yellow]{plan.name} is stored but NOT the default:[/] {escape(record.reason)}")
