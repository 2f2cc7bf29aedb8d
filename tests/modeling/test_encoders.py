"""encoders.mean_pool: padding never leaks into a sentence vector."""

import torch

from biomedserve.modeling.encoders import mean_pool


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],
                           [[5.0, 5.0], [7.0, 9.0], [-1.0, 1.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    pooled = mean_pool(hidden, mask)
    assert torch.allclose(pooled, torch.tensor([[2.0, 3.0], [11 / 3, 5.0]]))
