"""The multi-type NER model end to end (train → model directory → ONNX → Predictor), its decoding, and the
``types`` filter and ``entity_types`` of both NER predictors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biomedserve.data.registry import get_dataset
from biomedserve.errors import BiomedserveError
from biomedserve.modeldir.card import read_meta
from biomedserve.runtime import InputError, MultiTypeNerPredictor, Predictor
from biomedserve.runtime.tokenizer import RuntimeTokenizer

TYPES = ["CHEMICAL", "DISEASE", "GENE", "BIOENTITY"]


@pytest.fixture(scope="module")
def multi_model(tiny_base, tmp_path_factory):
    """A few training steps on the first records of each corpus of NER-multitype, exported and scored."""
    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.recipes import Recipe

    out = tmp_path_factory.mktemp("models") / "tiny-multitype"
    recipe = Recipe(dataset="NER-multitype", base_model=str(tiny_base), learning_rate=5e-3, max_steps=200,
                    batch_size=16, max_length=64, seed=5, corpus_sampling_temperature=2.0)
    train(recipe, out, TrainOptions(limit_train=1600, limit_eval=40, progress=False))
    return out


@pytest.fixture(scope="module")
def multi(multi_model):
    return Predictor.from_dir(multi_model)


def test_the_model_directory_records_types_and_corpora(multi_model):
    meta = read_meta(multi_model)
    assert meta.task == "multi_ner" and meta.labels[:3] == ["CHEMICAL:O", "CHEMICAL:B", "CHEMICAL:I"]
    assert meta.entity_types == TYPES
    assert meta.corpus_types == {"BC5CDR": ["CHEMICAL", "DISEASE"], "NCBI-disease": ["DISEASE"],
                                 "BC2GM": ["GENE"], "JNLPBA": ["BIOENTITY"]}
    assert "annotated by: BC5CDR (CHEMICAL, DISEASE)" in (multi_model / "README.md").read_text()
    config = json.loads((multi_model / "config.json").read_text())
    assert len(config["id2label"]) == 12  # a plain token classifier: 3 outputs per type
    # dev and test scored through the runtime, per source and their mean
    dev = meta.metrics["dev/onnx@40"]
    assert set(dev) == {"macro_f1", "f1_BC5CDR", "f1_NCBI-disease", "f1_BC2GM", "f1_JNLPBA"}
    assert dev["macro_f1"] == pytest.approx(np.mean([v for k, v in dev.items() if k != "macro_f1"]), abs=1e-3)
    assert "test/onnx@40" in meta.metrics and meta.provenance["best_dev"] is not None


def test_predictions_come_from_the_models_types(multi):
    assert isinstance(multi, MultiTypeNerPredictor) and multi.entity_types == TYPES
    dev = get_dataset("NER-multitype").load("dev")[:60]
    texts = [" ".join(r.tokens) for r in dev]
    results = multi.predict(texts)
    found = [e for entities in results for e in entities]
    assert found, "the trained model finds some entities in its own dev sentences"
    for text, entities in zip(texts, results):
        assert all(text[e.start:e.end] == e.text and e.label in TYPES and 0 < e.score <= 1 for e in entities)
        assert list(entities) == sorted(entities, key=lambda e: (e.start, e.end, e.label))
    # the filter keeps exactly the entities of the named types
    genes = multi.predict(texts, types=["GENE"])
    assert genes == [[e for e in entities if e.label == "GENE"] for entities in results]
    with pytest.raises(InputError, match="types is empty"):
        multi.predict(texts, types=[])  # as the service: an empty filter is a mistake, not "no types"
    with pytest.raises(InputError, match="'PROTEIN'.*CHEMICAL, DISEASE, GENE, BIOENTITY"):
        multi.predict(texts[0], types=["PROTEIN"])
    with pytest.raises(InputError, match="list of entity types"):
        multi.predict(texts[0], types="GENE")


def test_the_torch_backend_returns_the_same_entities(multi_model, multi):
    texts = [" ".join(r.tokens) for r in get_dataset("NER-multitype").load("test")[:12]]
    torch_predictor = Predictor.from_dir(multi_model, backend="torch")
    assert [[(e.start, e.end, e.label) for e in es] for es in torch_predictor.predict(texts)] == \
           [[(e.start, e.end, e.label) for e in es] for es in multi.predict(texts)]


def test_one_blurb_set_is_scored_on_its_own_types(multi, tiny_model):
    from benchmarks.crosscorpus import score_on_set

    spec = get_dataset("BC2GM")
    sentences = spec.load("dev")[:30]
    scores = score_on_set(multi, sentences, spec)
    assert set(scores) == {"strict", "lenient"} and 0 <= scores["strict"]["f1"] <= scores["lenient"]["f1"] <= 100
    # a single-type model is scored the same way, and a type it does not return is named
    single = Predictor.from_dir(tiny_model)
    chem = get_dataset("BC5-chem")
    from biomedserve.tasks.ner import evaluate

    chem_dev = chem.load("dev")[:30]
    assert score_on_set(single, chem_dev, chem)["strict"]["f1"] == pytest.approx(evaluate(single, chem_dev, chem)["f1"])
    with pytest.raises(BiomedserveError, match="returns no GENE entities"):
        score_on_set(single, sentences, spec)


def _fixed_logits(tokenizer: RuntimeTokenizer, tagged: dict[str, dict[str, str]]):
    """A backend whose logits set, per word piece, the tag of each type ``tagged`` gives it (else O)."""
    pieces = tokenizer([[word] for word in tagged], is_split_into_words=True, add_special_tokens=False)["input_ids"]
    assert all(len(ids) == 1 for ids in pieces), "each tagged word is one word piece"
    by_id = {ids[0]: tags for ids, tags in zip(pieces, tagged.values())}

    def backend(batch):
        ids = batch["input_ids"]
        logits = np.zeros((*ids.shape, 3 * len(TYPES)), dtype=np.float32)
        logits[..., 0::3] = 5.0  # every type O ...
        for (row, col), token in np.ndenumerate(ids):
            for entity_type, tag in by_id.get(int(token), {}).items():
                t = TYPES.index(entity_type)
                logits[row, col, 3 * t: 3 * t + 3] = 0.0
                logits[row, col, 3 * t + "OBI".index(tag)] = 5.0  # ... but these
        return logits

    return backend


def test_decoding_returns_overlapping_entities_of_two_types(multi_model):
    meta = read_meta(multi_model)
    tokenizer = RuntimeTokenizer(multi_model, meta.max_length)
    backend = _fixed_logits(tokenizer, {"renal": {"DISEASE": "B"}, "kinase": {"DISEASE": "I", "GENE": "B"},
                                        "failure": {"DISEASE": "I"}, "water": {"CHEMICAL": "B"}})
    predictor = MultiTypeNerPredictor(multi_model, meta, backend, tokenizer)
    text = "After water, renal kinase failure."
    entities = predictor.predict(text)
    p = np.exp(5) / (np.exp(5) + 2)
    assert [(e.text, e.label) for e in entities] == [("water", "CHEMICAL"), ("renal kinase failure", "DISEASE"),
                                                     ("kinase", "GENE")]
    assert all(e.score == pytest.approx(p, abs=1e-4) for e in entities)
    assert [(e.text, e.label) for e in predictor.predict(text, types=["GENE", "CHEMICAL"])] == \
           [("water", "CHEMICAL"), ("kinase", "GENE")]
    [layers] = predictor.predict_words_by_type([["renal", "kinase", "failure"]])
    assert layers["DISEASE"].tags == ["B-DISEASE", "I-DISEASE", "I-DISEASE"]
    assert layers["GENE"].tags == ["O", "B-GENE", "O"]


def test_single_type_predictor_names_its_types_and_filters(tiny_model):
    single = Predictor.from_dir(tiny_model)
    assert single.entity_types == ["CHEMICAL"]
    texts = ["Naloxone reversed the hypotensive effect of clonidine.", "Lithium and haloperidol."]
    assert single.predict(texts, types=["CHEMICAL"]) == single.predict(texts)
    with pytest.raises(InputError, match="'GENE'.*its types are: CHEMICAL"):
        single.predict(texts, types=["GENE"])


def test_export_int8_is_gated_with_the_tasks_own_metric(multi_model, tmp_path):
    """``biomedserve export --quantize int8`` on a multi-type model: the gate scores dev with multi_ner's
    evaluate (macro F1 over the sources) against the card's fp32 score, and the variant serves."""
    import shutil

    from typer.testing import CliRunner

    from biomedserve.cli import app

    model = tmp_path / "multi"
    shutil.copytree(multi_model, model)
    result = CliRunner().invoke(app, ["export", str(model), "--quantize", "int8", "--limit", "40"])
    assert result.exit_code == 0, result.output
    meta = read_meta(model)
    entry = meta.variants["int8"]
    assert entry.reference_dev == pytest.approx(meta.metrics["dev/onnx@40"]["macro_f1"])
    assert entry.dev is not None and entry.passed is not None
    assert meta.default_variant == ("int8" if entry.passed else "fp32")
    int8 = Predictor.from_dir(model, variant="int8")
    assert isinstance(int8, MultiTypeNerPredictor)
    assert all(e.label in TYPES for e in int8.predict("Renal failure after cisplatin and IL-2."))


def test_train_help_lists_the_multitype_set():
    from typer.testing import CliRunner

    from biomedserve.cli import app

    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "NER-multitype" in result.output


def test_self_training_labels_only_the_types_a_corpus_leaves_unannotated(multi_model, tiny_base, tmp_path):
    """A trained multi-type model as teacher: its sure tags fill the unknown layers of training
    sentences, the corpus's own layers stay as annotated, and the student's card says what was taught."""
    from biomedserve.training.finetune import TrainOptions, train
    from biomedserve.training.pseudo_labels import add_pseudo_layers
    from biomedserve.training.recipes import Recipe

    records = get_dataset("NER-multitype").load("train")[:40]
    taught, counts = add_pseudo_layers(records, multi_model, 0.9, progress=False)
    for before, after in zip(records, taught):
        assert after.layers == before.layers  # never replaced
        assert set(after.pseudo) == set(TYPES) - set(before.layers)
        assert all(len(layer) == len(before.tokens) and set(layer) <= {"B", "I", "O", "?"}
                   for layer in after.pseudo.values())
    assert set(counts) == set(TYPES)
    assert sum(c["words_labelled"] for c in counts.values()) > 0
    # a stricter bar masks more words
    _, strict = add_pseudo_layers(records, multi_model, 0.999, progress=False)
    assert sum(c["words_masked"] for c in strict.values()) > sum(c["words_masked"] for c in counts.values())

    recipe = Recipe(dataset="NER-multitype", base_model=str(tiny_base), learning_rate=5e-3, max_steps=4,
                    batch_size=8, max_length=64, seed=5, pseudo_label_teacher=str(multi_model))
    meta = train(recipe, tmp_path / "student", TrainOptions(limit_train=40, limit_eval=20, progress=False))
    assert meta.provenance["pseudo_labels"]["teacher"] == str(multi_model)
    assert meta.provenance["pseudo_labels"]["per_type"] == counts

    # unlabeled text joins the training set with every type labelled by the teacher
    text = tmp_path / "abstracts.jsonl"
    text.write_text('{"id": "1", "text": "Aspirin inhibits COX-2 in HeLa cells. Tamoxifen binds ESR1."}\n')
    meta = train(recipe.override(pseudo_label_texts=[str(text)]), tmp_path / "student-text",
                 TrainOptions(limit_train=40, limit_eval=20, progress=False))
    assert meta.provenance["pseudo_labels"]["texts"] == {f"text:{text}": 2}
    per_type = meta.provenance["pseudo_labels"]["per_type"]
    assert all(per_type[t]["sentences"] == counts[t]["sentences"] + 2 for t in TYPES)


def test_a_teacher_must_be_a_trained_multi_type_model(tiny_model, tmp_path):
    from biomedserve.training.pseudo_labels import add_pseudo_layers

    records = get_dataset("NER-multitype").load("dev")[:2]
    with pytest.raises(BiomedserveError, match="pseudo_label_teacher: .* not a trained model"):
        add_pseudo_layers(records, tmp_path, 0.9)
    with pytest.raises(BiomedserveError, match="pseudo_label_teacher: .* needs a multi-type"):
        add_pseudo_layers(records, tiny_model, 0.9)
