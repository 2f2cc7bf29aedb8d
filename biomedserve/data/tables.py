"""Readers for the row-per-instance BLURB files: relation extraction, BIOSSES, HoC and BioASQ.

All of them are tab-separated with a fixed number of columns; a row with the wrong shape or an
unknown label is an error naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from biomedserve.data.lines import iter_lines
from biomedserve.data.records import DocumentInstance, PairInstance
from biomedserve.errors import DataFormatError


def _rows(path: Path, n_columns: int, header: tuple[str, ...] | None) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, columns)``, checking the header (first non-blank line) and column count."""
    expect_header = header is not None
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        columns = line.split("\t")
        if expect_header:
            if tuple(columns) != header:
                raise DataFormatError(path, lineno, f"expected header {'<TAB>'.join(header)!r}")
            expect_header = False
            continue
        if len(columns) != n_columns:
            raise DataFormatError(path, lineno, f"expected {n_columns} tab-separated columns, got {len(columns)}")
        yield lineno, columns


def _check_label(path: Path, lineno: int, label: str, labels: frozenset[str]) -> str:
    if label not in labels:
        raise DataFormatError(path, lineno, f"unknown label {label!r}; expected one of {sorted(labels)}")
    return label


def read_relation_tsv(path: str | Path, labels: frozenset[str], header: bool) -> Iterator[PairInstance]:
    """ChemProt/DDI (``id, sentence, label``, no header) and GAD (``index, sentence, label`` header)."""
    path = Path(path)
    head = ("index", "sentence", "label") if header else None
    for lineno, (pair_id, sentence, label) in _rows(path, 3, head):
        yield PairInstance(pair_id, sentence, None, _check_label(path, lineno, label, labels))


def read_biosses(path: str | Path) -> Iterator[PairInstance]:
    """BIOSSES: ``pair_id, sent1, sent2, score`` with a header; score is a float in [0, 4]."""
    path = Path(path)
    for lineno, (pair_id, sent1, sent2, score) in _rows(path, 4, ("pair_id", "sent1", "sent2", "score")):
        try:
            value = float(score)
        except ValueError:
            raise DataFormatError(path, lineno, f"score {score!r} is not a number") from None
        if not 0.0 <= value <= 4.0:
            raise DataFormatError(path, lineno, f"score {value} is outside [0, 4]")
        yield PairInstance(pair_id, sent1, sent2, value)


def read_bioasq(path: str | Path, labels: frozenset[str]) -> Iterator[PairInstance]:
    """BioASQ yes/no: ``question_id, question, passage, label``, no header."""
    path = Path(path)
    for lineno, (qid, question, passage, label) in _rows(path, 4, None):
        yield PairInstance(qid, question, passage, _check_label(path, lineno, label, labels))


def read_hoc(path: str | Path, n_classes: int = 10) -> list[DocumentInstance]:
    """HoC: sentence rows ``labels, sentence, PMID_s<i>`` grouped into abstracts in file order.

    An abstract's labels are the union of its sentences' positive classes (BLURB's abstract-level
    evaluation), kept as class-index strings ``"0"``..``"9"``.
    """
    path = Path(path)
    docs: dict[str, tuple[list[str], list[frozenset[str]]]] = {}
    for lineno, (label_field, sentence, index) in _rows(path, 3, ("labels", "sentence", "index")):
        pmid, sep, number = index.rpartition("_s")
        if not sep or not pmid or not number.isdigit():
            raise DataFormatError(path, lineno, f"index {index!r} is not of the form PMID_s<i>")
        positives = set()
        items = label_field.split(",")
        if len(items) != n_classes:
            raise DataFormatError(path, lineno, f"expected {n_classes} k_v label items, got {len(items)}")
        for position, item in enumerate(items):
            k, _, v = item.partition("_")
            if k != str(position) or v not in ("0", "1"):
                raise DataFormatError(
                    path, lineno, f"label item {position} is {item!r}; expected {position}_0 or {position}_1"
                )
            if v == "1":
                positives.add(k)
        sentences, sentence_labels = docs.setdefault(pmid, ([], []))
        sentences.append(sentence)
        sentence_labels.append(frozenset(positives))
    return [
        DocumentInstance(pmid, sents, labs, frozenset().union(*labs))
        for pmid, (sents, labs) in docs.items()
    ]
