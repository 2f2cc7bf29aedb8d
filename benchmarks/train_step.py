"""Benchmark: one fine-tuning step of the embedded encoder in fp32 and under bfloat16 autocast.

    python -m benchmarks.train_step            # batch 32 × 128 tokens, 5 timed steps per mode, 2 rounds

Why the standard recipes set ``bf16: auto``: on CPUs with AVX512-BF16/AMX (and GPUs with bf16) the
autocast matmuls are faster while the weights and optimiser state stay fp32, and on CPUs without
them bf16 is emulated and many times slower. The report records the CPU flags beside the times, and
what ``auto`` decides on this host. Writes ``benchmarks/results/train_step.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from transformers import AutoModelForTokenClassification

from biomedserve.hardware import decide_bf16, speed_flags
from biomedserve.modeling.encoders import default_encoder_path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from benchmarks.machine import describe

    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(str(default_encoder_path()), num_labels=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(1000, 20000, (args.batch, args.tokens))
    labels = torch.randint(0, 3, (args.batch, args.tokens))

    def step(bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.rounds):  # interleaved, so both modes see the same machine load
        for mode in times:
            step(mode == "bf16")  # warm-up
            started = time.perf_counter()
            for _ in range(args.steps):
                step(mode == "bf16")
            times[mode].append((time.perf_counter() - started) / args.steps)
    fp32, bf16 = statistics.median(times["fp32"]), statistics.median(times["bf16"])
    report = {"benchmark": "train_step", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "summary": {"s_per_step_fp32": round(fp32, 3), "s_per_step_bf16": round(bf16, 3),
                          "bf16_speedup": round(fp32 / bf16, 2), "batch": args.batch, "tokens": args.tokens,
                          "cpu_flags": speed_flags(), "bf16_auto": decide_bf16("auto").to_dict()},
              "rounds": times, "machine": describe(), "command": "python -m benchmarks.train_step " + " ".join(sys.argv[1:])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train_step.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"]))


if __name__ == "__main__":
    main()
