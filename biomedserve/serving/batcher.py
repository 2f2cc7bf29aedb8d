"""Merge concurrent requests into runtime batches by a token budget and a maximum wait.

BentoML's adaptive batcher counts items; a request of one 5,000-word abstract and one of a
10-word sentence are not the same load. This batcher estimates each input's sub-word tokens,
queues inputs from all requests, and runs a batch when the budget is full or the oldest input has
waited ``max_latency`` — one runtime call per batch, results handed back to each caller's future.
``workers`` batches run at once, one per core, each on a single-threaded ONNX Runtime call (the
"2 streams" rows of ``benchmarks/inference.py``; figures in ``benchmarks/results/``). With batching
off, requests run as they arrive through the same ``workers`` threads, so the two modes differ only
in merging — the comparison ``benchmarks/service_load.py`` makes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any


def estimate_tokens(item: Any) -> int:
    """≈ sub-word tokens of a text or a pair: 1 per 4 characters, at least 1."""
    if isinstance(item, str):
        return max(1, len(item) // 4)
    if isinstance(item, (tuple, list)):
        return sum(estimate_tokens(x) for x in item if x)
    return 1


@dataclass
class _Pending:
    items: Sequence[Any]
    future: asyncio.Future
    cost: int
    since: float = field(default_factory=time.perf_counter)


class TokenBatcher:
    """``await batcher.submit(items)`` → ``fn(items)``'s results, computed in merged batches."""

    def __init__(self, fn: Callable[[list[Any]], list[Any]], max_tokens: int = 8192, max_items: int = 128,
                 max_latency_ms: float = 10.0, enabled: bool = True, workers: int = 1):
        self.fn = fn
        self.max_tokens = max_tokens
        self.max_items = max_items
        self.max_latency = max_latency_ms / 1000
        self.enabled = enabled
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runtime")
        self.queue: asyncio.Queue[_Pending] | None = None
        self.tasks: list[asyncio.Task] = []
        self.batches = 0  # how many runtime calls were made (observable in tests)

    async def submit(self, items: Sequence[Any], **options: Any) -> list[Any]:
        """``fn(items)``'s results. With ``options`` (``fn(items, **options)``: a request's own
        guideline), the items run alone on a worker, not merged with others'."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        if options:
            self.batches += 1
            return await loop.run_in_executor(self.executor, partial(self.fn, list(items), **options))
        if not self.enabled:  # every request runs the model on arrival, ``workers`` at a time
            self.batches += 1
            return await loop.run_in_executor(self.executor, self.fn, list(items))
        if not self.tasks or any(t.done() for t in self.tasks):
            for task in self.tasks:
                task.cancel()
            self.queue = asyncio.Queue()
            self.tasks = [loop.create_task(self._run()) for _ in range(self.workers)]
        pending = _Pending(items, loop.create_future(), sum(estimate_tokens(i) for i in items))
        await self.queue.put(pending)
        return await pending.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        carry: _Pending | None = None
        while True:
            first = carry or await self.queue.get()
            carry = None
            batch, cost, count = [first], first.cost, len(first.items)
            deadline = first.since + self.max_latency
            while cost < self.max_tokens and count < self.max_items:
                timeout = deadline - time.perf_counter()
                try:
                    nxt = self.queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(self.queue.get(), timeout)
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
                if cost + nxt.cost > self.max_tokens or count + len(nxt.items) > self.max_items:
                    carry = nxt  # starts the next batch
                    break
                batch.append(nxt)
                cost += nxt.cost
                count += len(nxt.items)
            flat = [item for p in batch for item in p.items]
            self.batches += 1
            try:
                results = await loop.run_in_executor(self.executor, self.fn, flat)
            except Exception as exc:  # hand the failure to every caller of this batch
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                continue
            start = 0
            for p in batch:
                if not p.future.done():
                    p.future.set_result(results[start:start + len(p.items)])
                start += len(p.items)
