"""Benchmark: does an NER model score the same on corpus tokens as on raw text?

    python -m benchmarks.segmentation                                   # models/jnlpba-minilm, all of test
    python -m benchmarks.segmentation --model models/x --limit 800      # any NER model directory

Why: BLURB scores NER on the corpus's own tokens, but users hand the runtime raw text, which
``biomedserve.text.words.split_words`` cuts into runs of letters/digits and single other characters.
Where a corpus keeps ``IL-2`` whole (JNLPBA), a model trained on whole tokens meets pieces it never
learned at serving time. Training now cuts corpus tokens the same way (``resplit``); this benchmark
checks that the two paths agree, and counts per NER test set the tokens that raw text would cut.

Two paths, same model (int8 by default, as served): ``predict_words`` on the corpus tokens, and the
``biomedserve_ner`` spaCy component on the tokens joined by spaces, its entities mapped back to the
corpus tokens exactly as ``vs_scispacy.py`` does. Writes ``benchmarks/results/segmentation.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import spacy

from benchmarks.vs_scispacy import PAPER, RESULTS, doc_tags, texts_and_gold
from biomedserve.atomic import atomic_write
from biomedserve.data.registry import get_dataset
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import Predictor
from biomedserve.tasks.ner import entity_scores
from biomedserve.text.words import split_words


def cut_share(dataset: str) -> dict:
    """Test tokens that raw-text splitting would cut into more than one word."""
    tokens = [t for s in get_dataset(dataset).load("test") for t in s.tokens]
    cut = sum(len(split_words(t)) > 1 for t in tokens)
    return {"tokens": len(tokens), "cut": cut, "percent": round(100 * cut / len(tokens), 2)}


def both_paths(model: Path, variant: str, limit: int | None) -> dict:
    dataset = read_meta(model).dataset
    texts, offsets, gold, keep = texts_and_gold(dataset, limit)
    sentences = get_dataset(dataset).load("test")[:limit]
    tokens = Predictor.from_dir(model, variant=variant).predict_words([s.tokens for s in sentences])
    nlp = spacy.blank("en")
    nlp.add_pipe("biomedserve_ner", config={"model": str(model), "variant": variant})
    text = [doc_tags(d, o, keep) for d, o in zip(nlp.pipe(texts, batch_size=64), offsets)]
    return {"model": str(model), "dataset": dataset, "variant": variant, "sentences": len(texts),
            "strict_f1_corpus_tokens": round(entity_scores(gold, [t.tags for t in tokens])["f1"], 2),
            "strict_f1_raw_text": round(entity_scores(gold, text)["f1"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/jnlpba-minilm"), help="NER model directory.")
    parser.add_argument("--variant", default="int8", help="fp32, int8, … (a variant on the model's card).")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N test sentences.")
    args = parser.parse_args()
    from benchmarks.machine import describe

    report = {"benchmark": "segmentation", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": "python -m benchmarks.segmentation " + " ".join(sys.argv[1:]),
              "tokens_cut_by_raw_text_splitting": {d: cut_share(d) for d in PAPER},
              "paths": both_paths(args.model, args.variant, args.limit), "machine": describe()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write(RESULTS / "segmentation.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("tokens_cut_by_raw_text_splitting", "paths")}, indent=2))


if __name__ == "__main__":
    main()
