"""Benchmark: does a real NER model tag the same text the same way wherever it stands?

    python -m benchmarks.consistency                       # models/bc5chem-minilm, every variant it has
    python -m benchmarks.consistency --model models/x --repeats 60

Two checks on a trained model rather than the tiny test model:

* a paragraph repeated ``--repeats`` times in one document: how many distinct entity lists its
  copies get (1 means every copy is tagged alike), and the entities of the first copy;
* combining marks: the entities of NFD and NFC spellings of the same sentences (a word must keep
  its marks, and both spellings must give the same entities).

Writes ``benchmarks/results/consistency.json`` with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.machine import describe
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import Predictor

RESULTS = Path(__file__).resolve().parent / "results"
PARAGRAPH = ("Cisplatin, 5-fluorouracil and L-DOPA were given to 2,4-dinitrophenol treated rats. "
             "Naloxone reversed the hypotensive effect of clonidine, whereas haloperidol did not. "
             "Serum levels of creatinine and potassium rose after gentamicin (GM) and vancomycin.")
MARKED = ["Me\u0301thotrexate was given with cafe\u0301ine.", "Cafe\u0301ine and me\u0301thotrexate levels rose."]


def repeated_paragraph(predictor: Predictor, repeats: int) -> dict:
    """Distinct entity lists (offsets relative to each copy) over the copies of one paragraph."""
    text = " ".join([PARAGRAPH] * repeats)
    step = len(PARAGRAPH) + 1
    entities = predictor.predict(text)
    lists = [tuple((e.start - k * step, e.end - k * step, e.label) for e in entities
                   if k * step <= e.start < k * step + len(PARAGRAPH)) for k in range(repeats)]
    first = lists[0]
    return {"repeats": repeats, "words": len(text.split()), "distinct_entity_lists": len(set(lists)),
            "copies_like_the_first": sum(1 for entry in lists if entry == first),
            "first_copy": [PARAGRAPH[s:e] for s, e, _ in first]}


def combining_marks(predictor: Predictor) -> dict:
    """Entities of the NFD and NFC spellings; equal lists and whole words are what must hold."""
    nfd = [[e.text for e in ents] for ents in predictor.predict(MARKED)]
    nfc_texts = [unicodedata.normalize("NFC", t) for t in MARKED]
    nfc = [[e.text for e in ents] for ents in predictor.predict(nfc_texts)]
    same = all(unicodedata.normalize("NFC", " ".join(a)) == " ".join(b) for a, b in zip(nfd, nfc))
    return {"nfd": nfd, "nfc": nfc, "same_entities": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/bc5chem-minilm")
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    meta = read_meta(args.model)
    rows = {}
    for variant in ["fp32", *meta.variants]:
        predictor = Predictor.from_dir(args.model, variant=variant)
        rows[variant] = {"repeated_paragraph": repeated_paragraph(predictor, args.repeats),
                         "combining_marks": combining_marks(predictor)}
        print(variant, json.dumps(rows[variant]["repeated_paragraph"]["distinct_entity_lists"]),
              rows[variant]["combining_marks"]["same_entities"], flush=True)
    report = {"benchmark": "consistency", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "model": args.model, "summary": {v: {"distinct_entity_lists": r["repeated_paragraph"]["distinct_entity_lists"],
                                                   "combining_marks_same": r["combining_marks"]["same_entities"]}
                                               for v, r in rows.items()},
              "variants": rows, "machine": describe(),
              "command": "python -m benchmarks.consistency " + " ".join(sys.argv[1:])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "consistency.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
