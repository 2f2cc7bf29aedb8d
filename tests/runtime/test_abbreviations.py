"""Abbreviation resolution over a predictor's entities: a short form takes its long form's type."""

from __future__ import annotations

from biomedserve.runtime.abbreviations import resolve_abbreviations
from biomedserve.runtime.results import Entity

TEXT = "The androgen receptor (AR) binds DNA. AR levels rose; polymerase chain reaction (PCR) showed PCR bands."


def at(text: str, piece: str, label: str, score: float = 0.9, nth: int = 0) -> Entity:
    start = -1
    for _ in range(nth + 1):
        start = text.index(piece, start + 1)
    return Entity(start, start + len(piece), piece, label, score)


def test_an_abbreviation_gets_its_long_forms_type_everywhere_and_offsets_hold():
    long_form = at(TEXT, "androgen receptor", "GENE", 0.8)
    wrong = at(TEXT, "AR", "CHEMICAL", nth=1)  # the second AR tagged as another type
    out = resolve_abbreviations(TEXT, [long_form, wrong])
    ars = [e for e in out if e.text == "AR"]
    assert [(e.label, e.abbreviation_of) for e in ars] == [("GENE", "androgen receptor")] * 2
    assert all(TEXT[e.start:e.end] == e.text for e in out)
    assert ars[0].score == 0.8  # an added mention takes the long form's score
    assert long_form in out and wrong not in out


def test_a_short_form_of_no_entity_loses_its_entities_unless_told_to_keep_them():
    pcr = at(TEXT, "PCR", "GENE", nth=1)
    assert [e for e in resolve_abbreviations(TEXT, [pcr])] == []
    assert resolve_abbreviations(TEXT, [pcr], drop_unsupported=False) == [pcr]


def test_a_text_without_definitions_is_unchanged():
    entities = [at("IL-2 and TNF rose", "TNF", "GENE")]
    assert resolve_abbreviations("IL-2 and TNF rose", entities) == entities


def test_entities_that_only_overlap_a_short_form_stay():
    text = "androgen receptor (AR) and the AR gene"
    gene = at(text, "AR gene", "GENE")
    out = resolve_abbreviations(text, [at(text, "androgen receptor", "GENE"), gene])
    assert gene in out and all(text[e.start:e.end] == e.text for e in out)
