"""The biomedserve BentoML service: BentoML runs the server (workers, /healthz, /readyz, /metrics,
graceful shutdown); the routes are biomedserve's FastAPI app, mounted at the root.

    bentoml serve service.service:BiomedServe --port 3000      # what `biomedserve serve` runs
    BIOMEDSERVE_MODELS=models/a,models/b                       # which models (default: all in models/)

Every model is loaded in ``__init__``, so a missing or corrupt model fails the start-up. Every 4xx,
BentoML's own included (an unknown path, a wrong method), is JSON ``{"error": ...}``.
"""

from __future__ import annotations

import bentoml

from biomedserve.serving.app import create_app
from biomedserve.serving.http_errors import JsonErrors
from biomedserve.serving.store import ModelStore

app = create_app()


@bentoml.service(name="biomedserve", workers=1, traffic={"timeout": 300, "max_concurrency": 1024})
@bentoml.asgi_app(app, path="/")
class BiomedServe:
    def __init__(self) -> None:
        app.state.store = ModelStore.load()


BiomedServe.add_asgi_middleware(JsonErrors)
