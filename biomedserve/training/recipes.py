"""Training recipes: hyperparameters as data, validated by pydantic.

A recipe lives at ``train/<dataset>/<name>.yaml``. The paper's best practice per dataset is written
in these files, not in code; CLI flags override single fields for one run. Unknown or ill-typed
fields are errors that name the field and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from biomedserve.errors import BiomedserveError, RecipeError
from biomedserve.package_data import RECIPES, package_folder

# a user's own ./train first (recipes of their own, or edited copies), then the recipes that ship with biomedserve
RECIPE_DIRS = (Path("train"), package_folder(RECIPES))


class SlimFitRecipe(BaseModel):
    """The ``slimfit:`` block: freeze the layers that change least, chosen anew every ``interval`` steps
    (:mod:`biomedserve.training.slimfit`, Ardakani et al. 2023)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    freeze_ratio: float = Field(0.75, ge=0.0, le=0.95, description="share of the encoder's layers frozen at a time "
                                "(its linear layers and its embeddings; the task head always trains); the paper goes up to 0.95")
    interval: int = Field(50, ge=1, description="optimiser steps between scheduling points; a run too short to be "
                          "scheduled 8 times at it is scheduled every steps // 8 (the card records both)")
    quantize_activations: bool = Field(True, description="keep the activations autograd saves for backward in int8 "
                                       "(one absmax scale per tensor) instead of fp32")
    lr_scale: float | None = Field(None, gt=0, le=20, description="learning-rate multiplier for the scheduled layers "
                                   "(the task head keeps the recipe's rate); default 1 / (1 - freeze_ratio), so that a "
                                   "layer trained that share of the steps moves about as far as one trained at every step")

    @property
    def unit_lr_scale(self) -> float:
        """The multiplier in force: :attr:`lr_scale`, or ``1 / (1 − freeze_ratio)`` when unset."""
        return self.lr_scale if self.lr_scale is not None else 1.0 / (1.0 - self.freeze_ratio)


class Recipe(BaseModel):
    """Everything that decides how a model is fine-tuned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="BLURB dataset folder name, e.g. BC5-chem")
    base_model: str = Field("default", description="'default' (embedded MiniLM), a hub id or a path")
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    epochs: float = Field(3, gt=0, description="training epochs (ignored when max_steps is set)")
    max_steps: int | None = Field(None, gt=0, description="stop after this many optimiser steps")
    batch_size: int = Field(32, gt=0)
    eval_batch_size: int = Field(64, gt=0)
    max_length: int = Field(256, ge=16, le=512, description="sub-word tokens per training sequence")
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    adam_epsilon: float = Field(1e-8, gt=0)
    seed: int = 42
    bf16: Literal["auto"] | bool = Field(
        "auto", description="bfloat16 autocast for training (weights stay fp32): auto = on only where the "
        "hardware computes bf16 natively (CPU with AVX512-BF16/AMX, a CUDA GPU that supports it); emulated "
        "bf16 is many times slower than fp32")

    # --- stabilisation (Tinn et al.); defaults are the standard setting ---
    bias_correction: bool = Field(True, description="Adam bias correction (BertAdam omitted it)")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many dev evaluations without improvement")
    freeze_embeddings: bool = Field(False, description="freeze the embedding layer")
    freeze_layers: int = Field(0, ge=0, description="freeze the lowest k transformer layers")
    layerwise_lr_decay: float | None = Field(
        None, gt=0, le=1, description="ξ: layer l of L trains at lr·ξ^(L−l)")
    reinit_top_layers: int = Field(0, ge=0, description="re-initialise the top k layers")
    head_bias_prior: bool = Field(
        False, description="classification heads: start the bias at the training labels' prior "
        "(rare multi-label classes, e.g. HoC)")
    reinit_pooler: bool = Field(
        False, description="re-initialise the pooler over [CLS] (sequence tasks; a no-op for NER)")
    head_from_probe: bool = Field(
        False, description="LP-FT (Kumar et al. 2022): start a pooled classification head at a logistic-regression "
        "probe fitted on the frozen encoder's vectors of the training set, then fine-tune everything")
    prune_top_layers: int = Field(0, ge=0, description="drop the top k layers before fine-tuning")
    slimfit: SlimFitRecipe | None = Field(
        None, description="SlimFit: freeze the least-changing layers by their training dynamics, and keep saved "
        "activations in int8 (memory-efficient fine-tuning); None: every layer trains (bar freeze_layers)")
    # --- what a sequence head reads (biomedserve.modeling.heads); None keeps Hugging Face's head (the pooler) ---
    pooling: Literal["pooler", "cls", "mean", "entity_start"] | None = Field(
        None, description="sequence tasks: the head reads the pooler, [CLS], the masked mean, or (relations) "
        "the two entity-marker tokens; None: Hugging Face's own head over the pooler")
    head: Literal["cross", "biencoder"] = Field(
        "cross", description="similarity: cross (one input, both sentences) or biencoder (each sentence "
        "mean-pooled alone, the score a scaled cosine)")
    single_segment: bool = Field(False, description="pair tasks: segment id 0 for both texts")
    truncation_side: Literal["right", "left"] = Field(
        "right", description="texts longer than max_length lose tokens at this end: right keeps a context's "
        "start, left its end (a PubMedQA abstract ends in its results); saved with the tokenizer, so the "
        "runtime cuts as training did")
    refit_train_dev: bool = Field(
        False, description="after picking the best epoch on dev, retrain on train+dev for that many epochs")
    # --- sets joined from several corpora (NER-multitype) ---
    corpus_sampling_temperature: float | None = Field(
        None, ge=1, description="each epoch draws from corpus i in proportion to n_i^(1/T) (biomedserve.training.sampling): "
        "1 keeps the corpora's proportions, larger T up-samples the small ones; None: every example once per epoch")
    pseudo_label_teacher: str | None = Field(
        None, description="self-training (multi-type NER): a trained multi-type model directory whose confident "
        "tags train the types a sentence's corpus does not annotate (biomedserve.training.pseudo_labels); None: those "
        "types get no signal from the sentence")
    pseudo_label_min_score: float = Field(
        0.9, ge=0.5, le=1.0, description="a teacher tag trains a word only when the teacher gave it at least this "
        "probability; the word is masked for that type otherwise")
    pseudo_label_texts: list[str] = Field(
        default_factory=list, description="self-training on unlabeled text: BLURB set names (their TRAIN split's "
        "running text, e.g. HoC) or files the annotator reads (JSONL, PubMed XML, plain text; paths "
        "relative to where training runs), cut into sentences; the teacher labels every type there. Needs "
        "pseudo_label_teacher")

    @model_validator(mode="after")
    def _texts_need_teacher(self) -> "Recipe":
        if self.pseudo_label_texts and not self.pseudo_label_teacher:
            raise ValueError("pseudo_label_texts: unlabeled text is labelled by the teacher; set pseudo_label_teacher")
        return self

    @model_validator(mode="after")
    def _one_kind_of_freezing(self) -> "Recipe":
        if self.slimfit is not None and (self.freeze_layers or self.freeze_embeddings):
            raise ValueError("slimfit: SlimFit chooses the frozen layers itself; drop freeze_layers / "
                             "freeze_embeddings (static freezing), or drop slimfit")
        return self

    @model_validator(mode="after")
    def _fits_its_task(self) -> "Recipe":
        # raised as RecipeError, which pydantic lets through unwrapped: the message names the field alone
        check_fits_task(self)
        return self

    def override(self, **changes: Any) -> "Recipe":
        """A copy with the non-None ``changes`` applied and validated (CLI flags)."""
        changes = {key: value for key, value in changes.items() if value is not None}
        try:
            return Recipe.model_validate({**self.model_dump(), **changes})
        except ValidationError as exc:
            raise RecipeError(_explain(exc, "command-line override")) from None
        except RecipeError as exc:
            raise RecipeError(f"invalid recipe (command-line override): {exc}") from None


def check_fits_task(recipe: Recipe) -> None:
    """The fields that depend on the dataset's task type must fit it: a :class:`RecipeError` naming the field.

    Runs whenever a :class:`Recipe` is made (a file, a CLI override, a sweep's grid point), so a recipe
    that cannot train fails before any data is read or any model is loaded.
    """
    from biomedserve.data.registry import get_dataset
    from biomedserve.tasks import get_task

    try:
        spec = get_dataset(recipe.dataset)
    except BiomedserveError as exc:
        raise RecipeError(f"dataset: {exc}") from None
    task = get_task(spec.task)
    if recipe.pseudo_label_teacher and task.name != "multi_ner":
        raise RecipeError(f"pseudo_label_teacher: self-training fills the types a corpus leaves unannotated, "
                          f"which only multi-type NER has ({spec.name} is {task.name})")
    if recipe.pooling is not None and task.token_level:
        raise RecipeError(f"pooling: {task.name} tags tokens and has no sequence head to pool for")
    if recipe.pooling == "entity_start" and not spec.entity_masks:
        raise RecipeError(f"pooling: entity_start reads entity markers, and {spec.name} has none "
                          "(relation sets only)")
    if recipe.head_bias_prior and task.token_level:
        raise RecipeError(f"head_bias_prior: {task.name} has no sequence classification head to set")
    if recipe.head_from_probe:
        if recipe.pooling is None or recipe.head == "biencoder":
            raise RecipeError("head_from_probe: the probe starts a pooled linear head; set pooling (cls, mean, "
                              "entity_start or pooler)")
        if task.problem_type not in (None, "single_label_classification", "multi_label_classification"):
            raise RecipeError(f"head_from_probe: {spec.name} is {task.name}; a probe needs a classification task")
        if recipe.head_bias_prior:
            raise RecipeError("head_from_probe sets the head's bias too: leave head_bias_prior off")
    if recipe.head == "biencoder":
        if task.problem_type != "regression":
            raise RecipeError(f"head: biencoder scores sentence pairs by cosine; {spec.name} is {task.name}")
        if recipe.pooling not in (None, "mean"):
            raise RecipeError("pooling: a biencoder mean-pools each sentence; leave pooling unset or mean")



def _explain(exc: ValidationError, source: str) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )
    return f"invalid recipe ({source}): {problems}"


def find_recipe(name_or_path: str, dataset: str) -> Path:
    """``name_or_path`` is a YAML file, or a recipe name looked up as ``<dir>/<dataset>/<name>.yaml``
    in ``RECIPE_DIRS``: ``./train`` first, then the recipes installed with biomedserve."""
    as_path = Path(name_or_path)
    if as_path.suffix in (".yaml", ".yml"):
        if as_path.is_file():
            return as_path
        raise RecipeError(f"recipe file {as_path} does not exist")
    looked = [d / dataset / f"{name_or_path}.yaml" for d in RECIPE_DIRS]
    for candidate in looked:
        if candidate.is_file():
            return candidate
    raise RecipeError(
        f"no recipe {name_or_path!r} for {dataset}; looked for {', '.join(map(str, looked))}"
    )


def _read_fields(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The recipe's fields, with ``extends: <name>`` resolved against the same folder."""
    if path in seen:
        raise RecipeError(f"recipe {path} extends itself through {' → '.join(map(str, seen))}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {path} must be a YAML mapping of field: value")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    parent_path = path.with_name(f"{parent}.yaml")
    if not parent_path.is_file():
        raise RecipeError(f"recipe {path} extends {parent!r}, but {parent_path} does not exist")
    return {**_read_fields(parent_path, seen + (path,)), **data}


def load_recipe(path: str | Path) -> Recipe:
    """Parse and validate one recipe file (``extends: standard`` inherits a sibling recipe)."""
    path = Path(path)
    try:
        return Recipe.model_validate(_read_fields(path))
    except ValidationError as exc:
        raise RecipeError(_explain(exc, str(path))) from None
    except RecipeError as exc:
        raise RecipeError(f"invalid recipe ({path}): {exc}") from None
