"""The Ray Data engine: the same inputs, groups and models, spread over a Ray cluster.

The pipeline is a Ray dataset:

    from_items(one row per input file)            which file, from which item on
      .flat_map(read_file_groups)                 Ray tasks run the same readers, one row per group
      .map_batches(RayAnnotator,                  an actor pool; each actor loads the models once
                   compute=ActorPoolStrategy(size=N))
      .iter_rows()                                streamed back to the driver in input order

and the driver hands the annotated groups to the same job code as the local engine (chunks,
manifest, writers). Rows are whole groups, and an actor runs the models once per group, so the
models see exactly the documents together that they see locally: the records are the same bytes
(int8 results depend on batch composition; see :mod:`biomedserve.data.documents`). Order is
kept with ``DataContext.execution_options.preserve_order``, and the job checks it.

The actors are not restarted by Ray (``max_restarts=0``): the job's chunks are its fault
tolerance. An actor that dies stops the run with Ray's error, and re-running the command resumes
after the last committed chunk, on either engine. Ray Data's default (restart forever) also makes
every run log an error-level ``core_worker.cc`` line, because its actors receive their
constructor arguments through the object store (ray-project/ray#53727, #57733).

``ray.init()`` starts a local Ray instance on this machine's cores unless ``address`` (or
``$RAY_ADDRESS``) names a cluster; on a cluster, the inputs and model directories must be readable
at the same absolute paths on every node (a shared file system) and biomedserve installed there.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from biomedserve.annotate.annotator import Annotator, ModelSpec, annotate_group
from biomedserve.data.document_readers import Source, read_groups
from biomedserve.data.documents import Annotated, Group, item_from_dict, item_to_dict
from biomedserve.errors import BiomedserveError
from biomedserve.runtime.backends import default_threads


def read_file_groups(row: dict[str, Any], group_size: int) -> Iterator[dict[str, Any]]:
    """One input file (from item ``skip`` on) as rows of groups, items JSON-encoded.

    A generator: Ray Data cuts its output into blocks as it goes, so a worker holds a block of a
    file, never the whole file.
    """
    source = Source(int(row["file_index"]), str(row["path"]), str(row["kind"]), str(row["file"]))
    for group in read_groups(source, group_size, int(row["skip"])):
        yield {"file_index": group.file_index, "start": group.start,
               "items": json.dumps([item_to_dict(item) for item in group.items], ensure_ascii=False)}


class RayAnnotator:
    """The actor's callable: models loaded once in ``__init__``, one model call per group row."""

    def __init__(self, specs: list[dict[str, Any]]):
        self.annotator = Annotator([ModelSpec(**spec) for spec in specs])

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {"file_index": [], "start": [], "entries": [], "t0": [], "t1": []}
        for file_index, start, items in zip(batch["file_index"], batch["start"], batch["items"]):
            group = Group(int(file_index), int(start), [item_from_dict(d) for d in json.loads(str(items))])
            annotated = annotate_group(self.annotator, group)
            out["file_index"].append(annotated.file_index)
            out["start"].append(annotated.start)
            out["entries"].append(json.dumps(annotated.entries, ensure_ascii=False))
            out["t0"].append(annotated.timing[0])
            out["t1"].append(annotated.timing[1])
        return out


class RayEngine:
    """Annotate on Ray.

    ``concurrency``: actors in the pool (default: the cluster's CPUs / ``cpus_per_actor``);
    ``cpus_per_actor``: CPUs each actor reserves and gives ONNX Runtime as threads;
    ``groups_per_batch``: groups handed to an actor per call (more amortises scheduling).
    """

    name = "ray"

    def __init__(self, address: str | None = None, concurrency: int | None = None, cpus_per_actor: int = 1,
                 groups_per_batch: int = 1, num_cpus: int | None = None, block_bytes: int = 64 << 10):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.block_bytes = block_bytes
        self.concurrency = concurrency
        self.cpus_per_actor = max(1, int(cpus_per_actor))
        self.groups_per_batch = max(1, int(groups_per_batch))
        self.num_cpus = num_cpus
        self._started_ray = False
        self.actors: int | None = None  # the pool size of the last run

    def _init(self) -> None:
        # Ray Data logs every execution at INFO on the console; the job draws its own progress
        os.environ.setdefault("RAY_DATA_LOG_LEVEL", "WARNING")
        try:
            import ray
            import ray.data  # noqa: F401
        except ImportError:
            raise BiomedserveError("--engine ray needs Ray Data: pip install 'biomedserve[ray]' "
                                   "(or ./setup.sh, which installs it)") from None

        if ray.is_initialized():
            return
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "logging_level": logging.WARNING, "configure_logging": True}
        if self.address:
            ray.init(address=self.address, **options)
        else:
            ray.init(num_cpus=self.num_cpus or default_threads(), **options)  # the cores this process may use
        self._started_ray = True

    def pool_size(self) -> int:
        import ray

        if self.concurrency:
            return self.concurrency
        cpus = ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus // self.cpus_per_actor))

    def run(self, sources: Sequence[Source], specs: Sequence[ModelSpec], group_size: int,
            start: tuple[int, int] = (0, 0)) -> Iterator[Annotated]:
        import ray

        self._init()
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows come back in input order
        context.enable_progress_bars = False  # the job draws its own bar
        # a file's groups leave the reader in blocks of about ``block_bytes``, so the actors share a big
        # file instead of one actor taking it whole, and results stream back in pieces, not per file
        context.target_max_block_size = self.block_bytes
        first, skip = start
        files = [{"file_index": s.index, "path": s.path, "kind": s.kind, "file": str(Path(s.opens).resolve()),
                  "skip": skip if s.index == first else 0} for s in sources[first:]]
        if not files:
            return
        self.actors = self.pool_size()
        actor_specs = [asdict(replace(s, path=str(Path(s.path).resolve()), threads=self.cpus_per_actor))
                       for s in specs]
        dataset = (
            ray.data.from_items(files, override_num_blocks=len(files))
            # reading is light next to inference: it takes no CPU reservation from the actors
            .flat_map(read_file_groups, fn_kwargs={"group_size": group_size}, num_cpus=0)
            .map_batches(RayAnnotator, fn_constructor_kwargs={"specs": actor_specs},
                         batch_size=self.groups_per_batch, batch_format="numpy",
                         compute=ray.data.ActorPoolStrategy(size=self.actors),
                         num_cpus=self.cpus_per_actor, max_restarts=0)  # see the module docstring
        )
        with warnings.catch_warnings():  # "only received 1 input(s)": blocks are split as they are read
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
            rows = iter(dataset.iter_rows())
            first_row = next(rows, None)
        if first_row is None:
            return
        for row in itertools.chain([first_row], rows):
            yield Annotated(int(row["file_index"]), int(row["start"]), json.loads(str(row["entries"])),
                            (float(row["t0"]), float(row["t1"])))

    def close(self) -> None:
        """Shut down the Ray instance this engine started (a cluster it joined is left running)."""
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False
