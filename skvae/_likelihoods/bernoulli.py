"""Bernoulli: flags and values in [0, 1] (binary features, pixel intensities)."""

import numpy as np
import torch
import torch.nn.functional as F

from ._base import Likelihood, Stats, as_numpy
from .gaussian import column_stats


class Bernoulli(Likelihood):
    """x ~ Bernoulli(sigmoid(raw)). For values strictly inside (0, 1) the log
    probability is the usual binary cross-entropy, a likelihood only for binary
    data but the standard choice for pixel intensities."""

    name = "bernoulli"
    discrete = True

    @classmethod
    def check(cls, values, labels):
        # fmin and fmax skip NaN (gaps), without nanmin's copy of the block
        low, high = np.fmin.reduce(values, axis=0), np.fmax.reduce(values, axis=0)
        bad = (low < 0.0) | (high > 1.0)
        if bad.any():
            j = int(np.argmax(bad))
            if labels[j] == "X":  # the whole array: report its range
                low, high, j = low.min(keepdims=True), high.max(keepdims=True), 0
            raise ValueError(
                f"likelihood='bernoulli' needs values in [0, 1], but {labels[j]} holds "
                f"values from {low[j]:.6g} to {high[j]:.6g}. Scale it into [0, 1] (for "
                f"pixels, divide by 255; else sklearn.preprocessing.MinMaxScaler), or "
                f"use likelihood='gaussian'."
            )

    @classmethod
    def fit_stats(cls, values, **options) -> Stats:
        return {
            "n_columns": values.shape[1],
            "mean": column_stats(values, variance=False)[0].tolist(),
        }

    def fill(self):
        return torch.tensor(self.stats.get("mean", [0.5] * self.n_columns))

    def log_prob(self, u, raw):
        # x log p + (1 - x) log(1 - p), computed stably from logits
        return -self._cross_entropy(u, raw)

    def log_prob_sum(self, u, raw):
        return -self._cross_entropy(u, raw).sum(-1)

    @staticmethod
    def _cross_entropy(u, raw):
        return F.binary_cross_entropy_with_logits(raw, u.expand_as(raw), reduction="none")

    def point(self, raw):
        return torch.sigmoid(raw)

    def draw(self, raw, rng):
        return (rng.random(raw.shape) < as_numpy(torch.sigmoid(raw))).astype(np.float64)
