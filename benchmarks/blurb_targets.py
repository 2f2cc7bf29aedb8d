"""The BLURB study's acceptance targets, checked against its report, beside what was tried.

The targets are data (``targets:`` in ``blurb_plan.yaml``): a BLURB score for the stabilised recipes,
and per-dataset test scores for them, either absolute (``at_least``) or above the set's trivial floor
(``above_floor``: the majority answer, or the untrained encoder for BIOSSES). Two more hold for every
study: stabilised beats standard, and no stabilised low-resource seed is catastrophic.

A target missed is reported as missed. For each dataset whose target is missed, every other thing the
study ran on that set (a head, a grid point, LP-FT, an ablation or pruning variant) is listed with its
mean dev score and how far it moved dev from the standard recipe on the same seeds, so the report says
what was tried and by how much, and test is shown for the record only.
"""

from __future__ import annotations

import statistics


def _met(value: float | None, goal: float, strict: bool = False) -> bool | None:
    if value is None:
        return None  # not measured yet: neither met nor missed
    return value > goal if strict else value >= goal


def check(report: dict, plan: dict) -> list[dict]:
    """One entry per target: ``{"target", "value", "goal", "met"}`` (``met`` is None until measured),
    and for a missed per-dataset target ``"attempts"`` (see :func:`attempts`)."""
    spec = plan.get("targets", {})
    s = report["summary"]
    out: list[dict] = []
    if "blurb_stabilised" in spec:
        goal = float(spec["blurb_stabilised"])
        value = s["blurb_stabilised"] if s.get("complete") else None  # a partial score is not the BLURB score
        scope = "all datasets" if s.get("complete") else f"all datasets; {s['datasets']} so far"
        out.append({"target": f"BLURB stabilised ≥ {goal:g} ({scope})", "value": s["blurb_stabilised"],
                    "goal": goal, "met": _met(value, goal)})
    if s.get("complete"):
        out.append({"target": "BLURB stabilised > standard", "value": s["blurb_stabilised"],
                    "goal": s["blurb_standard"], "met": _met(s["blurb_stabilised"], s["blurb_standard"], strict=True)})
    out.append({"target": "no catastrophic stabilised seed on the low-resource sets",
                "value": s["catastrophic_stabilised"], "goal": 0, "met": s["catastrophic_stabilised"] == 0})
    if "seeds_low_resource" in spec:
        goal = int(spec["seeds_low_resource"])
        out.append({"target": f"{goal} seeds of each recipe on each low-resource set", "goal": goal,
                    "value": s["seeds_low_resource"], "met": s["seeds_low_resource"] >= goal})
    for stage in spec.get("complete_stages", []):
        planned = planned_cells(plan, stage)
        ran = {(r["dataset"], r["variant"], r["seed"]) for r in report.get("runs", {}).get(stage, [])}
        out.append({"target": f"{stage} table complete (runs)", "value": len(ran & planned),
                    "goal": len(planned), "met": planned <= ran})
    for dataset, rule in spec.get("datasets", {}).items():
        if "above_floor" in rule:
            floor = s["floors"].get(dataset)
            if floor is None:  # the floor is computed once the set has a result
                continue
            goal = round(floor + float(rule["above_floor"]), 2)
            name = f"{dataset} stabilised > floor {floor:.2f}" if not rule["above_floor"] else \
                f"{dataset} stabilised ≥ floor {floor:.2f} + {rule['above_floor']:g} = {goal:.2f}"
            strict = not rule["above_floor"]
        else:
            goal, strict = float(rule["at_least"]), False
            name = f"{dataset} stabilised ≥ {goal:g}"
        value = s["per_dataset"].get(dataset, {}).get("stabilised")
        entry = {"target": name, "value": value, "goal": goal, "met": _met(value, goal, strict)}
        if entry["met"] is not True:
            entry["attempts"] = attempts(report, dataset)
        out.append(entry)
    return out


def planned_cells(plan: dict, stage: str) -> set[tuple[str, str, int]]:
    """(dataset, variant, seed) of every run a stage of the plan asks for (a name may repeat)."""
    return {(dataset, variant, seed) for st in plan["stages"] if st["name"] == stage for group in st["groups"]
            for dataset in group["datasets"] for seed in group["seeds"] for variant in st.get("variants", {})}


def attempts(report: dict, dataset: str) -> list[dict]:
    """Every variant the study ran on ``dataset`` outside the standard recipe: ``{"stage", "variant",
    "seeds", "dev", "dev_delta", "test"}``, ``dev_delta`` against the standard recipe's dev on the
    same seeds (None where the standard recipe has not run those seeds). Runs identical to the
    standard recipe (a stage's baseline variant shares its run) are left out; best dev first."""
    runs = report.get("runs", {})
    standard = {r["seed"]: r for r in runs.get("main", []) if r["dataset"] == dataset and r["variant"] == "standard"}
    standard_keys = {r.get("key") for r in standard.values()} - {None}
    groups: dict[tuple[str, str], list[dict]] = {}
    for stage, results in sorted(runs.items(), key=lambda item: item[0] != "main"):  # a shared run keeps its main name
        for r in results:
            if r["dataset"] != dataset or (stage == "main" and r["variant"] == "standard"):
                continue
            if r.get("key") in standard_keys:
                continue
            groups.setdefault((stage, r["variant"]), []).append(r)
    seen: set[frozenset] = set()
    rows = []
    for (stage, variant), rs in groups.items():
        keys = frozenset(r.get("key") or id(r) for r in rs)
        if keys in seen:  # one run shared by two stages is one attempt
            continue
        seen.add(keys)
        seeds = sorted(r["seed"] for r in rs)
        dev = statistics.fmean(r["dev"] for r in rs)
        base = [standard[seed]["dev"] for seed in seeds if seed in standard]
        rows.append({"stage": stage, "variant": variant, "seeds": seeds, "dev": round(dev, 2),
                     "dev_delta": round(dev - statistics.fmean(base), 2) if len(base) == len(seeds) else None,
                     "test": round(statistics.fmean(r["test"] for r in rs), 2)})
    return sorted(rows, key=lambda row: -row["dev"])


def _number(value) -> str:
    return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def section(targets: list[dict]) -> list[str]:
    """The report's targets table, then the attempts on each dataset whose target is missed."""
    if not targets:
        return []
    verdict = {True: "met", False: "**missed**", None: "not measured yet"}
    lines = ["## Targets", "", "Test points, stabilised recipes. A target missed stays missed here; below the table, "
             "what else was run on that set and how far it moved dev from the standard recipe on the same seeds "
             "(choices are made on dev; test is for the record).", "",
             "| target | value | goal | verdict |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {_number(t['value'])} | {_number(t['goal'])} | {verdict[t['met']]} |" for t in targets]
    lines.append("")
    for t in targets:
        if t.get("attempts"):
            lines += [f"What was tried for *{t['target']}*:", "",
                      "| stage | variant | seeds | dev | Δ dev vs standard | test |", "|---|---|---|---|---|---|"]
            for a in t["attempts"]:
                delta = "–" if a["dev_delta"] is None else f"{a['dev_delta']:+.2f}"
                lines.append(f"| {a['stage']} | {a['variant']} | {', '.join(map(str, a['seeds']))} | "
                             f"{a['dev']:.2f} | {delta} | {a['test']:.2f} |")
            lines.append("")
    return lines
