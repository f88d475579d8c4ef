"""Gaussian: real values, one variance per column, floored."""

import math

import numpy as np
import torch
from torch import nn

from ._base import Likelihood, Stats, as_numpy

LOG_2PI = math.log(2.0 * math.pi)

# The encoder sees values in model units squashed smoothly into
# (-INPUT_BOUND, INPUT_BOUND): rare extreme values (a pixel that is almost always
# blank, an outlier) would otherwise dominate the first layer. Values within a
# standard deviation or so pass nearly unchanged; the likelihood still scores
# the value itself.
INPUT_BOUND = 3.0

# Smallest variance the decoder may learn, as a share of the column's variance
# in model units (of the shared variance with scaling="global"). Without a floor
# a constant or discrete column lets the likelihood grow without bound.
MIN_VARIANCE = 1e-2


def column_stats(
    values: np.ndarray, chunk: int = 4096, variance: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-column mean and variance (None with ``variance=False``) of the
    observed (non-NaN) values, in float64, without a full-size temporary."""
    count, total = np.zeros(values.shape[1]), np.zeros(values.shape[1])
    for start in range(0, values.shape[0], chunk):
        sums, observed = _observed_sums(values[start : start + chunk])
        total += sums
        count += observed
    mean = total / count
    if not variance:
        return mean, None
    sq = np.zeros(values.shape[1])
    for start in range(0, values.shape[0], chunk):
        sq += _observed_sums(np.square(values[start : start + chunk] - mean))[0]
    return mean, sq / count


def _observed_sums(block: np.ndarray) -> tuple[np.ndarray, np.ndarray | int]:
    """Per-column float64 sums of a block's non-NaN entries, and how many
    there are; a block without NaN is summed as it is."""
    sums = block.sum(axis=0, dtype=np.float64)
    if not np.isnan(sums).any():
        return sums, len(block)
    observed = ~np.isnan(block)
    return np.where(observed, block, 0.0).sum(axis=0, dtype=np.float64), observed.sum(axis=0)


def nonzero_scale(scale: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Vanishing scales become 1, as in StandardScaler, so constant columns
    pass through unscaled instead of being divided by zero."""
    tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
    return np.where(scale < tiny, 1.0, scale)


def _too_large(values: np.ndarray) -> ValueError:
    return ValueError(
        f"X has values too large to standardize (largest magnitude "
        f"{np.abs(values).max():.3g}): their variance overflows float64. Rescale X, "
        f"for example with sklearn.preprocessing.MaxAbsScaler."
    )


def normal_log_prob(u: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(u | mean, exp(log_var)) per entry."""
    # -1/2 * [ log(2 pi) + log var_j + (x_j - mean_j)^2 / var_j ]
    squared = (u - mean).square() * torch.exp(-log_var)
    return -0.5 * (LOG_2PI + log_var + squared)


class Gaussian(Likelihood):
    """N(x | mean, variance): the decoder emits the mean in model units and the
    module holds one variance per column, floored at ``MIN_VARIANCE``: learned
    in training, then set to its best value given the network
    (``variance_terms``, ``_training.fit_variances``).

    On the host each column is centered and divided by a scale: its own
    standard deviation (``scaling="feature"``) or one scale shared by the group,
    the root mean column variance (``scaling="global"``).
    """

    name = "gaussian"

    def __init__(self, stats: Stats):
        super().__init__(stats)
        # softplus(raw) + floor starts every column at variance 1
        start = [math.log(math.expm1(1.0 - f)) for f in stats["floor"]]
        self.raw_variance = nn.Parameter(torch.tensor(start, dtype=torch.float32))
        self._constants: dict = {}

    def _constant(self, key: str, like: torch.Tensor) -> torch.Tensor:
        """``stats[key]`` as a tensor of ``like``'s dtype and device, made from
        the float64 stats (not cast from float32), cached."""
        cache_key = (key, like.dtype, like.device)
        if cache_key not in self._constants:
            self._constants[cache_key] = torch.tensor(
                self.stats[key], dtype=torch.float64, device=like.device
            ).to(like.dtype)
        return self._constants[cache_key]

    @classmethod
    def fit_stats(cls, values: np.ndarray, scaling: str = "feature", **options) -> Stats:
        with np.errstate(over="ignore", invalid="ignore"):
            mean, var = column_stats(values)
            scale = np.sqrt(var.mean()) if scaling == "global" else np.sqrt(var)
            scale = nonzero_scale(np.broadcast_to(scale, mean.shape), mean)
        if not (np.isfinite(mean).all() and np.isfinite(scale).all()):
            raise _too_large(values)
        return {
            "n_columns": values.shape[1],
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "floor": [MIN_VARIANCE] * values.shape[1],
        }

    @classmethod
    def to_model(cls, values, stats):
        return (values - np.asarray(stats["mean"])) / np.asarray(stats["scale"])

    @classmethod
    def from_model(cls, u, stats):
        return u * np.asarray(stats["scale"]) + np.asarray(stats["mean"])

    @classmethod
    def log_jacobian(cls, values, stats):
        log_scale = np.log(stats["scale"])
        observed = ~np.isnan(values)
        if observed.all():
            return np.full(values.shape[0], -float(log_scale.sum()))
        return -(observed @ log_scale)

    def log_var(self) -> torch.Tensor:
        """log variance per column, (n_columns,)."""
        floor = self._constant("floor", self.raw_variance)
        return torch.log(nn.functional.softplus(self.raw_variance) + floor)

    @torch.no_grad()
    def set_variance(self, variance: torch.Tensor) -> None:
        """Set the columns' variances (model units) to ``variance``, no lower
        than the floor; a NaN entry keeps its column's variance."""
        floor = self._constant("floor", self.raw_variance)
        excess = (variance.to(self.raw_variance.dtype) - floor).clamp(min=1e-6 * floor)
        raw = excess + torch.log(-torch.expm1(-excess))  # softplus's inverse
        self.raw_variance.copy_(torch.where(torch.isnan(variance), self.raw_variance, raw))

    def encoder_input(self, u):
        return INPUT_BOUND * torch.tanh(u / INPUT_BOUND)

    def variance_terms(self, u: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """What ``_training.fit_variances`` sums over rows and draws to set the
        variances, float64 ``(n_terms, n_columns)``: here the squared residuals
        of the observed entries (NaN in ``u``: missing)."""
        square = torch.where(torch.isnan(u), 0.0, (u - raw).square().double())
        return square.sum(0, keepdim=True)

    def variance_from_terms(self, terms: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """The variances that maximize the expected log-likelihood, from the
        summed ``variance_terms`` and the observed entries per column: the
        mean squared residual (0/0 gives NaN: the column keeps its variance)."""
        return terms[0] / counts

    def log_prob(self, u, raw):
        return self.log_prob_given_variance(u, raw, self.log_var())

    def log_prob_given_variance(self, u, raw, log_var):
        """``log_prob`` with the columns' log variances ``log_var``, (n_columns,),
        in place of the module's: candidates for ``fit_variances``."""
        return normal_log_prob(u, raw, log_var)

    def point(self, raw):
        return raw

    def draw(self, raw, rng):
        std = np.exp(0.5 * as_numpy(self.log_var()))
        return as_numpy(raw) + std * rng.standard_normal(raw.shape)
