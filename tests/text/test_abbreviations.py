"""Schwartz & Hearst abbreviation definitions, on the paper's own examples and the shapes PubMed holds."""

from __future__ import annotations

import pytest

from biomedserve.text.abbreviations import best_long_form, find_abbreviations, occurrences

PAPER = ("Spinal and bulbar muscular atrophy (SBMA) is an inherited motor neuron disease caused by the expansion "
         "of a polyglutamine tract within the androgen receptor (AR). SBMA is rare.")


def pairs(text: str) -> list[tuple[str, str]]:
    return [(a.short, a.long) for a in find_abbreviations(text)]


def test_the_papers_example_gives_both_definitions_with_offsets_into_the_text():
    found = find_abbreviations(PAPER)
    assert [(a.short, a.long) for a in found] == [("SBMA", "Spinal and bulbar muscular atrophy"),
                                                  ("AR", "androgen receptor")]
    for a in found:
        assert PAPER[a.short_start:a.short_end] == a.short and PAPER[a.long_start:a.long_end] == a.long


@pytest.mark.parametrize("text, expected", [
    ("heat shock transcription factor (HSF) binds", [("HSF", "heat shock transcription factor")]),
    ("levels of alpha-fetoprotein (AFP) rose", [("AFP", "alpha-fetoprotein")]),
    ("protein kinase C (PKC; ref. 5) was", [("PKC", "protein kinase C")]),  # cut at ';'
    ("tumor necrosis factor alpha (TNF-alpha) levels", [("TNF-alpha", "tumor necrosis factor alpha")]),
    ("TNF (tumour necrosis factor) is a cytokine", [("TNF", "tumour necrosis factor")]),  # SF (long form)
])
def test_definitions(text, expected):
    assert pairs(text) == expected


@pytest.mark.parametrize("text", [
    "in 5 patients (10%) of the cohort",       # no letter
    "mice (n = 3) were used",                   # no matching long form
    "2 x 10(6) cells",                          # no letter in the candidate
    "the gene (BRCA1) was",                     # letters not in the preceding words
    "an unbalanced ( parenthesis",
    "",
])
def test_no_definition(text):
    assert pairs(text) == []


def test_the_first_letter_must_start_a_word():
    assert best_long_form("HSF", "heat shock factor") == 0
    assert best_long_form("AB", "xab") is None  # 'a' inside a word cannot open the long form


def test_occurrences_are_whole_tokens():
    text = "AR binds. The AR-V7 variant and ARs differ; (AR) again, AR."
    assert [text[s:e] for s, e in occurrences(text, "AR")] == ["AR", "AR", "AR"]
    assert occurrences(text, "AR")[0] == (0, 2)
