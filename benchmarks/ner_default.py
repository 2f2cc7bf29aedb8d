"""Benchmark: standard fine-tuning of the embedded MiniLM on BC5-chem, scored through ONNX and PyTorch.

    python -m benchmarks.ner_default              # reuse models/bc5chem-minilm if it exists
    python -m benchmarks.ner_default --retrain    # train it afresh first (~10 min on 2 cores)

Writes ``benchmarks/results/ner_default.json`` (with a top-level ``summary``) and
``benchmarks/results/ner_default.md``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import describe
from biomedserve.export.evaluation import evaluate_model
from biomedserve.modeldir.card import read_meta

RESULTS = Path(__file__).resolve().parent / "results"
TRAIN_COMMAND = "biomedserve train --dataset BC5-chem --recipe standard --out {model} --overwrite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/bc5chem-minilm"))
    parser.add_argument("--retrain", action="store_true", help="train the model afresh first")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    train_command = TRAIN_COMMAND.format(model=args.model)
    if args.retrain or not (args.model / "biomedserve.json").is_file():
        command = shlex.split(train_command) + (["--data-dir", args.data_dir] if args.data_dir else [])
        subprocess.run([sys.executable, "-m", "biomedserve.cli", *command[1:]], check=True)
    meta = read_meta(args.model)

    runs = {}
    for backend in ("onnx", "torch"):
        started = time.perf_counter()
        result = evaluate_model(args.model, split="test", backend=backend, data_dir=args.data_dir, record=True,
                               progress=True)
        runs[backend] = {**result.details, "seconds": round(time.perf_counter() - started, 1), "sentences": result.n}
        print(f"{backend}: test F1 {result.score:.2f} ({runs[backend]['seconds']} s)", flush=True)

    summary = {
        "dataset": meta.dataset,
        "base_model": meta.base_model,
        "base_model_path": meta.provenance.get("base_model_path"),
        "test_f1_onnx": round(runs["onnx"]["f1"], 2),
        "test_f1_torch": round(runs["torch"]["f1"], 2),
        "onnx_minus_torch": round(runs["onnx"]["f1"] - runs["torch"]["f1"], 3),
        "dev_f1_best_epoch": round(meta.provenance.get("best_checkpoint_metric") or float("nan"), 2),
        "train_seconds": meta.train_seconds,
        "recipe": meta.recipe,
        "command": f"{train_command} && python -m benchmarks.ner_default",
    }
    report = {
        "benchmark": "ner_default",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "summary": summary,
        "evaluations": runs,
        "dev_history": meta.provenance.get("dev_history"),
        "machine": describe(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ner_default.json").write_text(json.dumps(report, indent=2) + "\n")
    md = [
        "# NER on the embedded encoder: BC5-chem, standard recipe",
        "",
        f"Run {report['when']} on {report['machine']['cpu']} ({report['machine']['usable_cores']} cores).",
        "",
        "| base model | recipe | train time | dev F1 (best epoch) | test F1 ONNX | test F1 PyTorch |",
        "|---|---|---|---|---|---|",
        f"| {meta.base_model} (MiniLM-L6-H384) | lr {meta.recipe['learning_rate']}, {meta.recipe['epochs']} epochs, "
        f"batch {meta.recipe['batch_size']} | {meta.train_seconds:.0f} s | {summary['dev_f1_best_epoch']} | "
        f"{summary['test_f1_onnx']} | {summary['test_f1_torch']} |",
        "",
        f"Reproduce: `{summary['command']}`",
        "",
    ]
    (RESULTS / "ner_default.md").write_text("\n".join(md))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
