"""The spaCy component, loaded by its factory name as users will."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import spacy

from biomedserve.errors import ModelDirError
from biomedserve.export.variants import VariantPlan, build_variant
from biomedserve.runtime import Entity, Predictor

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
    component.set_annotations([doc], [[Entity(a, b, text[a:b], "CHEMICAL", 0.9) for a, b in spans]])
    tokens = [t.i for ent in doc.ents for t in ent]
    assert len(tokens) == len(set(tokens))  # no token in two entities
    assert len(doc.spans["biomedserve"]) == len(spans) == len(doc.spans["biomedserve"].attrs["scores"])
    assert {e.text: e.label_ for e in doc.ents}["toxicity"] == ("CHEMICAL" if overwrite else "DISEASE")


OVERLAPPING = "BRCA1-associated breast cancer was treated with tamoxifen citrate."


def predicted(text: str, *found: tuple[str, str, float]) -> list[Entity]:
    """Entities a multi-type model might return: (mention, label, score), overlaps allowed."""
    return [Entity(text.index(m), text.index(m) + len(m), m, label, score) for m, label, score in found]


PREDICTIONS = predicted(OVERLAPPING,
                        ("BRCA1-associated breast cancer", "DISEASE", 0.6),  # long but less sure than what it holds
                        ("BRCA1", "GENE", 0.9),
                        ("BRCA1", "CHEMICAL", 0.3),  # the same characters, another type
                        ("breast cancer", "DISEASE", 0.7),
                        ("tamoxifen", "CHEMICAL", 0.8),
                        ("tamoxifen citrate", "CHEMICAL", 0.8))  # a tie on score: the longer wins


def _spans(spans) -> list[tuple[str, str]]:
    return [(s.text, s.label_) for s in spans]


@pytest.mark.parametrize("overwrite", [False, True])
def test_set_annotations_keeps_every_type_in_the_span_group_and_resolves_doc_ents_by_score(tiny_model, overwrite):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("biomedserve_ner", config={"model": str(tiny_model), "overwrite_ents": overwrite})
    doc = nlp.make_doc(OVERLAPPING)
    existing = doc.char_span(OVERLAPPING.index("citrate"), OVERLAPPING.index("."), label="SALT")  # an earlier component's
    doc.ents = [existing]
    component.set_annotations([doc], [PREDICTIONS])

    group = doc.spans["biomedserve"]
    assert _spans(group) == [(e.text, e.label) for e in PREDICTIONS]  # all of them, overlaps included
    assert group.attrs["scores"] == [e.score for e in PREDICTIONS]
    assert [s._.biomedserve_score for s in group] == [e.score for e in PREDICTIONS]  # per span, per label
    winner = ("tamoxifen citrate", "CHEMICAL") if overwrite else ("tamoxifen", "CHEMICAL")
    kept = ("citrate", "SALT")
    expected = [("BRCA1", "GENE"), ("breast cancer", "DISEASE"), winner] + ([] if overwrite else [kept])
    assert _spans(doc.ents) == expected
    assert {e.text: e._.biomedserve_score for e in doc.ents if e.label_ != "SALT"} == \
           {"BRCA1": 0.9, "breast cancer": 0.7, winner[0]: 0.8}


def test_spans_key_is_a_setting_and_travels_with_the_pipeline(tiny_model, tmp_path):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("biomedserve_ner", config={"model": str(tiny_model), "spans_key": "ner_all"})
    doc = nlp.make_doc(OVERLAPPING)
    component.set_annotations([doc], [PREDICTIONS])
    assert set(doc.spans) == {"ner_all"} and len(doc.spans["ner_all"]) == len(PREDICTIONS)
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("biomedserve_ner").spans_key == "ner_all"
    assert "ner_all" in loaded(OVERLAPPING).spans
    with pytest.raises(ValueError, match="spans_key"):
        spacy.blank("en").add_pipe("biomedserve_ner", config={"model": str(tiny_model), "spans_key": ""})
    with pytest.raises(ValueError, match="1 predictions for 2 docs"):
        component.set_annotations([nlp.make_doc("a"), nlp.make_doc("b")], [PREDICTIONS])


def test_predict_then_set_annotations_is_the_pipeline_of_a_two_type_model(tiny_two_type_model):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("biomedserve_ner", config={"model": str(tiny_two_type_model)})
    texts = [RULER_TEXT, "Patients receiving doxorubicin or 5-fluorouracil developed hypotension and cardiomyopathy.",
             "Cisplatin-induced nephrotoxicity was reduced by naloxone in rats with hypertension."]
    docs = [nlp.make_doc(t) for t in texts]
    predictions = component.predict(docs)
    assert all(not d.ents and not d.spans for d in docs)  # predict leaves the docs alone
    assert predictions == Predictor.from_dir(tiny_two_type_model).predict(texts)
    assert {e.label for es in predictions for e in es} == {"CHEMICAL", "DISEASE"}
    component.set_annotations(docs, predictions)
    for doc, piped, entities in zip(docs, nlp.pipe(texts), predictions):
        assert [(s.start_char, s.end_char, s.label_) for s in doc.spans["biomedserve"]] == \
               [(e.start, e.end, e.label) for e in entities]
        assert _spans(doc.ents) == _spans(piped.ents) and _spans(doc.spans["biomedserve"]) == \
               _spans(piped.spans["biomedserve"])


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


def test_a_guideline_is_a_setting_checked_when_the_model_loads(tiny_multicorpus_model, tmp_path):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("biomedserve_ner", config={"model": str(tiny_multicorpus_model), "guideline": "BioNLP"})
    text = "The androgen receptor binds IL-2 and p53 in Escherichia coli."
    doc = nlp(text)
    genes = Predictor.from_dir(tiny_multicorpus_model).predict(text, guideline="BioNLP")
    expanded = [doc.char_span(e.start, e.end, label=e.label, alignment_mode="expand") for e in genes]
    assert [(s.start_char, s.end_char, s.label_) for s in doc.spans[component.spans_key]] == \
           [(s.start_char, s.end_char, s.label_) for s in expanded]
    assert "SPECIES" in component.predictor.entity_types
    nlp.to_disk(tmp_path / "pipe")
    assert spacy.load(tmp_path / "pipe").get_pipe("biomedserve_ner").guideline == "BioNLP"
    with pytest.raises(ValueError, match="knows no guideline 'GENIA'"):
        spacy.blank("en").add_pipe("biomedserve_ner", config={"model": str(tiny_multicorpus_model),
                                                              "guideline": "GENIA"})
    with pytest.raises(ValueError, match="no 'SPECIES' head"):
        spacy.blank("en").add_pipe("biomedserve_ner", config={"model": str(tiny_multicorpus_model),
                                                              "guideline": {"SPECIES": "BioNLP"}})
