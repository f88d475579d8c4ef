"""Log-normal: positive, right-skewed amounts (prices, incomes, sizes)."""

import numpy as np
import torch

from ._base import Stats
from .gaussian import MIN_VARIANCE, Gaussian, column_stats, nonzero_scale


class LogNormal(Gaussian):
    """log x ~ N(mean, variance): a Gaussian on the standardized log of each
    column. Scores are densities of x itself (the Jacobian 1 / (x * scale) of
    the log and the standardization is accounted for), point estimates are
    E[x] = exp(mean + variance / 2) and draws are always positive.
    """

    name = "lognormal"

    @classmethod
    def check(cls, values, labels):
        bad = ~((values > 0) | np.isnan(values)).all(axis=0)
        if bad.any():
            where = labels[int(np.argmax(bad))]
            raise ValueError(
                f"{where.capitalize()} has values <= 0, which likelihood='lognormal' "
                f"cannot model (it needs positive values). Use 'gaussian' for it."
            )

    @classmethod
    def fit_stats(cls, values, **options) -> Stats:
        mean, var = column_stats(np.log(values))
        return {
            "n_columns": values.shape[1],
            "mean": mean.tolist(),
            "scale": nonzero_scale(np.sqrt(var), mean).tolist(),
            "floor": [MIN_VARIANCE] * values.shape[1],
        }

    @classmethod
    def to_model(cls, values, stats):
        return super().to_model(np.log(values), stats)

    @classmethod
    def from_model(cls, u, stats):
        return np.exp(super().from_model(u, stats))

    @classmethod
    def log_jacobian(cls, values, stats):
        return super().log_jacobian(values, stats) - np.nansum(np.log(values), axis=1)

    def impute(self, raw, weights):
        # The mixture's mean E[x] = sum_k w_k exp(m + s u_k), back in model units
        scale = self._constant("scale", raw)
        log_mean = torch.logsumexp(torch.log(weights).unsqueeze(-1) + scale * self.point(raw), -2)
        return log_mean / scale

    def point(self, raw):
        # E[x] = exp(m + s * (mean + s * var / 2)) in model units u = (log x - m) / s
        scale = self._constant("scale", raw)
        return raw + 0.5 * scale * torch.exp(self.log_var())
