"""Temperature sampling over the corpora of a joined training set, so large corpora do not drown small ones.

A set built from several corpora (``NER-multitype``: BC5CDR, NCBI-disease, BC2GM, JNLPBA) would
otherwise spend each epoch in proportion to the corpora's sizes. With ``corpus_sampling_temperature:
T`` each epoch draws from corpus *i* in proportion to ``n_i^(1/T)``: ``T = 1`` keeps the sizes'
proportions, a larger ``T`` moves towards one share per corpus, up-sampling the small ones. An epoch
keeps the set's size, so steps per epoch and the dev evaluation each epoch are unchanged. Draws are
seeded by (seed, epoch): the same recipe draws the same examples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import Trainer
from transformers.trainer_pt_utils import get_length_grouped_indices

from biomedserve.errors import RecipeError


def corpus_shares(sizes: Mapping[str, int], temperature: float, total: int) -> dict[str, int]:
    """How many of an epoch's ``total`` examples each corpus gives: ``∝ n_i^(1/T)``, rounded by
    largest remainder so the counts add up to ``total`` exactly."""
    weights = np.array([sizes[name] ** (1 / temperature) for name in sizes], dtype=float)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[index] += 1
    return {name: int(count) for name, count in zip(sizes, counts)}


def temperature_epoch(corpora: Sequence[str], temperature: float, seed: int, epoch: int) -> list[int]:
    """The example indices of one epoch, shuffled: corpus *i* drawn :func:`corpus_shares` times.

    Within a corpus, examples are taken in a random order without repetition until it is used up, then
    in a fresh random order (an up-sampled corpus repeats each example as evenly as possible).
    """
    rng = np.random.default_rng([seed, epoch])
    members: dict[str, list[int]] = {}
    for index, corpus in enumerate(corpora):
        members.setdefault(corpus, []).append(index)
    shares = corpus_shares({name: len(ids) for name, ids in members.items()}, temperature, len(corpora))
    drawn: list[int] = []
    for name, ids in members.items():
        passes = -(-shares[name] // len(ids))  # ceil
        order = np.concatenate([rng.permutation(ids) for _ in range(passes)]) if passes else np.array([], int)
        drawn += order[: shares[name]].tolist()
    return [drawn[i] for i in rng.permutation(len(drawn))]


class CorpusTemperatureSampler(torch.utils.data.Sampler[int]):
    """A Trainer train sampler over :func:`temperature_epoch` draws, batched by length as the Trainer's
    ``group_by_length`` does (transformers' ``get_length_grouped_indices``), so dynamic padding stays small.

    The Trainer (through accelerate) calls :meth:`set_epoch` before each epoch, and each epoch draws anew.
    """

    def __init__(self, corpora: Sequence[str], temperature: float, seed: int,
                 lengths: Sequence[int] | None = None, batch_size: int = 1):
        self.corpora = list(corpora)
        self.temperature = temperature
        self.seed = seed
        self.lengths = list(lengths) if lengths is not None else None
        self.batch_size = batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.corpora)

    def epoch_indices(self, epoch: int) -> list[int]:
        """The examples of ``epoch``, in the order they are served."""
        drawn = temperature_epoch(self.corpora, self.temperature, self.seed, epoch)
        if self.lengths is None:
            return drawn
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = get_length_grouped_indices([self.lengths[i] for i in drawn], self.batch_size, generator=generator)
        return [drawn[i] for i in order]

    def __iter__(self):
        return iter(self.epoch_indices(self.epoch))


def corpus_sampler(features: Sequence[dict[str, Any]], temperature: float | None, seed: int, batch_size: int,
                   dataset: str) -> CorpusTemperatureSampler | None:
    """The sampler for ``corpus_sampling_temperature`` (None: none, the Trainer's own order).

    The features must name their ``corpus`` and come from at least two corpora; otherwise the field is
    an error naming it and the dataset.
    """
    if temperature is None:
        return None
    corpora = [feature.get("corpus") for feature in features]
    if None in corpora or len(Counter(corpora)) < 2:
        raise RecipeError(f"corpus_sampling_temperature: {dataset} is not built from several corpora "
                          "(the field is for joined sets such as NER-multitype); leave it unset")
    return CorpusTemperatureSampler(corpora, temperature, seed, [len(f["input_ids"]) for f in features], batch_size)


class SampledTrainer(Trainer):
    """transformers' ``Trainer`` that takes its train sampler from ``train_sampler`` when one is given
    (:func:`corpus_sampler`); with None it is the Trainer, length-grouped batches and all."""

    def __init__(self, *args, train_sampler: torch.utils.data.Sampler | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_sampler = train_sampler

    def _get_train_sampler(self, train_dataset=None):
        if self.train_sampler is not None:
            return self.train_sampler
        return super()._get_train_sampler(train_dataset)
