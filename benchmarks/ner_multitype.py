"""Benchmark: one multi-type NER model against the five per-set models and the spaCy-recipe baseline.

    python -m benchmarks.ner_multitype                   # everything (trains what is missing; resumable)
    python -m benchmarks.ner_multitype --skip-spacy      # without the spaCy-recipe baseline
    python -m benchmarks.ner_multitype --report-only     # rebuild the report from the partial results
    python -m benchmarks.ner_multitype --only-attempts --attempts selftrain-hoc   # one attempt, as a second job
    python -m benchmarks.ner_multitype --only-multicorpus    # the ten-corpus model alone (benchmarks/ner_multicorpus.py)

1. Models. The multi-type model (``train/NER-multitype/standard.yaml``, seed 1) at
   ``models/ner-multitype-minilm``, int8 gated by ``biomedserve export --quantize int8``; the five per-set
   models are the BLURB study's kept standard runs (seed 1, ``benchmarks/ner_models.py``: shared, never
   trained twice), int8 gated the same way; the spaCy-recipe baseline (``train/spacy/ner.cfg``) trained
   on the same merged training sentences, where a type a corpus does not annotate is simply unmarked
   (spaCy's NER has no notion of a partially annotated sentence; that is the naive way to merge).
2. Each BLURB NER test set is scored on the type that set annotates (entities of other types are not
   errors), strict and lenient F1.
3. Cross-corpus (``../shared/crosscorpus``, never trained on): for each set, the model type that stands
   for its type and the best per-set model are chosen on ``dev``; ``test`` is reported.
4. Throughput of the ``annotate`` path (local engine, int8 where gated) on real PubMed abstracts
   (``benchmarks/annotate.py``'s corpus): the multi-type model alone vs the five per-set models in one
   job (each document through each model in turn), documents/s and words/s in the steady state.

5. The ten-corpus model (``benchmarks/ner_multicorpus.py``, system ``multicorpus``): the same rows, each
   extra corpus's own splits, LINNAEUS species, a head per gene guideline and abbreviation resolution.
   The model served is chosen on the cross-corpus dev splits among all of them.

Every measured row is written to ``ner_multitype.partial.json`` as it lands, so a killed run resumes
where it stopped. Writes ``benchmarks/results/ner_multitype.json`` (top-level ``summary``) and
``ner_multitype.md``, with the CPU flags beside the speeds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import ner_multicorpus
from benchmarks.crosscorpus import CROSS_CORPUS, load_crosscorpus
from benchmarks.guideline_gaps import gene_errors, residue_recall
from benchmarks.machine import report_context
from benchmarks.ner_models import NER_SETS, kept_model, kept_run, ner_run
from biomedserve.atomic import atomic_write
from biomedserve.checksums import file_sha256
from biomedserve.data.registry import get_dataset
from biomedserve.modeldir.card import read_meta, variant_file

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MULTITYPE_COMMAND = "biomedserve train -d NER-multitype -r {recipe} --seed {seed} --out {model} --overwrite"
# cross-corpus set -> (per-set models that may stand for it, multi-type model types that may)
CROSS = {
    "BioNLP13PC-chem": (("BC5-chem",), ("CHEMICAL",)),
    "BioNLP13PC-ggp": (("BC2GM", "JNLPBA"), ("GENE", "BIOENTITY")),
}


@dataclass(frozen=True)
class Attempt:
    """One attempt at the cross-corpus gap: the main model's recipe and seed with one change, trained by
    :data:`MULTITYPE_COMMAND` into ``<--multitype>-<label>``."""

    what: str  # the one change, as the report states it
    recipe: str = "standard"
    seed: int = 1
    adapted_encoder: bool = False  # on --attempt-encoder instead of the embedded MiniLM


ATTEMPTS = {
    "adapted": Attempt("the encoder: benchmarks/pretrain.py's MiniLM adapted to BLURB train text (--attempt-encoder)",
                       adapted_encoder=True),
    "selftrain": Attempt("self-training: the main model's sure tags (p >= 0.9) train the types each corpus leaves "
                         "unannotated (train/NER-multitype/selftrain.yaml)", recipe="selftrain"),
    "selftrain-seed2": Attempt("selftrain with seed 2: does its gain hold on another seed?", recipe="selftrain",
                               seed=2),
    "selftrain2": Attempt("a second round of self-training: the self-trained model is the teacher "
                          "(train/NER-multitype/selftrain2.yaml)", recipe="selftrain2"),
    "selftrain-hoc": Attempt("selftrain plus HoC's unlabeled training abstracts, every type labelled by the teacher "
                             "(train/NER-multitype/selftrain-hoc.yaml)", recipe="selftrain-hoc"),
    "selftrain-text": Attempt("selftrain plus every unlabeled training text BLURB holds: HoC, PubMedQA and BioASQ "
                              "(train/NER-multitype/selftrain-text.yaml)", recipe="selftrain-text"),
}


class Partial:
    """Measured rows keyed by name, persisted after each one (resume after a kill)."""

    def __init__(self, path: Path, committed: Path | None = None):
        """Rows from ``path`` (this checkout's partial file, ignored by git), else from the committed
        report's ``rows``, so a fresh clone resumes where the recorded run stopped."""
        self.path = path
        if path.is_file():
            self.rows: dict[str, dict] = json.loads(path.read_text())
        else:
            self.rows = json.loads(committed.read_text())["rows"] if committed and committed.is_file() else {}

    def get(self, key: str, measure, args: tuple = (), depends_on: Sequence[tuple[Path, str | None]] = ()) -> dict:
        """The row ``key``, measured by ``measure(*args)`` unless it already was with the models it
        ``depends_on`` as they are now (``(model, variant)`` pairs, :func:`fingerprint`): a row of a model
        retrained since (another host, another seed's files) is measured again, never mixed in."""
        inputs = fingerprints(depends_on) if depends_on else None
        row = self.rows.get(key)
        if row is None or (inputs is not None and row.get("inputs") != inputs):
            print(f"measuring {key}" + (" (measured before with another model, or with none recorded)"
                                         if row is not None else ""), flush=True)
            self.put(key, {**measure(*args), **({"inputs": inputs} if inputs else {})})
        return self.rows[key]

    def put(self, key: str, row: dict) -> None:
        """Store ``row``, merged with the rows another job (``--only-attempts`` beside a full run) wrote since."""
        if self.path.is_file():
            self.rows = {**json.loads(self.path.read_text()), **self.rows}
        self.rows[key] = row
        atomic_write(self.path, json.dumps(self.rows, indent=1) + "\n")


def fingerprint(model: Path, variant: str | None = None) -> str:
    """What a row measured with ``model`` depends on: the checksum its card records for the variant's graph
    (``fp32``, ``int8``), or with no variant every checksum the card records; a spaCy pipeline (no card) by
    its files' bytes."""
    model = Path(model)
    if not (model / "biomedserve.json").is_file():
        files = sorted(p for p in model.rglob("*") if p.is_file())
        listing = "".join(f"{p.relative_to(model).as_posix()}={file_sha256(p)}" for p in files)
        return hashlib.sha256(listing.encode()).hexdigest()
    files = read_meta(model).files
    if variant is None:
        return hashlib.sha256("".join(f"{k}={v.sha256}" for k, v in sorted(files.items())).encode()).hexdigest()
    return files[variant_file(variant)].sha256


def fingerprints(depends_on: Sequence[tuple[Path, str | None]]) -> str:
    """One short key for every model (and variant) a row depends on, in order."""
    joined = "|".join(f"{Path(m).name}:{v}:{fingerprint(m, v)}" for m, v in depends_on)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "biomedserve.cli", *args], check=True)


def gate_int8(model: Path, data_dir) -> None:
    """Quantise and gate once (the card then lists the variant, passed or not)."""
    if "int8" not in read_meta(model).variants:
        cli("export", str(model), "--quantize", "int8", *(["--data-dir", str(data_dir)] if data_dir else []))


def int8_gated(model: Path) -> bool:
    record = read_meta(model).variants.get("int8")
    return bool(record and record.passed)


# ---------------------------------------------------------------- scoring
def score_model(model: Path, variant: str, sentences, spec, model_types=None) -> dict:
    from benchmarks.crosscorpus import score_on_set
    from biomedserve.runtime import Predictor

    predictor = Predictor.from_dir(model, variant=variant)
    scores = score_on_set(predictor, sentences, spec, model_types=model_types)
    return {"strict_f1": round(scores["strict"]["f1"], 2), "lenient_f1": round(scores["lenient"]["f1"], 2),
            "strict_precision": round(scores["strict"]["precision"], 2),
            "strict_recall": round(scores["strict"]["recall"], 2), "sentences": len(sentences)}


def score_spacy(pipeline: Path, sentences, spec, label: str) -> dict:
    """The spaCy pipeline on the gold tokens; its ``label`` entities counted as the set's type."""
    import spacy
    from spacy.tokens import Doc

    from biomedserve.tasks.ner import entity_scores, lenient_scores, type_tags

    nlp = spacy.load(pipeline)
    gold, pred = [], []
    docs = nlp.pipe(Doc(nlp.vocab, words=s.tokens) for s in sentences)
    for sentence, doc in zip(sentences, docs):
        tags = ["O"] * len(doc)
        for ent in doc.ents:
            if ent.label_ == label:
                tags[ent.start] = f"B-{spec.entity_type}"
                tags[ent.start + 1:ent.end] = [f"I-{spec.entity_type}"] * (ent.end - ent.start - 1)
        pred.append(tags)
        gold.append(type_tags(sentence.tags, spec.entity_type))
    strict, lenient = entity_scores(gold, pred), lenient_scores(gold, pred)
    return {"strict_f1": round(strict["f1"], 2), "lenient_f1": round(lenient["f1"], 2),
            "strict_precision": round(strict["precision"], 2), "strict_recall": round(strict["recall"], 2),
            "sentences": len(sentences)}


# ---------------------------------------------------------------- throughput
def annotate_speed(models: list[Path], jsonl: Path, out: Path, n_words: int, variant: str = "auto",
                   allow_collapsed: bool = False) -> dict:
    """One ``annotate`` job over the corpus with these models (variant auto: int8 where gated;
    ``allow_collapsed`` for a model that stands in for another's shape, timed only)."""
    from benchmarks.annotate import Timed
    from benchmarks.machine import cpu_flags
    from biomedserve.annotate.annotator import ModelSpec, order_models
    from biomedserve.annotate.job import JobConfig
    from biomedserve.annotate.local import LocalEngine
    from biomedserve.data.document_readers import resolve_inputs
    from biomedserve.hardware import usable_cores

    specs, infos = order_models([ModelSpec(str(m), variant, allow_collapsed=allow_collapsed) for m in models])
    config = JobConfig(resolve_inputs([str(jsonl)]), specs, infos, "jsonl")
    engine = Timed(LocalEngine())
    summary, total, _ = engine.run_job(config, out, progress=True)
    docs_per_s, _ = engine.steady_docs_per_s(summary.documents)
    return {"models": [m.name for m in models], "variants": [i.variant for i in infos],
            "documents": summary.documents, "entities": summary.entities,
            "docs_per_s": round(docs_per_s, 2), "words_per_s": round(docs_per_s * n_words / summary.documents, 1),
            "docs_per_s_incl_startup": round(summary.documents / total, 2), "total_s": round(total, 1),
            "usable_cores": usable_cores(), "cpu_flags": cpu_flags()}


# ---------------------------------------------------------------- report
def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.fmean(values), 2) if values else None


def blurb_mean(rows: dict, system: str) -> float | None:
    """Mean strict F1 of ``system`` over the five BLURB NER test sets; None while any is unmeasured."""
    cells = [rows.get(f"blurb:{system}:{d}", {}).get("strict_f1") for d in NER_SETS]
    return _mean(cells) if None not in cells else None


def system_crosscorpus(rows: dict, system: str) -> dict:
    """Per cross-corpus set, the candidate ``system`` stands for it with (a model type, or for ``per-set``
    a per-set model; chosen on dev) and its dev and test strict F1; a set whose choice cannot be made
    yet (a candidate unmeasured) is left out."""
    out = {}
    for name, (sets, model_types) in CROSS.items():
        candidates = (sets if system == "per-set" else ner_multicorpus.CROSS_HEADS[name]
                      if system in ner_multicorpus.TEN_CORPUS else model_types)
        best = best_on_dev(rows, system, name, candidates)
        if best is not None and f"cross:{system}:{best}:{name}:test" in rows:
            out[name] = {"type": best, "dev": rows[f"cross:{system}:{best}:{name}:dev"]["strict_f1"],
                         "test": rows[f"cross:{system}:{best}:{name}:test"]["strict_f1"]}
    return out


def served_system(rows: dict) -> tuple[str, dict[str, float]]:
    """The multi-type model to serve, chosen on dev: among the standard model (``multitype``) and every
    attempt measured on both cross-corpus sets, the best mean strict F1 over the sets' dev splits (one
    model serves every type, so one choice for both sets). The standard model until a choice can be made."""
    means = {}
    for system in ("multitype", *(f"multitype-{label}" for label in ATTEMPTS), *ner_multicorpus.TEN_CORPUS):
        cross = system_crosscorpus(rows, system)
        if len(cross) == len(CROSS):
            means[system] = round(statistics.mean(c["dev"] for c in cross.values()), 2)
    return (max(means, key=means.get) if means else "multitype"), means


def summarize(rows: dict, types: list[str], machine: dict) -> dict:
    """The report's summary, of the served model (:func:`served_system`), beside the standard recipe's."""
    served, dev_means = served_system(rows)
    served_cross = system_crosscorpus(rows, served)
    per_set_cross = system_crosscorpus(rows, "per-set")
    cross = {}
    for name in CROSS:
        cross[name] = {"multitype": served_cross.get(name, {}).get("test"),
                       "best_per_set": per_set_cross.get(name, {}).get("test"),
                       "multitype_type": served_cross.get(name, {}).get("type"),
                       "per_set_model": per_set_cross.get(name, {}).get("type")}
    speed = {k: rows.get(f"speed:{k}", {}) for k in (served, "per_set")}
    ten_corpus = ten_corpus_choice(dev_means)
    ten_corpus_facts = {system: facts for system in ner_multicorpus.TEN_CORPUS
                        if (facts := ner_multicorpus.summary(rows, best_on_dev, system))}
    return {
        "types": types,
        "multitype_served": {"system": served, "recipe_change": recipe_change(served),
                             "chosen_by": "mean strict F1 over the cross-corpus dev splits",
                             "dev_means": dev_means},
        "blurb_ner_mean_multitype": blurb_mean(rows, f"{served}-fp32"),
        "blurb_ner_mean_multitype_int8": blurb_mean(rows, f"{served}-int8"),
        "blurb_ner_mean_per_set": blurb_mean(rows, "per-set"),
        "blurb_ner_mean_spacy_merged": blurb_mean(rows, "spacy-merged"),
        "crosscorpus": cross,
        "crosscorpus_int8": {name: {"multitype": rows.get(f"cross-int8:{served}:{name}:test", {}).get("strict_f1"),
                                    "best_per_set": rows.get(f"cross-int8:per-set:{name}:test", {}).get("strict_f1")}
                             for name in CROSS},
        "docs_per_s_multitype": speed[served].get("docs_per_s"),
        "docs_per_s_per_set_models": speed["per_set"].get("docs_per_s"),
        "words_per_s_multitype": speed[served].get("words_per_s"),
        "words_per_s_per_set_models": speed["per_set"].get("words_per_s"),
        "hardware": f"{machine['cpu']}, {machine['usable_cores']} cores, no GPU; flags: {machine.get('cpu_flags')}",
        "standard_recipe": {"blurb_ner_mean": blurb_mean(rows, "multitype-fp32"),
                            "blurb_ner_mean_int8": blurb_mean(rows, "multitype-int8"),
                            "crosscorpus": system_crosscorpus(rows, "multitype"),
                            "docs_per_s": rows.get("speed:multitype", {}).get("docs_per_s")},
        "attempts": attempts(rows),
        **served_model_facts(rows, served),
        "multicorpus_system": ten_corpus,
        "multicorpus": ten_corpus_facts.get(ten_corpus),
        "multicorpus_systems": {system: {"what": ner_multicorpus.TEN_CORPUS[system].what,
                                         "cross_dev_mean": dev_means.get(system),
                                         "blurb_ner_mean": blurb_mean(rows, f"{system}-fp32"), **facts}
                                for system, facts in ten_corpus_facts.items()},
    }


def ten_corpus_choice(dev_means: dict[str, float]) -> str:
    """The ten-corpus model the summary's ``multicorpus`` facts are of: the best of them by the served
    model's rule (mean strict F1 over the cross-corpus dev splits); the committed recipe's until one
    other is measured."""
    measured = {s: v for s, v in dev_means.items() if s in ner_multicorpus.TEN_CORPUS}
    return max(measured, key=measured.get) if measured else ner_multicorpus.SYSTEM


def recipe_change(system: str) -> str:
    """What the served system's recipe changes against the standard multi-type recipe."""
    if system == "multitype":
        return "none: train/NER-multitype/standard.yaml"
    if system in ner_multicorpus.TEN_CORPUS:
        return ("ten corpora (BLURB's five NER sets and ../shared/corpora's five), a head per gene guideline "
                f"(train/NER-multicorpus/standard.yaml), {ner_multicorpus.TEN_CORPUS[system].what}")
    return ATTEMPTS[system.removeprefix("multitype-")].what


def served_model_facts(rows: dict, served: str) -> dict:
    """The served model's training corpora, LINNAEUS species test strict F1 and whether it resolves
    abbreviations (the ten-corpus model's from its rows; the five-corpus models know no species)."""
    if served in ner_multicorpus.TEN_CORPUS:
        facts = ner_multicorpus.summary(rows, best_on_dev, served) or {}
        return {k: facts.get(k) for k in ("training_corpora", "species_test_f1", "abbreviation_resolution")}
    return {"training_corpora": list(NER_SETS), "species_test_f1": None, "abbreviation_resolution": False}


def targets(summary: dict) -> list[tuple[str, float | None, float | None]]:
    """The targets as (what, the served model's value, the value it needs)."""
    per_set = summary["blurb_ner_mean_per_set"]
    out = [("BLURB NER mean strict F1 ≥ per-set mean − 0.5", summary["blurb_ner_mean_multitype"],
            None if per_set is None else per_set - 0.5)]
    for name, c in summary["crosscorpus"].items():
        out.append((f"{name} test strict F1 ≥ best per-set model + 5", c["multitype"],
                    None if c["best_per_set"] is None else c["best_per_set"] + 5))
    ps_speed = summary["docs_per_s_per_set_models"]
    out.append(("documents/s ≥ 4× the five per-set models", summary["docs_per_s_multitype"],
                None if ps_speed is None else 4 * ps_speed))
    if summary.get("multicorpus"):
        cross = summary["crosscorpus"]
        out += [("BioNLP13PC-ggp test strict F1 ≥ 75.0", cross["BioNLP13PC-ggp"]["multitype"], 75.0),
                ("BioNLP13PC-chem test strict F1 ≥ 58.0", cross["BioNLP13PC-chem"]["multitype"], 58.0),
                ("LINNAEUS species test strict F1 ≥ 85", summary.get("species_test_f1"), 85.0)]
        speed = summary["multicorpus"].get("annotate_speed")
        out.append(("annotate documents/s ≥ 0.9× the five-corpus model (fp32, same machine)",
                    speed and speed["docs_per_s_fp32"], speed and 0.9 * speed["five_corpus_docs_per_s_fp32"]))
    return out


def model_record(meta) -> dict | None:
    """What the multi-type model's card says of its training and int8 gate, so the report carries it."""
    if meta is None:
        return None
    int8 = meta.variants.get("int8")
    return {"entity_types": meta.entity_types, "train_seconds": meta.train_seconds, "recipe": meta.recipe, "bf16": meta.provenance.get("bf16"),
            "dev": meta.metrics, "int8_gate": ({"passed": int8.passed, "dev": int8.dev, "reference_dev": int8.reference_dev,
                                                "remedy": int8.remedy, "attempts": [a.model_dump() for a in int8.attempts]}
                                               if int8 else None)}


def card_record(model: Path) -> dict | None:
    """:func:`model_record` of the card in ``model``: kept as a row, so the report outlives ``models/``."""
    return model_record(read_meta(model))


def _pair(row: dict | None) -> str:
    return f"{row['strict_f1']:.2f} / {row['lenient_f1']:.2f}" if row else "–"


def markdown(report: dict) -> str:
    s, rows = report["summary"], report["rows"]
    systems = [("multitype-fp32", "multi-type fp32"), ("multitype-int8", "multi-type int8"),
               ("per-set", "per-set model"), ("spacy-merged", "spaCy recipe, merged data")]
    for system in ner_multicorpus.TEN_CORPUS:
        if any(key.startswith(f"blurb:{system}-") for key in rows):
            name = "ten corpora" if system == ner_multicorpus.SYSTEM else f"ten corpora, {system.rpartition('-')[2]}"
            systems += [(f"{system}-fp32", f"{name} fp32"), (f"{system}-int8", f"{name} int8")]
    lines = [
        "# One multi-type NER model vs five per-set models",
        "",
        f"Measured {report['when']} on {s['hardware']}.",
        f"Multi-type model types: {', '.join(s['types'])} (JNLPBA's five GENIA types are staged collapsed, so "
        "it contributes one BIOENTITY type). Strict / lenient entity F1 on test, each set scored on its own type.",
        "",
        "| set | " + " | ".join(name for _, name in systems) + " |",
        "|---" * (len(systems) + 1) + "|",
    ]
    for dataset in NER_SETS:
        cells = []
        for key, _ in systems:
            row = rows.get(f"blurb:{key}:{dataset}")
            cells.append(f"{row['strict_f1']:.2f} / {row['lenient_f1']:.2f}" if row else "–")
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    means = [blurb_mean(rows, key) for key, _ in systems]
    lines += ["| **mean strict** | " + " | ".join("–" if m is None else f"**{m:.2f}**" for m in means) + " |", ""]
    lines += ["## Cross-corpus (BioNLP13 PC; chosen on dev, reported on test)", "",
              "| set | multi-type (type chosen on dev) | best per-set model (chosen on dev) | spaCy recipe, merged |",
              "|---|---|---|---|"]
    for name, c in s["crosscorpus"].items():
        spacy_row = rows.get(f"cross:spacy-merged:{name}:test")
        standard_type = s["standard_recipe"]["crosscorpus"].get(name, {}).get("type")
        mt = rows.get(f"cross:multitype:{standard_type}:{name}:test") if standard_type else None
        ps = rows.get(f"cross:per-set:{c['per_set_model']}:{name}:test") if c["per_set_model"] else None
        chosen = c["per_set_model"] or "not chosen yet: a model it is chosen among is missing"
        lines.append(f"| {name} | {_pair(mt)} ({standard_type}) | {_pair(ps)} ({chosen}) | {_pair(spacy_row)} |")
    int8_cross = s.get("crosscorpus_int8", {})
    if any(v["multitype"] is not None for v in int8_cross.values()):
        lines += ["", f"What `annotate` serves (int8 where gated; types and models as chosen on dev), test strict F1: "
                  f"the served model ({s['multitype_served']['system']}) against the best per-set model.", "",
                  "| set | served model, int8 | best per-set model, int8 |", "|---|---|---|"]
        lines += [f"| {name} | {v['multitype']} | {v['best_per_set']} |" for name, v in int8_cross.items()]
    lines += ["", "Dev (where the choices were made):", ""]
    for key, row in sorted(rows.items()):
        if key.startswith("cross:") and key.endswith(":dev"):
            lines.append(f"- {key.removeprefix('cross:').removesuffix(':dev')}: {row['strict_f1']:.2f} / {row['lenient_f1']:.2f}")
    served = s.get("multitype_served")
    if served:
        lines += ["", "## The model served (chosen on dev)", "",
                  f"`{served['system']}` (recipe change: {served['recipe_change']}), chosen by {served['chosen_by']} "
                  f"among {', '.join(f'{k} {v:.2f}' for k, v in served['dev_means'].items()) or 'none yet'}. "
                  "The summary's figures are this model's; test was never chosen on.", "",
                  "| target | served model | needed | met |", "|---|---|---|---|"]
        for target, value, needed in targets(s):
            met = "–" if value is None or needed is None else ("yes" if value >= needed else "**no**")
            lines.append(f"| {target} | {'–' if value is None else f'{value:.2f}'} | "
                         f"{'–' if needed is None else f'≥ {needed:.2f}'} | {met} |")
    tried = s.get("attempts", {})
    if tried:
        lines += ["", "## Attempts at the cross-corpus gap", "",
                  "Each is the multi-type recipe and seed with one change; its type is chosen on dev, Δdev is "
                  "against the multi-type model above. Test is reported, never chosen on.", "",
                  "| attempt | what changed | BLURB mean strict (test) | set | type | dev strict | Δdev | test strict |",
                  "|---|---|---|---|---|---|---|---|"]
        for label, attempt in tried.items():
            for name, c in attempt["crosscorpus"].items():
                delta = "–" if c["dev_delta_vs_multitype"] is None else f"{c['dev_delta_vs_multitype']:+.2f}"
                lines.append(f"| {label} | {ATTEMPTS[label].what} | {attempt['blurb_ner_mean']} | {name} | {c['type']} | "
                             f"{c['dev']:.2f} | {delta} | {c['test']:.2f} |")
    residues = {k: rows.get(f"residues:{k}:BioNLP13PC-chem:test") for k in ("multitype", "per-set")}
    if residues["multitype"]:
        r = residues["multitype"]
        lines += ["", "Amino acids and residue sites (`tyrosine`, `Ser ( 183 )`, `Thr700`): BioNLP13 PC annotates them "
                  f"as chemicals. They are {r['residue_share']:.1f}% of its {r['gold_entities']} test chemicals. If "
                  "recall on them is no lower than on the other chemicals, the guideline difference is not what "
                  "keeps the chemicals low.", "",
                  "| model | strict recall on residues | strict recall on the other chemicals |", "|---|---|---|"]
        for key, name in (("multitype", "multi-type (CHEMICAL)"), ("per-set", "BC5-chem model")):
            if residues[key]:
                lines.append(f"| {name} | {residues[key]['residue_recall']} | {residues[key]['other_recall']} |")
    served_key = (served or {}).get("system", "multitype")
    genes = {k: rows.get(f"genes:{k}:BioNLP13PC-ggp:test") for k in (served_key, "per-set")}
    if all(genes.values()):
        lines += ["", "Genes: BioNLP13 PC leaves words such as `human`, `gene`, `protein` and `promoter` outside a gene "
                  "name (`human SMVT gene` → `SMVT`) and tags no complex (NF-kappaB) or family (`tyrosine kinases`) "
                  "as a gene or gene product; BC2GM does otherwise. Strict false positives on test by kind, and the "
                  "strict F1 with those words trimmed from each prediction's edges (`benchmarks/guideline_gaps.py`; "
                  "analysis only, nothing is chosen or served with the trimming). If trimming lifts both models "
                  "alike, that part of the gap is the guidelines and no model trained on BLURB closes it.", "",
                  "| model | strict F1 | trimmed strict F1 | predicted | FP touching no gold gene | FP longer | "
                  "of which only descriptor words | FP shorter | FP other |", "|---|---|---|---|---|---|---|---|---|"]
        for key, name in ((served_key, f"{served_key} (served)"), ("per-set", "best per-set model")):
            g, fp = genes[key], genes[key]["false_positives"]
            lines.append(f"| {name} | {g['strict_f1']} | {g['trimmed_strict_f1']} | {g['predicted']} | "
                         f"{fp['no_overlap']} | {fp['longer']} | {fp['longer_by_descriptors']} | {fp['shorter']} | "
                         f"{fp['other']} |")
    speed = {k: rows.get(f"speed:{k}") for k in dict.fromkeys(("multitype", served_key, "per_set"))}
    if speed["multitype"] and speed["per_set"]:
        lines += ["", "## Annotating PubMed abstracts (`annotate`, local engine, int8 where gated)", "",
                  "| models | variants | documents/s | words/s | documents/s incl. start-up | cores | CPU flags |",
                  "|---|---|---|---|---|---|---|"]
        for r in (r for r in speed.values() if r):
            lines.append(f"| {', '.join(r['models'])} | {', '.join(r['variants'])} | {r['docs_per_s']} | "
                         f"{r['words_per_s']} | {r['docs_per_s_incl_startup']} | {r.get('usable_cores', '?')} | "
                         f"{', '.join(r.get('cpu_flags') or []) or '?'} |")
        for k in (k for k in speed if k != "per_set" and speed[k]):
            ratio = speed[k]["docs_per_s"] / speed["per_set"]["docs_per_s"]
            lines += ["", f"{', '.join(speed[k]['models'])} annotates **{ratio:.2f}×** the documents per second of "
                      "the five per-set models."]
    for name, m in (("Multi-type model (standard recipe)", report.get("multitype_model")),
                    (f"Served model ({served_key})", report.get("served_model") if served_key != "multitype" else None)):
        if m:
            gate = m["int8_gate"] or {}
            lines += ["", f"{name}: {m['train_seconds']:.0f} s of training (bf16: {(m['bf16'] or {}).get('used')}); "
                      f"int8 gate {'passed' if gate.get('passed') else 'not passed'}: dev {gate.get('dev')} vs fp32 "
                      f"{gate.get('reference_dev')} ({gate.get('remedy')}); every attempt is in the JSON."]
    for system, facts in (s.get("multicorpus_systems") or {}).items():
        lines += ner_multicorpus.markdown(rows, facts, system)
    lines += ["", "Reproduce: `python -m benchmarks.ner_multitype` (resumable; `--report-only` rebuilds this page).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--multitype", type=Path, default=Path("models/ner-multitype-minilm"))
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="where the per-set models are kept")
    parser.add_argument("--spacy-dir", type=Path, default=Path("models/spacy-ner-multitype"))
    parser.add_argument("--spacy-max-steps", type=int, default=None, help="override train/spacy/ner.cfg's max_steps")
    parser.add_argument("--attempt-encoder", type=Path, default=Path("encoders/minilm-blurb-adapted"),
                        help="an attempt at the cross-corpus gap: the same recipe on this encoder (benchmarks/"
                             "pretrain.py's MiniLM adapted to BLURB train text), measured when the folder exists")
    parser.add_argument("--attempts", nargs="+", choices=list(ATTEMPTS), default=None,
                        help="measure only these attempts (default: all); two jobs can then share the work")
    parser.add_argument("--only-attempts", action="store_true",
                        help="the attempts alone (the main model must exist): for a second job beside a full run")
    parser.add_argument("--multicorpus", type=Path, default=Path(ner_multicorpus.TEN_CORPUS["multicorpus"].path),
                        help="the ten-corpus model (train/NER-multicorpus/standard.yaml; trained when missing)")
    parser.add_argument("--multicorpus-3ep", type=Path, default=Path(ner_multicorpus.TEN_CORPUS["multicorpus-3ep"].path),
                        help="the ten-corpus model at three epochs (trained, resumably, when missing)")
    parser.add_argument("--only-multicorpus", action="store_true",
                        help="the ten-corpus models' rows alone (benchmarks/ner_multicorpus.py)")
    parser.add_argument("--ten-corpus", nargs="+", choices=list(ner_multicorpus.TEN_CORPUS),
                        default=list(ner_multicorpus.TEN_CORPUS), help="which ten-corpus models to measure")
    parser.add_argument("--skip-spacy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true", help="accuracy rows only")
    parser.add_argument("--no-train-per-set", action="store_true",
                        help="use only the per-set models the BLURB study has kept so far (the rest stay empty)")
    parser.add_argument("--docs", type=int, default=1000, help="abstracts in the throughput corpus")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--crosscorpus-dir", default=None)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()

    args.results_dir.mkdir(parents=True, exist_ok=True)
    partial = Partial(args.results_dir / "ner_multitype.partial.json", args.results_dir / "ner_multitype.json")
    committed = args.results_dir / "ner_multitype.json"
    when, machine = report_context(committed, rebuilt=args.report_only)
    if not args.report_only:
        measure(args, partial)
    meta = read_meta(args.multitype) if (args.multitype / "biomedserve.json").is_file() else None
    card = partial.rows.get("card:multitype") or model_record(meta) or {}
    # the types come from the model's card; a report rebuilt without models/ reads them from the rows it keeps
    types = meta.entity_types if meta else card.get("entity_types") or committed_types(committed)
    report = {"benchmark": "ner_multitype", "when": when,
              "summary": summarize(partial.rows, types, machine),
              "multitype_model": card or None,
              "served_model": partial.rows.get(f"card:{served_system(partial.rows)[0]}"), "rows": partial.rows,
              "machine": machine,
              "command": "python -m benchmarks.ner_multitype"}
    atomic_write(args.results_dir / "ner_multitype.json", json.dumps(report, indent=2) + "\n")
    atomic_write(args.results_dir / "ner_multitype.md", markdown(report))
    print(json.dumps(report["summary"], indent=2))


def committed_types(committed: Path) -> list[str]:
    """The multi-type model's entity types as the committed report states them (rows kept before the
    card record carried them)."""
    if not committed.is_file():
        return []
    return json.loads(committed.read_text(encoding="utf-8")).get("summary", {}).get("types", [])


def text_leakage(sources: list[str], data_dir, crosscorpus_dir) -> dict:
    """How many sentences of an attempt's unlabeled text (``pseudo_label_texts``) are also in an
    evaluation set (the cross-corpus sets and the BLURB NER dev and test splits): must be none."""
    from benchmarks.crosscorpus import resolve_crosscorpus_dir
    from biomedserve.training.pretrain_data import leaked, load_exclusions
    from biomedserve.training.pseudo_labels import unlabeled_sentences

    crosscorpus = resolve_crosscorpus_dir(crosscorpus_dir)
    files = [str(CROSS_CORPUS[name].path(split, crosscorpus)) for name in CROSS for split in ("dev", "test")]
    files += [str(get_dataset(d).path(split, data_dir)) for d in NER_SETS for split in ("dev", "test")]
    keys = load_exclusions(files).keys
    sentences = unlabeled_sentences(sources, data_dir)
    return {"sources": sources, "sentences": len(sentences), "evaluation_files": len(files),
            "in_evaluation_sets": sum(1 for r in sentences if leaked([" ".join(r.tokens)], keys))}


def attempt_model(args, label: str) -> Path:
    """Where attempt ``label``'s model is kept: beside the main model, ``<--multitype>-<label>``."""
    return args.multitype.with_name(f"{args.multitype.name}-{label}")


def measure_attempt(label: str, attempt: Attempt, args, partial: Partial, tests: dict, cross: dict) -> None:
    """One attempt: trained unless its model exists (a teacher must be the main model; unlabeled text
    must share no sentence with an evaluation set); BLURB test rows and the cross-corpus rows for every
    type that may stand for a set, so its choice is made on dev as the main model's is."""
    from biomedserve.training.recipes import find_recipe, load_recipe

    model = attempt_model(args, label)
    recipe = load_recipe(find_recipe(attempt.recipe, "NER-multitype"))
    teacher = recipe.pseudo_label_teacher
    ours = {args.multitype.resolve(), *(attempt_model(args, other).resolve() for other in ATTEMPTS)}
    if teacher and Path(teacher).resolve() not in ours:
        raise SystemExit(f"train/NER-multitype/{attempt.recipe}.yaml's teacher {teacher} is neither --multitype "
                         f"{args.multitype} nor an attempt's model beside it: run from the folder that holds models/")
    if recipe.pseudo_label_texts:
        check = partial.get(f"attempt:{label}:text_leakage", text_leakage,
                            (recipe.pseudo_label_texts, args.data_dir, args.crosscorpus_dir))
        if check["in_evaluation_sets"]:
            raise SystemExit(f"{label}: {check['in_evaluation_sets']} sentences of {recipe.pseudo_label_texts} are "
                             "in an evaluation set; self-training on them would see test text")
    if not (model / "biomedserve.json").is_file():
        started = time.time()
        cli(*MULTITYPE_COMMAND.format(recipe=attempt.recipe, seed=attempt.seed, model=model).split()[1:],
            *(["--base-model", str(args.attempt_encoder)] if attempt.adapted_encoder else []),
            *(["--data-dir", args.data_dir] if args.data_dir else []))
        partial.put(f"attempt:{label}:train_seconds", {"seconds": round(time.time() - started, 1)})
    for dataset, (spec, sentences) in tests.items():
        partial.get(f"blurb:multitype-{label}-fp32:{dataset}", score_model, (model, "fp32", sentences, spec),
                    [(model, "fp32")])
    for (name, split), sentences in cross.items():
        target = CROSS_CORPUS[name]
        for model_type in CROSS[name][1]:
            partial.get(f"cross:multitype-{label}:{model_type}:{name}:{split}", score_model,
                        (model, "fp32", sentences, target, {target.entity_type: model_type}), [(model, "fp32")])


def measure_attempts(args, partial: Partial, tests: dict, cross: dict) -> None:
    """The attempts at the cross-corpus gap (:data:`ATTEMPTS`, or those of ``--attempts``), each measured
    when what it needs exists."""
    for label in args.attempts or ATTEMPTS:
        attempt = ATTEMPTS[label]
        if attempt.adapted_encoder and not (args.attempt_encoder / "pretrain_card.json").is_file():
            print(f"no adapted encoder at {args.attempt_encoder} (python -m benchmarks.pretrain): {label} not run",
                  flush=True)
            continue
        measure_attempt(label, attempt, args, partial, tests, cross)


def best_on_dev(rows: dict, system: str, name: str, candidates) -> str | None:
    """The candidate (a model type or a per-set model) whose ``cross:{system}:{candidate}:{name}:dev`` row
    scores the highest strict F1; None while any of them is unmeasured. Every cross-corpus choice is made here."""
    dev = {c: rows.get(f"cross:{system}:{c}:{name}:dev") for c in candidates}
    return None if None in dev.values() else max(candidates, key=lambda c: dev[c]["strict_f1"])


def attempts(rows: dict) -> dict:
    """Each attempt's BLURB mean and, per cross-corpus set, its type chosen on dev with dev and test,
    beside the main multi-type model's: what the attempt moved dev by, and test."""
    out = {}
    main = system_crosscorpus(rows, "multitype")
    for label in ATTEMPTS:
        mean = blurb_mean(rows, f"multitype-{label}-fp32")
        cross = system_crosscorpus(rows, f"multitype-{label}")
        for name, c in cross.items():
            c["dev_delta_vs_multitype"] = round(c["dev"] - main[name]["dev"], 2) if name in main else None
        if cross or mean is not None:
            out[label] = {"blurb_ner_mean": mean, "crosscorpus": cross,
                          "train_seconds": rows.get(f"attempt:{label}:train_seconds", {}).get("seconds")}
    return out


def served_path(args, system: str) -> Path:
    """The model directory of a system of this study."""
    if system == "multitype":
        return args.multitype
    if system in ner_multicorpus.TEN_CORPUS:
        return getattr(args, system.replace("-", "_"))
    return attempt_model(args, system.removeprefix("multitype-"))


def measure_multicorpus(args, partial: Partial, tests: dict, cross: dict) -> None:
    """The ten-corpus model's rows (:mod:`benchmarks.ner_multicorpus`), with this study's scorer and rules."""
    from benchmarks.annotate import corpus, words, write_jsonl

    with tempfile.TemporaryDirectory(prefix="ner-multicorpus-") as tmp:
        speed = None
        if not args.skip_throughput:
            docs = corpus(args.docs, seed=0)
            speed = (write_jsonl(docs, Path(tmp) / "corpus.jsonl"), Path(tmp) / "mc", sum(words(d) for d in docs))
        for system in args.ten_corpus:
            ner_multicorpus.measure(args, partial, tests, cross, best_on_dev, cli, int8_gated, card_record,
                                    annotate_speed, speed, system, served_path(args, system))


def measure(args, partial: Partial) -> None:
    """Every row, the multi-type model's first (the per-set models may still be training in the BLURB study)."""
    tests = {d: (get_dataset(d), get_dataset(d).load("test", args.data_dir)) for d in NER_SETS}
    cross = {(name, split): load_crosscorpus(name, split, args.crosscorpus_dir)
             for name in CROSS for split in ("dev", "test")}
    if args.only_multicorpus:  # needs neither the five-corpus model nor the per-set models
        measure_multicorpus(args, partial, tests, cross)
        return
    if not (args.multitype / "biomedserve.json").is_file():
        cli(*MULTITYPE_COMMAND.format(recipe="standard", seed=1, model=args.multitype).split()[1:],
            *(["--data-dir", args.data_dir] if args.data_dir else []))
    if args.only_attempts:
        measure_attempts(args, partial, tests, cross)
        return
    gate_int8(args.multitype, args.data_dir)
    partial.get("card:multitype", card_record, (args.multitype,), [(args.multitype, None)])

    # the multi-type model: each BLURB test set on its own type; each cross-corpus set with every type
    # that may stand for it (chosen on dev below)
    variants = ["fp32", "int8"] if int8_gated(args.multitype) else ["fp32"]
    for dataset, (spec, sentences) in tests.items():
        for variant in variants:
            partial.get(f"blurb:multitype-{variant}:{dataset}", score_model, (args.multitype, variant, sentences, spec),
                        [(args.multitype, variant)])
    for (name, split), sentences in cross.items():
        target = CROSS_CORPUS[name]
        for model_type in CROSS[name][1]:
            partial.get(f"cross:multitype:{model_type}:{name}:{split}", score_model,
                        (args.multitype, "fp32", sentences, target, {target.entity_type: model_type}),
                        [(args.multitype, "fp32")])

    measure_attempts(args, partial, tests, cross)
    measure_multicorpus(args, partial, tests, cross)

    # the spaCy recipe on the same merged training sentences
    if not args.skip_spacy:
        spacy_model = args.spacy_dir / "model-best"
        if not (spacy_model / "meta.json").is_file():
            from biomedserve.training.spacy_baseline import train_baseline

            overrides = {"training.max_steps": args.spacy_max_steps} if args.spacy_max_steps else None
            started = time.time()
            train_baseline("NER-multitype", args.spacy_dir, args.data_dir, overrides=overrides)
            partial.put("spacy-merged:train_seconds", {"seconds": round(time.time() - started, 1)})
        for dataset, (spec, sentences) in tests.items():
            partial.get(f"blurb:spacy-merged:{dataset}", score_spacy, (spacy_model, sentences, spec, spec.entity_type),
                        [(spacy_model, None)])
        for (name, split), sentences in cross.items():
            partial.get(f"cross:spacy-merged:{name}:{split}",
                        score_spacy, (spacy_model, sentences, CROSS_CORPUS[name], CROSS[name][1][0]),
                        [(spacy_model, None)])

    # the five per-set models (the BLURB study's kept runs; int8 gated before the throughput runs)
    per_set = {}
    for dataset, (spec, sentences) in tests.items():
        path = kept_model(args.models_dir, dataset, "minilm")
        if args.no_train_per_set and not (path / "biomedserve.json").is_file():
            print(f"{dataset}: no kept per-set model at {path} yet; its rows stay empty", flush=True)
            continue
        kept_run(ner_run(dataset, "default"), RESULTS / "blurb_runs" / "minilm", path, args.data_dir)
        per_set[dataset] = path
        partial.get(f"blurb:per-set:{dataset}", score_model, (path, "fp32", sentences, spec), [(path, "fp32")])
    for (name, split), sentences in cross.items():
        target = CROSS_CORPUS[name]
        for dataset in (d for d in CROSS[name][0] if d in per_set):
            partial.get(f"cross:per-set:{dataset}:{name}:{split}", score_model,
                        (per_set[dataset], "fp32", sentences, target, {target.entity_type: get_dataset(dataset).entity_type}),
                        [(per_set[dataset], "fp32")])

    # every cross-corpus choice is made on dev, from these rows, where the report is built (system_crosscorpus)
    rows = partial.rows
    # the served model, if an attempt: gated int8 and its BLURB rows as the standard model's
    served, _ = served_system(rows)
    served_model = served_path(args, served)
    if served != "multitype":
        gate_int8(served_model, args.data_dir)
        partial.get(f"card:{served}", card_record, (served_model,), [(served_model, None)])
        if int8_gated(served_model):
            for dataset, (spec, sentences) in tests.items():
                partial.get(f"blurb:{served}-int8:{dataset}", score_model, (served_model, "int8", sentences, spec),
                            [(served_model, "int8")])

    # how much of the chemical gap is residues, which BioNLP13 PC annotates and BC5CDR does not
    chem, chem_set = "BioNLP13PC-chem", CROSS_CORPUS["BioNLP13PC-chem"]
    partial.get(f"residues:multitype:{chem}:test", residue_recall,
                (args.multitype, cross[(chem, "test")], chem_set, "CHEMICAL"), [(args.multitype, "fp32")])
    if "BC5-chem" in per_set:
        partial.get(f"residues:per-set:{chem}:test", residue_recall,
                    (per_set["BC5-chem"], cross[(chem, "test")], chem_set, get_dataset("BC5-chem").entity_type),
                    [(per_set["BC5-chem"], "fp32")])

    # per cross-corpus set, the served model (with its type) and the per-set model (with its set's type) as
    # chosen on dev: the models the two analyses below compare
    chosen: dict[str, dict[str, tuple[Path, str]]] = {name: {} for name in CROSS}
    for name, choice in system_crosscorpus(partial.rows, served).items():
        chosen[name][served] = (served_model, choice["type"])
    for name, choice in system_crosscorpus(partial.rows, "per-set").items():
        if choice["type"] in per_set:
            chosen[name]["per-set"] = (per_set[choice["type"]], get_dataset(choice["type"]).entity_type)

    # how much of the gene gap is the guidelines' boundaries and complexes, on the same test sentences
    ggp = "BioNLP13PC-ggp"
    for system, (path, model_type) in chosen[ggp].items():
        partial.get(f"genes:{system}:{ggp}:test", gene_errors, (path, cross[(ggp, "test")], CROSS_CORPUS[ggp], model_type),
                    [(path, "fp32")])

    # what `annotate` serves (int8 where gated) on the cross-corpus test sets; the choices stay those made on dev
    for name, models in chosen.items():
        target, sentences = CROSS_CORPUS[name], cross[(name, "test")]
        for system, (path, model_type) in models.items():
            gate_int8(path, args.data_dir)
            if int8_gated(path):
                partial.get(f"cross-int8:{system}:{name}:test", score_model,
                            (path, "int8", sentences, target, {target.entity_type: model_type}), [(path, "int8")])

    # throughput through the annotate path
    from benchmarks.annotate import corpus, words, write_jsonl

    with tempfile.TemporaryDirectory(prefix="ner-multitype-") as tmp:
        docs = corpus(args.docs, seed=0)
        jsonl = write_jsonl(docs, Path(tmp) / "corpus.jsonl")
        n_words = sum(words(d) for d in docs)
        if args.skip_throughput:
            return
        if len(per_set) < len(NER_SETS):
            print("throughput needs all five per-set models: not measured yet", flush=True)
            return
        for path in per_set.values():
            gate_int8(path, args.data_dir)  # int8 where gated, as the multi-type model
        partial.get("speed:multitype", annotate_speed, ([args.multitype], jsonl, Path(tmp) / "mt", n_words),
                    [(args.multitype, None)])
        if served != "multitype":
            partial.get(f"speed:{served}", annotate_speed, ([served_model], jsonl, Path(tmp) / "served", n_words),
                        [(served_model, None)])
        partial.get("speed:per_set", annotate_speed, ([per_set[d] for d in NER_SETS], jsonl, Path(tmp) / "ps", n_words),
                    [(per_set[d], None) for d in NER_SETS])


if __name__ == "__main__":
    main()
