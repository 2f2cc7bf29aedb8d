"""Benchmark: how much a frozen encoder's sentence vectors know, read three ways.

    python benchmarks/pooler_probe.py                 # HoC, 4000 training sentences, all of dev
    python benchmarks/pooler_probe.py --base-model microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext

Why: sequence heads in Hugging Face (``*ForSequenceClassification``) read the *pooler* — a dense +
tanh layer over ``[CLS]`` trained by next-sentence prediction. Sentence-transformers models such as
the embedded MiniLM never trained it for their final objective, so it may be a poor starting point;
``reinit_pooler`` in a recipe re-initialises it. This probe puts numbers on it: one-vs-rest
logistic regression (scikit-learn) on the frozen ``[CLS]`` vector, the pooler output and the mean
of the token vectors, scored by sentence-level micro F1 on HoC dev. Writes
``benchmarks/results/pooler_probe_<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from biomedserve.data.registry import DATASETS  # noqa: E402
from biomedserve.encoders import mean_pool, resolve_base_model  # noqa: E402
from biomedserve.tasks.classification import documents_to_sentences, multi_hot  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
READOUTS = ("cls", "pooler", "mean")


def sentences(split: str, limit: int | None, data_dir) -> tuple[list[str], np.ndarray]:
    spec = DATASETS["HoC"]
    pairs = documents_to_sentences(spec.load(split, data_dir))[:limit]
    return [s for s, _ in pairs], np.array([multi_hot(labels, spec.labels) for _, labels in pairs], dtype=int)


@torch.no_grad()
def readouts(model, tokenizer, texts: list[str], batch: int = 64) -> dict[str, np.ndarray]:
    """The three sentence vectors for every text."""
    out: dict[str, list[torch.Tensor]] = {name: [] for name in READOUTS}
    for start in tqdm(range(0, len(texts), batch), desc="encoding", unit="batch"):
        encoded = tokenizer(texts[start:start + batch], padding=True, truncation=True, max_length=128,
                            return_tensors="pt")
        hidden = model(**encoded)
        out["cls"].append(hidden.last_hidden_state[:, 0])
        out["pooler"].append(hidden.pooler_output)
        out["mean"].append(mean_pool(hidden.last_hidden_state, encoded["attention_mask"]))
    return {name: torch.cat(vectors).numpy() for name, vectors in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-model", default="default")
    parser.add_argument("--label", default="minilm", help="names the results file")
    parser.add_argument("--train", type=int, default=4000, help="training sentences for the probe")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    from machine import describe

    path = resolve_base_model(args.base_model)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    if getattr(model, "pooler", None) is None:
        raise SystemExit(f"{args.base_model} has no pooler to probe")
    started = time.perf_counter()
    train_x, train_y = sentences("train", args.train, args.data_dir)
    dev_x, dev_y = sentences("dev", None, args.data_dir)
    train_v, dev_v = readouts(model, tokenizer, train_x), readouts(model, tokenizer, dev_x)
    scores = {}
    for name in READOUTS:
        probe = OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(train_v[name], train_y)
        scores[name] = round(100 * f1_score(dev_y, probe.predict(dev_v[name]), average="micro", zero_division=0), 2)
        print(f"{name:>6}: sentence-level micro F1 {scores[name]:.2f}")
    report = {
        "benchmark": "pooler_probe", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "summary": {"encoder": args.base_model, "dataset": "HoC", "train_sentences": len(train_x),
                    "dev_sentences": len(dev_x), **{f"micro_f1_{name}": s for name, s in scores.items()}},
        "seconds": round(time.perf_counter() - started, 1), "machine": describe(),
        "command": "python benchmarks/pooler_probe.py " + " ".join(sys.argv[1:]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"pooler_probe_{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
