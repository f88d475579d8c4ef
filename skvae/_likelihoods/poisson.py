"""Poisson: non-negative integer counts with variance equal to the mean."""

import numpy as np
import torch

from ._base import Likelihood, Stats, as_numpy


class Poisson(Likelihood):
    """x ~ Poisson(mu) with log mu = raw + log(column mean): the decoder's raw
    output is the log rate relative to the column's average. In model units the
    column holds the counts themselves; the encoder sees them as
    standardized log(1 + x).
    """

    name = "poisson"
    discrete = True

    def __init__(self, stats: Stats):
        super().__init__(stats)
        for key in ("log_mean", "log1p_mean", "log1p_scale", "log_max"):
            self.register_buffer(key, torch.tensor(stats[key], dtype=torch.float32))

    @classmethod
    def check(cls, values, labels):
        bad = ~((values >= 0) & (values == np.round(values)) | np.isnan(values)).all(axis=0)
        if bad.any():
            raise ValueError(
                f"{labels[int(np.argmax(bad))].capitalize()} holds values that are not "
                f"non-negative integers, which likelihood={cls.name!r} cannot model. "
                f"Use 'gaussian' for it."
            )

    @classmethod
    def fit_stats(cls, values, **options) -> Stats:
        log1p = np.log1p(values)
        scale = np.nanstd(log1p, axis=0)
        return {
            "n_columns": values.shape[1],
            "log_mean": np.log(np.nanmean(values, axis=0) + 0.5).tolist(),
            "log1p_mean": np.nanmean(log1p, axis=0).tolist(),
            "log1p_scale": np.where(scale > 0, scale, 1.0).tolist(),
            # log of a rate no decoder should exceed: guards exp() in float32
            "log_max": np.log(10.0 * np.nanmax(values, axis=0) + 10.0).tolist(),
        }

    def fill(self):
        # the column's training mean (log_mean is log(mean + 1/2))
        return torch.exp(torch.tensor(self.stats["log_mean"])) - 0.5

    def encoder_input(self, u):
        return (torch.log1p(u) - self.log1p_mean) / self.log1p_scale

    def log_rate(self, raw):
        return torch.minimum(raw + self.log_mean, self.log_max)

    def log_prob(self, u, raw):
        # x log mu - mu - log x!
        log_mu = self.log_rate(raw)
        return u * log_mu - torch.exp(log_mu) - torch.lgamma(u + 1.0)

    def point(self, raw):
        return torch.exp(self.log_rate(raw))

    def draw(self, raw, rng):
        return rng.poisson(as_numpy(self.point(raw))).astype(np.float64)
