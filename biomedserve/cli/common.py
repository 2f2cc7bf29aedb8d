"""What every sub-command shares: the stderr console, error exit, progress lines and library logging.

The command modules (data, train, model, serve, annotate) each hold a few commands; the ways a
command reports to the user live here once, so every command fails, logs and quiets the
libraries in the same way.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.markup import escape

from biomedserve.errors import BiomedserveError

err = Console(stderr=True, soft_wrap=True)  # never fold paths in error messages

DATA_DIR_HELP = "BLURB data directory (default: $BIOMEDSERVE_DATA, else ./data/blurb, else ../shared/blurb)."


def fail(exc: BiomedserveError | str) -> None:
    """Print the error (user text literally: a glob's brackets are not markup) and exit 2."""
    err.print(f"[bold red]error:[/] {escape(str(exc))}")
    raise typer.Exit(code=2)


def say(message: str) -> None:
    """A progress message from the library, printed literally."""
    err.print(message, markup=False, highlight=False)


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (test runners swap and close it)."""

    def write(self, text: str) -> None:
        sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def show_library_log() -> None:
    """biomedserve's own log lines (e.g. which graph a model runs, and why) go to stderr."""
    logger = logging.getLogger("biomedserve")
    if not logger.handlers:
        handler = logging.StreamHandler(_CurrentStderr())
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def parse_bf16(value: str | None) -> bool | str | None:
    """``--bf16 auto|true|false`` → the recipe field's value (None leaves the recipe's)."""
    if value is None:
        return None
    choices = {"auto": "auto", "true": True, "false": False}
    if value.lower() not in choices:
        raise BiomedserveError(f"--bf16 must be auto, true or false, not {value!r}")
    return choices[value.lower()]


def known_dataset(name: str) -> str:
    """The dataset's canonical name; an unknown one is an error listing the known datasets."""
    from biomedserve.data.registry import get_dataset

    return get_dataset(name).name


def quiet_libraries() -> None:
    """Only errors from transformers; biomedserve's own log lines shown (:func:`show_library_log`)."""
    logging.getLogger("transformers").setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    show_library_log()


def parse_guideline(values: list[str] | None) -> str | dict[str, str] | None:
    """``--guideline`` values: one bare name (every type that has it), or ``TYPE=NAME`` pairs."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    pairs = {}
    for value in values:
        label, sep, name = value.partition("=")
        if not sep or not label or not name:
            raise typer.BadParameter(f"{value!r}: give TYPE=NAME (e.g. GENE=BioNLP), or one bare guideline name",
                                     param_hint="--guideline")
        pairs[label] = name
    return pairs
