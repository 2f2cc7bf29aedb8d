"""Benchmark: the HTTP service under concurrent load, batching on vs off, and a schema fuzz run.

    python -m benchmarks.service_load                       # 64 clients × 60 s, batching on and off, fuzz
    python -m benchmarks.service_load --clients 16 --seconds 20 --model models/bc5chem-minilm

The service is started for real (``bentoml serve`` on a free loopback port) with the fine-tuned NER
model in its gated default variant (int8 when it passed the gate: `biomedserve export --quantize int8`).
Each client posts one BC5-chem test sentence per request, back to back. After a warm-up, it records
requests/s, texts/s, p50/p95/p99 latency, errors (any non-200 or transport failure) and the server's
RSS (all its processes) after warm-up and at the end. Then schemathesis fuzzes every operation of the
OpenAPI schema and the 5xx responses are counted from its HAR log.
Writes ``benchmarks/results/service_load.json`` and ``service_load.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import httpx

from biomedserve.serving.launch import ServiceProcess

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


async def load(url: str, texts: list[str], clients: int, seconds: float) -> dict:
    """``clients`` coroutines posting back to back for ``seconds``.

    aiohttp, not httpx: on 2 cores the load generator shares the CPU with the server, and httpx's
    per-request CPU cost took a share of the machine comparable to the server's own.
    """
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    sent_texts = 0
    stop_at = time.perf_counter() + seconds

    async def client(seed: int, http: aiohttp.ClientSession) -> None:
        nonlocal errors, sent_texts
        rng = random.Random(seed)
        while time.perf_counter() < stop_at:
            text = rng.choice(texts)
            started = time.perf_counter()
            try:
                async with http.post(f"{url}/ner", json={"texts": [text]}) as response:
                    body = await response.text()
                ok = response.status == 200 and len(json.loads(body)["entities"]) == 1
                kind = f"HTTP {response.status}: {body[:120]}"
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                ok, kind = False, f"{type(exc).__name__}: {exc}"[:160]
            if not ok:
                kinds[kind] = kinds.get(kind, 0) + 1
            latencies.append(1000 * (time.perf_counter() - started))
            if ok:
                sent_texts += 1
            else:
                errors += 1

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else float("nan")

    return {"requests": len(latencies), "errors": errors, "error_kinds": kinds, "seconds": round(elapsed, 1),
            "requests_per_s": round(len(latencies) / elapsed, 1), "texts_per_s": round(sent_texts / elapsed, 1),
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None}


def model_ceiling(model: Path, texts: list[str]) -> dict:
    """What merging can win at most: the runtime's cost per text alone vs in merged batches of 64,
    on one thread (how each service worker runs it), with no HTTP in the way."""
    from biomedserve.runtime import Predictor

    predictor = Predictor.from_dir(model, threads=1)
    predictor.predict(texts[:64])
    singles, merged = texts[:300], texts[:1024]
    started = time.perf_counter()
    for text in singles:
        predictor.predict([text])
    alone = (time.perf_counter() - started) / len(singles)
    started = time.perf_counter()
    for i in range(0, len(merged), 64):
        predictor.predict(merged[i:i + 64])
    batched = (time.perf_counter() - started) / len(merged)
    return {"variant": predictor.variant, "ms_per_text_alone": round(1000 * alone, 2),
            "ms_per_text_batched_64": round(1000 * batched, 2), "ceiling": round(alone / batched, 2)}


def start(model: Path, batching: bool, log_dir: Path) -> ServiceProcess:
    name = "batched" if batching else "unbatched"
    return ServiceProcess([model], {"BIOMEDSERVE_BATCHING": "1" if batching else "0",
                                    "BENTOML_HOME": str(log_dir / "bentoml")}, log=log_dir / f"{name}.log").wait_ready()


def run_mode(model: Path, batching: bool, texts: list[str], args, log_dir: Path) -> dict:
    service = start(model, batching, log_dir)
    try:
        info = httpx.get(f"{service.url}/models").json()[0]
        print(f"{'batched' if batching else 'unbatched'}: {info['name']} ({info['variant']}), warm-up {args.warmup} s",
              flush=True)
        asyncio.run(load(service.url, texts, args.clients, args.warmup))
        rss_start = service.rss_mb()
        result = asyncio.run(load(service.url, texts, args.clients, args.seconds))
        rss_end = service.rss_mb()
        result.update({"batching": batching, "variant": info["variant"], "rss_after_warmup_mb": rss_start,
                       "rss_end_mb": rss_end, "rss_growth_pct": round(100 * (rss_end - rss_start) / rss_start, 1)})
        print(f"    {json.dumps(result)}", flush=True)
        return result
    finally:
        service.stop()


def fuzz(model: Path, examples: int, log_dir: Path) -> dict:
    """schemathesis over every operation; 5xx counted from the HAR log of all exchanges."""
    service = start(model, True, log_dir)
    har = log_dir / "fuzz.har"
    try:
        schemathesis = Path(sys.executable).with_name("schemathesis")
        run = subprocess.run([str(schemathesis), "run", f"{service.url}/openapi.json", "--checks", "all",
                              "--max-examples", str(examples), "--report", "har", "--report-har-path", str(har),
                              "--request-timeout", "60"],
                             capture_output=True, text=True, timeout=3600)
        entries = json.loads(har.read_text())["log"]["entries"] if har.is_file() else []
        statuses = [e["response"]["status"] for e in entries]
        return {"requests": len(statuses), "responses_5xx": sum(1 for s in statuses if s >= 500),
                "status_counts": {str(s): statuses.count(s) for s in sorted(set(statuses))},
                "schemathesis_exit_code": run.returncode,
                "schemathesis_tail": run.stdout.strip().splitlines()[-12:]}
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/bc5chem-minilm"))
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--fuzz-examples", type=int, default=100)
    args = parser.parse_args()

    from benchmarks.machine import describe
    from biomedserve.data.registry import get_dataset

    texts = [" ".join(s.tokens) for s in get_dataset("BC5-chem").load("test")]
    ceiling = model_ceiling(args.model, texts)
    print(f"model-level ceiling of batching: {json.dumps(ceiling)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="service-load-") as tmp:
        log_dir = Path(tmp)
        batched = run_mode(args.model, True, texts, args, log_dir)
        unbatched = run_mode(args.model, False, texts, args, log_dir)
        fuzzed = fuzz(args.model, args.fuzz_examples, log_dir)
    summary = {
        "clients": args.clients, "seconds": args.seconds, "variant": batched["variant"],
        "errors": batched["errors"] + unbatched["errors"], "fuzz_5xx": fuzzed["responses_5xx"],
        "fuzz_requests": fuzzed["requests"],
        "batched_over_unbatched": round(batched["texts_per_s"] / unbatched["texts_per_s"], 2),
        "rss_growth_pct": batched["rss_growth_pct"], "p99_ms": batched["p99_ms"],
        "model_level_ceiling": ceiling["ceiling"],
    }
    report = {"benchmark": "service_load", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "summary": summary, "batched": batched, "unbatched": unbatched, "fuzz": fuzzed,
              "model_ceiling": ceiling,
              "machine": describe(), "command": "python -m benchmarks.service_load " + " ".join(sys.argv[1:])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "service_load.json").write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    lines = [
        "# The HTTP service under load", "",
        f"Run {report['when']} on {m['cpu']} ({m['usable_cores']} cores); model {args.model} ({batched['variant']}); "
        f"{args.clients} concurrent clients, {args.seconds:.0f} s after a {args.warmup:.0f} s warm-up, one BC5-chem "
        f"test sentence per request. `{report['command'].strip()}`", "",
        "| batching | requests/s | texts/s | p50 ms | p95 ms | p99 ms | errors | RSS after warm-up MB | RSS end MB | growth |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (batched, unbatched):
        lines.append(f"| {'on' if r['batching'] else 'off'} | {r['requests_per_s']} | {r['texts_per_s']} | {r['p50_ms']} | "
                     f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} | {r['rss_after_warmup_mb']} | {r['rss_end_mb']} | "
                     f"{r['rss_growth_pct']}% |")
    lines += ["", f"Batched throughput is **{summary['batched_over_unbatched']}×** unbatched.", "",
              f"The most merging can win here: the runtime ({ceiling['variant']}, one thread, no HTTP) spends "
              f"{ceiling['ms_per_text_alone']} ms per text alone and {ceiling['ms_per_text_batched_64']} ms in batches "
              f"of 64 — a ceiling of **{ceiling['ceiling']}×**, before any HTTP cost, which both modes pay alike.", "",
              f"Fuzzing (schemathesis, every operation of /openapi.json, {args.fuzz_examples} examples each): "
              f"{fuzzed['requests']} requests, **{fuzzed['responses_5xx']} responses ≥ 500**; statuses "
              f"{fuzzed['status_counts']}.", ""]
    (RESULTS / "service_load.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
