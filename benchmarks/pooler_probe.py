"""Benchmark: how much a frozen encoder's sentence vectors know, read three ways.

    python -m benchmarks.pooler_probe                 # HoC, 4000 training sentences, all of dev
    python -m benchmarks.pooler_probe --dataset PubMedQA   # a QA set: question + context pairs, every split
    python -m benchmarks.pooler_probe --base-model microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract-fulltext

Why: sequence heads in Hugging Face (``*ForSequenceClassification``) read the *pooler* — a dense +
tanh layer over ``[CLS]`` trained by next-sentence prediction. Sentence-transformers models such as
the embedded MiniLM never trained it for their final objective, so it may be a poor starting point;
``reinit_pooler`` in a recipe re-initialises it. This probe puts numbers on it: one-vs-rest
logistic regression (scikit-learn) on the frozen ``[CLS]`` vector, the pooler output and the mean
of the token vectors, scored by sentence-level micro F1 on HoC dev. Writes
``benchmarks/results/pooler_probe_<label>.json``.

On a QA set (PubMedQA, BioASQ: question and context encoded as one pair) the probe is multinomial
logistic regression on the whole train split, scored by accuracy on dev and test beside the
majority answer. It asks whether the frozen encoder's vectors hold any signal for the answer at
all: when a fine-tuned model lands on the majority answer while the probe clears it, the fine-tuning
collapsed; when the probe cannot clear it either, the encoder (at this size) is the limit. Writes
``benchmarks/results/pooler_probe_<label>_<dataset>.json``.
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

from biomedserve.data.registry import DATASETS
from biomedserve.modeling.encoders import mean_pool, resolve_base_model
from biomedserve.tasks.classification import documents_to_sentences, multi_hot

RESULTS = Path(__file__).resolve().parent / "results"
READOUTS = ("cls", "pooler", "mean")


def qa_pairs(dataset: str, split: str, data_dir) -> tuple[list[tuple[str, str]], np.ndarray]:
    records = DATASETS[dataset].load(split, data_dir)
    return [(r.text_a, r.text_b) for r in records], np.array([r.label for r in records])


def sentences(split: str, limit: int | None, data_dir) -> tuple[list[str], np.ndarray]:
    spec = DATASETS["HoC"]
    pairs = documents_to_sentences(spec.load(split, data_dir))[:limit]
    return [s for s, _ in pairs], np.array([multi_hot(labels, spec.labels) for _, labels in pairs], dtype=int)


@torch.no_grad()
def readouts(model, tokenizer, texts: list[str] | list[tuple[str, str]], batch: int = 64,
             max_length: int = 128) -> dict[str, np.ndarray]:
    """The three sentence vectors for every text (or text pair, encoded as one input)."""
    out: dict[str, list[torch.Tensor]] = {name: [] for name in READOUTS}
    for start in tqdm(range(0, len(texts), batch), desc="encoding", unit="batch"):
        chunk = texts[start:start + batch]
        pairs = isinstance(chunk[0], tuple)
        encoded = tokenizer([a for a, _ in chunk] if pairs else chunk, [b for _, b in chunk] if pairs else None,
                            padding=True, truncation="only_second" if pairs else True, max_length=max_length,
                            return_tensors="pt")
        hidden = model(**encoded)
        out["cls"].append(hidden.last_hidden_state[:, 0])
        out["pooler"].append(hidden.pooler_output)
        out["mean"].append(mean_pool(hidden.last_hidden_state, encoded["attention_mask"]))
    return {name: torch.cat(vectors).numpy() for name, vectors in out.items()}


def probe_qa(model, tokenizer, dataset: str, data_dir, max_length: int) -> dict:
    """Accuracy of a logistic-regression probe per readout on dev and test, beside the majority answer."""
    from collections import Counter

    splits = {split: qa_pairs(dataset, split, data_dir) for split in ("train", "dev", "test")}
    vectors = {split: readouts(model, tokenizer, x, batch=16, max_length=max_length) for split, (x, _) in splits.items()}
    majority = Counter(splits["train"][1].tolist()).most_common(1)[0][0]
    summary = {"dataset": dataset, "max_length": max_length, "majority_label": majority,
               **{f"{split}_examples": len(splits[split][1]) for split in splits}}
    for split in ("dev", "test"):
        summary[f"accuracy_majority_{split}"] = round(100 * float(np.mean(splits[split][1] == majority)), 2)
    for name in READOUTS:
        probe = LogisticRegression(max_iter=5000).fit(vectors["train"][name], splits["train"][1])
        for split in ("dev", "test"):
            predicted = probe.predict(vectors[split][name])
            summary[f"accuracy_{name}_{split}"] = round(100 * float(np.mean(predicted == splits[split][1])), 2)
        print(f"{name:>6}: dev {summary[f'accuracy_{name}_dev']:.2f} test {summary[f'accuracy_{name}_test']:.2f} "
              f"(majority: dev {summary['accuracy_majority_dev']:.2f} test {summary['accuracy_majority_test']:.2f})")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-model", default="default")
    parser.add_argument("--label", default="minilm", help="names the results file")
    parser.add_argument("--train", type=int, default=4000, help="training sentences for the probe")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--dataset", default="HoC", choices=["HoC", "PubMedQA", "BioASQ"])
    parser.add_argument("--max-length", type=int, default=256, help="sub-word tokens per QA pair (QA sets)")
    args = parser.parse_args()
    from benchmarks.machine import describe

    path = resolve_base_model(args.base_model)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    if getattr(model, "pooler", None) is None:
        raise SystemExit(f"{args.base_model} has no pooler to probe")
    started = time.perf_counter()
    if args.dataset != "HoC":
        report = {
            "benchmark": "pooler_probe", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "summary": {"encoder": args.base_model, **probe_qa(model, tokenizer, args.dataset, args.data_dir,
                                                                args.max_length)},
            "seconds": round(time.perf_counter() - started, 1), "machine": describe(),
            "command": "python -m benchmarks.pooler_probe " + " ".join(sys.argv[1:]),
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"pooler_probe_{args.label}_{args.dataset}.json").write_text(json.dumps(report, indent=2) + "\n")
        return
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
        "command": "python -m benchmarks.pooler_probe " + " ".join(sys.argv[1:]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"pooler_probe_{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
