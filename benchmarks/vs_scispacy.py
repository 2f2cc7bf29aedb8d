"""Benchmark: the biomedserve spaCy component against the scispaCy-recipe baseline (and any scispaCy
model installed), strict and lenient entity F1 and words/s on the same texts — the paper's Tables 10/11.

    python -m benchmarks.vs_scispacy                 # trains or builds whatever is missing first
    python -m benchmarks.vs_scispacy --limit 500     # the first 500 test sentences of each set

Systems, each run as a spaCy pipeline over the same raw test texts (tokens joined by spaces):
* biomedserve_ner with the MiniLM model of the set, trained with the recipe named in RECIPES
  (``models/<dataset>-minilm`` for the standard recipe, ``models/<dataset>-minilm-<recipe>`` otherwise;
  the joint ``models/bc5cdr-minilm`` for BC5CDR), fp32 and int8, and for BC5-chem the 2-layers-pruned
  model with int8;
* the spaCy-recipe baseline (``train/spacy/ner.cfg``) trained on the same training set;
* scispaCy's en_ner_bc5cdr_md / en_ner_jnlpba_md / en_ner_bionlp13cg_md if installed.
Entities are compared on the corpus tokens: a token is inside an entity when its characters are.
Writes ``benchmarks/results/vs_scispacy.json`` and ``vs_scispacy.md``; the summary averages the five
BLURB NER sets (the joint BC5CDR row is reported beside them, not in the mean).

Every model is trained or built first (``--prepare-only`` stops there), then all systems are measured
back to back, so no training shares the CPU with a words/s column. Finished rows are kept in
``results/vs_scispacy.partial.json`` as they come, keyed by the model they measured, so a killed run
resumes where it stopped; each row carries the start time of the run that measured it, and the report
names any run other than its own (``carried_over``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import spacy

from biomedserve.atomic import atomic_write
from biomedserve.data.registry import get_dataset
from biomedserve.tasks.ner import entity_scores, lenient_scores, type_tags

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATASETS = ["BC5-chem", "BC5-disease", "NCBI-disease", "BC2GM", "JNLPBA", "BC5CDR"]
# Table 10 / 11 (test F1): scispaCy best-of-two, PubMedBERT — strict, then lenient
PAPER = {"BC5-chem": (86.49, 93.33, 91.42, 95.18), "BC5-disease": (80.03, 85.62, 88.88, 93.34),
         "NCBI-disease": (57.18, 87.82, 74.64, 95.22), "BC2GM": (51.98, 84.52, 68.87, 95.56),
         "JNLPBA": (77.31, 79.10, 87.25, 88.79)}
# The recipe of each set's biomedserve model (train/<dataset>/<recipe>.yaml): "long" where dev F1 was
# still rising after the standard 3 epochs (the recipes say by how much); standard elsewhere.
RECIPES = {"BC5-chem": "long", "BC2GM": "long"}
SCISPACY = {"en_ner_bc5cdr_md": {"CHEMICAL": "CHEMICAL", "DISEASE": "DISEASE"},
            "en_ner_jnlpba_md": {k: "BIOENTITY" for k in ("PROTEIN", "DNA", "RNA", "CELL_LINE", "CELL_TYPE")},
            "en_ner_bionlp13cg_md": {"GENE_OR_GENE_PRODUCT": "GENE", "SIMPLE_CHEMICAL": "CHEMICAL"}}


def texts_and_gold(dataset: str, limit: int | None):
    spec = get_dataset(dataset)
    sentences = spec.load("test")[:limit]
    texts, offsets = [], []
    for s in sentences:
        starts, pos = [], 0
        for token in s.tokens:
            starts.append((pos, pos + len(token)))
            pos += len(token) + 1
        texts.append(" ".join(s.tokens))
        offsets.append(starts)
    gold = [type_tags(s.tags, spec.entity_type) for s in sentences]
    return texts, offsets, gold, set(spec.entity_types)


def doc_tags(doc, token_offsets, keep: set[str], mapping: dict[str, str] | None = None) -> list[str]:
    """Entities of a spaCy Doc → IOB2 tags over the corpus tokens (by character offsets)."""
    tags = ["O"] * len(token_offsets)
    for ent in doc.ents:
        label = (mapping or {}).get(ent.label_, ent.label_)
        if label not in keep:
            continue
        inside = [i for i, (a, b) in enumerate(token_offsets) if a >= ent.start_char and b <= ent.end_char]
        for n, i in enumerate(inside):
            tags[i] = f"{'B' if n == 0 else 'I'}-{label}"
    return tags


def evaluate(nlp, dataset: str, limit: int | None, mapping=None) -> dict:
    texts, offsets, gold, keep = texts_and_gold(dataset, limit)
    list(nlp.pipe(texts[:32]))  # warm-up
    started = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=64))
    seconds = time.perf_counter() - started
    pred = [doc_tags(d, o, keep, mapping) for d, o in zip(docs, offsets)]
    words = sum(len(o) for o in offsets)
    return {"strict_f1": round(float(entity_scores(gold, pred)["f1"]), 2), "lenient_f1": round(lenient_scores(gold, pred)["f1"], 2),
            "words_per_s": round(words / seconds, 1), "words": words, "sentences": len(texts)}


def trained_as(path: Path, dataset: str, recipe: str) -> str | None:
    """Why the model at ``path`` is not the recipe's (None when it is): another job — the BLURB sweep
    keeps its budgeted models under the same names — must not slip a different model into the table."""
    from biomedserve.modeldir.card import read_meta
    from biomedserve.training.recipes import find_recipe, load_recipe

    if not (path / "biomedserve.json").is_file():
        return "missing"
    want = load_recipe(find_recipe(recipe, dataset)).model_dump()
    have = read_meta(path).recipe
    differ = [k for k in want if k not in ("seed", "base_model") and have.get(k, want[k]) != want[k]]
    return f"trained with other {', '.join(differ)} than train/{dataset}/{recipe}.yaml" if differ else None


def ensure(path: Path, command: list[str], log, why: str | None = None) -> None:
    """Run ``command`` (which trains ``path``) when ``why`` says the model there is not the one wanted."""
    if why is None:
        return
    log(f"{path}: {why}; {' '.join(command)}")
    subprocess.run(command, check=True)


def describe_model(path: Path, variant: str = "fp32") -> str:
    """What a reader needs to weigh a biomedserve row: recipe epochs, layers pruned, dev F1 on its card,
    and for a variant its int8 remedy and whether it passed the dev gate (else fp32 stays the default)."""
    from biomedserve.modeldir.card import read_meta
    from biomedserve.modeldir.metric_keys import metric_key

    meta = read_meta(path)
    recipe = meta.recipe
    pruned = f", top {recipe['prune_top_layers']} layers pruned" if recipe.get("prune_top_layers") else ""
    dev = meta.metrics.get(metric_key("dev"), {}).get("f1")
    text = f"{recipe['epochs']:g} epochs, lr {recipe['learning_rate']:g}{pruned}, dev F1 {dev}"
    entry = meta.variants.get(variant) if variant != "fp32" else None
    if entry:
        gate = "passed the dev gate" if entry.passed else f"failed the dev gate ({entry.reason})"
        text += f"; {variant} {entry.remedy}, dev {entry.dev}, {gate}"
    return text


BASELINE = "spaCy-recipe baseline (CNN + transition NER)"
OURS_INT8 = "biomedserve MiniLM int8"


def summarize(rows: list[dict]) -> dict:
    """Means over the five BLURB NER sets that have both systems; words/s pooled over all their texts."""
    blurb = [d for d in PAPER if any(r["dataset"] == d and r["system"] == OURS_INT8 for r in rows)
             and any(r["dataset"] == d and r["system"] == BASELINE for r in rows)]

    def pick(system: str) -> list[dict]:
        return [r for r in rows if r["system"] == system and r["dataset"] in blurb]

    def mean(system: str, key: str) -> float | None:
        values = [r[key] for r in pick(system)]
        return round(sum(values) / len(values), 2) if values else None

    def pooled_speed(system: str) -> float | None:
        chosen = pick(system)
        seconds = sum(r["words"] / r["words_per_s"] for r in chosen)
        return round(sum(r["words"] for r in chosen) / seconds, 1) if chosen else None

    return {"datasets": blurb, "complete": len(blurb) == len(PAPER),
            "strict_f1_mean_ours_int8": mean(OURS_INT8, "strict_f1"), "strict_f1_mean_baseline": mean(BASELINE, "strict_f1"),
            "lenient_f1_mean_ours_int8": mean(OURS_INT8, "lenient_f1"),
            "lenient_f1_mean_baseline": mean(BASELINE, "lenient_f1"),
            "words_per_s_ours_int8": pooled_speed(OURS_INT8), "words_per_s_baseline": pooled_speed(BASELINE)}


def _table(rows: list[dict], key: str, paper: tuple[int, ...] = ()) -> list[str]:
    """Rows = datasets, columns = systems (in order of appearance), then the paper's scispaCy and
    PubMedBERT columns at ``paper`` (indices into PAPER's tuples) when given."""
    systems = list(dict.fromkeys(r["system"] for r in rows))
    value = {(r["dataset"], r["system"]): r[key] for r in rows}
    header = systems + [f"paper: {name}" for name in ("scispaCy", "PubMedBERT")[:len(paper)]]
    lines = ["| dataset | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        cells = [str(value.get((dataset, system), "–")) for system in systems]
        cells += [str(PAPER[dataset][i]) if dataset in PAPER else "–" for i in paper]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return lines


def render(report: dict) -> str:
    """The Markdown report: the paper's Table 10 (strict) and Table 11 (lenient) shapes, then speed."""
    rows, s = report["rows"], report["summary"]
    lines = ["# biomedserve vs the scispaCy recipe: NER test F1 and speed", "",
             f"Run {report['when']} on {report['machine']['cpu']} ({report['machine']['usable_cores']} cores): "
             f"`{report['command'].strip()}`. Every system reads the same raw test texts (corpus tokens joined "
             "by spaces) through a spaCy pipeline; entities are scored on the corpus tokens.", "",
             "## Strict entity F1 (the paper's Table 10)", "", *_table(rows, "strict_f1", (0, 1)), "",
             "## Lenient entity F1: an overlap with a gold entity of the same type counts (Table 11)", "",
             *_table(rows, "lenient_f1", (2, 3)), "",
             "## Speed: words per second over the whole test set (nlp.pipe, batch 64)", "",
             *_table(rows, "words_per_s"), "",
             f"**Mean over {', '.join(s['datasets'])}**: biomedserve int8 strict **{s['strict_f1_mean_ours_int8']}** "
             f"vs baseline **{s['strict_f1_mean_baseline']}** (lenient {s['lenient_f1_mean_ours_int8']} vs "
             f"{s['lenient_f1_mean_baseline']}); words/s {s['words_per_s_ours_int8']} vs {s['words_per_s_baseline']}."
             + ("" if s["complete"] else " Not all five BLURB NER sets were measured."), "",
             ("Every row was measured in this run." if not report.get("carried_over") else
              "Rows carried over from earlier runs started at " + ", ".join(report["carried_over"]) + "."), "",
             "## Models", "", *[f"- {r['dataset']}, {r['system']}: `{r['model']}`" for r in rows if r.get("model")]]
    return "\n".join(lines) + "\n"


def reusable_rows(partial: Path, limit: int | None) -> dict[tuple[str, str, str], dict]:
    """Rows of an interrupted run that this run may keep: same ``--limit`` and the very model measured
    (the model string carries its recipe, variant and dev F1, so a retrained model is measured anew)."""
    rows = json.loads(partial.read_text()) if partial.is_file() else []
    return {(r["dataset"], r["system"], r["model"]): r for r in rows if r.get("limit") == limit}


def prepare(dataset: str, log) -> list[tuple[str, str, "callable", dict | None]]:
    """Train or build whatever the dataset's systems need; returns (system, model, load_nlp, mapping).

    All training happens before any measuring, so the words/s columns are taken back to back on a
    machine no training job shares."""
    from biomedserve.export.variants import VariantPlan, build_variant
    from biomedserve.modeldir.card import read_meta

    def minilm(recipe: str, path: Path) -> Path:
        """The recipe's model at ``path``, (re)trained unless it is that recipe's, with its int8 variant."""
        ensure(path, [sys.executable, "-m", "biomedserve.cli", "train", "-d", dataset, "-r", recipe,
                      "--out", str(path), "--overwrite"], log, trained_as(path, dataset, recipe))
        if "int8" not in read_meta(path).variants:
            build_variant(path, VariantPlan(quantize="int8"), progress=False, log=log)
        return path

    recipe = RECIPES.get(dataset, "standard")
    model = minilm(recipe, Path(f"models/{dataset.lower()}-minilm" + ("" if recipe == "standard" else f"-{recipe}")))
    ours = [("biomedserve MiniLM fp32", model, "fp32"), ("biomedserve MiniLM int8", model, "int8")]
    if dataset == "BC5-chem":
        ours.append(("biomedserve MiniLM pruned-2 int8", minilm("pruned2", Path("models/bc5chem-minilm-pruned2")), "int8"))
    systems = []
    for name, path, variant in ours:
        def load(path=path, variant=variant):
            nlp = spacy.blank("en")
            nlp.add_pipe("biomedserve_ner", config={"model": str(path), "variant": variant})
            return nlp
        systems.append((name, f"{path} ({variant}; {describe_model(path, variant)})", load, None))
    baseline = Path(f"models/spacy-baseline-{dataset.lower()}")
    if not (baseline / "model-best").is_dir():
        from biomedserve.training.spacy_baseline import train_baseline

        log(f"training the spaCy-recipe baseline on {dataset}…")
        train_baseline(dataset, baseline)
    systems.append((BASELINE, f"{baseline}/model-best", lambda b=baseline: spacy.load(b / "model-best"), None))
    for package, mapping in SCISPACY.items():
        if spacy.util.is_package(package):
            systems.append((f"scispaCy {package}", package, lambda p=package: spacy.load(p), mapping))
    return systems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N test sentences of each set.")
    parser.add_argument("--datasets", nargs="*", default=DATASETS, help="Which sets (default: all six).")
    parser.add_argument("--prepare-only", action="store_true",
                        help="Train and build the missing models, then stop without measuring.")
    args = parser.parse_args()
    from benchmarks.machine import describe

    log = lambda m: print(m, flush=True)  # noqa: E731
    run = datetime.now(timezone.utc).isoformat(timespec="seconds")
    plan = {dataset: prepare(dataset, log) for dataset in args.datasets}
    if args.prepare_only:
        return
    partial = RESULTS / "vs_scispacy.partial.json"
    done = reusable_rows(partial, args.limit)
    rows: list[dict] = []
    RESULTS.mkdir(parents=True, exist_ok=True)
    for dataset, systems in plan.items():
        for system, model, load_nlp, mapping in systems:
            row = done.get((dataset, system, model)) or {
                "dataset": dataset, "system": system, "model": model, "limit": args.limit, "run": run,
                **evaluate(load_nlp(), dataset, args.limit, mapping)}
            rows.append(row)
            # replaced whole, so a kill mid-write leaves the last good file
            kept = {(r["dataset"], r["system"], r["model"]): r for r in [*done.values(), *rows]}
            atomic_write(partial, json.dumps(list(kept.values())))
            log(json.dumps(row))
    report = {"benchmark": "vs_scispacy", "when": run, "summary": summarize(rows), "rows": rows, "paper": PAPER,
              "machine": describe(), "command": "python -m benchmarks.vs_scispacy " + " ".join(sys.argv[1:]),
              "carried_over": sorted({r.get("run", "unknown") for r in rows} - {run})}
    atomic_write(RESULTS / "vs_scispacy.json", json.dumps(report, indent=2) + "\n")
    markdown = render(report)
    atomic_write(RESULTS / "vs_scispacy.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
