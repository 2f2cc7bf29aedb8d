"""``biomedserve annotate``: bulk, resumable annotation of PubMed XML, JSONL and text files.

The command only parses its options and prints the run's summary; the job itself (chunks,
resume, rendering) is :mod:`biomedserve.annotate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from biomedserve.cli.common import err, fail, parse_guideline, quiet_libraries, say
from biomedserve.errors import BiomedserveError


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
    guideline: Optional[list[str]] = typer.Option(
        None, "--guideline", help="Models with a head per annotation guideline follow this one: a name (BioNLP) "
        "or TYPE=NAME (repeatable). Default: each card's choice."),
    allow_collapsed: bool = typer.Option(False, "--allow-collapsed", help="Use models whose cards say they collapsed "
                                         "onto their task's trivial answer (refused otherwise)."),
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

    quiet_libraries()
    model_dirs = [m.strip() for item in models for m in item.split(",") if m.strip()]
    try:
        summary = run_annotate(inputs, model_dirs, out, format=fmt, engine=engine, variant=variant,
                               overwrite=overwrite, group_size=group_size, chunk_size=chunk_size, errors=errors,
                               threads=threads, ray_address=ray_address, concurrency=concurrency,
                               cpus_per_actor=cpus_per_actor, progress=progress, log=say,
                               guideline=parse_guideline(guideline), allow_collapsed=allow_collapsed)
    except BiomedserveError as exc:
        fail(exc)
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
