"""The ten-corpus NER model: its rows in the multi-type study (``benchmarks/ner_multitype.py``).

    python -m benchmarks.ner_multitype --only-multicorpus    # train (if missing) and measure it alone

The model (``train/NER-multicorpus/standard.yaml``, seed 1, at ``models/ner-multicorpus-minilm``) is
trained on BLURB's five NER sets and the five corpora of ``../shared/corpora`` (BioNLP 2009, 2011 EPI,
2013 GE, Ex-PTM: proteins to the BioNLP guideline; LINNAEUS: species), with a head per gene guideline
(``GENE@BC2GM``, ``GENE@BioNLP``). Measured as system ``multicorpus``, and each model of :data:`TEN_CORPUS` (the same
recipe with one change, e.g. ``multicorpus-3ep``: three epochs, trained with ``--checkpoint-dir`` so that
the hours it takes on CPU may span sessions) as its own system, chosen among on dev like the rest:

1. each BLURB NER test set on the head of its own corpus (BC2GM on ``GENE@BC2GM``), strict and lenient;
2. each extra corpus's test split on its own head, and the BioNLP protein corpora also on the
   ``GENE@BC2GM`` head: what the model finds there without the BioNLP guideline (the floor the second
   head must beat);
3. the cross-corpus sets (BioNLP13 PC) with every head that may stand for their type; the head is chosen
   on dev (``ner_multitype.best_on_dev``), and the chosen gene head becomes the card's default view
   (``biomedserve export --guideline GENE=<chosen>``);
4. abbreviation resolution (:mod:`biomedserve.runtime.abbreviations`) on and off, on every cross-corpus
   and extra-corpus split. The staged files keep sentence order but mark no documents, so a document is
   :data:`DOC_SENTENCES` consecutive sentences (about an abstract). It is turned on in the card
   (``--abbreviations on``) only if it lifts the mean strict F1 over the cross-corpus dev splits;
5. ``annotate`` throughput, the int8 variant where it passes its gate (gated on the first
   :data:`GATE_SENTENCES` dev sentences, which alternate over the ten corpora); and in fp32 beside a model of the
   five-corpus recipe's shape (one training step: speed depends on the graph's shape, not its weights), the
   same job on the same machine, for the ratio to the model served before.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from biomedserve.data.registry import CORPORA, get_dataset

SYSTEM = "multicorpus"
DATASET = "NER-multicorpus"


@dataclass(frozen=True)
class TenCorpusModel:
    """One ten-corpus model of the study: where it is kept, the command that trains it, what it changes."""

    path: str  # default model directory (``--<system>`` overrides it)
    command: str  # ``biomedserve train ...`` with ``{model}`` (and ``{checkpoints}``) to fill in
    what: str


# system -> model; the first is the recipe as committed, the others one change each, chosen among on dev
TEN_CORPUS = {
    SYSTEM: TenCorpusModel("models/ner-multicorpus-minilm",
                           "biomedserve train -d NER-multicorpus -r standard --seed 1 --out {model} --overwrite",
                           "one epoch (train/NER-multicorpus/standard.yaml)"),
    f"{SYSTEM}-3ep": TenCorpusModel(
        "models/ner-multicorpus-minilm-3ep",
        "biomedserve train -d NER-multicorpus -r standard --seed 1 --epochs 3 --out {model} --overwrite "
        "--checkpoint-dir {checkpoints}",
        "three epochs (the five-corpus model's budget; resumable: hours on two CPU cores)"),
}
# cross-corpus set -> the heads that may stand for its type (chosen on dev)
CROSS_HEADS = {"BioNLP13PC-chem": ("CHEMICAL",), "BioNLP13PC-ggp": ("GENE@BC2GM", "GENE@BioNLP", "BIOENTITY")}
DOC_SENTENCES = 10
# the int8 gate reads this many dev sentences (alternating over the ten corpora), not all 20k
GATE_SENTENCES = 4000
SPECIES_CORPUS = "linnaeus"


def own_head(dataset: str) -> str:
    """The head of the multi-corpus model trained on ``dataset``'s guideline (``GENE@BC2GM`` for BC2GM)."""
    spec = get_dataset(dataset)
    tagged = f"{spec.entity_type}@{spec.guideline}"
    return tagged if tagged in get_dataset(DATASET).entity_types else spec.entity_type


def training_corpora() -> list[str]:
    """The corpora the model trains on, BLURB sets counted one each (BC5CDR is BC5-chem and BC5-disease)."""
    spec = get_dataset(DATASET)
    out = []
    for source in spec.sources:
        parts = getattr(get_dataset(source), "sources", ()) or (source,)
        out += list(parts)
    return out


# ---------------------------------------------------------------- one prediction pass per split
_LAYERS: dict[tuple[str, str, str], list] = {}


def layers(model: Path, variant: str, name: str, sentences) -> list:
    """Every head's tags for ``sentences`` (split ``name``), predicted once per model and variant and
    kept for the other heads and the abbreviation rows."""
    key = (str(Path(model).resolve()), variant, name)
    if key not in _LAYERS:
        from biomedserve.runtime import Predictor

        predictor = Predictor.from_dir(model, variant=variant)
        _LAYERS[key] = predictor.predict_words_by_type([s.tokens for s in sentences], progress=True)
    return _LAYERS[key]


def score_head(model: Path, variant: str, name: str, sentences, spec, head: str) -> dict:
    """Strict and lenient scores of ``head`` standing for ``spec``'s type (``ner_multitype``'s row shape)."""
    from benchmarks.crosscorpus import score_layers

    scores = score_layers(layers(model, variant, name, sentences), sentences, spec, {spec.entity_type: head})
    return {"strict_f1": round(scores["strict"]["f1"], 2), "lenient_f1": round(scores["lenient"]["f1"], 2),
            "strict_precision": round(scores["strict"]["precision"], 2),
            "strict_recall": round(scores["strict"]["recall"], 2), "sentences": len(sentences)}


# ---------------------------------------------------------------- abbreviation effect
def documents(sentences: Sequence, size: int = DOC_SENTENCES) -> list[tuple[str, list[list[tuple[int, int]]]]]:
    """Consecutive sentences as documents: the text (tokens joined by spaces, sentences by newlines) and
    each sentence's token character spans in it."""
    out = []
    for start in range(0, len(sentences), size):
        text, spans = "", []
        for sentence in sentences[start:start + size]:
            if text:
                text += "\n"
            own = []
            for token in sentence.tokens:
                if own:
                    text += " "
                own.append((len(text), len(text) + len(token)))
                text += token
            spans.append(own)
        out.append((text, spans))
    return out


def abbreviation_effect(model: Path, sentences, spec, head: str, name: str | None = None) -> dict:
    """Strict and lenient F1 of ``head`` on ``sentences`` without and with abbreviation resolution over
    :func:`documents` (:func:`document_effect`)."""
    from biomedserve.runtime.abbreviations import resolve_abbreviations

    row = document_effect(model, sentences, spec, head, name, resolve_abbreviations)
    row["abbreviation_mentions"] = row.pop("marked")
    return row


def lexicon_effect(model: Path, sentences, spec, head: str, name: str | None = None) -> dict:
    """The same for the species lexicon (:mod:`biomedserve.runtime.species_lexicon`) merged into ``head``'s
    entities; ``lexicon_entities`` counts the entities it added or widened."""
    from biomedserve.runtime.species_lexicon import add_lexicon_species

    def merge(text, found):
        return add_lexicon_species(text, found, spec.entity_type)

    row = document_effect(model, sentences, spec, head, name, merge)
    row["lexicon_entities"] = row.pop("changed")
    row.pop("marked")
    return row


def document_effect(model: Path, sentences, spec, head: str, name: str | None, apply) -> dict:
    """Strict and lenient F1 of ``head`` on ``sentences`` as tagged and after ``apply(text, entities)`` over
    :func:`documents`; entities that do not fall on one sentence's token boundaries after it are dropped
    (none do: both steps match whole words). ``marked``: entities naming a long form; ``changed``: entities
    after that were not there before."""
    from biomedserve.runtime import Predictor
    from biomedserve.runtime.results import Entity
    from biomedserve.tasks.ner import entity_scores, lenient_scores, type_tags
    from biomedserve.text.decoding import tags_to_spans

    if name is None:
        tagged = Predictor.from_dir(model, variant="fp32").predict_words_by_type([s.tokens for s in sentences])
    else:
        tagged = layers(model, "fp32", name, sentences)
    label = spec.entity_type
    gold, plain, resolved, pairs, changed = [], [], [], 0, 0
    index = 0
    for text, spans in documents(sentences):
        found = []
        for own in spans:
            tags = tagged[index][head].tags
            found += [Entity(own[s.start][0], own[s.end - 1][1], text[own[s.start][0]:own[s.end - 1][1]], label, 1.0)
                      for s in tags_to_spans(tags)]
            gold.append(type_tags(sentences[index].tags, label))
            plain.append([t if t == "O" else f"{t.partition('-')[0]}-{label}" for t in tags])
            index += 1
        after = apply(text, found)
        pairs += sum(1 for e in after if e.abbreviation_of)
        before = {(e.start, e.end) for e in found}
        changed += sum(1 for e in after if (e.start, e.end) not in before)
        for own in spans:
            starts = {start: i for i, (start, _) in enumerate(own)}
            ends = {end: i for i, (_, end) in enumerate(own)}
            tags = ["O"] * len(own)
            for e in after:
                if e.start in starts and e.end in ends and all(t == "O" for t in tags[starts[e.start]:ends[e.end] + 1]):
                    tags[starts[e.start]] = f"B-{label}"
                    tags[starts[e.start] + 1:ends[e.end] + 1] = [f"I-{label}"] * (ends[e.end] - starts[e.start])
            resolved.append(tags)
    off, on = entity_scores(gold, plain), entity_scores(gold, resolved)
    return {"head": head, "sentences": len(sentences), "doc_sentences": DOC_SENTENCES,
            "off_strict_f1": round(off["f1"], 2), "on_strict_f1": round(on["f1"], 2),
            "off_lenient_f1": round(lenient_scores(gold, plain)["f1"], 2),
            "on_lenient_f1": round(lenient_scores(gold, resolved)["f1"], 2),
            "delta_strict": round(on["f1"] - off["f1"], 2), "marked": pairs, "changed": changed}


# ---------------------------------------------------------------- measuring
def checkpoints_of(model: Path) -> Path:
    """Where a ten-corpus model's training checkpoints (``--checkpoint-dir``) are kept until it is written."""
    return model.parent / "checkpoints" / model.name


def measure(args, partial, tests: dict, cross: dict, best_on_dev, cli, int8_gated,
            card_record, annotate_speed=None, speed_corpus=None, system: str = SYSTEM, model: Path | None = None
            ) -> None:
    """Every row of ten-corpus ``system`` (:data:`TEN_CORPUS`; its model at ``model``, trained when missing).
    The helpers are ``ner_multitype``'s, passed in so both studies share one scorer, one row store and
    one choice rule."""
    model = Path(model or TEN_CORPUS[system].path)
    if not (model / "biomedserve.json").is_file():
        command = TEN_CORPUS[system].command.format(model=model, checkpoints=checkpoints_of(model))
        cli(*command.split()[1:], *(["--data-dir", args.data_dir] if args.data_dir else []))
    fp32 = [(model, "fp32")]
    for dataset, (spec, sentences) in tests.items():
        partial.get(f"blurb:{system}-fp32:{dataset}", score_head,
                    (model, "fp32", f"{dataset}:test", sentences, spec, own_head(dataset)), fp32)
    # each extra corpus's own test split (nothing is chosen on their dev splits)
    extra = {(name, "test"): get_dataset(name).load("test", args.data_dir) for name in CORPORA}
    for (name, split), sentences in extra.items():
        spec = get_dataset(name)
        heads = dict.fromkeys([own_head(name), *(["GENE@BC2GM"] if spec.entity_type == "GENE" else [])])
        for head in heads:
            partial.get(f"corpus:{system}:{head}:{name}:{split}", score_head,
                        (model, "fp32", f"{name}:{split}", sentences, spec, head), fp32)
    from benchmarks.crosscorpus import CROSS_CORPUS

    for (name, split), sentences in cross.items():
        target = CROSS_CORPUS[name]
        for head in CROSS_HEADS[name]:
            partial.get(f"cross:{system}:{head}:{name}:{split}", score_head,
                        (model, "fp32", f"{name}:{split}", sentences, target, head), fp32)
    # the default gene view: the gene head chosen on the cross-corpus gene set's dev split
    genes = gene_view(partial.rows, best_on_dev, system)
    from biomedserve.modeldir.card import read_meta

    if genes and read_meta(model).guideline_defaults.get("GENE") != genes.partition("@")[2]:
        cli("export", str(model), "--guideline", f"GENE={genes.partition('@')[2]}")
    # abbreviation resolution, on the heads chosen on dev (each extra corpus on its own head)
    for name in CROSS_HEADS:
        head = best_on_dev(partial.rows, system, name, CROSS_HEADS[name])
        for split in ("dev", "test"):
            partial.get(f"abbrev:{system}:{name}:{split}", abbreviation_effect,
                        (model, cross[(name, split)], CROSS_CORPUS[name], head, f"{name}:{split}"), fp32)
    for (name, split), sentences in extra.items():
        partial.get(f"abbrev:{system}:{name}:{split}", abbreviation_effect,
                    (model, sentences, get_dataset(name), own_head(name), f"{name}:{split}"), fp32)
    on = abbreviations_help(partial.rows, system)
    if on is not None and read_meta(model).resolve_abbreviations != on:
        cli("export", str(model), "--abbreviations", "on" if on else "off")
    # the species lexicon, on the species corpus (the only one that annotates SPECIES); on if dev says so
    for split in ("dev", "test"):
        sentences = extra.get((SPECIES_CORPUS, split)) or get_dataset(SPECIES_CORPUS).load(split, args.data_dir)
        partial.get(f"lexicon:{system}:{SPECIES_CORPUS}:{split}", lexicon_effect,
                    (model, sentences, get_dataset(SPECIES_CORPUS), "SPECIES", f"{SPECIES_CORPUS}:{split}"), fp32)
    on = lexicon_helps(partial.rows, system)
    if on is not None and read_meta(model).species_lexicon != on:
        cli("export", str(model), "--species-lexicon", "on" if on else "off")
    if "int8" not in read_meta(model).variants:  # gated on the first GATE_SENTENCES dev sentences
        cli("export", str(model), "--quantize", "int8", "--limit", str(GATE_SENTENCES),
            *(["--data-dir", args.data_dir] if args.data_dir else []))
    partial.get(f"card:{system}", card_record, (model,), [(model, None)])
    if int8_gated(model):
        for dataset, (spec, sentences) in tests.items():
            partial.get(f"blurb:{system}-int8:{dataset}", score_head,
                        (model, "int8", f"{dataset}:test", sentences, spec, own_head(dataset)), [(model, "int8")])
    if annotate_speed is not None and speed_corpus is not None:
        jsonl, out, n_words = speed_corpus
        # one output folder per system: annotate resumes a folder only for the job that began it
        partial.get(f"speed:{system}", annotate_speed, ([model], jsonl, out.with_name(f"{out.name}-{system}"), n_words),
                    [(model, None)])
        # the five-corpus model's speed on this machine: the models that measured it are not kept here, and
        # speed depends on the graph's shape only (MiniLM-L6, 12 outputs against 18), so a one-step model of
        # the five-corpus recipe stands in; both in fp32, the same job
        shape = model.with_name(f"{Path(TEN_CORPUS[SYSTEM].path).name}-five-corpus-shape")  # one for every system
        if not (shape / "biomedserve.json").is_file():
            cli("train", "-d", "NER-multitype", "--max-steps", "1", "--limit-train", "64", "--limit-eval", "32",
                "--out", str(shape), "--overwrite")
        for key, path in ((f"{system}-fp32", model), ("five-corpus-shape-fp32", shape)):
            partial.get(f"speed:{key}", annotate_speed,
                        ([path], jsonl, out.with_name(key), n_words, "fp32", path == shape), [(path, "fp32")])


def gene_view(rows: dict, best_on_dev, system: str = SYSTEM) -> str | None:
    """The gene head the served model answers ``GENE`` with: the better of the two on the cross-corpus
    gene set's dev split (None while either is unmeasured)."""
    return best_on_dev(rows, system, "BioNLP13PC-ggp", [h for h in CROSS_HEADS["BioNLP13PC-ggp"] if "@" in h])


def abbreviations_help(rows: dict, system: str = SYSTEM) -> bool | None:
    """Whether resolution lifts the mean strict F1 over the cross-corpus dev splits (None: unmeasured)."""
    deltas = [rows.get(f"abbrev:{system}:{name}:dev", {}).get("delta_strict") for name in CROSS_HEADS]
    return None if None in deltas else statistics.fmean(deltas) > 0


def lexicon_helps(rows: dict, system: str = SYSTEM) -> bool | None:
    """Whether the species lexicon lifts strict F1 on the species corpus's dev split (None: unmeasured)."""
    row = rows.get(f"lexicon:{system}:{SPECIES_CORPUS}:dev")
    return None if row is None else row["delta_strict"] > 0


# ---------------------------------------------------------------- report
def summary(rows: dict, best_on_dev, system: str = SYSTEM) -> dict | None:
    """What the report's summary says of the ten-corpus model (None before it is measured)."""
    if f"card:{system}" not in rows:
        return None
    genes = gene_view(rows, best_on_dev, system)
    species = rows.get(f"corpus:{system}:SPECIES:{SPECIES_CORPUS}:test", {}).get("strict_f1")
    lexicon = {split: rows[f"lexicon:{system}:{SPECIES_CORPUS}:{split}"] for split in ("dev", "test")
               if f"lexicon:{system}:{SPECIES_CORPUS}:{split}" in rows}
    lexicon_on = bool(lexicon_helps(rows, system))
    tagger_species = species
    if lexicon_on and "test" in lexicon:  # what is served: the tagger with the lexicon
        species = lexicon["test"]["on_strict_f1"]
    cross = {}
    for name, heads in CROSS_HEADS.items():
        head = best_on_dev(rows, system, name, heads)
        if head:
            cross[name] = {"head": head, "dev": rows[f"cross:{system}:{head}:{name}:dev"]["strict_f1"],
                           "test": rows[f"cross:{system}:{head}:{name}:test"]["strict_f1"]}
    corpora = {}
    for name in CORPORA:
        head = own_head(name)
        row = rows.get(f"corpus:{system}:{head}:{name}:test")
        if row:
            floor = rows.get(f"corpus:{system}:GENE@BC2GM:{name}:test") if head != "GENE@BC2GM" else None
            corpora[name] = {"head": head, "strict_f1": row["strict_f1"], "lenient_f1": row["lenient_f1"],
                             **({"bc2gm_head_strict_f1": floor["strict_f1"]} if floor else {})}
    abbreviations = {k.removeprefix(f"abbrev:{system}:"): {"off": r["off_strict_f1"], "on": r["on_strict_f1"],
                                                           "delta": r["delta_strict"]}
                     for k, r in sorted(rows.items()) if k.startswith(f"abbrev:{system}:")}
    mine, before = rows.get(f"speed:{system}-fp32"), rows.get("speed:five-corpus-shape-fp32")
    speed = ({"docs_per_s_fp32": mine["docs_per_s"], "five_corpus_docs_per_s_fp32": before["docs_per_s"],
              "ratio": round(mine["docs_per_s"] / before["docs_per_s"], 2), "cpu_flags": mine.get("cpu_flags"),
              "docs_per_s_served_variant": rows.get(f"speed:{system}", {}).get("docs_per_s")}
             if mine and before else None)
    return {"training_corpora": training_corpora(), "species_test_f1": species,
            "species_test_f1_tagger_alone": tagger_species, "species_lexicon": lexicon_on,
            "species_lexicon_strict_f1": {split: {"off": r["off_strict_f1"], "on": r["on_strict_f1"],
                                                  "delta": r["delta_strict"], "added_or_widened": r["lexicon_entities"]}
                                          for split, r in lexicon.items()},
            "annotate_speed": speed,
            "abbreviation_resolution": bool(abbreviations_help(rows, system)), "crosscorpus": cross,
            "corpora_test": corpora, "abbreviations_strict_f1": abbreviations,
            "default_guidelines": {"GENE": genes.partition("@")[2]} if genes else {}}


def _pair(row: dict | None) -> str:
    return f"{row['strict_f1']:.2f} / {row['lenient_f1']:.2f}" if row else "–"


def markdown(rows: dict, facts: dict | None, system: str = SYSTEM) -> list[str]:
    """The report's section on the ten-corpus model (nothing before it is measured)."""
    if not facts:
        return []
    title = ("a head per gene guideline (`train/NER-multicorpus/standard.yaml`)" if system == SYSTEM
             else f"{TEN_CORPUS[system].what} (system `{system}`)")
    lines = ["", f"## Ten corpora, {title}", "",
             f"Trained on {len(facts['training_corpora'])} corpora: {', '.join(facts['training_corpora'])}. "
             "Each extra corpus's own test split, on the head of its guideline; the BioNLP protein corpora also on "
             "the BC2GM gene head, the floor the BioNLP head must beat. Strict / lenient F1.", "",
             "| corpus | head | test strict / lenient | BC2GM head, strict |", "|---|---|---|---|"]
    for name, c in facts["corpora_test"].items():
        lines.append(f"| {name} | {c['head']} | {c['strict_f1']:.2f} / {c['lenient_f1']:.2f} | "
                     f"{c.get('bc2gm_head_strict_f1', '–')} |")
    lines += ["", "Cross-corpus (BioNLP13 PC), every head that may stand for the set's type; chosen on dev:", "",
              "| set | head | dev strict / lenient | test strict / lenient |", "|---|---|---|---|"]
    for name, heads in CROSS_HEADS.items():
        for head in heads:
            dev, test = rows.get(f"cross:{system}:{head}:{name}:dev"), rows.get(f"cross:{system}:{head}:{name}:test")
            chosen = " (chosen)" if facts["crosscorpus"].get(name, {}).get("head") == head else ""
            lines.append(f"| {name} | {head}{chosen} | {_pair(dev)} | {_pair(test)} |")
    view = facts.get("default_guidelines") or {}
    lines += ["", f"Default view served: {', '.join(f'{t}@{g}' for t, g in view.items()) or 'not chosen yet'} "
              "(the better gene head on BioNLP13PC-ggp dev; `predict(..., guideline=...)` asks for the other).", "",
              f"Abbreviation resolution (Schwartz & Hearst; {DOC_SENTENCES} consecutive sentences as a document), "
              "strict F1 off → on:", "", "| split | off | on | Δ |", "|---|---|---|---|"]
    for split, a in facts["abbreviations_strict_f1"].items():
        lines.append(f"| {split} | {a['off']:.2f} | {a['on']:.2f} | {a['delta']:+.2f} |")
    speed = facts.get("annotate_speed")
    if speed:
        lines += ["", f"`annotate`, fp32, same job and machine (flags {', '.join(speed['cpu_flags'] or [])}): "
                  f"{speed['docs_per_s_fp32']} documents/s against {speed['five_corpus_docs_per_s_fp32']} for the "
                  f"five-corpus model's shape (**{speed['ratio']}×**); {speed['docs_per_s_served_variant']} with the "
                  "variant served (int8 where gated)."]
    lexicon = facts.get("species_lexicon_strict_f1") or {}
    if lexicon:
        lines += ["", "The species lexicon (`biomedserve/runtime/species_lexicon.py`: NCBI Taxonomy binomials, their "
                  "abbreviations and species' common names, merged where the tagger missed or cut a name), LINNAEUS "
                  "strict F1 off → on:", "", "| split | off | on | Δ | entities added or widened |", "|---|---|---|---|---|"]
        lines += [f"| linnaeus:{split} | {r['off']:.2f} | {r['on']:.2f} | {r['delta']:+.2f} | {r['added_or_widened']} |"
                  for split, r in lexicon.items()]
    lines += ["", f"Served with abbreviation resolution: **{'on' if facts['abbreviation_resolution'] else 'off'}** "
              "(on only if it lifts the mean strict F1 over the cross-corpus dev splits)"
              + (f"; with the species lexicon: **{'on' if facts['species_lexicon'] else 'off'}** (on only if it lifts "
                 "LINNAEUS dev strict F1)" if lexicon else "")
              + f". LINNAEUS species test strict F1: **{facts['species_test_f1']}**."]
    return lines
