"""Multi-type NER: the joined data set, masked per-type training, corpus sampling and scoring."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
import torch
from transformers import AutoTokenizer

from benchmarks.crosscorpus import score_on_set
from biomedserve.data.records import TaggedSentence, TypedLayersSentence
from biomedserve.data.registry import get_dataset
from biomedserve.errors import BiomedserveError, RecipeError
from biomedserve.modeling.encoders import default_encoder_path
from biomedserve.runtime.multi_ner import type_head_labels
from biomedserve.tasks import get_task
from biomedserve.tasks.multi_ner import TypedLabelCollator, encode_typed_sentences, masked_type_loss
from biomedserve.training.recipes import Recipe, find_recipe, load_recipe
from biomedserve.training.sampling import CorpusTemperatureSampler, corpus_sampler, corpus_shares, temperature_epoch

TYPES = ["CHEMICAL", "DISEASE", "GENE", "BIOENTITY"]


@pytest.fixture(scope="module")
def spec():
    return get_dataset("NER-multitype")


@pytest.fixture(scope="module")
def dev(spec):
    return spec.load("dev")


def test_the_set_joins_the_five_ner_sets_with_their_types(spec, dev):
    assert spec.task == "multi_ner"
    assert list(spec.entity_types) == TYPES
    assert spec.corpus_types == {"BC5CDR": ("CHEMICAL", "DISEASE"), "NCBI-disease": ("DISEASE",),
                                 "BC2GM": ("GENE",), "JNLPBA": ("BIOENTITY",)}
    # every record says where it came from and what its corpus annotates; the corpora alternate
    assert [r.corpus for r in dev[:4]] == ["BC5CDR", "NCBI-disease", "BC2GM", "JNLPBA"]
    assert all(isinstance(r, TypedLayersSentence) and r.types == spec.corpus_types[r.corpus] for r in dev)
    # each split is the sources' own split, in each source's file order
    sizes = Counter(r.corpus for r in dev)
    assert sizes["BC2GM"] == len(get_dataset("BC2GM").load("dev"))
    assert [r.tokens for r in dev if r.corpus == "NCBI-disease"] == [s.tokens for s in get_dataset("NCBI-disease").load("dev")]
    # BC5CDR keeps both layers whole (the merged single-type set drops a layer where they overlap)
    chem = get_dataset("BC5-chem").load("dev")
    assert [r.layers["CHEMICAL"] for r in dev if r.corpus == "BC5CDR"] == [s.tags for s in chem]


def test_features_mask_every_type_the_corpus_does_not_annotate():
    tokenizer = AutoTokenizer.from_pretrained(str(default_encoder_path()))
    record = TypedLayersSentence(["IL-2", "binds", "aspirin"], {"GENE": ["B", "O", "O"]}, "BC2GM")
    [feature] = encode_typed_sentences([record], tokenizer, TYPES, 64)
    named = [(tokenizer.convert_ids_to_tokens(i), row) for i, row in zip(feature["input_ids"], feature["labels"])]
    # only GENE carries labels (O=0, B=1, I=2), on the first piece of each runtime word; the rest is -100
    assert [(t, row) for t, row in named if row != [-100] * 4] == [
        ("il", [-100, -100, 1, -100]), ("-", [-100, -100, 2, -100]), ("2", [-100, -100, 2, -100]),
        ("binds", [-100, -100, 0, -100]), ("as", [-100, -100, 0, -100])]  # aspirin: as ##pi ##rin
    assert feature["corpus"] == "BC2GM"


def test_an_unannotated_type_receives_no_training_signal(tiny_base, spec):
    """BC2GM's unmarked chemicals are unknown, not negatives: the CHEMICAL rows of the head get no gradient."""
    from biomedserve.training.finetune import build_model

    task = get_task("multi_ner")
    labels = task.labels(spec)
    recipe = Recipe(dataset="NER-multitype", base_model=str(tiny_base), max_length=64, seed=1)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    model = build_model(task, str(tiny_base), labels, recipe)
    bc2gm = [r for r in spec.load("dev")[:40] if r.corpus == "BC2GM"]
    features = task.features(bc2gm, tokenizer, {label: i for i, label in enumerate(labels)}, spec, recipe)
    batch = TypedLabelCollator(tokenizer)(features)
    assert batch["labels"].shape[-1] == len(TYPES) and "corpus" not in batch
    target = batch.pop("labels")
    loss = masked_type_loss(model(**batch), target)
    loss.backward()
    grad = model.classifier.weight.grad
    rows = {t: [labels.index(f"{t}:{tag}") for tag in "OBI"] for t in TYPES}
    assert torch.count_nonzero(grad[rows["CHEMICAL"]]) == 0
    assert torch.count_nonzero(model.classifier.bias.grad[rows["CHEMICAL"]]) == 0
    assert torch.count_nonzero(grad[rows["GENE"]]) > 0
    assert loss.item() > 0


def test_head_layout_is_three_outputs_per_type(spec):
    assert get_task("multi_ner").labels(spec)[:4] == ["CHEMICAL:O", "CHEMICAL:B", "CHEMICAL:I", "DISEASE:O"]
    assert type_head_labels(["X"]) == ["X:O", "X:B", "X:I"]


def test_the_sampler_upsamples_the_small_corpus_deterministically():
    corpora = ["big"] * 900 + ["small"] * 100
    shares = corpus_shares({"big": 900, "small": 100}, 2.0, 1000)
    assert shares == {"big": 750, "small": 250} and corpus_shares({"big": 900, "small": 100}, 1.0, 1000)["small"] == 100
    epoch = temperature_epoch(corpora, 2.0, seed=7, epoch=0)
    assert len(epoch) == 1000
    drawn = Counter(corpora[i] for i in epoch)
    assert drawn == {"big": 750, "small": 250}
    # an up-sampled corpus repeats its examples evenly: each small example 2 or 3 times
    assert set(Counter(i for i in epoch if i >= 900).values()) <= {2, 3}
    # the same seed and epoch draw the same examples in the same order; another epoch or seed does not
    assert temperature_epoch(corpora, 2.0, seed=7, epoch=0) == epoch
    assert temperature_epoch(corpora, 2.0, seed=7, epoch=1) != epoch
    assert temperature_epoch(corpora, 2.0, seed=8, epoch=0) != epoch
    sampler = CorpusTemperatureSampler(corpora, 2.0, seed=7, lengths=[5 + i % 40 for i in range(1000)], batch_size=8)
    sampler.set_epoch(3)
    first = list(sampler)
    assert sorted(first) == sorted(temperature_epoch(corpora, 2.0, seed=7, epoch=3)) and list(sampler) == first


def test_corpus_sampling_needs_several_corpora():
    features = [{"input_ids": [1, 2, 3], "labels": [0, 0, 0]}] * 4
    with pytest.raises(RecipeError, match="corpus_sampling_temperature: BC5-chem"):
        corpus_sampler(features, 2.0, 1, 8, "BC5-chem")
    assert corpus_sampler(features, None, 1, 8, "BC5-chem") is None
    with pytest.raises(RecipeError, match="corpus_sampling_temperature"):
        Recipe(dataset="NER-multitype").override(corpus_sampling_temperature=0.5)


def test_the_recipes_load_and_sampling_stays_out_of_other_sweep_keys():
    from biomedserve.training.sweep import RunSpec

    standard = load_recipe(find_recipe("standard", "NER-multitype"))
    assert (standard.learning_rate, standard.epochs, standard.batch_size, standard.max_length) == (1e-4, 3, 32, 256)
    assert standard.corpus_sampling_temperature == 2.0 and standard.bf16 == "auto"
    assert load_recipe(find_recipe("stabilised", "NER-multitype")).corpus_sampling_temperature == 2.0
    # the self-training attempt is the standard recipe with a teacher and nothing else changed
    selftrain = load_recipe(find_recipe("selftrain", "NER-multitype"))
    assert selftrain.pseudo_label_teacher == "models/ner-multitype-minilm"
    assert selftrain.override(pseudo_label_teacher="", pseudo_label_min_score=0.9).model_dump() == \
        standard.override(pseudo_label_teacher="").model_dump()
    # a recipe at the field's default keeps the sweep key it had before the field existed
    plain = Recipe(dataset="BC5-chem")
    before = {"bf16", "reinit_pooler", "head_bias_prior", "pooling", "head", "corpus_sampling_temperature",
              "head_from_probe", "truncation_side", "pseudo_label_teacher", "pseudo_label_min_score",
              "pseudo_label_texts", "slimfit"}
    assert RunSpec("standard", plain).key == hashlib.sha1(plain.model_dump_json(exclude=before).encode()).hexdigest()[:16]
    assert RunSpec("standard", plain).key != RunSpec("standard", plain.override(corpus_sampling_temperature=2.0)).key


class _FixedTags:
    """A stand-in NER predictor returning fixed per-type tags (what the scoring helper reads)."""

    name = "fixed"
    entity_types = head_types = ["CHEMICAL", "GENE"]

    def __init__(self, layers):
        self.layers = layers

    def predict_words_by_type(self, sequences, progress=False):
        from biomedserve.runtime.results import TaggedWords

        return [{t: TaggedWords(tags, [1.0] * len(tags)) for t, tags in layer.items()} for layer in self.layers]


def test_scoring_on_one_set_ignores_the_other_types():
    sentences = [TaggedSentence(["a", "b", "c"], ["B", "I", "O"])]
    # the chemical is found exactly; the gene the model also finds is not an error on a chemical set
    predictor = _FixedTags([{"CHEMICAL": ["B-CHEMICAL", "I-CHEMICAL", "O"], "GENE": ["O", "O", "B-GENE"]}])
    scores = score_on_set(predictor, sentences, get_dataset("BC5-chem"))
    assert scores["strict"]["f1"] == 100.0 and scores["lenient"]["f1"] == 100.0
    half = _FixedTags([{"CHEMICAL": ["B-CHEMICAL", "O", "O"], "GENE": ["O", "O", "O"]}])
    scores = score_on_set(half, sentences, get_dataset("BC5-chem"))
    assert scores["strict"]["f1"] == 0.0 and scores["lenient"]["f1"] == 100.0
    with pytest.raises(Exception, match="returns no DISEASE entities"):
        score_on_set(predictor, sentences, get_dataset("NCBI-disease"))


def test_dev_metric_is_the_mean_over_sources_on_their_own_types(spec):
    import numpy as np
    from transformers import EvalPrediction

    task = get_task("multi_ner")
    labels = task.labels(spec)
    compute = task.trainer_metrics(dict(enumerate(labels)), spec)
    ignore = -100
    # row 0: a BC2GM sentence (GENE only), predicted right; row 1: NCBI (DISEASE only), predicted wrong
    gold = np.full((2, 3, 4), ignore)
    gold[0, :, 2] = [1, 2, 0]
    gold[1, :, 1] = [1, 0, 0]
    logits = np.zeros((2, 3, 12))
    logits[0, 0, 2 * 3 + 1] = logits[0, 1, 2 * 3 + 2] = logits[0, 2, 2 * 3 + 0] = 5
    logits[1, :, 1 * 3 + 0] = 5  # DISEASE: all O, the disease missed
    logits[1, 0, 0 * 3 + 1] = 9  # a chemical in an NCBI sentence: unknown there, not scored
    scores = compute(EvalPrediction(predictions=logits, label_ids=gold))
    assert scores == {"macro_f1": 50.0, "f1_BC2GM": 100.0, "f1_NCBI-disease": 0.0}


def test_the_trainer_draws_each_epoch_anew(tiny_base, spec, tmp_path):
    """The real Trainer (through accelerate) hands the epoch to the corpus sampler before each epoch."""
    import math

    from biomedserve.training.finetune import TrainOptions, build_model, fit

    task = get_task("multi_ner")
    labels = task.labels(spec)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    records = spec.load("dev")[:24]
    probe = Recipe(dataset="NER-multitype", base_model=str(tiny_base), max_length=64, batch_size=8)
    features = task.features(records, tokenizer, {label: i for i, label in enumerate(labels)}, spec, probe)
    recipe = probe.override(max_steps=3 * math.ceil(len(features) / 8), corpus_sampling_temperature=2.0)
    model = build_model(task, str(tiny_base), labels, recipe)
    trainer = fit(task, spec, recipe, model, tokenizer, features, None, tmp_path, TrainOptions(progress=False),
                  bf16=False)
    assert isinstance(trainer.train_sampler, CorpusTemperatureSampler) and trainer.train_sampler.epoch == 2
    assert trainer.state.global_step == recipe.max_steps


def test_teacher_tags_train_where_sure_and_never_over_the_corpus_layers():
    from biomedserve.training.pseudo_labels import teacher_layers

    # below the bar: masked; an I after O (as the runtime decodes it) is taught as B
    assert teacher_layers(["O", "I-GENE", "I-GENE", "B-GENE", "O"], [0.99, 0.95, 0.5, 0.97, 0.6], 0.9) == \
        ["O", "B", "?", "B", "?"]
    tokenizer = AutoTokenizer.from_pretrained(str(default_encoder_path()))
    record = TypedLayersSentence(["IL-2", "binds", "aspirin"], {"GENE": ["B", "O", "O"]}, "BC2GM",
                                 pseudo={"CHEMICAL": ["O", "?", "B"]})
    [feature] = encode_typed_sentences([record], tokenizer, TYPES, 64)
    rows = [row for row in feature["labels"] if row != [-100] * 4]
    # IL-2 (three runtime words) O, binds unsure (-100), aspirin B; GENE from the corpus as before
    assert [row[0] for row in rows] == [0, 0, 0, -100, 1]
    assert [row[2] for row in rows] == [1, 2, 2, 0, 0]
    assert [row[1] for row in rows] == [-100] * 5  # DISEASE: neither annotated nor taught


def test_self_training_is_for_multi_type_ner_only(tiny_base):
    with pytest.raises(RecipeError, match="pseudo_label_teacher"):
        Recipe(dataset="BC5-chem", base_model=str(tiny_base), pseudo_label_teacher="models/x")
    with pytest.raises(RecipeError, match="pseudo_label_min_score"):
        Recipe(dataset="NER-multitype").override(pseudo_label_min_score=0.2)


def test_unlabeled_text_is_a_sets_train_split_or_a_readable_file(tmp_path):
    from biomedserve.training.pseudo_labels import unlabeled_sentences

    hoc = unlabeled_sentences(["HoC"])
    assert len(hoc) > 10_000 and {r.corpus for r in hoc} == {"text:HoC"} and all(r.layers == {} for r in hoc)
    dev_sentence = get_dataset("HoC").load("dev")[0].sentences[0]
    assert tuple(dev_sentence.split()) not in {tuple(r.tokens) for r in hoc}  # never an evaluation split
    corpus = tmp_path / "mine.jsonl"
    corpus.write_text('{"id": "1", "text": "IL-2 binds 5-fluorouracil. IL-2 binds 5-fluorouracil."}\n'
                      '{"id": "2", "title": "Aspirin", "abstract": "It was given."}\n')
    mine = unlabeled_sentences([str(corpus)])
    # cut by the runtime's rules, a repeated sentence kept once, each passage its own sentences
    assert [r.tokens for r in mine] == [["IL", "-", "2", "binds", "5", "-", "fluorouracil", "."], ["Aspirin"],
                                        ["It", "was", "given", "."]]
    assert {r.corpus for r in mine} == {f"text:{corpus}"}
    with pytest.raises(BiomedserveError, match="pseudo_label_texts: ChemProt.*masked"):
        unlabeled_sentences(["ChemProt"])
    with pytest.raises(BiomedserveError, match="pseudo_label_texts: 'nowhere.jsonl' is neither"):
        unlabeled_sentences(["nowhere.jsonl"])
    (tmp_path / "bad.jsonl").write_text('{"id": "1"}\n')
    with pytest.raises(BiomedserveError, match="pseudo_label_texts: .*bad.jsonl"):
        unlabeled_sentences([str(tmp_path / "bad.jsonl")])


def test_unlabeled_text_needs_a_teacher_and_stays_out_of_other_sweep_keys():
    from biomedserve.training.sweep import RunSpec

    with pytest.raises(RecipeError, match="pseudo_label_texts: .*pseudo_label_teacher"):
        Recipe(dataset="NER-multitype").override(pseudo_label_texts=["HoC"])
    hoc = load_recipe(find_recipe("selftrain-hoc", "NER-multitype"))
    selftrain = load_recipe(find_recipe("selftrain", "NER-multitype"))
    assert hoc.pseudo_label_texts == ["HoC"]  # selftrain.yaml plus the text, nothing else changed
    assert hoc.override(pseudo_label_texts=[]).model_dump() == selftrain.model_dump()
    assert RunSpec("s", selftrain).key != RunSpec("s", hoc).key
    # the second round: the self-trained model teaches, nothing else changed
    second = load_recipe(find_recipe("selftrain2", "NER-multitype"))
    assert second.pseudo_label_teacher == "models/ner-multitype-minilm-selftrain"
    assert second.override(pseudo_label_teacher=selftrain.pseudo_label_teacher).model_dump() == selftrain.model_dump()
