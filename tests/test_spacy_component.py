"""The spaCy component, loaded by its factory name as users will."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import spacy

from biomedserve.errors import ModelDirError
from biomedserve.runtime import Entity, Predictor
from biomedserve.variants import VariantPlan, build_variant

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
        group = doc.spans["biomedserve"]  # every prediction; doc.ents is its overlap-free subset
        assert len(group.attrs["scores"]) == len(group) and all(ent in group for ent in doc.ents)


def test_aligned_entities_equal_the_predictor(nlp, tiny_model):
    predictor = Predictor.from_dir(tiny_model)
    text = "Naloxone reversed the effect of clonidine and cisplatin in rats treated with morphine ."
    expected = [(e.start, e.end, e.label) for e in predictor.predict(text)]
    assert expected, "the tiny model should find some of these chemicals"
    assert [(e.start_char, e.end_char, e.label_) for e in nlp(text).ents] == expected


RULER_TEXT = "Naloxone reversed the effect of clonidine and cisplatin in rats treated with morphine ."


@pytest.mark.parametrize("overwrite", [False, True])
def test_entities_of_an_earlier_entity_ruler_are_kept(nlp, tiny_model, overwrite):
    predictions = [(e.start, e.end, e.label) for e in Predictor.from_dir(tiny_model).predict(RULER_TEXT)]
    alone = nlp(RULER_TEXT)  # the component without a ruler: which tokens it claims
    assert alone.ents, "the tiny model should find some of these chemicals"
    claimed = {t.i for ent in alone.ents for t in ent}
    free = next(t for t in alone if t.is_alpha and t.i not in claimed and t.i - 1 not in claimed)
    first = alone.ents[0]
    assert first.end not in claimed
    overlapping = alone[first.start:first.end + 1]  # a prediction plus the next token: overlaps, differs

    pipeline = spacy.blank("en")
    ruler = pipeline.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "SPECIES", "pattern": free.text}, {"label": "DRUG", "pattern": overlapping.text}])
    pipeline.add_pipe("biomedserve_ner", config={"model": str(tiny_model), "overwrite_ents": overwrite})
    doc = pipeline(RULER_TEXT)
    ents = {(e.start, e.end, e.label_) for e in doc.ents}

    assert (free.i, free.i + 1, "SPECIES") in ents  # overlapping nothing: always kept
    ruler_span, predicted_span = (overlapping.start, overlapping.end, "DRUG"), (first.start, first.end, first.label_)
    if overwrite:
        assert predicted_span in ents and ruler_span not in ents
    else:
        assert ruler_span in ents and predicted_span not in ents
    assert [(s.start_char, s.end_char, s.label_) for s in doc.spans["biomedserve"]] == predictions


@pytest.mark.parametrize("overwrite", [False, True])
def test_overlapping_predictions_never_break_doc_ents(tiny_model, overwrite):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("biomedserve_ner", config={"model": str(tiny_model), "overwrite_ents": overwrite})
    text = "Naloxone reversed 5-fluorouracil/cisplatin toxicity in rats."
    doc = nlp.make_doc(text)
    doc.ents = [doc.char_span(text.index("toxicity"), text.index(" in"), label="DISEASE")]
    # crossing, nested, collapsing to one token under "expand", and overlapping the existing entity
    spans = [(0, 17), (9, 26), (18, 32), (20, 24), (21, 23), (33, 42), (43, 52), (46, 48)]
    component._annotate(doc, [Entity(a, b, text[a:b], "CHEMICAL", 0.9) for a, b in spans])
    tokens = [t.i for ent in doc.ents for t in ent]
    assert len(tokens) == len(set(tokens))  # no token in two entities
    assert len(doc.spans["biomedserve"]) == len(spans) == len(doc.spans["biomedserve"].attrs["scores"])
    assert {e.text: e.label_ for e in doc.ents}["toxicity"] == ("CHEMICAL" if overwrite else "DISEASE")


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


def test_saved_pipeline_carries_every_variant(tiny_model, tmp_path):
    model = tmp_path / "model-with-int8"
    shutil.copytree(tiny_model, model)
    build_variant(model, VariantPlan(quantize="int8"), force=True, limit=20, progress=False, log=lambda *_: None)
    nlp = spacy.blank("en")
    nlp.add_pipe("biomedserve_ner", config={"model": str(model), "variant": "int8"})
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(model)  # the saved pipeline must stand alone, as on another machine
    saved = tmp_path / "pipeline" / "biomedserve_ner" / "model"
    assert {"model.onnx", "model.int8.onnx"} <= {p.name for p in saved.iterdir()}
    assert (saved / "model.safetensors").exists()  # the card lists it: the saved copy is a whole model dir

    reference = Predictor.from_dir(tiny_model, variant="fp32").predict(RULER_TEXT)
    for variant, graph in (("fp32", "model.onnx"), ("int8", "model.int8.onnx"), ("auto", "model.int8.onnx")):
        loaded = spacy.load(tmp_path / "pipeline", config={"components": {"biomedserve_ner": {"variant": variant}}})
        assert loaded.get_pipe("biomedserve_ner").predictor.variant == graph
        doc = loaded(RULER_TEXT)
        assert all(doc.text[e.start_char:e.end_char] == e.text for e in doc.ents)
        if variant == "fp32":
            assert [(s.start_char, s.end_char) for s in doc.spans["biomedserve"]] == \
                   [(e.start, e.end) for e in reference]

    (saved / "model.onnx").unlink()  # a card variant whose graph is not in the pipeline
    with pytest.raises(ModelDirError, match=r"variant 'fp32'.*saved with this pipeline: int8$"):
        spacy.load(tmp_path / "pipeline", config={"components": {"biomedserve_ner": {"variant": "fp32"}}})


def test_a_loaded_pipeline_saves_over_its_own_folder(nlp, tmp_path):
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    loaded.to_disk(tmp_path / "pipeline")  # its model folder is the one being replaced
    again = spacy.load(tmp_path / "pipeline")
    assert [(e.start_char, e.end_char) for e in again(RULER_TEXT).ents] == \
           [(e.start_char, e.end_char) for e in nlp(RULER_TEXT).ents]


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
