"""Batch annotation of PubMed (and any text): readers → models → chunks → one output file.

    from biomedserve.annotate import annotate
    summary = annotate(["pubmed25n0001.xml.gz"], ["models/bc5cdr-minilm"], "out/pubmed.jsonl")

One module per job: ``documents`` (the records), ``readers`` (PubMed XML, JSONL, text; streaming),
``annotator`` (the runtime Predictor over a group of documents), ``writers`` (JSONL, PubTator,
BioC XML/JSON), ``manifest`` (a job's identity; refusing a changed command), ``chunks`` (the
files next to OUT, committed chunks), ``job`` (resume, commit, the final file), and the engines
``local`` and ``ray_engine``. The CLI is ``biomedserve annotate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from biomedserve.annotate.annotator import ModelSpec, order_models
from biomedserve.annotate.job import Job, Summary
from biomedserve.annotate.manifest import JobConfig, ResumeError
from biomedserve.annotate.writers import FORMATS, normalise_format
from biomedserve.data.document_readers import resolve_inputs
from biomedserve.errors import BiomedserveError

ENGINES = ("local", "ray")

__all__ = ["ENGINES", "FORMATS", "ModelSpec", "ResumeError", "Summary", "annotate"]


def with_guideline(specs: list[ModelSpec], guideline: str | dict[str, str] | None) -> list[ModelSpec]:
    """``specs`` with ``guideline`` set on the models that know guidelines (checked against each card)."""
    if guideline is None:
        return specs
    from biomedserve.modeldir.card import label_guidelines, read_meta

    out, known = [], {}
    for spec in specs:
        heads = label_guidelines(read_meta(spec.path).labels)
        known[spec.path] = heads
        names = guideline.values() if isinstance(guideline, dict) else [guideline]
        fits = heads and all(any(n in g for g in heads.values()) for n in names)
        out.append(replace(spec, guideline=guideline) if fits else spec)
    if all(s.guideline is None for s in out):
        listed = "; ".join(f"{p}: {h or 'one head per type'}" for p, h in known.items())
        raise BiomedserveError(f"--guideline {guideline}: no model given knows it ({listed})")
    return out


def annotate(inputs: Sequence[str], models: Sequence[str], out: str | Path, format: str | None = None,
             engine: str = "local", variant: str = "auto", overwrite: bool = False, group_size: int = 64,
             chunk_size: int = 2000, errors: str | Path | None = None, threads: int | None = None,
             ray_address: str | None = None, concurrency: int | None = None, cpus_per_actor: int = 1,
             progress: bool = True, log: Callable[[str], None] | None = None,
             guideline: str | dict[str, str] | None = None, allow_collapsed: bool = False) -> Summary:
    """Annotate ``inputs`` with ``models`` into ``out``; resumes a job interrupted earlier.

    ``group_size`` documents go through the models together (it is part of the job's identity:
    int8 results depend on it); ``chunk_size`` items are committed at a time. ``guideline`` is
    followed by every model with a head per annotation guideline (at least one must have them).
    """
    if engine not in ENGINES:
        raise BiomedserveError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if group_size < 1 or chunk_size < 1:
        raise BiomedserveError("--group-size and --chunk-size must be at least 1")
    sources = resolve_inputs(list(inputs))
    specs, infos = order_models(with_guideline([ModelSpec(str(m), variant, allow_collapsed=allow_collapsed)
                                                for m in models], guideline))
    config = JobConfig(sources=sources, specs=specs, models=infos, format=normalise_format(format, Path(out).name),
                       group_size=group_size, chunk_size=chunk_size)
    if engine == "ray":
        from biomedserve.annotate.ray_engine import RayEngine

        runner = RayEngine(address=ray_address, concurrency=concurrency, cpus_per_actor=cpus_per_actor)
    else:
        from biomedserve.annotate.local import LocalEngine

        runner = LocalEngine(threads=threads)
    try:
        return Job(config, out, errors=errors, overwrite=overwrite, progress=progress, log=log).run(runner)
    finally:
        if hasattr(runner, "close"):
            runner.close()
