"""The BLURB study's report page: its tables in Markdown, and the per-seed plot.

Rendering only: :func:`blurb.build_report` computes every number; this module lays out what it holds
(a stage without results prints nothing, so a partial sweep reads as exactly what it is).
"""

from __future__ import annotations

import io
from pathlib import Path

from benchmarks import blurb_targets
from biomedserve.data.registry import DATASETS

# Stages whose variants the report sets side by side, dev / test per dataset (:func:`stage_sections`).
VARIANT_STAGES = ("segments", "probe_init", "qa_context", "slimfit")

def _cell(stats: dict | None) -> str:
    if not stats:
        return "–"
    if stats["n"] == 1:
        return f"{stats['mean']:.2f}"
    return f"{stats['mean']:.2f} ± {stats['std']:.2f} (n={stats['n']}, min {stats['min']:.2f})"


def markdown(report: dict, plan: dict) -> str:
    s = report["summary"]
    other_stages = (report["ablation"] or report["pruning"] or report.get("heads", {}).get("test")
                    or any(report.get(stage, {}).get("test") for stage in VARIANT_STAGES)
                    or report.get("grid"))
    if not report["main"] and other_stages:  # e.g. --stage heads alone: no standard-vs-stabilised table
        lines = [f"# BLURB stages with the {s['encoder_label']} encoder", "",
                 f"Measured {report['when']} on {s['hardware']}; {s['runs_finished']} finished runs of "
                 f"{report['planned_runs']} planned. Points (0–100) through the ONNX runtime.", ""]
        return "\n".join([*lines, *stage_sections(report, plan), "Reproduce: `python -m benchmarks.blurb "
                          "--stage <stage> --label <label>` (resumable; `--report-only` rebuilds this page).", ""])
    paper = plan["paper_pubmedbert"]
    lines = [
        f"# BLURB with the {s['encoder_label']} encoder: standard vs stabilised fine-tuning",
        "",
        f"Measured {report['when']} on {s['hardware']}; {s['runs_finished']} finished runs of "
        f"{report['planned_runs']} planned{'' if s['complete'] else ' — **partial: datasets without a score are still to run**'}.",
        "Scores are test-set points (0–100) through the ONNX runtime; mean ± std over seeds where several ran.",
        "Compute: " + "; ".join(f"{name}: {c['runs']} runs, {c['hours']:.2f} h wall-clock, scored through "
                                + ", ".join(f"{b} ({n})" for b, n in c["scored_with"].items())
                                for name, c in s.get("compute", {}).items()) + ". "
        "`onnx` is the fp32 graph the runtime serves; `torch` the same weights in PyTorch (on a GPU machine "
        "whose ONNX Runtime is CPU-only), the graph checked against them at export.",
        "Recipes: `train/<dataset>/{standard,stabilised}.yaml`. " + s["note"],
        "",
        "| dataset | metric | standard | stabilised | PubMedBERT standard (paper) | PubMedBERT optimal (paper) |",
        "|---|---|---|---|---|---|",
    ]
    main = report["main"]
    for dataset in DATASETS:
        row = main.get(dataset, {})
        metric = next((r["metric"] for r in report["runs"].get("main", []) if r["dataset"] == dataset), "")
        lines.append(f"| {dataset} | {metric} | {_cell(row.get('standard'))} | {_cell(row.get('stabilised'))} | "
                     f"{paper[dataset][0]} | {paper[dataset][1]} |")
    def fmt(variant: str) -> str:
        value = s[f"blurb_{variant}"]
        if value is None:
            return "–"
        b = report["blurb"][variant]
        partial = "" if s["complete"] else f" (partial: {len(b['datasets'])} datasets, {len(b['per_type'])} task types)"
        return f"**{value:.2f}**{partial}"

    lines += [f"| **BLURB score** | mean of task-type means | {fmt('standard')} | {fmt('stabilised')} | "
              f"{paper['BLURB'][0]} | {paper['BLURB'][1]} |", ""]
    floors = report["majority_floor"]
    if floors:
        lines += ["Majority-answer floor (always the commonest test label): " +
                  "; ".join(f"{d} {f['accuracy']:.2f} (always \"{f['label']}\")" for d, f in floors.items()) +
                  ". A QA score equal to it means the run collapsed to one answer.", ""]
    for dataset, pearson in report.get("zero_shot_similarity", {}).items():
        lines += [f"Untrained reference for {dataset}: the encoder's mean-pooled cosine, no fine-tuning, scores "
                  f"**{pearson:.2f}** Pearson on test. The standard row is a cross-encoder whose head reads "
                  "the pooler over `[CLS]`, a layer sentence-embedding training leaves untrained "
                  "(`benchmarks/pooler_probe.py`); the stabilised row uses the head its recipe names "
                  f"(`train/{dataset}/stabilised.yaml`).", ""]
    budgets = s["budget_overrides"]
    if budgets:
        lines += ["Compute budget (what was run differs from the recipe files here, for both recipes alike):", ""]
        lines += [f"- {', '.join(b['datasets'])}: {', '.join(f'`{k}: {v}`' for k, v in b['overrides'].items())}"
                  for b in budgets]
        lines.append("")
    lines += ["## Seeds on the low-resource sets", "",
              "Catastrophic seed: test score below half the median of its group.", "",
              "| dataset | recipe | scores per seed | mean | std | min | max | catastrophic |", "|---|---|---|---|---|---|---|---|"]
    for dataset in plan["low_resource"]:
        for variant in ("standard", "stabilised"):
            st = main.get(dataset, {}).get(variant)
            if st:
                lines.append(f"| {dataset} | {variant} | {', '.join(f'{x:.1f}' for x in st['scores'])} | {st['mean']} | "
                             f"{st['std']} | {st['min']} | {st['max']} | {st['catastrophic']} |")
    lines += ["", f"Catastrophic seeds in total: standard {s['catastrophic_standard']}, stabilised {s['catastrophic_stabilised']}.", ""]
    lines += blurb_targets.section(s.get("targets", []))
    lines += stage_sections(report, plan)
    lines += [f"![per-seed scores](blurb_{s['encoder_label']}_seeds.png)", "",
              "Reproduce: `python -m benchmarks.blurb` (resumable; `--report-only` rebuilds this page).", ""]
    return "\n".join(lines)


def stage_sections(report: dict, plan: dict) -> list[str]:
    """The ablation, pruning and heads tables, for those stages that have results."""
    lines: list[str] = []
    if report["ablation"]:
        lines += ["## Ablation (Table 4 shape): one technique on top of the standard recipe", "",
                  "| dataset | baseline | freeze (emb + 2 lowest) | layerwise decay ξ=0.8 | re-init top layer |", "|---|---|---|---|---|"]
        variants = ("baseline", "freeze", "layerwise_decay", "reinit")
        for dataset, row in report["ablation"].items():
            lines.append(f"| {dataset} | " + " | ".join(_cell(row.get(v)) for v in variants) + " |")
        lines += ablation_summary_rows(report["ablation"], plan.get("paper_ablation", {}), variants)
        lines.append("")
    if report["pruning"]:
        pp = plan["paper_pruning"]
        lines += ["## Pruning (Table 7 shape): top layers removed from the 6-layer encoder before fine-tuning", "",
                  "| dataset | 0 removed | 2 removed | 4 removed | paper (PubMedBERT, 12 layers) 0 / 2 / 4 |", "|---|---|---|---|---|"]
        for dataset, row in report["pruning"].items():
            lines.append(f"| {dataset} | " + " | ".join(_cell(row.get(v)) for v in ("0", "2", "4")) +
                         f" | {' / '.join(map(str, pp.get(dataset, [])))} |")
        lines.append("")
    if report.get("heads", {}).get("test"):
        lines += heads_section(report, plan)
    if report.get("grid"):
        lines += grid_section(report)
    lines += variants_section(
        report.get("probe_init", {}), "The head started at a linear probe (LP-FT), stabilised recipe otherwise",
        {"random_head": "random head", "probe_head": "probe head"},
        "Both on the stabilised recipe: `random_head` with a randomly initialised head, `probe_head` with the head "
        "started at a logistic-regression probe of the frozen encoder's vectors (`head_from_probe`); the stabilised "
        "recipe is whichever of the two its file chose on dev. What the probe alone scores: "
        "`benchmarks/results/pooler_probe_<label>_<dataset>.json`.")
    lines += variants_section(report.get("segments", {}), "Segment ids of a QA pair (standard recipe otherwise)",
                                 {"two": "two segments", "single": "one segment"})
    lines += variants_section(
        report.get("qa_context", {}), "How much of a QA context the model reads, stabilised recipe otherwise",
        {"right256": "first 256 tokens", "left256": "last 256 tokens", "right512": "first 512 tokens"},
        "A question–context pair longer than `max_length` loses tokens from its context: `right` keeps the "
        "context's start (the default), `left` its end (`truncation_side`; a PubMedQA abstract ends in its "
        "results). Training pairs cut: " + "; ".join(
            f"{d} " + ", ".join(f"{pct:.0f}% at {n}" for n, pct in cut.items())
            for d, cut in report.get("qa_context", {}).get("cut", {}).items()) + ".")
    lines += variants_section(
        report.get("slimfit", {}), "SlimFit (issue 32) on top of the stabilised recipe",
        {"recipe": "stabilised", "slimfit": "stabilised + SlimFit"},
        "SlimFit (`slimfit: {freeze_ratio: 0.75}`: the least-moving three quarters of the encoder's layers frozen, "
        "chosen anew as training goes, their rate ×4; `biomedserve.training.slimfit`) in place of the recipe's "
        "static freezing, if any. Seed means. A set's stabilised recipe takes it only where it raises dev by more "
        "than the recipe's own seed-to-seed spread on dev (so at least two seeds of each).")
    lines += slimfit_verdicts(report.get("slimfit", {}))
    return lines


def slimfit_verdicts(stage: dict) -> list[str]:
    """Per set of the slimfit stage: SlimFit's dev gain over the recipe, beside the recipe's dev std over
    seeds. A gain counts only when both ran the same number of seeds, at least two, and it is above that
    spread; a loss needs no spread to be turned down."""
    verdicts, qualifies = [], []
    for dataset, row in stage.get("dev", {}).items():
        recipe, slim = row.get("recipe"), row.get("slimfit")
        if not (recipe and slim):
            continue
        gain = slim["mean"] - recipe["mean"]
        if gain <= 0:
            verdicts.append(f"{dataset} {gain:+.2f} (lower: not taken)")
        elif slim["n"] != recipe["n"] or recipe["n"] < 2:
            verdicts.append(f"{dataset} {gain:+.2f} (SlimFit {slim['n']} seed(s), recipe {recipe['n']}: "
                            "not judged until both have the same seeds, two or more)")
        else:
            above = gain > recipe["std"]
            verdicts.append(f"{dataset} {gain:+.2f} (spread {recipe['std']:.2f}: {'above' if above else 'within'})")
            qualifies += [dataset] if above else []
    if not verdicts:
        return []
    outcome = (f"Above the spread: {', '.join(qualifies)}." if qualifies
               else "No gain is above its spread, so no stabilised recipe takes SlimFit.")
    return ["Dev gain of SlimFit over the recipe: " + "; ".join(verdicts) + ". " + outcome, ""]


def ablation_summary_rows(ablation: dict, paper: dict, variants: tuple[str, ...]) -> list[str]:
    """The paper's Table 4 reading, SS / QA (BIOSSES Pearson / mean of PubMedQA and BioASQ), ours beside
    the paper's BERT-base row; a QA cell needs both sets' runs, else it reads "–"."""
    def mean(variant: str, datasets: tuple[str, ...]) -> str:
        cells = [ablation.get(d, {}).get(variant) for d in datasets]
        return "–" if not all(cells) else f"{sum(c['mean'] for c in cells) / len(cells):.2f}"
    ours = [f"{mean(v, ('BIOSSES',))} / {mean(v, ('PubMedQA', 'BioASQ'))}" for v in variants]
    lines = ["| **SS / QA, ours** (seed means) | " + " | ".join(ours) + " |"]
    if paper:
        lines.append(f"| SS / QA, {paper['model']} (paper, Table 4) | " +
                     " | ".join(f"{ss} / {qa}" for ss, qa in zip(paper["SS"], paper["QA"])) + " |")
    return lines


def variants_section(stage: dict, title: str, variants: dict[str, str], intro: str = "") -> list[str]:
    """A stage's variants side by side, dev / test per dataset; nothing when the stage has no results."""
    if not stage.get("test"):
        return []
    lines = [f"## {title}", "", *([intro, ""] if intro else []),
             "| dataset | " + " | ".join(f"{header} (dev / test)" for header in variants.values()) + " |",
             "|---|" + "---|" * len(variants)]
    for dataset, row in stage["test"].items():
        dev = stage["dev"].get(dataset, {})
        lines.append(f"| {dataset} | " + " | ".join(f"{_cell(dev.get(v))} / {_cell(row.get(v))}" for v in variants) + " |")
    return [*lines, ""]


def grid_section(report: dict) -> list[str]:
    lines = ["## Learning rate and epochs, chosen on dev", "",
             "Each point on the head that suits the encoder; the chosen point (best mean dev) is in bold. "
             "Test is shown for the record, never used to choose.", "",
             "| dataset | grid point | dev | test |", "|---|---|---|---|"]
    for dataset, g in report["grid"].items():
        for point, dev in g["dev"].items():
            name = point.removeprefix("base")
            name = f"**{name}**" if point == g["chosen"] else name
            lines.append(f"| {dataset} | {name} | {_cell(dev)} | {_cell(g['test'].get(point))} |")
    return [*lines, ""]


HEAD_VARIANTS = ("pooler", "cls", "mean", "entity_start", "biencoder")


def heads_section(report: dict, plan: dict) -> list[str]:
    """What the sequence head reads, dev (where choices are made) and test, beside each set's floor."""
    floors = {d: f"always \"{f['label']}\": {f['accuracy']:.2f}" for d, f in report["majority_floor"].items()}
    floors.update({d: f"untrained cosine: {v:.2f}" for d, v in report.get("zero_shot_similarity", {}).items()})
    lines = ["## What the head reads (standard recipe otherwise)", "",
             "`pooler` is Hugging Face's head (the standard recipe); `cls` and `mean` read the final hidden "
             "states; `entity_start` the two entity markers as single tokens; `biencoder` scores the cosine of "
             "each sentence mean-pooled alone. dev / test points, mean ± std over seeds where several ran.", "",
             "| dataset | " + " | ".join(HEAD_VARIANTS) + " | trivial floor (test) |", "|---" * (len(HEAD_VARIANTS) + 2) + "|"]
    dev, test = report["heads"]["dev"], report["heads"]["test"]
    for dataset, row in test.items():
        cells = [f"{_cell(dev.get(dataset, {}).get(v))} / {_cell(row.get(v))}" if v in row else "–"
                 for v in HEAD_VARIANTS]
        lines.append(f"| {dataset} | " + " | ".join(cells) + f" | {floors.get(dataset, '')} |")
    return [*lines, ""]


def plot(report: dict, plan: dict, path: "Path | io.BytesIO") -> None:
    """Per-seed test scores, standard vs stabilised, on the low-resource sets."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    datasets = [d for d in plan["low_resource"] if d in report["main"]]
    if not datasets:
        return
    fig, axes = plt.subplots(1, len(datasets), figsize=(4 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for x, variant in enumerate(("standard", "stabilised")):
            scores = report["main"][dataset].get(variant, {}).get("scores", [])
            ax.scatter([x] * len(scores), scores, alpha=0.7, s=40)
            if scores:
                ax.hlines(sum(scores) / len(scores), x - 0.2, x + 0.2, colors="black")
        ax.set_xticks([0, 1], ["standard", "stabilised"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(dataset)
        ax.set_ylabel("test score (points)")
    fig.suptitle(f"Per-seed test scores, {report['summary']['encoder_label']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
