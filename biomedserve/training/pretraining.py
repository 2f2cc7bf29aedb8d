"""Domain-adaptive pretraining: continue masked-LM training of any encoder on in-domain text.

``biomedserve pretrain`` runs :func:`pretrain`:

1. read the excluded (evaluation) files into a set of sentence hashes, then stream the corpus into a
   packed token store in ``<out>/.pretrain-work/tokens`` (:mod:`biomedserve.training.pretrain_data`): constant
   memory, refused if it holds an excluded sentence;
2. if the base has no trained masked-LM head (sentence-embedding encoders such as the embedded
   MiniLM ship without one), train only that head for ``head_warmup_steps`` with the encoder
   frozen: a random head would make the "before" figure measure the head, not the encoder;
3. score the held-out sequences' masked-LM perplexity with the base encoder (and warmed-up head);
4. train with the Hugging Face ``Trainer`` and ``DataCollatorForLanguageModeling`` (or
   ``DataCollatorForWholeWordMask``), checkpointing to ``<out>/.pretrain-work/checkpoints`` every
   ``save_steps``; bf16 as fine-tuning decides it (:func:`biomedserve.hardware.decide_bf16`); the
   loss projects only the masked positions onto the vocabulary (:func:`sparse_mlm_loss`);
5. score the held-out perplexity again, save the ``*ForMaskedLM`` weights and tokenizer to ``out``
   and write ``pretrain_card.json``.

``out`` is then an ordinary encoder directory: ``--base-model <out>`` (train, sweep, benchmarks)
loads it with ``AutoModel`` / ``AutoModelFor*``, which drop the masked-LM head.

**Resuming.** Re-running the same command after a kill continues from the last checkpoint with
the same result as an uninterrupted run: the token store is read back, not rebuilt; a head
warm-up resumes from its own checkpoints and, once finished, is read back from
``<out>/.pretrain-work/head-warmup/model`` by every later phase (run or resumed alike); data order
comes from a sampler seeded by (seed, epoch); and each sequence's mask is drawn from its own
generator seeded by (seed, epoch, sequence), never from the global random state, which the
Trainer restores only after it has already fetched the first resumed batch. Other settings than
the interrupted run's are refused with the differing fields named (``overwrite`` starts afresh).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from biomedserve.atomic import atomic_write
from biomedserve.errors import BiomedserveError
from biomedserve.hardware import decide_bf16
from biomedserve.modeling.encoders import resolve_base_model
from biomedserve.training.pretrain_data import PackedSequences, build_store, load_exclusions
from biomedserve.training.provenance import git_commit, package_versions

CARD_FILE = "pretrain_card.json"
WORK_DIR = ".pretrain-work"
HELDOUT_SALT = 1  # held-out masks: one fixed draw per sequence, the same before and after training
WARMUP_SALT = 2  # head warm-up masks: other draws than the main phase's first epoch
DEFAULT_HEAD_WARMUP_STEPS = 200  # when the base lacks a masked-LM head and --head-warmup-steps is not given
WARMUP_DIR = "head-warmup"


@dataclass
class PretrainConfig:
    """The settings of one pretraining run; all but ``corpus``, ``out`` and ``exclude`` are hyperparameters."""

    corpus: list[str]
    out: str
    base_model: str = "default"
    epochs: float = 1.0
    max_steps: int | None = None  # wins over epochs
    mlm_probability: float = 0.15
    whole_word_masking: bool = False
    max_length: int = 128
    exclude: list[str] = field(default_factory=list)
    seed: int = 42
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    heldout_fraction: float = 0.01
    heldout_max: int = 1000
    save_steps: int = 500
    logging_steps: int = 10
    bf16: bool | str = "auto"
    head_warmup_steps: int | None = None  # None: DEFAULT_HEAD_WARMUP_STEPS if the base lacks a head, else 0
    head_warmup_learning_rate: float = 1e-3

    def check(self) -> None:
        """Each bad value is an error naming its option."""
        if not self.corpus:
            raise BiomedserveError("--corpus: give at least one file, directory or glob")
        if not 0 < self.mlm_probability < 1:
            raise BiomedserveError(f"--mlm-probability must be between 0 and 1, not {self.mlm_probability}")
        if not 0 <= self.heldout_fraction < 0.5:
            raise BiomedserveError(f"--heldout-fraction must be in [0, 0.5), not {self.heldout_fraction}")
        if self.max_length < 8:
            raise BiomedserveError(f"--max-length must be at least 8, not {self.max_length}")
        for name in ("batch_size", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise BiomedserveError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise BiomedserveError("--max-steps must be at least 1")
        if self.max_steps is None and self.epochs <= 0:
            raise BiomedserveError("--epochs must be positive")
        if self.head_warmup_steps is not None and self.head_warmup_steps < 0:
            raise BiomedserveError(f"--head-warmup-steps must be 0 or more, not {self.head_warmup_steps}")
        if self.head_warmup_learning_rate <= 0:
            raise BiomedserveError(f"--head-warmup-lr must be positive, not {self.head_warmup_learning_rate}")

    def training_settings(self) -> dict[str, Any]:
        """The fields a resumed run must share with the interrupted one."""
        return {k: v for k, v in asdict(self).items() if k not in ("out", "save_steps", "logging_steps")}


class EpochSampler:
    """A permutation of the sequences seeded by (seed, epoch), as indices into that epoch's pass of
    :class:`~biomedserve.training.pretrain_data.PackedSequences`. The Trainer (through Accelerate) calls
    ``set_epoch`` before every epoch, also the one a resumed run restarts in."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        offset = self.epoch * self.size
        return iter((torch.randperm(self.size, generator=generator) + offset).tolist())


class SeededMasking:
    """A Hugging Face MLM collator applied sequence by sequence, each with the generator of its
    ``mask_seed``: the masks depend on the sequence and epoch only, not on the batch or on any
    random state a resumed process would lack."""

    def __init__(self, tokenizer, mlm_probability: float, whole_word: bool, seed: int):
        from transformers import DataCollatorForLanguageModeling, DataCollatorForWholeWordMask

        cls = DataCollatorForWholeWordMask if whole_word else DataCollatorForLanguageModeling
        # seed set: whole-word masking shuffles its candidates with the generator, not `random`
        self.inner = cls(tokenizer=tokenizer, mlm=True, mlm_probability=mlm_probability, seed=seed)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        rows = []
        for example in examples:
            self.inner.generator = torch.Generator().manual_seed(example["mask_seed"])
            rows.append(self.inner([{"input_ids": example["input_ids"]}]))
        batch = {key: torch.cat([row[key] for row in rows]) for key in ("input_ids", "labels")}
        batch["attention_mask"] = torch.ones_like(batch["input_ids"])  # packed: no padding anywhere
        return batch


def masked_lm_head(model):
    """The module that maps an encoder's hidden states to vocabulary logits (BERT's ``cls``,
    RoBERTa's ``lm_head``), or None for a masked-LM class laid out otherwise."""
    import torch

    for name in ("cls", "lm_head"):
        head = getattr(model, name, None)
        if isinstance(head, torch.nn.Module):
            return head
    return None


def sparse_mlm_loss(model, inputs: dict[str, Any]):
    """The masked-LM loss of ``*ForMaskedLM`` ``model``, computed at the labelled positions only.

    The same value and gradients as ``model(**inputs).loss`` (mean cross-entropy over the
    positions whose label is not -100), but the vocabulary projection, the costliest layer of a
    small encoder, runs on the masked positions (about ``mlm_probability`` of them) instead of all.
    Returns ``(loss, logits of the labelled positions)``; requires :func:`masked_lm_head`.
    """
    import torch.nn.functional as F

    labels = inputs["labels"]
    hidden = model.base_model(**{k: v for k, v in inputs.items() if k != "labels"})[0]
    selected = labels != -100
    logits = masked_lm_head(model)(hidden[selected])
    return F.cross_entropy(logits, labels[selected]), logits


@dataclass
class Phase:
    """One Trainer run of a pretraining: where it checkpoints, how long, at what peak learning rate."""

    name: str  # the progress bar's label
    output_dir: Path
    steps: int
    learning_rate: float


def _trainer(config: PretrainConfig, model, tokenizer, train_set, phase: Phase, bf16: bool,
             callbacks: Sequence[Any], progress: bool):
    import torch
    from transformers import Trainer, TrainingArguments

    from biomedserve.training.callbacks import quiet_console, step_progress

    class PretrainTrainer(Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            # sparse_mlm_loss is a per-batch mean, as BertForMaskedLM's own loss: the Trainer scales it
            self.model_accepts_loss_kwargs = False

        def _get_train_sampler(self, train_dataset=None):
            return EpochSampler(len(train_set), config.seed)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # a wrapped model (DDP) must run its own forward to synchronise; other heads: the full loss
            if model is not self.accelerator.unwrap_model(model) or masked_lm_head(model) is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            with self.accelerator.autocast():  # Accelerate autocasts model.forward, which this bypasses
                loss, logits = sparse_mlm_loss(model, inputs)
            return (loss, {"logits": logits}) if return_outputs else loss

    # as in fine-tuning: bf16 arguments leave the mode in the environment for later runs otherwise
    os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16" if bf16 else "no"
    args = TrainingArguments(
        output_dir=str(phase.output_dir), max_steps=phase.steps, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, learning_rate=phase.learning_rate,
        weight_decay=config.weight_decay, warmup_ratio=config.warmup_ratio, lr_scheduler_type="linear",
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=2,
        logging_steps=max(1, min(config.logging_steps, phase.steps // 5)),
        seed=config.seed, data_seed=config.seed, report_to=[], disable_tqdm=True, dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(), bf16=bf16, remove_unused_columns=False,
        prediction_loss_only=True)  # perplexity needs the loss only: never gather held-out logits
    collator = SeededMasking(tokenizer, config.mlm_probability, config.whole_word_masking, config.seed)
    trainer = PretrainTrainer(model=model, args=args, train_dataset=train_set, data_collator=collator,
                              callbacks=list(callbacks))
    quiet_console(trainer)  # the raw log dicts; step_progress shows the loss
    if progress:
        trainer.add_callback(step_progress(phase.name, tokens_per_step=config.batch_size * config.max_length))
    return trainer


def _train(trainer, checkpoint: str | None, seed: int) -> None:
    """``trainer.train`` from ``checkpoint`` (or the start) with the global random state (dropout)
    seeded afresh: whatever ran before (the "before" perplexity, skipped in a resumed process; a
    warm-up) must not shift it. A checkpoint's saved random state still wins when resuming from one."""
    from transformers import set_seed

    set_seed(seed)
    trainer.train(resume_from_checkpoint=checkpoint)


def _head_parameters(model) -> list[str]:
    """Names of the trainable parameters outside the encoder (``model.base_model``): the masked-LM
    head. A decoder tied to the word embeddings is the encoder's and so not among them."""
    prefix = model.base_model_prefix + "."
    return [name for name, _ in model.named_parameters() if not name.startswith(prefix)]


def load_masked_lm(base: str, name: str, seed: int):
    """``AutoModelForMaskedLM`` of ``base`` and whether its masked-LM head was missing from the
    checkpoint (so freshly initialised, from ``seed``). ``name`` is the user's ``--base-model``."""
    from transformers import AutoModelForMaskedLM, set_seed

    set_seed(seed)  # a base without a masked-LM head gets one initialised from this seed
    try:
        model, info = AutoModelForMaskedLM.from_pretrained(base, output_loading_info=True)
    except (OSError, ValueError) as exc:
        raise BiomedserveError(f"--base-model {name!r} has no masked-LM form: {exc}") from None
    prefix = model.base_model_prefix + "."
    return model, any(not key.startswith(prefix) for key in info["missing_keys"])


def warm_up_head(config: PretrainConfig, model, tokenizer, train_set, work: Path, steps: int, bf16: bool,
                 callbacks: Sequence[Any], progress: bool) -> Path:
    """Train only the masked-LM head of ``model`` for ``steps`` steps, the encoder frozen, and save
    the whole model to ``work/head-warmup/model`` (returned) with ``warmup.json`` (its loss curve
    and seconds). Resumes from ``work/head-warmup/checkpoints`` after a kill; a finished warm-up
    (``warmup.json`` present) is not redone."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = work / WARMUP_DIR
    saved = folder / "model"
    if (folder / "warmup.json").is_file():
        return saved
    head = set(_head_parameters(model))
    if not head:
        raise BiomedserveError("the masked-LM model has no head parameters outside its encoder to warm up; "
                               "pass --head-warmup-steps 0")
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name in head  # the Trainer's optimiser takes trainable parameters only
    phase = Phase("head warm-up", folder / "checkpoints", steps, config.head_warmup_learning_rate)
    trainer = _trainer(config, model, tokenizer, train_set, phase, bf16, callbacks, progress)
    checkpoint = get_last_checkpoint(str(phase.output_dir)) if phase.output_dir.is_dir() else None
    started = time.perf_counter()
    _train(trainer, checkpoint, config.seed)
    if trainer.state.global_step < steps:
        raise BiomedserveError(f"the head warm-up stopped at step {trainer.state.global_step} of {steps}; "
                               "run the same command again to resume")
    shutil.rmtree(saved, ignore_errors=True)
    trainer.model.save_pretrained(str(saved))
    curve = [[e["step"], round(e["loss"], 4)] for e in trainer.state.log_history if "loss" in e]
    atomic_write(folder / "warmup.json", json.dumps({"loss_curve": curve, "seconds": round(
        time.perf_counter() - started, 1), "resumed_from": checkpoint, "trainable": sorted(head)}) + "\n")
    return saved


def _perplexity(trainer, heldout) -> float | None:
    """exp(mean masked-LM loss) on the held-out sequences, each with its one fixed mask."""
    if heldout is None or len(heldout) == 0:
        return None
    loss = trainer.evaluate(eval_dataset=heldout)["eval_loss"]
    return round(math.exp(loss), 4)


def _check_resume(work: Path, settings: dict[str, Any]) -> None:
    """Record this run's settings in the work folder; refuse to continue another run's checkpoints."""
    path = work / "run.json"
    if path.is_file():
        before = json.loads(path.read_text())
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        if changed:
            raise BiomedserveError(
                f"{work} holds an interrupted run with other settings ({', '.join(changed)} differ: "
                + "; ".join(f"{k} was {before.get(k)!r}, now {settings.get(k)!r}" for k in changed)
                + "); run it with the same settings to resume, or pass --overwrite to start afresh")
    else:
        atomic_write(path, json.dumps(settings, indent=1) + "\n")


def resolve_head_warmup_steps(steps: int | None, head_missing: bool) -> int:
    """``--head-warmup-steps`` as given, else :data:`DEFAULT_HEAD_WARMUP_STEPS` for a base whose
    masked-LM head was missing and 0 for one that has a trained head."""
    if steps is not None:
        return steps
    return DEFAULT_HEAD_WARMUP_STEPS if head_missing else 0


def _before_measured(warmup_steps: int, head_missing: bool) -> str:
    """What the card's "before" perplexity measured, in words."""
    if warmup_steps:
        return f"after the {warmup_steps}-step masked-LM head warm-up (encoder frozen), before encoder training"
    if head_missing:
        return "with a randomly initialised masked-LM head (no warm-up): it measures the head, not the encoder"
    return "with the base model's own masked-LM head"


def pretrain(config: PretrainConfig, progress: bool = True, callbacks: Sequence[Any] = (), say=print,
             overwrite: bool = False, keep_work: bool = False) -> dict[str, Any]:
    """Run (or resume) masked-LM pretraining per ``config``; write the encoder and its card to
    ``config.out`` and return the card. ``callbacks`` are extra ``TrainerCallback`` s (tests use
    one to kill a run after a checkpoint)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint

    config.check()
    out = Path(config.out)
    work = out / WORK_DIR
    if overwrite:
        shutil.rmtree(out, ignore_errors=True)
    if (out / CARD_FILE).is_file():
        raise BiomedserveError(f"{out} already holds a finished pretraining run ({CARD_FILE}); "
                               "pass --overwrite to redo it")
    if out.is_dir() and any(p.name != WORK_DIR for p in out.iterdir()):
        raise BiomedserveError(f"{out} exists and is not a pretraining output; choose another --out")
    work.mkdir(parents=True, exist_ok=True)
    _check_resume(work, config.training_settings())

    base = resolve_base_model(config.base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
    except OSError as exc:
        raise BiomedserveError(f"--base-model {config.base_model!r} could not be loaded: {exc}") from None
    if tokenizer.mask_token is None:
        raise BiomedserveError(f"--base-model {config.base_model!r}: its tokenizer has no mask token for masked-LM")
    exclusions = load_exclusions(config.exclude)
    store = build_store(config.corpus, tokenizer, config.max_length, config.heldout_fraction, config.heldout_max,
                        exclusions, work / "tokens", say=say)
    say(f"token store: {store.train_sequences} training and {store.heldout_sequences} held-out sequences of "
        f"{config.max_length} tokens")
    train_set = PackedSequences(work / "tokens", store.train_shards, config.seed)
    heldout = (PackedSequences(work / "tokens", store.heldout_shards, config.seed, salt=HELDOUT_SALT)
               if store.heldout_shards else None)
    steps_per_epoch = math.ceil(store.train_sequences / config.batch_size)
    total_steps = config.max_steps or max(1, math.ceil(config.epochs * steps_per_epoch))

    model, head_missing = load_masked_lm(base, config.base_model, config.seed)
    warmup_steps = resolve_head_warmup_steps(config.head_warmup_steps, head_missing)
    bf16 = decide_bf16(config.bf16)
    warmup = None
    if warmup_steps:
        warmup_set = PackedSequences(work / "tokens", store.train_shards, config.seed, salt=WARMUP_SALT)
        warmed = warm_up_head(config, model, tokenizer, warmup_set, work, warmup_steps, bf16.used, callbacks,
                              progress)
        warmup = json.loads((work / WARMUP_DIR / "warmup.json").read_text())
        # read back in every run, interrupted or not, so both continue from the very same weights
        model = AutoModelForMaskedLM.from_pretrained(str(warmed))
    main_phase = Phase("pretraining", work / "checkpoints", total_steps, config.learning_rate)
    trainer = _trainer(config, model, tokenizer, train_set, main_phase, bf16.used, callbacks, progress)

    before_path = work / "perplexity_before.json"
    if before_path.is_file():
        before = json.loads(before_path.read_text())["perplexity"]
    else:
        before = _perplexity(trainer, heldout)
        atomic_write(before_path, json.dumps({"perplexity": before}) + "\n")
    checkpoint = get_last_checkpoint(str(work / "checkpoints")) if (work / "checkpoints").is_dir() else None
    if checkpoint:
        say(f"resuming from {checkpoint}")
    started = time.perf_counter()
    _train(trainer, checkpoint, config.seed)
    seconds = time.perf_counter() - started
    if trainer.state.global_step < total_steps:
        raise BiomedserveError(f"training stopped at step {trainer.state.global_step} of {total_steps}; "
                               "run the same command again to resume")
    after = _perplexity(trainer, heldout)

    trainer.model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    history = trainer.state.log_history
    card = {
        "kind": "masked-LM pretraining",
        "base_model": config.base_model,
        "base_model_path": base,
        "settings": config.training_settings(),
        "corpus": store.corpus,
        "read_errors": store.read_errors,
        "excluded": exclusions.files,
        "leakage_checked": bool(exclusions.files),
        "tokens": {"corpus_tokens": store.corpus_tokens, "train_sequences": store.train_sequences,
                   "heldout_sequences": store.heldout_sequences, "dropped_tail_tokens": store.dropped_tokens,
                   "tokens_seen": trainer.state.global_step * config.batch_size * config.max_length},
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0.0, 4),
        "loss_curve": [[e["step"], round(e["loss"], 4)] for e in history if "loss" in e],
        "heldout_perplexity": {"before": before, "after": after,
                               "before_measured": _before_measured(warmup_steps, head_missing)},
        "head_warmup": {"head_missing": head_missing, "steps": warmup_steps,
                        "learning_rate": config.head_warmup_learning_rate if warmup_steps else None,
                        **(warmup or {})},
        "bf16": bf16.to_dict(),
        "train_seconds": round(seconds, 1),
        "resumed_from": checkpoint,
        "packages": package_versions(),
        "git": git_commit(),
    }
    atomic_write(out / CARD_FILE, json.dumps(card, indent=2) + "\n")
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return card
