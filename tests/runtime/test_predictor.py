"""The runtime Predictor on a real exported graph: offsets, windowing, batching, parity, bad input."""

import unicodedata
from collections import Counter

import numpy as np
import pytest

from biomedserve.data.registry import get_dataset
from biomedserve.runtime import InputError, Predictor, entity_types


@pytest.fixture(scope="module")
def onnx_predictor(tiny_model):
    return Predictor.from_dir(tiny_model)


@pytest.fixture(scope="module")
def torch_predictor(tiny_model):
    return Predictor.from_dir(tiny_model, backend="torch")


TEXTS = [
    "Selegiline-induced postural hypotension in Parkinson's disease.",
    "Naloxone reversed the effect of clonidine (5-HT2A; α-methyldopa) at 0.5 mg/kg.",
    "",
    "   ",
    "Na+/K+-ATPase inhibition by ouabain…",
]


def test_entities_index_the_input_text(onnx_predictor):
    for text, entities in zip(TEXTS, onnx_predictor.predict(TEXTS)):
        for e in entities:
            assert text[e.start:e.end] == e.text
            assert e.label == "CHEMICAL" and 0 < e.score <= 1


def test_empty_text_gives_no_entities(onnx_predictor):
    assert onnx_predictor.predict("") == []
    assert onnx_predictor.predict(["", " \n"]) == [[], []]
    assert onnx_predictor.predict([]) == []


def test_batch_equals_one_by_one(onnx_predictor):
    batched = onnx_predictor.predict(TEXTS)
    single = [onnx_predictor.predict(t) for t in TEXTS]
    assert [[(e.start, e.end, e.label) for e in es] for es in batched] == \
           [[(e.start, e.end, e.label) for e in es] for es in single]


def test_long_text_is_windowed_not_truncated(onnx_predictor):
    words = [f"word{i}" for i in range(400)]  # ~1200 pieces against a 64-piece model
    [tagged] = onnx_predictor.predict_words([words])
    assert len(tagged.tags) == 400 and len(tagged.scores) == 400
    text = " ".join(["Clonidine lowered blood pressure."] * 60)
    for e in onnx_predictor.predict(text):
        assert text[e.start:e.end] == e.text
    # one sentence longer than the model is windowed too, and tagged as predict_words tags its words
    sentence = " ".join(["clonidine and naloxone lowered blood pressure"] * 40)
    [long] = onnx_predictor.predict_words([sentence.split()])
    spans = [(e.start, e.end) for e in onnx_predictor.predict(sentence)]
    starts = [i for i, tag in enumerate(long.tags) if tag.startswith("B-")]
    assert spans and len(spans) == len(starts)


def test_onnx_and_torch_agree(onnx_predictor, torch_predictor):
    sentences = [s.tokens for s in get_dataset("BC5-chem").load("dev")[:64]]
    a = onnx_predictor.predict_words(sentences)
    b = torch_predictor.predict_words(sentences)
    assert [x.tags for x in a] == [y.tags for y in b]
    np.testing.assert_allclose(np.concatenate([x.scores for x in a]), np.concatenate([y.scores for y in b]),
                               atol=1e-4)


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["ok", 3], [None]])
def test_non_text_is_a_clear_error(onnx_predictor, bad):
    with pytest.raises(InputError):
        onnx_predictor.predict(bad)


def test_parallel_streams_give_the_same_predictions(tiny_model, onnx_predictor):
    parallel = Predictor.from_dir(tiny_model, streams=2)
    assert parallel.streams == 2
    sentences = [s.tokens for s in get_dataset("BC5-chem").load("dev")[:200]]
    a = onnx_predictor.predict_words(sentences)
    b = parallel.predict_words(sentences)
    assert [x.tags for x in a] == [y.tags for y in b]


def test_pre_split_words_are_cut_like_raw_text_and_read_back_at_their_first_piece(onnx_predictor):
    # the model sees IL - 2 whatever the caller's tokenisation; "IL-2" takes the tag of "IL"
    [whole] = onnx_predictor.predict_words([["IL-2", "binds", "Na+/K+-ATPase"]])
    [cut] = onnx_predictor.predict_words([["IL", "-", "2", "binds", "Na", "+", "/", "K", "+", "-", "ATPase"]])
    assert len(whole.tags) == 3
    assert whole.tags == [cut.tags[0], cut.tags[3], cut.tags[4]]
    assert whole.scores == pytest.approx([cut.scores[0], cut.scores[3], cut.scores[4]])


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def test_combining_marks_never_cut_an_entity(onnx_predictor):
    # the uncased tokenizer strips accents, so the model sees "methotrexate" in every spelling
    template = "Low-dose {m} and cisplatin were given; {m} levels rose after naloxone and {c}-induced hypotension."
    found = {}
    for form in ("NFC", "NFD"):
        text = template.format(m=unicodedata.normalize(form, "Méthotrexate"),
                               c=unicodedata.normalize(form, "Caféine"))
        entities = onnx_predictor.predict(text)
        for e in entities:
            assert text[e.start:e.end] == e.text
            assert not _is_mark(text[e.start]) and not (e.end < len(text) and _is_mark(text[e.end]))
        found[form] = [unicodedata.normalize("NFC", e.text) for e in entities]
    assert "Méthotrexate" in found["NFC"]
    assert found["NFD"] == found["NFC"]


PARAGRAPH = (
    "Cisplatin-induced nephrotoxicity was reduced by co-treatment with L-DOPA and haloperidol in rats. "
    "Uncoupling by 2,4-dinitrophenol increased oxygen consumption, whereas dexamethasone and sodium "
    "nitroprusside had no effect. Patients receiving doxorubicin or 5-fluorouracil developed hypotension "
    "after naloxone, and lithium levels rose with ibuprofen."
)


def test_a_repeated_paragraph_gets_the_same_entities_every_time(onnx_predictor):
    # 60 repetitions against a 64-piece model: dozens of model inputs; where a sentence sits in the
    # document must not change what is found in it
    repeats = 60
    text = " ".join([PARAGRAPH] * repeats)
    step = len(PARAGRAPH) + 1
    per_repeat: list[list[tuple[int, int, str]]] = [[] for _ in range(repeats)]
    for e in onnx_predictor.predict(text):
        index = e.start // step
        assert e.end <= index * step + len(PARAGRAPH)  # no entity runs across two repetitions
        per_repeat[index].append((e.start - index * step, e.end - index * step, e.label))
    alone = [(e.start, e.end, e.label) for e in onnx_predictor.predict(PARAGRAPH)]
    assert alone  # the tiny model does find chemicals here, so the comparison means something
    assert Counter(map(tuple, per_repeat)) == Counter({tuple(alone): repeats})


# -- entity types: a model of several types (BC5CDR: CHEMICAL + DISEASE) and filtering by type


@pytest.fixture(scope="module")
def two_type_predictor(tiny_two_type_model):
    return Predictor.from_dir(tiny_two_type_model)


def test_entity_types_come_from_the_models_labels(onnx_predictor, two_type_predictor):
    assert entity_types(["O", "B-CHEMICAL", "I-CHEMICAL", "B-DISEASE", "I-DISEASE"]) == ["CHEMICAL", "DISEASE"]
    assert entity_types(["O", "I-PAR", "I-INT", "I-OUT"]) == ["PAR", "INT", "OUT"]
    assert onnx_predictor.entity_types == ["CHEMICAL"]
    assert two_type_predictor.entity_types == ["CHEMICAL", "DISEASE"]


def test_types_keep_only_those_types(two_type_predictor):
    every = two_type_predictor.predict(TEXTS + [PARAGRAPH])
    assert {e.label for es in every for e in es} == {"CHEMICAL", "DISEASE"}  # both types, so filtering shows
    for wanted in (["DISEASE"], ["CHEMICAL"], ["CHEMICAL", "DISEASE"]):
        kept = two_type_predictor.predict(TEXTS + [PARAGRAPH], types=wanted)
        assert kept == [[e for e in es if e.label in wanted] for es in every]
    assert two_type_predictor.predict(PARAGRAPH, types=("DISEASE",)) == every[-1].of_types({"DISEASE"})
    assert two_type_predictor.predict(PARAGRAPH, types=None) == every[-1]


@pytest.mark.parametrize("types, needle", [
    (["GENE"], r"no entity type 'GENE'; its types are: CHEMICAL$"),
    (["CHEMICAL", "chemical", "Gene"], r"no entity type 'chemical', 'Gene'; its types are: CHEMICAL$"),
    ([], r"types is empty"),
    ("CHEMICAL", r"list of entity types, not the string 'CHEMICAL'"),
])
def test_an_unknown_type_is_an_input_error_naming_it_and_the_models_types(onnx_predictor, types, needle):
    with pytest.raises(InputError, match=needle):
        onnx_predictor.predict(TEXTS, types=types)
