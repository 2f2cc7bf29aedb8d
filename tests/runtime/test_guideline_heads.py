"""A model trained on the ten-corpus set: a head per gene guideline, SPECIES, the guideline option of
``predict``, the card's default view (``biomedserve export --guideline``) and abbreviation resolution."""

from __future__ import annotations

import pytest

from biomedserve.errors import ModelDirError
from biomedserve.export.card_defaults import set_abbreviation_resolution, set_guideline_defaults
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import InputError, Predictor
from biomedserve.runtime.multi_ner import head_guidelines, select_view, split_head_type

HEADS = ["CHEMICAL", "DISEASE", "GENE@BC2GM", "BIOENTITY", "GENE@BioNLP", "SPECIES"]
TEXTS = ["The androgen receptor (AR) binds IL-2 in Escherichia coli and human cells. AR levels rose.",
         "p53 and BRCA1 mutations were found in mice treated with cisplatin."]


def test_head_types_and_views():
    assert split_head_type("GENE@BioNLP") == ("GENE", "BioNLP") and split_head_type("SPECIES") == ("SPECIES", None)
    assert head_guidelines(HEADS) == {"GENE": ["BC2GM", "BioNLP"]}
    assert select_view(None, HEADS, {})["GENE"] == "GENE@BC2GM"  # the first head, without a default
    assert select_view(None, HEADS, {"GENE": "BioNLP"})["GENE"] == "GENE@BioNLP"
    assert select_view("BioNLP", HEADS, {})["GENE"] == select_view({"GENE": "BioNLP"}, HEADS, {})["GENE"]
    with pytest.raises(InputError, match="knows no guideline 'genia'; it knows GENE: BC2GM, BioNLP"):
        select_view("genia", HEADS, {})
    with pytest.raises(InputError, match="not int"):
        select_view(3, HEADS, {})


def test_the_card_records_ten_corpora_the_heads_and_their_guidelines(tiny_multicorpus_model):
    meta = read_meta(tiny_multicorpus_model)
    assert meta.entity_types == HEADS
    assert len(meta.corpus_types) == 9 and meta.corpus_types["linnaeus"] == ["SPECIES"]  # BC5CDR holds two sets
    assert meta.corpus_types["Ex-PTM"] == ["GENE@BioNLP"] and meta.corpus_types["BC2GM"] == ["GENE@BC2GM"]
    dev = next(v for k, v in meta.metrics.items() if k.startswith("dev/onnx"))
    assert {"f1_linnaeus", "f1_BioNLP09", "f1_Ex-PTM", "f1_BC2GM"} <= set(dev)
    card = (tiny_multicorpus_model / "README.md").read_text()
    assert "Annotation guidelines" in card and "`GENE`: BC2GM, BioNLP (default BC2GM)" in card


def test_predict_follows_the_guideline_asked_for(tiny_multicorpus_model):
    model = Predictor.from_dir(tiny_multicorpus_model)
    assert model.entity_types == ["CHEMICAL", "DISEASE", "GENE", "BIOENTITY", "SPECIES"]
    assert model.head_types == HEADS and model.guidelines == {"GENE": ["BC2GM", "BioNLP"]}
    assert model.default_guidelines == {"GENE": "BC2GM"}
    words = [t.split() for t in TEXTS]
    layers = model.predict_words_by_type(words)
    for guideline in ("BC2GM", "BioNLP"):
        found = model.predict(TEXTS, types=["GENE"], guideline=guideline)
        assert found == model.predict(TEXTS, types=["GENE"], guideline={"GENE": guideline})
        for text, entities, layer in zip(TEXTS, found, layers):
            assert all(e.label == "GENE" and e.guideline == guideline and text[e.start:e.end] == e.text
                       for e in entities)
            # the entities are that head's decoding (whitespace words: one word per token here)
            assert len(entities) == sum(t.startswith("B-") for t in layer[f"GENE@{guideline}"].tags)
    assert model.predict(TEXTS[0]) == model.predict(TEXTS[0], guideline="BC2GM")
    with pytest.raises(InputError, match="no 'SPECIES' head to guideline 'BC2GM'"):
        model.predict(TEXTS, guideline={"SPECIES": "BC2GM"})


def test_a_single_guideline_model_refuses_the_option(tiny_two_type_model):
    with pytest.raises(InputError, match="one annotation guideline per entity type"):
        Predictor.from_dir(tiny_two_type_model).predict("aspirin", guideline="BioNLP")
    with pytest.raises(ModelDirError, match="not a multi-type NER model"):
        set_guideline_defaults(tiny_two_type_model, {"GENE": "BioNLP"})


def test_the_default_view_and_abbreviations_are_set_in_the_card(tiny_multicorpus_model, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_multicorpus_model, copy)
    before = (copy / "biomedserve.json").read_text()
    with pytest.raises(ModelDirError, match="knows no guideline|no 'GENE' head to guideline 'GENIA'"):
        set_guideline_defaults(copy, {"GENE": "GENIA"})
    assert (copy / "biomedserve.json").read_text() == before  # nothing written on a bad choice
    assert set_guideline_defaults(copy, {"GENE": "BioNLP"}) == {"GENE": "BioNLP"}
    model = Predictor.from_dir(copy)
    assert model.default_guidelines == {"GENE": "BioNLP"}
    assert model.predict(TEXTS) == model.predict(TEXTS, guideline="BioNLP")
    assert not model.resolves_abbreviations
    set_abbreviation_resolution(copy, True)
    model = Predictor.from_dir(copy)
    assert model.resolves_abbreviations
    for text, entities in zip(TEXTS, model.predict(TEXTS)):
        assert all(text[e.start:e.end] == e.text for e in entities)  # resolution never moves an offset
    assert model.predict(TEXTS, abbreviations=False) == Predictor.from_dir(tiny_multicorpus_model).predict(
        TEXTS, guideline="BioNLP")


def test_a_card_whose_default_names_no_head_is_refused_at_load(tiny_multicorpus_model, tmp_path):
    import json
    import shutil

    copy = tmp_path / "bad"
    shutil.copytree(tiny_multicorpus_model, copy)
    meta = json.loads((copy / "biomedserve.json").read_text())
    meta["guideline_defaults"] = {"GENE": "GENIA"}
    (copy / "biomedserve.json").write_text(json.dumps(meta))
    with pytest.raises(ModelDirError, match="guideline_defaults"):
        Predictor.from_dir(copy)
