"""``biomedserve serve``: check the models, then hand the process over to the BentoML server.

Apart from the other commands because it never returns: it ``exec``s ``bentoml serve``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from biomedserve.cli.common import fail, quiet_libraries, say
from biomedserve.errors import BiomedserveError


def serve(
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated model dirs (default: all in models/)."),
    port: int = typer.Option(3000, "--port", help="HTTP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0 for all)."),
    batching: bool = typer.Option(True, "--batching/--no-batching", help="Merge concurrent requests by token budget."),
    allow_collapsed: bool = typer.Option(False, "--allow-collapsed", help="Serve models whose cards say they "
                                         "collapsed onto their task's trivial answer (refused otherwise)."),
) -> None:
    """Start the BentoML HTTP service (POST /ner, /relations, /qa, /similarity, /classify; GET /models,
    /visualize; /healthz, /readyz, /metrics). Every model is checked before the server starts.
    """
    from biomedserve.serving.launch import bentoml_command
    from biomedserve.serving.store import ALLOW_COLLAPSED_ENV, MODELS_ENV, ModelStore

    quiet_libraries()
    try:
        store = ModelStore.load(models, allow_collapsed=allow_collapsed)  # fail here, not at the first request
    except BiomedserveError as exc:
        fail(exc)
    names = ", ".join(f"{n} ({s.task}, {s.predictor.variant})" for n, s in store.by_name.items())
    say(f"serving {names} on http://{host}:{port}")
    env = {**os.environ, MODELS_ENV: ",".join(str(Path(s.predictor.model_dir).resolve()) for s in store.by_name.values()),
           "BIOMEDSERVE_BATCHING": "1" if batching else "0", "BENTOML_DO_NOT_TRACK": "true",
           ALLOW_COLLAPSED_ENV: "1" if allow_collapsed else "0"}
    command = bentoml_command(host, port)
    os.execvpe(command[0], command, env)
