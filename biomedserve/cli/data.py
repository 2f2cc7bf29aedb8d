"""``biomedserve data``: what the BLURB data directory holds.

Read-only inspection of the data, apart from the commands that train on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from biomedserve.cli.common import DATA_DIR_HELP, fail, known_dataset
from biomedserve.errors import BiomedserveError


def data_stats(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="Only these datasets (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object {dataset: {split: counts}}."),
) -> None:
    """Counts per dataset and split, in MANIFEST.md's units (NER: mentions; PICO: non-O tokens): the BLURB sets,
    then the extra NER training corpora staged beside them (BioNLP shared-task proteins, LINNAEUS species)."""
    from biomedserve.data.stats import all_stats

    try:
        names = [known_dataset(n) for n in dataset] if dataset else None
        stats = all_stats(data_dir, names)
    except BiomedserveError as exc:
        fail(exc)
    if as_json:
        print(json.dumps(stats))
        return
    table = Table(title="BLURB data and extra NER corpora")
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
