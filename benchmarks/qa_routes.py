"""Benchmark: routes to QA answers above the majority floor (PubMedQA, BioASQ), chosen on dev.

    python -m benchmarks.qa_routes                  # both sets, every route (a few CPU minutes)
    python -m benchmarks.qa_routes --report-only    # rebuild the page from the JSON

Why: every fine-tuned MiniLM run of the BLURB study lands on PubMedQA's majority answer ("yes",
55.20 test) and BioASQ's stabilised seeds sit within a few points of its floor (67.14). The pooled
probe (``benchmarks/pooler_probe.py``) reads question and context encoded as *one* input. These routes
read the data differently, each with a linear classifier (scikit-learn) whose regularisation and class
weighting are chosen by 5-fold cross-validation on the training split alone, so dev stays a clean
comparison between routes and test is read once per route:

- ``floor``: the training split's majority answer.
- ``lexical``: TF-IDF word uni- and bigrams of the question and context (the "shallow features" baseline
  of the PubMedQA paper): whether the words alone carry the answer (e.g. "no significant difference").
- ``sentence_pairs``: the embedded MiniLM as the sentence encoder it was trained to be (mean-pooled,
  L2-normalised): the question and *each* context sentence encoded apart, the pair features
  ``|u - v|`` and ``u * v`` mean- and max-pooled over the sentences, with the cosine's max, mean and
  top-3 mean: an NLI-style reading of (question, sentence) pairs, pooled.
- ``sentence_pairs+long_answer`` (PubMedQA): the same, with each training question also paired with its
  *long answer* (the abstract's conclusion, which PQA-L gives and the test context lacks) as extra
  training rows: the reasoning-free bootstrap of Jin et al. (2019), as data.
- ``sentence_pairs+other_set``: trained on both sets' training splits (the other set's rows are
  intermediate data for the one scored; BioASQ predictions are the better of "yes" and "no").
- ``lexical+sentence_pairs``: both feature sets side by side.

Each row: dev and test accuracy, ``dev_delta_vs_floor`` and ``dev_delta_vs_finetuned`` (the mean dev of
the stabilised fine-tuned seeds kept in ``results/blurb_runs/minilm``). Writes
``benchmarks/results/qa_routes.{json,md}`` with the machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.machine import report_context
from biomedserve.atomic import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"
SETS = ("PubMedQA", "BioASQ")
ROUTES = ("floor", "lexical", "sentence_pairs", "sentence_pairs+long_answer", "sentence_pairs+other_set",
          "lexical+sentence_pairs")
GRID = {"model__C": [0.01, 0.1, 1.0, 10.0], "model__class_weight": [None, "balanced"]}
TARGET_MARGIN = 5.0  # issue 33: PubMedQA at least its floor + 5


# ---------------------------------------------------------------- data
@functools.cache
def _sentencizer():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def examples(dataset: str, split: str, data_dir) -> list[dict]:
    """Question, context sentences (spaCy's rule-based sentencizer) and answer of every record."""
    from biomedserve.data.registry import get_dataset

    nlp = _sentencizer()
    records = get_dataset(dataset).load(split, data_dir)
    out = []
    for record, doc in zip(records, nlp.pipe(r.text_b for r in records)):
        sentences = [s.text.strip() for s in doc.sents if s.text.strip()] or [record.text_b]
        out.append({"id": record.id, "question": record.text_a, "context": record.text_b,
                    "sentences": sentences, "label": record.label})
    return out


def long_answers(data_dir) -> dict[str, str]:
    """PMID → PubMedQA's LONG_ANSWER (the conclusion) of the training split."""
    from biomedserve.data.registry import get_dataset

    raw = json.loads(get_dataset("PubMedQA").path("train", data_dir).read_text(encoding="utf-8-sig"))
    return {str(pmid): item["LONG_ANSWER"] for pmid, item in raw.items() if item.get("LONG_ANSWER")}


# ---------------------------------------------------------------- features
class SentenceEncoder:
    """The embedded MiniLM read as a sentence-transformer: mean-pooled, L2-normalised vectors, cached."""

    def __init__(self, base_model: str = "default", max_length: int = 128):
        from transformers import AutoModel, AutoTokenizer

        from biomedserve.modeling.encoders import resolve_base_model
        from biomedserve.modeling.heads import BiEncoder

        path = resolve_base_model(base_model)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = BiEncoder(AutoModel.from_pretrained(path)).eval()  # its embed: the bi-encoder head's vectors
        self.max_length, self.cache = max_length, {}

    def __call__(self, texts: list[str], batch: int = 64) -> np.ndarray:
        import torch
        from tqdm import tqdm

        todo = sorted(dict.fromkeys(t for t in texts if t not in self.cache), key=len)  # similar lengths batch tighter
        with torch.no_grad():
            for start in tqdm(range(0, len(todo), batch), desc="encoding", unit="batch", disable=len(todo) <= batch):
                chunk = todo[start:start + batch]
                encoded = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                         return_tensors="pt")
                vectors = self.model.embed(encoded["input_ids"], encoded["attention_mask"])
                self.cache.update(zip(chunk, vectors.numpy()))
        return np.stack([self.cache[t] for t in texts])


def pair_features(encode: SentenceEncoder, question: str, sentences: list[str]) -> np.ndarray:
    """``|u - v|`` and ``u * v`` mean- and max-pooled over the sentences, and the cosine's max, mean and
    top-3 mean (u the question, v each sentence)."""
    u = encode([question])[0]
    v = encode(sentences)
    diff, prod, cos = np.abs(v - u), v * u, v @ u
    top = np.sort(cos)[::-1][:3]
    return np.concatenate([diff.mean(0), diff.max(0), prod.mean(0), prod.max(0),
                           [cos.max(), cos.mean(), top.mean()]])


def lexical_text(example: dict) -> str:
    return f"{example['question']} {example['context']}"


# ---------------------------------------------------------------- routes
def fit(features: np.ndarray | None, texts: list[str] | None, labels: list[str]):
    """A standardised linear classifier (plus TF-IDF when ``texts``), C and class weighting chosen by
    5-fold stratified cross-validation accuracy on these training rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    parts = []
    if texts is not None:
        parts.append(("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), "text"))
    if features is not None:
        parts.append(("vectors", StandardScaler(), [f"f{i}" for i in range(features.shape[1])]))
    table = _table(features, texts)
    pipeline = Pipeline([("features", ColumnTransformer(parts)),
                         ("model", LogisticRegression(max_iter=5000))])
    search = GridSearchCV(pipeline, GRID, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="accuracy")
    search.fit(table, labels)
    return search


def _table(features: np.ndarray | None, texts: list[str] | None):
    import pandas as pd

    columns = {}
    if texts is not None:
        columns["text"] = texts
    if features is not None:
        columns.update({f"f{i}": features[:, i] for i in range(features.shape[1])})
    return pd.DataFrame(columns)


def accuracy(model, features, texts, labels: list[str], allowed: list[str] | None = None) -> float:
    table = _table(features, texts)
    if allowed is None:
        predicted = model.predict(table)
    else:  # restrict to the scored set's answers (BioASQ has no "maybe")
        classes = list(model.classes_)
        columns = [classes.index(a) for a in allowed]
        predicted = np.array(allowed)[model.predict_proba(table)[:, columns].argmax(1)]
    return round(100 * float(np.mean(np.array(predicted) == np.array(labels))), 2)


def finetuned_dev(dataset: str) -> float | None:
    """Mean dev accuracy of the stabilised fine-tuned seeds kept by the BLURB study."""
    runs = [json.loads(p.read_text()) for p in (RESULTS / "blurb_runs" / "minilm" / dataset).glob("*.json")]
    dev = [r["dev"] for r in runs if r.get("variant") == "stabilised"]
    return round(statistics.fmean(dev), 2) if dev else None


def scored(model, rows: list[dict], features: dict | None, use_text: bool, allowed: list[str] | None = None) -> dict:
    """Dev and test accuracy of a fitted route, with what cross-validation chose."""
    out = {split: accuracy(model, features[split] if features is not None else None,
                           [lexical_text(e) for e in rows[split]] if use_text else None,
                           [e["label"] for e in rows[split]], allowed)
           for split in ("dev", "test")}
    return out | {"chosen": {k.removeprefix("model__"): v for k, v in model.best_params_.items()},
                  "cv_accuracy": round(100 * model.best_score_, 2)}


def routes_for(dataset: str, data: dict, vectors: dict, encode: SentenceEncoder, answers: dict[str, str]) -> dict:
    """Every route's row on ``dataset`` (its own splits scored; the other set only as training rows)."""
    rows, own = data[dataset], vectors[dataset]
    train, labels = rows["train"], [e["label"] for e in rows["train"]]
    other = next(d for d in SETS if d != dataset)
    majority = Counter(labels).most_common(1)[0][0]
    out = {"floor": {s: round(100 * float(np.mean([e["label"] == majority for e in rows[s]])), 2)
                     for s in ("dev", "test")} | {"chosen": {"answer": majority}}}
    texts = [lexical_text(e) for e in train]
    out["lexical"] = scored(fit(None, texts, labels), rows, None, True)
    out["sentence_pairs"] = scored(fit(own["train"], None, labels), rows, own, False)
    out["lexical+sentence_pairs"] = scored(fit(own["train"], texts, labels), rows, own, True)
    if dataset == "PubMedQA":
        extra = [e for e in train if e["id"] in answers]
        bootstrap = np.stack([pair_features(encode, e["question"], [answers[e["id"]]]) for e in extra])
        model = fit(np.vstack([own["train"], bootstrap]), None, labels + [e["label"] for e in extra])
        out["sentence_pairs+long_answer"] = scored(model, rows, own, False) | {"extra_rows": len(extra)}
    other_labels = [e["label"] for e in data[other]["train"]]
    model = fit(np.vstack([own["train"], vectors[other]["train"]]), None, labels + other_labels)
    allowed = sorted(set(labels)) if set(other_labels) - set(labels) else None
    out["sentence_pairs+other_set"] = scored(model, rows, own, False, allowed) | {"extra_rows": len(other_labels)}
    tuned = finetuned_dev(dataset)
    for row in out.values():
        row["dev_delta_vs_floor"] = round(row["dev"] - out["floor"]["dev"], 2)
        row["dev_delta_vs_finetuned"] = round(row["dev"] - tuned, 2) if tuned is not None else None
    return {"routes": out, "finetuned_stabilised_dev": tuned, "examples": {s: len(v) for s, v in rows.items()}}


def measure(data_dir, base_model: str) -> dict:
    encode = SentenceEncoder(base_model)
    data = {d: {s: examples(d, s, data_dir) for s in ("train", "dev", "test")} for d in SETS}
    answers = long_answers(data_dir)
    # every text once, in batches (one progress bar); the pair features below read the cache
    encode([t for splits in data.values() for rows in splits.values() for e in rows
            for t in (e["question"], *e["sentences"])] + list(answers.values()))
    vectors = {d: {s: np.stack([pair_features(encode, e["question"], e["sentences"]) for e in rows])
                   for s, rows in splits.items()} for d, splits in data.items()}
    return {dataset: routes_for(dataset, data, vectors, encode, answers) for dataset in SETS}


def summarize(results: dict) -> dict:
    out = {}
    for dataset, r in results.items():
        # the floor is a candidate too: a route that does not beat it on dev is not chosen (ties go to the floor)
        routes = r["routes"]
        best = max(routes, key=lambda k: (routes[k]["dev"], -list(ROUTES).index(k)))
        floor = routes["floor"]
        out[dataset] = {"best_on_dev": best, "dev": routes[best]["dev"], "test": routes[best]["test"],
                        "floor_test": floor["test"], "test_above_floor": round(routes[best]["test"] - floor["test"], 2),
                        "meets_floor_plus_5": routes[best]["test"] >= floor["test"] + TARGET_MARGIN}
    return out


def markdown(report: dict) -> str:
    lines = ["# QA routes above the majority floor", "",
             f"Measured {report['when']} on {report['machine'].get('cpu')} (flags "
             f"{', '.join(report['machine'].get('cpu_flags') or [])}). Frozen embedded MiniLM sentence vectors and/or "
             "TF-IDF, a logistic regression whose C and class weighting are chosen by 5-fold CV on train; accuracy.", ""]
    for dataset, r in report["results"].items():
        lines += [f"## {dataset} ({r['examples']['train']} train / {r['examples']['dev']} dev / "
                  f"{r['examples']['test']} test; stabilised fine-tuned seeds: dev {r['finetuned_stabilised_dev']})", "",
                  "| route | dev | test | Δdev vs floor | Δdev vs fine-tuned | chosen |", "|---|---|---|---|---|---|"]
        for name in ROUTES:
            row = r["routes"].get(name)
            if row:
                chosen = ", ".join(f"{k}={v}" for k, v in row["chosen"].items())
                lines.append(f"| {name} | {row['dev']:.2f} | {row['test']:.2f} | {row['dev_delta_vs_floor']:+.2f} | "
                             f"{'' if row['dev_delta_vs_finetuned'] is None else format(row['dev_delta_vs_finetuned'], '+.2f')} | "
                             f"{chosen} |")
        s = report["summary"][dataset]
        lines += ["", f"Chosen on dev: **{s['best_on_dev']}**, test {s['test']:.2f} against the floor's "
                  f"{s['floor_test']:.2f} ({s['test_above_floor']:+.2f}); floor + {TARGET_MARGIN:g} "
                  f"{'met' if s['meets_floor_plus_5'] else '**missed**'}.", ""]
    lines += ["Reproduce: `python -m benchmarks.qa_routes`.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-model", default="default")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    path = args.results_dir / "qa_routes.json"
    when, machine = report_context(path, rebuilt=args.report_only)
    if args.report_only:
        report = json.loads(path.read_text())
        report["summary"] = summarize(report["results"])
    else:
        started = time.perf_counter()
        results = measure(args.data_dir, args.base_model)
        report = {"benchmark": "qa_routes", "when": when, "summary": summarize(results), "results": results,
                  "seconds": round(time.perf_counter() - started, 1), "machine": machine,
                  "command": "python -m benchmarks.qa_routes"}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(report, indent=2) + "\n")
    atomic_write(args.results_dir / "qa_routes.md", markdown(report))
    print(json.dumps(report["summary"], indent=2))


if __name__ == "__main__":
    main()
