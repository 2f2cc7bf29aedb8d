"""How much of a cross-corpus gap is the two corpora's guidelines rather than the model.

BioNLP13 PC was annotated by other people under other rules than the BLURB NER corpora. These measures
split a model's strict errors there by kind, so a report can say which part of the gap a better model
could close and which part only the other corpus's guidelines would (benchmarks/ner_multitype.py):

- chemicals: amino acids and residue sites, which BioNLP13 PC annotates as chemicals and BC5CDR does not;
- genes: the words BC2GM keeps inside a gene mention and BioNLP13 PC leaves out (``human``, ``gene``,
  ``protein``, ``promoter``), and predictions that touch no gold gene at all (complexes such as NF-kappaB,
  families such as ``tyrosine kinases``: BioNLP13 PC tags neither as a gene or gene product).

Each takes the model and the gold sentences and returns a row of counts and points; nothing is chosen on
these rows (they are measured on test only to explain it).
"""

from __future__ import annotations

import re
from pathlib import Path

_AMINO_ACIDS = ("alanine|arginine|asparagine|aspartate|aspartic acid|cysteine|glutamate|glutamic acid|glutamine|"
                "glycine|histidine|isoleucine|leucine|lysine|methionine|phenylalanine|proline|serine|threonine|"
                "tryptophan|tyrosine|valine")
_CODES = "Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val"
RESIDUE = re.compile(rf"^(?:(?:[LD] - )?(?:{_AMINO_ACIDS})|{_CODES})(?: ?(?:- |\( )?\d+(?: \))?)?$"
                     r"|^[ACDEFGHIKLMNPQRSTVWY]\d+$", re.IGNORECASE)

# Words naming what kind of molecule, which organism or which form a gene mention is, that BioNLP13 PC
# leaves outside a gene or gene product ("human SMVT gene" -> "SMVT") and BC2GM often keeps inside.
DESCRIPTORS = frozenset({
    "gene", "genes", "protein", "proteins", "promoter", "promoters", "mrna", "mrnas", "cdna", "cdnas",
    "transcript", "transcripts", "human", "mouse", "murine", "rat", "yeast", "bovine", "mutant", "mutants",
})


def _layers(model: Path, sentences) -> list:
    from biomedserve.runtime import Predictor

    return Predictor.from_dir(model, variant="fp32").predict_words_by_type([s.tokens for s in sentences])


def _spans(tags) -> set[tuple[int, int]]:
    """The entities of one tag sequence as inclusive word spans, decoded as the runtime and the strict
    scorer decode them (:func:`biomedserve.text.decoding.tags_to_spans`: an ``I`` after ``O`` starts none)."""
    from biomedserve.text.decoding import tags_to_spans

    return {(span.start, span.end - 1) for span in tags_to_spans(tags)}


def is_residue(text: str) -> bool:
    """An amino acid or a residue site, as the gold tokens join with spaces: ``tyrosine``, ``Ser ( 183 )``,
    ``Thr700``, ``Y88``. BioNLP13 PC annotates these as chemicals, and they were the suspected cause of the
    cross-corpus gap (a guideline difference from BC5CDR, not a model error)."""
    return bool(RESIDUE.match(text))


def residue_recall(model: Path, sentences, spec, model_type: str) -> dict:
    """The share of the set's gold entities that are residues, and the model's strict recall on those
    and on the rest: whether the cross-corpus gap is the two corpora's guidelines or the model."""
    from biomedserve.tasks.ner import type_tags

    gold_n = {True: 0, False: 0}
    found = {True: 0, False: 0}
    for sentence, by_type in zip(sentences, _layers(model, sentences)):
        predicted = _spans(by_type[model_type].tags)
        for start, end in _spans(type_tags(sentence.tags, spec.entity_type)):
            residue = is_residue(" ".join(sentence.tokens[start:end + 1]))
            gold_n[residue] += 1
            found[residue] += (start, end) in predicted
    total = gold_n[True] + gold_n[False]
    return {"gold_entities": total, "residue_entities": gold_n[True],
            "residue_share": round(100 * gold_n[True] / total, 2) if total else None,
            "residue_recall": round(100 * found[True] / gold_n[True], 2) if gold_n[True] else None,
            "other_recall": round(100 * found[False] / gold_n[False], 2) if gold_n[False] else None}


def trim_descriptors(tokens, start: int, end: int) -> tuple[int, int] | None:
    """The span ``start..end`` (inclusive) without :data:`DESCRIPTORS` (and the hyphens joining them) at
    either edge; None when nothing else is left."""
    def loose(i: int) -> bool:
        return tokens[i].lower() in DESCRIPTORS or tokens[i] == "-"

    while start <= end and loose(start):
        start += 1
    while end >= start and loose(end):
        end -= 1
    return (start, end) if start <= end else None


def _f1(true_positives: int, predicted: int, gold: int) -> float:
    return round(200 * true_positives / (predicted + gold), 2) if predicted + gold else 0.0


def gene_errors(model: Path, sentences, spec, model_type: str) -> dict:
    """The model's strict false positives on a gene set split by kind:

    - ``no_overlap``: touches no gold entity (a complex, a family, another type's word);
    - ``longer``: holds one gold entity and more words, ``longer_by_descriptors`` when every extra word
      is a :data:`DESCRIPTORS` word or a hyphen (a boundary guideline, not a missed gene);
    - ``shorter``, ``other`` (crosses an edge, or spans several gold entities).

    Also the strict F1 as scored, and with descriptor words trimmed from the edges of every prediction
    (``trimmed_strict_f1``): what the model would score if the two corpora agreed on those words. Run on
    two models, it shows whether a gap between them is this guideline or the models.
    """
    from biomedserve.tasks.ner import type_tags

    kinds = dict.fromkeys(("no_overlap", "longer", "longer_by_descriptors", "shorter", "other"), 0)
    gold_n = predicted_n = hits = trimmed_n = trimmed_hits = 0
    for sentence, by_type in zip(sentences, _layers(model, sentences)):
        gold = _spans(type_tags(sentence.tags, spec.entity_type))
        predicted = _spans(by_type[model_type].tags)
        trimmed = {t for t in (trim_descriptors(sentence.tokens, *p) for p in predicted) if t}
        gold_n, predicted_n, hits = gold_n + len(gold), predicted_n + len(predicted), hits + len(gold & predicted)
        trimmed_n, trimmed_hits = trimmed_n + len(trimmed), trimmed_hits + len(gold & trimmed)
        for start, end in predicted - gold:
            touched = [(s, e) for s, e in gold if s <= end and start <= e]
            if not touched:
                kinds["no_overlap"] += 1
            elif len(touched) > 1:
                kinds["other"] += 1
            elif start <= touched[0][0] and end >= touched[0][1]:
                kinds["longer"] += 1
                kinds["longer_by_descriptors"] += trim_descriptors(sentence.tokens, start, end) == touched[0]
            elif start >= touched[0][0] and end <= touched[0][1]:
                kinds["shorter"] += 1
            else:
                kinds["other"] += 1
    return {"gold_entities": gold_n, "predicted": predicted_n, "true_positives": hits,
            "false_positives": {k: v for k, v in kinds.items()},
            "strict_f1": _f1(hits, predicted_n, gold_n), "trimmed_strict_f1": _f1(trimmed_hits, trimmed_n, gold_n)}
