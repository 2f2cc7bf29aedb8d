"""The models a service serves: loaded once at start-up, looked up by name or task type."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from biomedserve.errors import BiomedserveError, ModelDirError
from biomedserve.modeldir.card import META_FILE
from biomedserve.modeldir.task_types import InputKind, OutputKind, task_types_of
from biomedserve.runtime import Predictor, refuse_collapsed
from biomedserve.serving.batcher import TokenBatcher
from biomedserve.serving.settings import SETTINGS, Settings

MODELS_ENV = "BIOMEDSERVE_MODELS"
ALLOW_COLLAPSED_ENV = "BIOMEDSERVE_ALLOW_COLLAPSED"  # "1": serve models whose cards say they collapsed


class UnknownModel(BiomedserveError):
    """No loaded model has that name, or none serves that task."""


@dataclass
class Served:
    predictor: Predictor
    batcher: TokenBatcher

    @property
    def name(self) -> str:
        return self.predictor.meta.name

    @property
    def task(self) -> str:
        return self.predictor.meta.task


def model_dirs(spec: str | None, store: Path = Path("models")) -> list[Path]:
    """``a,b`` → those directories; empty → every model directory in ``store``."""
    if spec:
        return [Path(p.strip()) for p in spec.split(",") if p.strip()]
    return sorted(p for p in store.iterdir() if (p / META_FILE).is_file()) if store.is_dir() else []


class ModelStore:
    def __init__(self, served: list[Served]):
        if not served:
            raise ModelDirError("no models to serve: pass --models models/<name>[,...] or train one first")
        self.by_name = {s.name: s for s in served}

    @classmethod
    def load(cls, spec: str | None = None, settings: Settings = SETTINGS,
             allow_collapsed: bool | None = None) -> "ModelStore":
        """Open every model now, so a missing, corrupt or collapsed one stops the service at start-up
        (``allow_collapsed``, default ``$BIOMEDSERVE_ALLOW_COLLAPSED``, serves a collapsed one anyway)."""
        spec = spec if spec is not None else os.environ.get(MODELS_ENV)
        if allow_collapsed is None:
            allow_collapsed = os.environ.get(ALLOW_COLLAPSED_ENV) == "1"
        from biomedserve.runtime.backends import default_threads

        workers = settings.workers or default_threads()
        served = []
        for path in model_dirs(spec):
            # one ONNX Runtime thread per call, ``workers`` calls at once (see TokenBatcher)
            predictor = Predictor.from_dir(path, threads=1)
            refuse_collapsed(predictor.meta, path, allow_collapsed)
            batcher = TokenBatcher(predictor.predict, settings.batch_max_tokens, settings.batch_max_items,
                                   settings.batch_max_latency_ms, enabled=settings.batching, workers=workers)
            served.append(Served(predictor, batcher))
        return cls(served)

    def get(self, name: str | None, input_kind: InputKind | None = None,
            output_kind: OutputKind | None = None) -> Served:
        """By name (which must be of a task type with these kinds), else the first model of such a
        type; ``None`` matches any kind."""
        tasks = task_types_of(input_kind, output_kind)
        if name is not None:
            served = self.by_name.get(name)
            fitting = ", ".join(n for n, s in self.by_name.items() if s.task in tasks) or "none"
            if served is None:
                raise UnknownModel(f"no model named {name!r}; {'/'.join(tasks)} models loaded: {fitting}")
            if served.task not in tasks:
                raise UnknownModel(f"model {name!r} is a {served.task} model, not {'/'.join(tasks)}; "
                                   f"{'/'.join(tasks)} models loaded: {fitting}")
            return served
        for served in self.by_name.values():
            if served.task in tasks:
                return served
        raise UnknownModel(f"no {'/'.join(tasks)} model is loaded; loaded: {', '.join(self.by_name)}")
