"""The species lexicon beside the tagger: added, replacing a cut span, or leaving the tagger's span."""

from __future__ import annotations

import pytest

from biomedserve.errors import ModelDirError
from biomedserve.export.card_defaults import set_species_lexicon
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import InputError, Predictor
from biomedserve.runtime.results import Entity
from biomedserve.runtime.species_lexicon import add_lexicon_species

TEXT = "B. mallei infects potato; Homo sapiens TLR4 and IL-2."


def entity(text: str, start: int, end: int, label: str, score: float = 0.6) -> Entity:
    return Entity(start, end, text[start:end], label, score)


def spans(entities) -> list[tuple[str, str]]:
    return [(e.text, e.label) for e in entities]


def test_a_cut_species_is_replaced_a_missed_one_added_other_types_left():
    found = [entity(TEXT, 0, 2, "SPECIES", 0.7),  # "B." of "B. mallei": the tagger cut it
             entity(TEXT, 26, 38, "GENE"),  # "Homo sapiens" mis-tagged as a gene stays a gene
             entity(TEXT, 39, 43, "GENE")]
    merged = add_lexicon_species(TEXT, found)
    assert spans(merged) == [("B. mallei", "SPECIES"), ("potato", "SPECIES"), ("Homo sapiens", "GENE"),
                             ("Homo sapiens", "SPECIES"), ("TLR4", "GENE")]
    assert merged[0].score == 0.7 and merged[1].score == 1.0  # replaced: the tagger's best; added: 1.0
    assert all(TEXT[e.start:e.end] == e.text for e in merged)


def test_the_taggers_span_stands_where_a_match_crosses_or_sits_inside_it():
    wide = [entity(TEXT, 26, 43, "SPECIES")]  # "Homo sapiens TLR4" contains the match: it stands
    assert spans(add_lexicon_species(TEXT, wide))[-1] == ("Homo sapiens TLR4", "SPECIES")
    crossing = [entity(TEXT, 31, 43, "SPECIES")]  # "sapiens TLR4" crosses the match's edge
    assert ("Homo sapiens", "SPECIES") not in spans(add_lexicon_species(TEXT, crossing))
    same = [entity(TEXT, 0, 9, "SPECIES", 0.9)]
    assert add_lexicon_species(TEXT, same)[0] == same[0]  # an identical span keeps the tagger's entity


def test_the_predictor_merges_on_request_and_by_the_card(tiny_multicorpus_model, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_multicorpus_model, model)
    text = "Escherichia coli and potato."
    plain = Predictor.from_dir(model)
    assert ("potato", "SPECIES") in spans(plain.predict(text, species_lexicon=True))
    assert ("potato", "SPECIES") not in spans(plain.predict(text, types=["CHEMICAL"], species_lexicon=True))
    set_species_lexicon(model, True)
    assert read_meta(model).species_lexicon is True
    served = Predictor.from_dir(model)
    assert served.uses_species_lexicon
    assert ("Escherichia coli", "SPECIES") in spans(served.predict(text))
    assert ("potato", "SPECIES") not in spans(served.predict(text, species_lexicon=False))


def test_a_model_without_species_refuses_the_lexicon(tiny_model):
    with pytest.raises(InputError, match="finds no SPECIES"):
        Predictor.from_dir(tiny_model).predict("potato", species_lexicon=True)
    with pytest.raises(ModelDirError, match="finds no SPECIES"):
        set_species_lexicon(tiny_model, True)
