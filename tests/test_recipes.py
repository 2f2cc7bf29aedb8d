from pathlib import Path

import pytest

from biomedserve.data.registry import DATASETS
from biomedserve.errors import RecipeError
from biomedserve.recipes import Recipe, find_recipe, load_recipe

REPO = Path(__file__).resolve().parent.parent


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
