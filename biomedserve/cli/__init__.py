"""The biomedserve command: one sub-command per job.

    biomedserve data stats            what the BLURB data holds
    biomedserve train                 fine-tune, export and score a model directory
    biomedserve evaluate              score a model directory on a split
    biomedserve predict               entities in a text, as JSON
    biomedserve export                (re-)export a model directory to ONNX
    biomedserve annotate              annotate PubMed XML / JSONL / text files in bulk, resumably
    biomedserve pretrain              continue masked-LM training of an encoder on in-domain text
    biomedserve quickstart            the whole path on the embedded encoder, in minutes

The commands live in modules by what they work on (:mod:`.data`, :mod:`.train`, :mod:`.model`,
:mod:`.serve`, :mod:`.annotate`, :mod:`.pretrain`; the shared error and log handling in :mod:`.common`); this module
builds the Typer app from them and registers them in the order ``--help`` lists them.
"""

from __future__ import annotations

import typer

from biomedserve.cli import annotate, data, model, pretrain, serve, train

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0],
                  pretty_exceptions_enable=False)
data_app = typer.Typer(no_args_is_help=True, help="Inspect the BLURB data directory.")
app.add_typer(data_app, name="data")

data_app.command("stats")(data.data_stats)
app.command()(train.train)
app.command()(model.evaluate)
app.command()(model.predict)
app.command()(train.sweep)
app.command()(model.export)
app.command()(serve.serve)
app.command()(train.baseline)
app.command()(annotate.annotate)
app.command()(pretrain.pretrain)
app.command()(train.quickstart)


def main() -> None:  # pragma: no cover - console entry
    app()
