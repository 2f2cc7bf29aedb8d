"""The local engine: one process, the models loaded once, reading overlapped with inference.

Reading (XML parsing) runs on a background thread a few groups ahead of the models; ONNX Runtime
releases the GIL while it computes, so parsing overlaps the model calls instead of adding to them. Groups come out in input
order, which is all the job needs to write chunks.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TypeVar

from biomedserve.annotate.annotator import Annotator, ModelSpec, annotate_group
from biomedserve.data.document_readers import Source, iter_groups
from biomedserve.data.documents import Annotated

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterator[T], size: int) -> Iterator[T]:
    """``items`` produced on a daemon thread up to ``size`` ahead; errors re-raised here, in order."""
    buffer: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            buffer.put((_DONE, exc))

    thread = threading.Thread(target=produce, daemon=True, name="annotate-reader")
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()


class LocalEngine:
    """Annotate in this process. ``threads``: ONNX Runtime threads per model (default: all cores)."""

    name = "local"

    def __init__(self, threads: int | None = None, prefetch_groups: int = 4):
        self.threads = threads
        self.prefetch_groups = prefetch_groups

    def run(self, sources: Sequence[Source], specs: Sequence[ModelSpec], group_size: int,
            start: tuple[int, int] = (0, 0)) -> Iterator[Annotated]:
        annotator = Annotator([replace(s, threads=self.threads) if self.threads else s for s in specs])
        groups = iter_groups(sources, group_size, start)
        if self.prefetch_groups > 0:
            groups = prefetch(groups, self.prefetch_groups)
        for group in groups:
            yield annotate_group(annotator, group)
