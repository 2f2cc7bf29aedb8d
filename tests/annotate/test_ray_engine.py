"""The Ray Data engine on a local Ray instance (2 CPUs): the same bytes as the local engine, fresh
and when it resumes a job the local engine began; the CLI's Ray run ends without error-level lines."""

import os
import re
import subprocess
import sys

import pytest

from biomedserve.annotate import job as job_module
from biomedserve.annotate.annotator import ModelSpec, order_models
from biomedserve.annotate.job import Job, JobConfig
from biomedserve.annotate.local import LocalEngine
from biomedserve.data.document_readers import resolve_inputs

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


#: Ray's C++ log prefix: ``[2025-01-01 12:00:00,123 E 4242 4243] core_worker.cc:...`` (E: error, F: fatal)
RAY_ERROR_LINE = re.compile(r"\[[\d-]+ [\d:,.]+ [EF] \d+ \d+\]")


def test_cli_ray_run_prints_no_error_level_line(corpus, tiny_model, tmp_path):
    """Runs first, in its own process, before this module starts a Ray instance in pytest's."""
    out = tmp_path / "cli.jsonl"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "biomedserve.cli", "annotate", str(corpus), "-m", str(tiny_model),
                           "-o", str(out), "--engine", "ray", "--concurrency", "2", "--group-size", "4",
                           "--no-progress"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "documents written" in done.stderr and out.stat().st_size > 0
    errors = [line for line in done.stderr.splitlines()
              if RAY_ERROR_LINE.search(line) or ("core_worker" in line and re.search(r"\b(ERROR|FATAL)\b", line))]
    assert not errors, "\n".join(errors)


def config(corpus, model, fmt="jsonl"):
    specs, infos = order_models([ModelSpec(str(model))])
    return JobConfig(resolve_inputs([str(corpus)]), specs, infos, fmt, group_size=4, chunk_size=10)


def test_ray_engine_matches_local_engine(corpus, tiny_model, tmp_path, monkeypatch, local_ray):
    from biomedserve.annotate.ray_engine import RayEngine

    reference = tmp_path / "local.jsonl"
    Job(config(corpus, tiny_model), reference, progress=False).run(LocalEngine())

    # small blocks: every file's groups reach the two actors in several blocks, order must survive
    engine = RayEngine(concurrency=2, block_bytes=4096)
    out = tmp_path / "ray.jsonl"
    summary = Job(config(corpus, tiny_model), out, progress=False).run(engine)
    assert summary.engine == "ray" and summary.documents > 50
    assert out.read_bytes() == reference.read_bytes()
    assert (tmp_path / "ray.jsonl.errors.jsonl").read_bytes() == (tmp_path / "local.jsonl.errors.jsonl").read_bytes()

    # a job begun locally and killed after three chunks, finished on Ray
    resumed = tmp_path / "resumed.jsonl"
    original = job_module.atomic_write

    def crash(path, data):
        if path.name == "chunk-000003.jsonl":
            raise KeyboardInterrupt("killed")
        return original(path, data)

    with monkeypatch.context() as patch:
        patch.setattr(job_module, "atomic_write", crash)
        with pytest.raises(KeyboardInterrupt):
            Job(config(corpus, tiny_model), resumed, progress=False).run(LocalEngine())
    summary = Job(config(corpus, tiny_model), resumed, progress=False).run(RayEngine(concurrency=2, block_bytes=4096))
    assert summary.resumed_from_chunk == 3
    assert resumed.read_bytes() == reference.read_bytes()
