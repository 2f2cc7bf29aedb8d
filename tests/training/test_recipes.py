from pathlib import Path

import pytest

from biomedserve.data.registry import DATASETS
from biomedserve.errors import RecipeError
from biomedserve.training.recipes import Recipe, find_recipe, load_recipe

REPO = Path(__file__).resolve().parents[2]


def test_every_ner_dataset_has_a_valid_standard_recipe():
    for name, spec in DATASETS.items():
        if spec.task == "ner":
            recipe = load_recipe(find_recipe("standard", name))
            assert recipe.dataset == name


def test_bc5chem_standard_is_the_issue_setting():
    recipe = load_recipe(REPO / "train" / "BC5-chem" / "standard.yaml")
    assert (recipe.learning_rate, recipe.epochs, recipe.batch_size) == (1e-4, 3, 32)


def test_unknown_field_is_named(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("dataset: BC5-chem\nlearning_rat: 0.1\n")
    with pytest.raises(RecipeError, match="learning_rat"):
        load_recipe(path)


def test_bad_value_is_named(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("dataset: BC5-chem\nbatch_size: -4\n")
    with pytest.raises(RecipeError, match="batch_size"):
        load_recipe(path)


def test_not_a_mapping(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(RecipeError, match="mapping"):
        load_recipe(path)


def test_override_validates_and_ignores_none():
    recipe = Recipe(dataset="BC5-chem")
    assert recipe.override(seed=None, epochs=5).epochs == 5
    with pytest.raises(RecipeError, match="max_length"):
        recipe.override(max_length=4096)


def test_missing_recipe_lists_where_it_looked():
    with pytest.raises(RecipeError, match="train/BC5-chem/nope.yaml"):
        find_recipe("nope", "BC5-chem")


def test_every_dataset_has_standard_and_stabilised_recipes():
    for name in DATASETS:
        standard = load_recipe(find_recipe("standard", name))
        stabilised = load_recipe(find_recipe("stabilised", name))
        assert standard.dataset == stabilised.dataset == name
        assert standard.bias_correction and stabilised.bias_correction


def test_stabilised_recipes_carry_the_papers_best_practice_on_the_encoders_head():
    # BIOSSES: the bi-encoder, none of the paper's techniques (they fell below the untrained encoder)
    biosses = load_recipe(find_recipe("stabilised", "BIOSSES"))
    assert biosses.head == "biencoder" and biosses.reinit_top_layers == 0 and not biosses.refit_train_dev
    pubmedqa = load_recipe(find_recipe("stabilised", "PubMedQA"))
    assert pubmedqa.single_segment and pubmedqa.pooling == "mean"
    bioasq = load_recipe(find_recipe("stabilised", "BioASQ"))
    assert bioasq.freeze_embeddings and bioasq.freeze_layers > 0 and bioasq.pooling == "cls" and bioasq.head_from_probe
    assert load_recipe(find_recipe("stabilised", "HoC")).pooling == "cls"  # the pooler scored 0.00 on dev
    # the standard recipes stay the paper's standard setting (Hugging Face's pooler head)
    assert all(load_recipe(find_recipe("standard", d)).pooling is None
               for d in ("BIOSSES", "PubMedQA", "BioASQ", "GAD", "HoC"))


def test_extends_inherits_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("dataset: GAD\nlearning_rate: 0.001\nepochs: 2\n")
    (tmp_path / "child.yaml").write_text("extends: base\nepochs: 9\n")
    child = load_recipe(tmp_path / "child.yaml")
    assert (child.learning_rate, child.epochs) == (0.001, 9)
    (tmp_path / "loop.yaml").write_text("extends: loop\n")
    with pytest.raises(RecipeError, match="extends itself"):
        load_recipe(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("extends: nothing\n")
    with pytest.raises(RecipeError, match="nothing"):
        load_recipe(tmp_path / "orphan.yaml")


def test_a_field_that_does_not_fit_the_task_fails_when_the_recipe_is_read(tmp_path):
    """One validator, before any data loads: the file names the field; so does a grid point of a sweep."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: BC5-chem\npooling: mean\n")
    with pytest.raises(RecipeError, match=r"invalid recipe \(.*bad.yaml\): pooling: ner tags tokens"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="head: biencoder"):
        Recipe(dataset="GAD").override(head="biencoder")
    with pytest.raises(RecipeError, match="dataset: unknown dataset 'NOPE'"):
        Recipe(dataset="NOPE")
