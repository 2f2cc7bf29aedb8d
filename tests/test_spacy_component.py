"""The spaCy component, loaded by its factory name as users will."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import spacy

from biomedserve.runtime import Predictor

TEXTS = [
    "Naloxone reversed the hypotensive effect of clonidine.",
    "Selegiline-induced postural hypotension (SIPH) in Parkinson's disease: 5-fluorouracil/cisplatin.",
    "Na+/K+-ATPase inhibition by ouabain and digoxin at 0.5 mg/kg…",
    "",
    "   α-tocopherol,β-carotene;and 17beta-estradiol(E2)were given.",
]


@pytest.fixture(scope="module")
def nlp(tiny_model):
    nlp = spacy.blank("en")
    nlp.add_pipe("biomedserve_ner", config={"model": str(tiny_model)})
    return nlp


def test_factory_loads_by_name_in_a_fresh_process(tiny_model):
    code = (
        "import json, spacy\n"
        "nlp = spacy.blank('en')\n"
        f"nlp.add_pipe('biomedserve_ner', config={{'model': {str(tiny_model)!r}}})\n"
        "doc = nlp('Naloxone reversed the effect of clonidine.')\n"
        "print(json.dumps([[e.start_char, e.end_char, e.label_] for e in doc.ents]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert isinstance(json.loads(out.stdout.strip().splitlines()[-1]), list)


def test_entities_cover_the_predictors_and_offsets_are_valid(nlp, tiny_model):
    predictor = Predictor.from_dir(tiny_model)
    for text, expected in zip(TEXTS, predictor.predict(TEXTS)):
        doc = nlp(text)
        for ent in doc.ents:
            assert doc.text[ent.start_char:ent.end_char] == ent.text
            assert ent.label_ == "CHEMICAL" and 0 < ent._.biomedserve_score <= 1
        # expand alignment: every predicted entity lies inside a doc entity (none lost at token boundaries)
        for e in expected:
            assert any(ent.start_char <= e.start and e.end <= ent.end_char for ent in doc.ents), (text, e)
        assert doc.spans["biomedserve"].attrs["scores"] == [ent._.biomedserve_score for ent in doc.ents]


def test_aligned_entities_equal_the_predictor(nlp, tiny_model):
    predictor = Predictor.from_dir(tiny_model)
    text = "Naloxone reversed the effect of clonidine and cisplatin in rats treated with morphine ."
    expected = [(e.start, e.end, e.label) for e in predictor.predict(text)]
    assert expected, "the tiny model should find some of these chemicals"
    assert [(e.start_char, e.end_char, e.label_) for e in nlp(text).ents] == expected


def test_pipe_equals_one_by_one(nlp):
    piped = [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in nlp.pipe(TEXTS, batch_size=2)]
    single = [[(e.start_char, e.end_char, e.label_) for e in nlp(t).ents] for t in TEXTS]
    assert piped == single


def test_long_documents_are_windowed(nlp):
    text = " ".join(["Naloxone reversed the effect of clonidine."] * 80)  # far beyond 64 sub-words
    doc = nlp(text)
    for ent in doc.ents:
        assert doc.text[ent.start_char:ent.end_char] == ent.text
    assert any(ent.start_char > len(text) // 2 for ent in doc.ents) or not doc.ents


def test_to_disk_and_spacy_load_round_trip(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    assert (tmp_path / "pipeline" / "biomedserve_ner" / "model" / "model.onnx").is_file()
    loaded = spacy.load(tmp_path / "pipeline")
    for text in TEXTS:
        assert [(e.start_char, e.end_char, e.label_) for e in loaded(text).ents] == \
               [(e.start_char, e.end_char, e.label_) for e in nlp(text).ents]


def test_after_a_sentencizer_and_before_other_components(tiny_model):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("biomedserve_ner", config={"model": str(tiny_model)})
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": False})
    ruler.add_patterns([{"label": "SPECIES", "pattern": "rats"}])
    doc = nlp("Naloxone reversed the effect of clonidine. It was tested in rats.")
    assert len(list(doc.sents)) == 2
    assert "SPECIES" in {e.label_ for e in doc.ents}


def test_missing_model_is_a_clear_error():
    nlp = spacy.blank("en")
    nlp.add_pipe("biomedserve_ner", config={"model": "models/does-not-exist"})
    with pytest.raises(ValueError, match="does-not-exist"):
        nlp("text")
    with pytest.raises(ValueError, match="alignment_mode"):
        spacy.blank("en").add_pipe("biomedserve_ner", config={"alignment_mode": "fuzzy"})
