"""The token-budget batcher on its own: merging, budgets, order, failures."""

import asyncio
import time

import pytest

from biomedserve.serving.batcher import TokenBatcher, estimate_tokens


def test_token_estimate():
    assert estimate_tokens("x" * 400) == 100
    assert estimate_tokens(("x" * 40, "y" * 40)) == 20
    assert estimate_tokens("") == 1


def test_concurrent_requests_are_merged_and_answered_in_order():
    calls = []

    def fn(items):
        calls.append(list(items))
        return [item.upper() for item in items]

    async def main():
        batcher = TokenBatcher(fn, max_tokens=10_000, max_items=100, max_latency_ms=50)
        requests = [[f"text{i}a", f"text{i}b"] for i in range(10)]
        return requests, await asyncio.gather(*(batcher.submit(r) for r in requests))

    requests, results = asyncio.run(main())
    assert results == [[t.upper() for t in r] for r in requests]
    assert len(calls) < 10  # merged, not one call per request


def test_token_budget_splits_batches():
    calls = []

    def fn(items):
        calls.append(len(items))
        return items

    async def main():
        batcher = TokenBatcher(fn, max_tokens=100, max_items=100, max_latency_ms=50)
        await asyncio.gather(*(batcher.submit(["x" * 160]) for _ in range(6)))  # 40 tokens each

    asyncio.run(main())
    assert sum(calls) == 6 and max(calls) <= 2


def test_a_failing_batch_fails_its_callers_and_the_batcher_recovers():
    state = {"fail": True}

    def fn(items):
        if state["fail"]:
            raise ValueError("boom")
        return items

    async def main():
        batcher = TokenBatcher(fn, max_latency_ms=5)
        with pytest.raises(ValueError):
            await batcher.submit(["a"])
        state["fail"] = False
        return await batcher.submit(["b"])

    assert asyncio.run(main()) == ["b"]


def test_disabled_batcher_calls_once_per_request():
    calls = []

    async def main():
        batcher = TokenBatcher(lambda items: calls.append(items) or items, enabled=False)
        await asyncio.gather(*(batcher.submit([i]) for i in range(5)))

    asyncio.run(main())
    assert sorted(c[0] for c in calls) == list(range(5))


def test_two_workers_run_batches_in_parallel():
    def fn(items):
        time.sleep(0.2)
        return items

    async def main():
        batcher = TokenBatcher(fn, max_tokens=5, max_latency_ms=1, workers=2)
        started = time.perf_counter()
        await asyncio.gather(batcher.submit(["x" * 16]), batcher.submit(["y" * 16]))
        return time.perf_counter() - started

    assert asyncio.run(main()) < 0.35
