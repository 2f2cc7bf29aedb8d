import random

import pytest
from seqeval.scheme import IOB2, Entities
from transformers import AutoTokenizer

from biomedserve.data.records import TaggedSentence
from biomedserve.modeling.encoders import default_encoder_path
from biomedserve.tasks.ner import encode_sentences, entity_scores, label_list, type_tags
from biomedserve.text.decoding import tags_to_spans


def test_label_list_and_typing():
    assert label_list(["CHEMICAL"]) == ["O", "B-CHEMICAL", "I-CHEMICAL"]
    assert type_tags(["B", "I", "O", "B"], "DISEASE") == ["B-DISEASE", "I-DISEASE", "O", "B-DISEASE"]


def test_metric_hand_checked():
    gold = [["B-X", "I-X", "O", "B-X"]]
    pred = [["B-X", "I-X", "O", "O"]]
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(100.0)
    assert scores["recall"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(200 / 3)


def test_metric_is_strict_about_boundaries_and_stray_inside_tags():
    # a wrong right boundary is a miss, and a stray I- opens no entity (lenient conlleval would count it)
    assert entity_scores([["B-X", "I-X", "O"]], [["B-X", "O", "O"]])["f1"] == 0.0
    assert entity_scores([["B-X", "I-X"]], [["I-X", "I-X"]])["f1"] == 0.0
    assert entity_scores([["B-X", "I-X"]], [["B-X", "I-X"]])["f1"] == 100.0


def test_decoding_matches_seqeval_strict_entities():
    rng = random.Random(0)
    tags = ["O", "B-A", "I-A", "B-B", "I-B"]
    for _ in range(500):
        seq = [rng.choice(tags) for _ in range(rng.randint(0, 12))]
        ours = {(s.label, s.start, s.end) for s in tags_to_spans(seq)}
        theirs = {(e.tag, e.start, e.end) for e in Entities([seq], IOB2).entities[0]}
        assert ours == theirs, seq


def test_merging_tag_layers_keeps_valid_iob2():
    from biomedserve.data.records import TaggedSentence
    from biomedserve.data.registry import merge_tag_layers

    tokens = ["a", "b", "c", "d"]
    chem = [TaggedSentence(tokens, ["B", "I", "O", "O"])]
    disease = [TaggedSentence(tokens, ["O", "B", "I", "B"])]  # overlaps the chemical: dropped whole
    [merged] = merge_tag_layers([("CHEMICAL", chem), ("DISEASE", disease)], "test")
    assert merged.tags == ["B-CHEMICAL", "I-CHEMICAL", "O", "B-DISEASE"]
    assert type_tags(merged.tags, None) == merged.tags


def test_lenient_f1_counts_overlaps_of_the_same_type():
    from biomedserve.tasks.ner import lenient_scores

    gold = [["B-X", "I-X", "I-X", "O", "B-Y", "O"]]
    pred = [["O", "B-X", "O", "O", "B-X", "O"]]  # overlaps the X; the second has the wrong type
    scores = lenient_scores(gold, pred)
    assert scores["precision"] == pytest.approx(50.0)
    assert scores["recall"] == pytest.approx(50.0)
    assert entity_scores(gold, pred)["f1"] == 0.0  # strict: neither boundary matches


def test_training_labels_every_runtime_word_of_a_hyphenated_token():
    # JNLPBA keeps "IL-2" whole; raw text reaches the model as IL - 2, so all three are trained
    tokenizer = AutoTokenizer.from_pretrained(str(default_encoder_path()))
    labels = label_list(["PROTEIN"])
    label2id = {label: i for i, label in enumerate(labels)}
    sentence = TaggedSentence(tokens=["IL-2", "binds"], tags=["B", "O"])
    [feature] = encode_sentences([sentence], tokenizer, label2id, lambda t: type_tags(t, "PROTEIN"), 64)
    named = [(tokenizer.convert_ids_to_tokens(i), labels[label]) for i, label in zip(feature["input_ids"], feature["labels"])
             if label != -100]
    assert named == [("il", "B-PROTEIN"), ("-", "I-PROTEIN"), ("2", "I-PROTEIN"), ("binds", "O")]
