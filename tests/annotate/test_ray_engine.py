"""The Ray Data engine on a local Ray instance (2 CPUs): the same bytes as the local engine, fresh
and when it resumes a job the local engine began."""

import os

import pytest

from biomedserve.annotate import job as job_module
from biomedserve.annotate.annotator import ModelSpec, order_models
from biomedserve.annotate.job import Job, JobConfig
from biomedserve.annotate.local import LocalEngine
from biomedserve.annotate.readers import resolve_inputs

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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
