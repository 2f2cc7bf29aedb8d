"""Benchmark: does masked-LM pretraining on in-domain text help the embedded MiniLM on NER?

    python benchmarks/pretrain.py                        # pretrain 1 epoch, fine-tune the five NER sets on both
    python benchmarks/pretrain.py --max-steps 20000      # a pretraining size in steps (or --epochs)
    python benchmarks/pretrain.py --sets BC5-chem --sets BC2GM
    python benchmarks/pretrain.py --report-only          # rebuild the report from what has finished

1. The corpus is the TRAIN splits of the staged BLURB sets (NER sentences, HoC abstracts, BIOSSES
   pairs, PubMedQA and BioASQ questions and contexts; never dev or test text; the relation sets'
   entity-masked sentences are left out), written to an ignored work folder. A training text that
   holds a sentence of any dev or test split (sets share PubMed abstracts) is dropped and counted.
2. ``biomedserve.pretraining.pretrain`` runs with ``--exclude`` = every dev and test split (the NER
   files as they are, the other sets' texts written out), so ``leakage_checked`` is true only when
   that check ran. It resumes after a kill.
3. The five NER sets are fine-tuned with the standard recipe, seed 1, on the base and the adapted
   encoder through ``biomedserve.sweep.run_one``: the base runs go to ``blurb_runs/minilm`` with the
   BLURB study's keys and kept-model paths (shared, never trained twice; a run another process has
   claimed is waited for), the adapted ones to ``blurb_runs/minilm_adapted``.
4. Cross-corpus: the kept BC5-chem models on BioNLP13PC-chem, the BC2GM models on BioNLP13PC-ggp
   (strict and lenient F1 on test, as the NER metric and the scispaCy comparison score them).

Writes ``benchmarks/results/pretrain.json`` (top-level ``summary``) and ``pretrain.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402
from ner_models import NER_SETS, kept_model, kept_run, ner_run, shared_run  # noqa: E402

from biomedserve.atomic import atomic_write  # noqa: E402
from biomedserve.data.records import DocumentInstance, PairInstance, TaggedSentence  # noqa: E402
from biomedserve.data.registry import DATASETS, get_dataset, load_crosscorpus  # noqa: E402
from biomedserve.sweep import run_path  # noqa: E402

HERE = Path(__file__).resolve().parent
CROSSCORPUS = {"BC5-chem": "BioNLP13PC-chem", "BC2GM": "BioNLP13PC-ggp"}  # BLURB set -> the set its models face
BASE_LABEL, ADAPTED_LABEL = "minilm", "minilm_adapted"


def record_texts(record) -> list[str]:
    """The running text of one BLURB record (tokens joined by spaces for the tagged sets)."""
    if isinstance(record, TaggedSentence):
        return [" ".join(record.tokens)]
    if isinstance(record, DocumentInstance):
        return [" ".join(record.sentences)]
    if isinstance(record, PairInstance):
        return [t for t in (record.text_a, record.text_b) if t]
    return []


def text_sets() -> list[str]:
    """Staged sets with running text: every set but the relation ones (their entities are masked)."""
    return [name for name, spec in DATASETS.items() if spec.entity_masks is None]


def exclusion_files(work: Path, data_dir) -> list[str]:
    """Every dev and test split: the tagged files as they are, the other sets' texts written out."""
    files = []
    folder = work / "exclude"
    folder.mkdir(parents=True, exist_ok=True)
    for name in text_sets():
        spec = get_dataset(name)
        for split in ("dev", "test"):
            if split not in spec.available_splits(data_dir):
                continue
            if spec.task in ("ner", "pico"):
                files.append(str(spec.path(split, data_dir)))
                continue
            texts = [t for r in spec.load(split, data_dir) for t in record_texts(r)]
            target = folder / f"{name}-{split}.txt"
            atomic_write(target, "\n\n".join(texts) + "\n")  # a blank line is a sentence break for the readers
            files.append(str(target))
    return files


def build_corpus(work: Path, data_dir, excluded: list[str]) -> tuple[list[str], dict]:
    """TRAIN splits as JSONL in ``work/corpus``; a text holding a dev/test sentence is dropped, and a
    text an earlier set already gave is written once (BC5-chem and BC5-disease are the same
    sentences: pretraining on both copies would only spend steps on repeats)."""
    from biomedserve.pretrain_data import leaked, load_exclusions
    from biomedserve.words import split_sentences

    keys = load_exclusions(excluded).keys
    folder = work / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    files, counts, seen = [], {}, set()
    for name in text_sets():
        spec = get_dataset(name)
        if "train" not in spec.available_splits(data_dir):
            continue
        lines, dropped, repeated = [], 0, 0
        for index, record in enumerate(spec.load("train", data_dir)):
            for part, text in enumerate(record_texts(record)):
                if leaked(split_sentences(text), keys):
                    dropped += 1
                    continue
                if text in seen:
                    repeated += 1
                    continue
                seen.add(text)
                lines.append(json.dumps({"id": f"{name}-{index}-{part}", "text": text}))
        counts[name] = {"texts": len(lines), "dropped_for_leakage": dropped, "repeats_of_earlier_sets": repeated}
        if not lines:
            continue
        target = folder / f"{name}.jsonl"
        atomic_write(target, "\n".join(lines) + "\n")
        files.append(str(target))
    return files, counts


def crosscorpus(model: Path, dataset: str, name: str, split: str = "test",
                crosscorpus_dir: str | Path | None = None) -> dict | None:
    """Strict and lenient F1 of a kept NER model on cross-corpus set ``name``, its entities counted as
    the set's type, read by ``load_crosscorpus`` from ``crosscorpus_dir`` (None: found as the
    ``--crosscorpus-dir`` of the CLI is). None when the model has not been kept."""
    from biomedserve.data.registry import CROSS_CORPUS
    from biomedserve.runtime import Predictor
    from biomedserve.tasks.multi_ner import score_on_set

    if not (model / "biomedserve.json").is_file():
        return None
    sentences = load_crosscorpus(name, split, crosscorpus_dir)
    target = CROSS_CORPUS[name]
    scores = score_on_set(Predictor.from_dir(model, variant="fp32"), sentences, target,
                          model_types={target.entity_type: get_dataset(dataset).entity_type})
    return {"set": name, "split": split, "sentences": len(sentences),
            "strict_f1": round(scores["strict"]["f1"], 2), "lenient_f1": round(scores["lenient"]["f1"], 2)}


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.fmean(values), 2) if values else None


def _tokens_per_second(card: dict) -> int | None:
    seen, seconds = (card.get("tokens") or {}).get("tokens_seen"), card.get("train_seconds")
    return round(seen / seconds) if seen and seconds else None


def targets(summary: dict) -> dict[str, bool | None]:
    """Issue 19's bar, each True (met), False (missed) or None (not measured yet): held-out perplexity
    falls, the adapted encoder's mean NER test F1 is at least the base's + 1.0, cross-corpus not lower."""
    def compare(a, b, margin=0.0):
        return None if a is None or b is None else a >= b + margin

    before, after = summary.get("perplexity_before"), summary.get("perplexity_after")
    return {"perplexity_falls": None if before is None or after is None else after < before,
            "ner_test_mean_at_least_base_plus_1": compare(summary.get("ner_test_mean_adapted"),
                                                          summary.get("ner_test_mean_base"), 1.0),
            "crosscorpus_not_lower": compare(summary.get("crosscorpus_mean_adapted"),
                                             summary.get("crosscorpus_mean_base"))}


def render(report: dict) -> str:
    s, card = report["summary"], report.get("pretrain_card") or {}
    lines = [
        "# Domain-adaptive pretraining of the embedded MiniLM (BLURB train text only)",
        "",
        f"Run {report['when']} on {report['machine']['cpu']} ({report['machine']['usable_cores']} cores).",
        "",
        f"Pretraining: {s['corpus_tokens']} corpus tokens, {s['steps']} steps, held-out masked-LM perplexity "
        f"{s['perplexity_before']} → {s['perplexity_after']} (before: {s['perplexity_before_measured']}); leakage checked against every dev/test split: "
        f"{s['leakage_checked']}; bf16: {(card.get('bf16') or {}).get('reason')}.",
        "",
        "| set | base dev | base test | adapted dev | adapted test |",
        "|---|---|---|---|---|",
    ]
    for dataset, row in report["ner"].items():
        base, adapted = row.get("base") or {}, row.get("adapted") or {}
        lines.append(f"| {dataset} | {base.get('dev')} | {base.get('test')} | {adapted.get('dev')} | "
                     f"{adapted.get('test')} |")
    lines += ["", f"Mean test F1: base {s['ner_test_mean_base']}, adapted {s['ner_test_mean_adapted']}.", "",
              "| cross-corpus (test) | model | base strict / lenient | adapted strict / lenient |", "|---|---|---|---|"]
    for dataset, row in report["crosscorpus"].items():
        base, adapted = row.get("base") or {}, row.get("adapted") or {}
        lines.append(f"| {CROSSCORPUS[dataset]} | {dataset} | {base.get('strict_f1')} / {base.get('lenient_f1')} | "
                     f"{adapted.get('strict_f1')} / {adapted.get('lenient_f1')} |")
    lines += ["", f"Cross-corpus mean strict F1: base {s['crosscorpus_mean_base']}, adapted "
                  f"{s['crosscorpus_mean_adapted']}. A missing cell: that run (or its kept model) has not finished.",
              "", f"Hours: {s['hours']} (pretraining, and every fine-tuning run in the tables, shared ones included) "
                  f"on CPU flags {report['machine'].get('cpu_flags')}; pretraining {_tokens_per_second(card)} tokens/s.",
              "", "## Targets", ""]
    words = {True: "met", False: "**missed**", None: "not measured yet"}
    lines += [f"- {name.replace('_', ' ')}: {words[met]}" for name, met in s.get("targets", {}).items()]
    lines += ["", f"Reproduce: `{report['command']}`", ""]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options; data folders default to None, found as the CLI finds them
    (``resolve_data_dir``, ``resolve_crosscorpus_dir``: option, environment, ./data, ../shared)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-steps", type=int, default=None, help="pretraining steps (wins over --epochs)")
    parser.add_argument("--epochs", type=float, default=1.0, help="pretraining passes over the corpus")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sets", action="append", choices=NER_SETS, help="NER sets to fine-tune (default: all five)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--data-dir", default=None, help="BLURB data (default: $BIOMEDSERVE_DATA, data/blurb, "
                                                         "../shared/blurb)")
    parser.add_argument("--crosscorpus-dir", default=None, help="cross-corpus sets (default: $BIOMEDSERVE_CROSSCORPUS, "
                                                                "data/crosscorpus, ../shared/crosscorpus)")
    parser.add_argument("--models-dir", type=Path, default=Path("models"),
                        help="kept NER models (the BLURB study keeps its base models here too)")
    parser.add_argument("--encoder", type=Path, default=Path("encoders/minilm-blurb-adapted"))
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--ner-max-steps", type=int, default=None,
                        help="smoke runs only: cap each fine-tuning run (another run key, never the study's)")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    results, sets = args.results_dir, args.sets or list(NER_SETS)
    work = results / ".pretrain-work"  # ignored by git (benchmarks/results/.*)
    partial = results / "pretrain.partial.json"  # cross-corpus scores per run key, so reports never re-score
    cache = json.loads(partial.read_text()) if partial.is_file() else {}
    card_path = args.encoder / "pretrain_card.json"
    started, spent = time.time(), 0.0  # spent: seconds of pretraining and of the runs reported

    if not args.report_only and not card_path.is_file():
        from biomedserve.pretraining import PretrainConfig, pretrain

        excluded = exclusion_files(work, args.data_dir)
        corpus, counts = build_corpus(work, args.data_dir, excluded)
        atomic_write(work / "corpus.json", json.dumps(counts, indent=1) + "\n")
        pretrain(PretrainConfig(corpus=corpus, out=str(args.encoder), exclude=excluded, epochs=args.epochs,
                                max_steps=args.max_steps, batch_size=args.batch_size, seed=1))
    card = json.loads(card_path.read_text()) if card_path.is_file() else None
    spent += (card or {}).get("train_seconds", 0.0) + ((card or {}).get("head_warmup") or {}).get("seconds", 0.0)

    ner, cross = {}, {}
    for dataset in sets:
        row = {}
        for side, base, label, suffix in (("base", "default", BASE_LABEL, "minilm"),
                                          ("adapted", str(args.encoder), ADAPTED_LABEL, "minilm_adapted")):
            run = ner_run(dataset, base, max_steps=args.ner_max_steps)
            runs_dir = results / "blurb_runs" / label
            keep = kept_model(args.models_dir, dataset, suffix)
            if args.report_only or (side == "adapted" and card is None):
                path = run_path(runs_dir, run)
                result = json.loads(path.read_text()) if path.is_file() else None
            else:
                # the cross-corpus scores need the model itself, the other sets only the result
                result = (kept_run if dataset in CROSSCORPUS else shared_run)(run, runs_dir, keep, args.data_dir)
            spent += (result or {}).get("wall_seconds", 0.0)  # every run the comparison rests on, shared or not
            row[side] = result and {"dev": result["dev"], "test": result["test"], "key": result["key"]}
            if dataset in CROSSCORPUS and result:
                key = f"{result['key']}:{CROSSCORPUS[dataset]}"
                if key not in cache and not args.report_only:
                    scored = crosscorpus(keep, dataset, CROSSCORPUS[dataset], crosscorpus_dir=args.crosscorpus_dir)
                    if scored:
                        cache[key] = scored
                        atomic_write(partial, json.dumps(cache, indent=1) + "\n")
                cross.setdefault(dataset, {})[side] = cache.get(key)
        ner[dataset] = row

    summary = {
        "corpus_tokens": (card or {}).get("tokens", {}).get("corpus_tokens"),
        "steps": (card or {}).get("steps"),
        "perplexity_before": (card or {}).get("heldout_perplexity", {}).get("before"),
        "perplexity_after": (card or {}).get("heldout_perplexity", {}).get("after"),
        "perplexity_before_measured": (card or {}).get("heldout_perplexity", {}).get("before_measured"),
        "ner_test_mean_base": _mean((r.get("base") or {}).get("test") for r in ner.values()),
        "ner_test_mean_adapted": _mean((r.get("adapted") or {}).get("test") for r in ner.values()),
        "crosscorpus_mean_base": _mean((r.get("base") or {}).get("strict_f1") for r in cross.values()),
        "crosscorpus_mean_adapted": _mean((r.get("adapted") or {}).get("strict_f1") for r in cross.values()),
        "leakage_checked": bool(card and card.get("leakage_checked")),
        "hours": round(spent / 3600, 3),
        "hardware": describe(),
    }
    summary["targets"] = targets(summary)
    size = f"--max-steps {args.max_steps}" if args.max_steps else f"--epochs {args.epochs}"
    report = {"benchmark": "pretrain", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "summary": summary, "ner": ner, "crosscorpus": cross,
              "corpus": json.loads((work / "corpus.json").read_text()) if (work / "corpus.json").is_file() else None,
              "pretrain_card": card, "machine": summary["hardware"],
              # the adapted runs' keys hold the encoder path as given: a rebuild must give the same one
              "command": f"python benchmarks/pretrain.py {size}" + "".join(f" --sets {s}" for s in args.sets or [])
              + (f" --encoder {args.encoder}" if args.encoder != build_parser().get_default("encoder") else ""),
              "seconds_this_invocation": round(time.time() - started, 1)}
    results.mkdir(parents=True, exist_ok=True)
    atomic_write(results / "pretrain.json", json.dumps(report, indent=2) + "\n")
    atomic_write(results / "pretrain.md", render(report))
    print(json.dumps({k: v for k, v in summary.items() if k != "hardware"}, indent=2))


if __name__ == "__main__":
    main()
