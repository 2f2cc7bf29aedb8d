"""Benchmark: does masked-LM pretraining on in-domain text help the embedded MiniLM on NER?

    python -m benchmarks.pretrain                        # every size in SIZES, the five NER sets on each and the base
    python -m benchmarks.pretrain --size minilm-blurb-adapted-e2-lr1e-4 --sets BC2GM   # one size, one set
    python -m benchmarks.pretrain --report-only          # rebuild the report from what has finished

A new size is a new entry in ``SIZES`` (settings as data), never an edit of one that has run: its runs
are keyed by the encoder's path.

1. The corpus is the TRAIN splits of the staged BLURB sets (NER sentences, HoC abstracts, BIOSSES
   pairs, PubMedQA and BioASQ questions and contexts; never dev or test text; the relation sets'
   entity-masked sentences are left out), written to an ignored work folder. A training text that
   holds a sentence of any dev or test split (sets share PubMed abstracts) is dropped and counted.
2. ``biomedserve.training.pretraining.pretrain`` runs with ``--exclude`` = every dev and test split (the NER
   files as they are, the other sets' texts written out), so ``leakage_checked`` is true only when
   that check ran. It resumes after a kill.
3. The five NER sets are fine-tuned with the standard recipe, seed 1, on the base and the adapted
   encoder through ``biomedserve.training.sweep.run_one``: the base runs go to ``blurb_runs/minilm`` with the
   BLURB study's keys and kept-model paths (shared, never trained twice; a run another process has
   claimed is waited for), the adapted ones to ``blurb_runs/minilm_adapted`` (keyed by the encoder's
   absolute path) with their models at ``models/<set>-<size_suffix>``.
4. Cross-corpus: the kept BC5-chem models on BioNLP13PC-chem, the BC2GM models on BioNLP13PC-ggp
   (strict and lenient F1 on test, as the NER metric and the scispaCy comparison score them).
5. The summary reports the size with the highest mean NER dev F1 (``choose_size``); every size is in
   ``sizes`` and the report's tables.

Writes ``benchmarks/results/pretrain.json`` (top-level ``summary``) and ``pretrain.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from benchmarks.crosscorpus import load_crosscorpus
from benchmarks.machine import report_context
from benchmarks.ner_models import NER_SETS, kept_model, kept_run, ner_run, shared_run
from biomedserve.atomic import atomic_write
from biomedserve.data.records import running_texts
from biomedserve.data.registry import DATASETS, get_dataset
from biomedserve.training.sweep import run_path

HERE = Path(__file__).resolve().parent
CROSSCORPUS = {"BC5-chem": "BioNLP13PC-chem", "BC2GM": "BioNLP13PC-ggp"}  # BLURB set -> the set its models face
BASE_LABEL, ADAPTED_LABEL = "minilm", "minilm_adapted"
# The pretraining sizes tried, as data: encoder folder (under --encoders-dir) -> PretrainConfig settings
# beyond the shared ones (this corpus, --exclude = every dev/test split, seed 1, batch 32). The first is one
# epoch at PretrainConfig's defaults. It left held-out perplexity at 113 with the loss still falling and
# moved NER test F1 by -1.3 to +0.8 per set, so the second gives the encoder twice the passes at twice the
# peak learning rate (1e-4, the DAPT setting of Gururangan et al. 2020).
SIZES: dict[str, dict] = {
    "minilm-blurb-adapted": {"epochs": 1.0},
    "minilm-blurb-adapted-e2-lr1e-4": {"epochs": 2.0, "learning_rate": 1e-4},
}


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
            texts = [t for r in spec.load(split, data_dir) for t in running_texts(r)]
            target = folder / f"{name}-{split}.txt"
            atomic_write(target, "\n\n".join(texts) + "\n")  # a blank line is a sentence break for the readers
            files.append(str(target))
    return files


def build_corpus(work: Path, data_dir, excluded: list[str]) -> tuple[list[str], dict]:
    """TRAIN splits as JSONL in ``work/corpus``; a text holding a dev/test sentence is dropped, and a
    text an earlier set already gave is written once (BC5-chem and BC5-disease are the same
    sentences: pretraining on both copies would only spend steps on repeats)."""
    from biomedserve.text.words import split_sentences
    from biomedserve.training.pretrain_data import leaked, load_exclusions

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
            for part, text in enumerate(running_texts(record)):
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
    from benchmarks.crosscorpus import CROSS_CORPUS, score_on_set
    from biomedserve.runtime import Predictor

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


def _f(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def size_suffix(name: str) -> str:
    """The kept-model label of a size's fine-tuned models: ``minilm-blurb-adapted`` keeps at
    ``models/<set>-minilm_adapted`` (as the first run did), ``minilm-blurb-adapted-e2-lr1e-4`` at
    ``models/<set>-minilm_adapted_e2_lr1e_4``, so no size overwrites another's models."""
    return "minilm_" + name.removeprefix("minilm-blurb-").replace("-", "_")


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


def choose_size(sizes: dict[str, dict]) -> str | None:
    """The size whose adapted encoder has the highest mean NER *dev* F1 over the five sets (test is only
    reported); None until some size has all five. The summary reports that size, never the best on test."""
    complete = {name: size["ner_dev_mean"] for name, size in sizes.items()
                if size["ner_dev_mean"] is not None and size["sets_measured"] == len(NER_SETS)}
    return max(complete, key=complete.get) if complete else None


def render(report: dict) -> str:
    s, sizes = report["summary"], report["sizes"]
    lines = [
        "# Domain-adaptive pretraining of the embedded MiniLM (BLURB train text only)",
        "",
        f"Run {report['when']} on {report['machine']['cpu']} ({report['machine']['usable_cores']} cores).",
        "",
        "Each size is one pretraining run of the embedded MiniLM on the same corpus (the BLURB train splits, "
        f"{s['corpus_tokens']} tokens, leakage checked against every dev/test split: {s['leakage_checked']}), then "
        "the five NER sets fine-tuned on it with the base runs' recipe and seed. The summary reports the size "
        f"with the highest mean NER **dev** F1: **{s['chosen_size']}**.",
        "",
        "| size | settings | steps | held-out perplexity | tokens/s | dev mean | test mean | cross-corpus mean |",
        "|---|---|---|---|---|---|---|---|",
        f"| base (no pretraining) | | | | | {s['ner_dev_mean_base']} | {s['ner_test_mean_base']} | "
        f"{s['crosscorpus_mean_base']} |",
    ]
    for name, size in sizes.items():
        card = size.get("card") or {}
        perplexity = card.get("heldout_perplexity") or {}
        settings = ", ".join(f"{k} {v}" for k, v in size["settings"].items())
        part = "" if size["sets_measured"] == len(NER_SETS) else f" ({size['sets_measured']} of {len(NER_SETS)} sets)"
        lines.append(f"| {name} | {settings} | {card.get('steps')} | {_f(perplexity.get('before'))} → "
                     f"{_f(perplexity.get('after'))} | {_tokens_per_second(card)} | {size['ner_dev_mean']}{part} | "
                     f"{size['ner_test_mean']}{part} | {size['crosscorpus_mean']} |")
    lines += ["", "Held-out perplexity 'before' is measured after the masked-LM head warm-up (encoder frozen: "
                  "the embedded MiniLM ships without a trained head), before encoder training.", "",
              "| set | base dev / test | " + " | ".join(f"{n} dev / test" for n in sizes) + " |",
              "|---|---|" + "---|" * len(sizes)]
    for dataset, row in report["ner"].items():
        cells = [row.get(side) or {} for side in ("base", *sizes)]
        lines.append(f"| {dataset} | " + " | ".join(f"{_f(c.get('dev'))} / {_f(c.get('test'))}" for c in cells) + " |")
    lines += ["", "| cross-corpus (test), strict / lenient | model | base | " + " | ".join(sizes) + " |",
              "|---|---|---|" + "---|" * len(sizes)]
    for dataset, row in report["crosscorpus"].items():
        cells = [row.get(side) or {} for side in ("base", *sizes)]
        lines.append(f"| {CROSSCORPUS[dataset]} | {dataset} | "
                     + " | ".join(f"{_f(c.get('strict_f1'))} / {_f(c.get('lenient_f1'))}" for c in cells) + " |")
    lines += ["", "A missing cell: that run (or its kept model) has not finished.", "",
              f"Hours: {s['hours']} (pretraining and every fine-tuning run in the tables, shared ones included) "
              f"on CPU flags {report['machine'].get('cpu_flags')}.", "",
              f"## Targets (size {s['chosen_size']}, chosen on dev)", ""]
    words = {True: "met", False: "**missed**", None: "not measured yet"}
    lines += [f"- {name.replace('_', ' ')}: {words[met]}" for name, met in s.get("targets", {}).items()]
    lines += ["", f"Reproduce: `{report['command']}`", ""]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options; data folders default to None, found as the CLI finds them
    (``resolve_data_dir``, ``resolve_crosscorpus_dir``: option, environment, ./data, ../shared)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", action="append", choices=list(SIZES),
                        help="pretraining sizes to build and fine-tune on (default: every one in SIZES); the "
                             "report covers every size that has finished")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sets", action="append", choices=NER_SETS, help="NER sets to fine-tune (default: all five)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--data-dir", default=None, help="BLURB data (default: $BIOMEDSERVE_DATA, data/blurb, "
                                                         "../shared/blurb)")
    parser.add_argument("--crosscorpus-dir", default=None, help="cross-corpus sets (default: $BIOMEDSERVE_CROSSCORPUS, "
                                                                "data/crosscorpus, ../shared/crosscorpus)")
    parser.add_argument("--models-dir", type=Path, default=Path("models"),
                        help="kept NER models (the BLURB study keeps its base models here too)")
    parser.add_argument("--encoders-dir", type=Path, default=Path("encoders"),
                        help="where each size's encoder is written (encoders/<size>)")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--ner-max-steps", type=int, default=None,
                        help="smoke runs only: cap each fine-tuning run (another run key, never the study's)")
    return parser


class Runs:
    """Fine-tuning results and cross-corpus scores, measured once (or only read, with ``report_only``)."""

    def __init__(self, args, cache_path: Path, committed: Path | None = None):
        """Cross-corpus scores per run key (so reports never re-score) from ``cache_path`` (ignored by
        git), else from the committed report's ``crosscorpus_by_run``: a fresh clone reports them too."""
        self.args, self.cache_path = args, cache_path
        if cache_path.is_file():
            self.cache = json.loads(cache_path.read_text())
        elif committed is not None and committed.is_file():
            self.cache = json.loads(committed.read_text()).get("crosscorpus_by_run", {})
        else:
            self.cache = {}
        self.seconds = 0.0  # every fine-tuning run the report rests on, shared or not

    def ner(self, dataset: str, base: str, label: str, suffix: str, read_only: bool) -> tuple[dict | None, dict | None]:
        """(dev/test/key, cross-corpus scores or None) of the standard run of ``dataset`` on ``base``."""
        args = self.args
        run = ner_run(dataset, base, max_steps=args.ner_max_steps)
        runs_dir = args.results_dir / "blurb_runs" / label
        keep = kept_model(args.models_dir, dataset, suffix)
        if read_only:
            path = run_path(runs_dir, run)
            result = json.loads(path.read_text()) if path.is_file() else None
        else:
            # the cross-corpus scores need the model itself, the other sets only the result
            result = (kept_run if dataset in CROSSCORPUS else shared_run)(run, runs_dir, keep, args.data_dir)
        if result is None:
            return None, None
        self.seconds += result.get("wall_seconds", 0.0)
        cross = None
        if dataset in CROSSCORPUS:
            key = f"{result['key']}:{CROSSCORPUS[dataset]}"
            if key not in self.cache and not read_only:
                scored = crosscorpus(keep, dataset, CROSSCORPUS[dataset], crosscorpus_dir=args.crosscorpus_dir)
                if scored:
                    self.cache[key] = scored
                    atomic_write(self.cache_path, json.dumps(self.cache, indent=1) + "\n")
            cross = self.cache.get(key)
        return {"dev": result["dev"], "test": result["test"], "key": result["key"]}, cross


def pretrain_size(name: str, encoder: Path, args, work: Path) -> None:
    """Pretrain size ``name`` into ``encoder`` (resumes after a kill), on the corpus rebuilt from the train splits."""
    from biomedserve.training.pretraining import PretrainConfig, pretrain

    excluded = exclusion_files(work, args.data_dir)
    corpus, counts = build_corpus(work, args.data_dir, excluded)
    atomic_write(work / "corpus.json", json.dumps(counts, indent=1) + "\n")
    pretrain(PretrainConfig(corpus=corpus, out=str(encoder), exclude=excluded, batch_size=args.batch_size, seed=1,
                            **SIZES[name]))


def main() -> None:
    args = build_parser().parse_args()
    results, sets = args.results_dir, args.sets or list(NER_SETS)
    work = results / ".pretrain-work"  # ignored by git (benchmarks/results/.*)
    runs = Runs(args, results / "pretrain.partial.json", results / "pretrain.json")
    started, spent = time.time(), 0.0  # spent: seconds of pretraining and of the runs reported
    committed = results / "pretrain.json"
    previous = json.loads(committed.read_text()) if committed.is_file() else {}
    restored: list[str] = []  # sizes whose encoder is not here, reported as the committed report measured them
    when, machine = report_context(committed, rebuilt=args.report_only)

    ner: dict[str, dict] = {d: {} for d in sets}
    cross: dict[str, dict] = {}
    for dataset in sets:
        ner[dataset]["base"], scores = runs.ner(dataset, "default", BASE_LABEL, "minilm", args.report_only)
        if scores:
            cross.setdefault(dataset, {})["base"] = scores

    sizes, chosen_cards = {}, {}
    for name in SIZES:
        # the adapted runs' keys hold the encoder's absolute path (a different encoder is a different run)
        encoder = (args.encoders_dir / name).resolve()
        card_path = encoder / "pretrain_card.json"
        build = not args.report_only and name in (args.size or SIZES)
        if build and not card_path.is_file():
            pretrain_size(name, encoder, args, work)
        card = json.loads(card_path.read_text()) if card_path.is_file() else None
        if card is None and args.report_only and name in previous.get("sizes", {}):
            # rebuilt without encoders/ (a fresh clone): this size's figures as the committed report measured them
            sizes[name], chosen_cards[name] = previous["sizes"][name], previous["sizes"][name]["card"]
            for dataset in sets:
                ner[dataset][name] = previous.get("ner", {}).get(dataset, {}).get(name)
                if (scores := previous.get("crosscorpus", {}).get(dataset, {}).get(name)):
                    cross.setdefault(dataset, {})[name] = scores
            restored.append(name)
            continue
        if card is None:
            continue
        chosen_cards[name] = card
        spent += card.get("train_seconds", 0.0) + (card.get("head_warmup") or {}).get("seconds", 0.0)
        for dataset in sets:
            ner[dataset][name], scores = runs.ner(dataset, str(encoder), ADAPTED_LABEL, size_suffix(name), not build)
            if scores:
                cross.setdefault(dataset, {})[name] = scores
        sizes[name] = {
            "encoder": f"{args.encoders_dir.name}/{name}", "settings": SIZES[name],
            "card": {k: card.get(k) for k in ("steps", "epochs", "tokens", "heldout_perplexity", "train_seconds",
                                             "bf16", "leakage_checked")},
            "sets_measured": sum(1 for d in sets if ner[d].get(name)),
            "ner_dev_mean": _mean((ner[d].get(name) or {}).get("dev") for d in sets),
            "ner_test_mean": _mean((ner[d].get(name) or {}).get("test") for d in sets),
            "crosscorpus_mean": _mean((r.get(name) or {}).get("strict_f1") for r in cross.values()),
        }
    spent += runs.seconds

    chosen = choose_size(sizes)
    card = chosen_cards.get(chosen) or {}
    summary = {
        "corpus_tokens": card.get("tokens", {}).get("corpus_tokens"),
        "steps": card.get("steps"),
        "perplexity_before": card.get("heldout_perplexity", {}).get("before"),
        "perplexity_after": card.get("heldout_perplexity", {}).get("after"),
        "perplexity_before_measured": card.get("heldout_perplexity", {}).get("before_measured"),
        "ner_dev_mean_base": _mean((r.get("base") or {}).get("dev") for r in ner.values()),
        "ner_test_mean_base": _mean((r.get("base") or {}).get("test") for r in ner.values()),
        "ner_test_mean_adapted": (sizes.get(chosen) or {}).get("ner_test_mean"),
        "crosscorpus_mean_base": _mean((r.get("base") or {}).get("strict_f1") for r in cross.values()),
        "crosscorpus_mean_adapted": (sizes.get(chosen) or {}).get("crosscorpus_mean"),
        "leakage_checked": bool(card.get("leakage_checked")),
        "chosen_size": chosen,
        "chosen_on": "mean NER dev F1 over the five sets",
        "sizes_tried": {n: {k: s[k] for k in ("settings", "ner_dev_mean", "ner_test_mean", "crosscorpus_mean")}
                        | {"steps": s["card"]["steps"], "perplexity_after": (s["card"]["heldout_perplexity"] or {})
                           .get("after")} for n, s in sizes.items()},
        # the compute a restored size took is known only as the committed report's total
        "hours": previous["summary"]["hours"] if restored and previous.get("summary") else round(spent / 3600, 3),
        "hardware": machine,
    }
    summary["targets"] = targets(summary)
    report = {"benchmark": "pretrain", "when": when,
              "summary": summary, "sizes": sizes, "ner": ner, "crosscorpus": cross, "crosscorpus_by_run": runs.cache,
              "corpus": (json.loads((work / "corpus.json").read_text()) if (work / "corpus.json").is_file()
                         else previous.get("corpus")),
              "machine": summary["hardware"],
              "command": "python -m benchmarks.pretrain" + "".join(f" --sets {s}" for s in args.sets or []),
              "seconds_this_invocation": round(time.time() - started, 1)}
    results.mkdir(parents=True, exist_ok=True)
    atomic_write(results / "pretrain.json", json.dumps(report, indent=2) + "\n")
    atomic_write(results / "pretrain.md", render(report))
    print(json.dumps({k: v for k, v in summary.items() if k != "hardware"}, indent=2))


if __name__ == "__main__":
    main()
