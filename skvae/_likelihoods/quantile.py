"""Quantile: any numeric column, through its own empirical distribution.

Each column is mapped by its training quantiles to normal scores, the
marginal transform of a Gaussian copula, and modelled there by a Gaussian.
Whatever the column's shape (skewed, heavy-tailed, multimodal, zero-inflated,
bounded, integer), the scores of its training values are close to a standard
normal, and the way back reads the quantiles: draws reproduce the column's
distribution, mass points such as a share of zeros included, and never leave
the training range.
"""

import math
from functools import lru_cache

import numpy as np
import torch

from ._base import Stats
from .gaussian import MIN_VARIANCE, Gaussian, normal_log_prob

# Quantiles kept per column, as scikit-learn's QuantileTransformer does by default.
MAX_KNOTS = 1000

# The score intervals of the smallest and largest mass points end here, not at
# infinity: the standard normal's mass beyond is below 1e-300.
ATOM_BOUND = 37.0

# The log variances a column with mass points tries after training, where its
# variance has no closed form: from the floor up by steps of 0.1 (a factor of
# 1.105) to 6 above it (0.01 to 4 in score units with the default floor).
LOG_VARIANCE_STEPS = torch.arange(61, dtype=torch.float64) * 0.1

# Gauss-Hermite nodes for E[x] = E[Q(u)] under the decoder's Gaussian in score space.
# Q is flat over mass points and kinked at their edges, which few nodes
# integrate poorly: with 16, test_quantile_point_is_the_mean_in_data_units
# (E[x] within 2% of a Monte Carlo mean on a zero-inflated column) fails.
_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite.hermgauss(64)


def _ndtri(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile function (no scipy at run time)."""
    return torch.special.ndtri(torch.as_tensor(p, dtype=torch.float64)).numpy()


def _knots(quantiles: list) -> tuple[np.ndarray, np.ndarray]:
    """A column's quantiles and their normal scores."""
    return np.asarray(quantiles, dtype=np.float64), _knot_scores(len(quantiles))


@lru_cache(maxsize=64)
def _knot_scores(n: int) -> np.ndarray:
    """The normal scores of n knots: knot i stands for the probability
    (i + 1/2) / n, so the smallest training value scores ndtri(1 / 2n) and
    not minus infinity. Read-only: cached, and shared by every column of n
    knots."""
    scores = _ndtri((np.arange(n) + 0.5) / n)
    scores.flags.writeable = False
    return scores


def _scores(x: np.ndarray, q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Normal scores of one column's values (NaN stays NaN).

    Within the training range: piecewise-linear through the knots; a value
    that several knots share (a mass point) gets the middle of their scores,
    averaging the interpolation from either side. Beyond the range: the
    nearest strictly increasing end segment, extended linearly.
    """
    u = 0.5 * (np.interp(x, q, s) - np.interp(-x, -q[::-1], -s[::-1]))
    low, high = _end_slopes(q, s)
    u = np.where(x < q[0], s[0] - (q[0] - x) * low, u)
    return np.where(x > q[-1], s[-1] + (x - q[-1]) * high, u)


def _end_slopes(q: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """d score / dx beyond each end: the slope to the first knot of another value."""
    if q[-1] == q[0]:
        return 1.0, 1.0
    first = np.searchsorted(q, q[0], side="right")
    last = np.searchsorted(q, q[-1], side="left") - 1
    return (s[first] - s[0]) / (q[first] - q[0]), (s[-1] - s[last]) / (q[-1] - q[last])


def _atoms(q: np.ndarray, s: np.ndarray) -> list[list[float]]:
    """A column's mass points: values that several knots share (the zeros of
    a zero-inflated column, each value of an integer column). Per point: its
    score, and the ends of the score interval its knots stand for (knot i
    for probabilities i / n to (i + 1) / n; +-ATOM_BOUND for the infinite
    ends), whose probability under the decoder's Gaussian is the point's."""
    values, first, counts = np.unique(q, return_index=True, return_counts=True)
    shared = counts >= 2
    values, lo, hi = values[shared], first[shared], (first + counts)[shared]
    ends = np.clip(_ndtri(np.stack([lo, hi]) / len(q)), -ATOM_BOUND, ATOM_BOUND)
    return np.column_stack([_scores(values, q, s), ends.T]).tolist()


def _log_slope(x: np.ndarray, q: np.ndarray, s: np.ndarray) -> np.ndarray:
    """log d score / dx of one column's values, 0 where missing.

    At a mass point, several knots share the value and the map has no slope:
    its term is 0, for the likelihood scores the probability of the point's
    score interval (see ``_atoms``), a probability and not a density.
    """
    n = len(q)
    lo = np.searchsorted(q, x, side="left")
    hi = np.searchsorted(q, x, side="right")
    # Continuous stretches: the segment around x, or both segments at a knot
    left = np.clip(lo - 1, 0, n - 1)
    right = np.clip(np.where(hi > lo, lo + 1, lo), 0, n - 1)
    dx = q[right] - q[left]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.log((s[right] - s[left]) / dx)
    low, high = _end_slopes(q, s)
    out = np.where((hi - lo >= 2) | ~(dx > 0), 0.0, slope)
    out = np.where(x < q[0], math.log(low), np.where(x > q[-1], math.log(high), out))
    return np.where(np.isnan(x), 0.0, out)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """np.interp for tensors: piecewise-linear, clamped at the ends."""
    i = torch.searchsorted(xp, x.contiguous()).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    span = x1 - x0
    # a zero span only at the first knot, when the smallest value is a mass point
    w = torch.where(span > 0, (x - x0) / torch.where(span > 0, span, 1.0), (x > x0).to(x.dtype))
    return f0 + w.clamp(0.0, 1.0) * (f1 - f0)


def _log_interval(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log (Phi(b) - Phi(a)) for a < b, from the tail where it is accurate."""
    upper_tail = a > 0
    a, b = torch.where(upper_tail, -b, a), torch.where(upper_tail, -a, b)
    log_a, log_b = torch.special.log_ndtr(a), torch.special.log_ndtr(b)
    # an empty interval (a == b) only in entries torch.where discards
    return log_b + torch.log1p(-torch.exp((log_a - log_b).clamp(max=-1e-6)))


class Quantile(Gaussian):
    """A Gaussian on each column's normal scores (a Gaussian copula's margins).

    On the host a column's values go through the normal quantile of their
    empirical distribution function (``MAX_KNOTS`` training quantiles,
    interpolated); the way back reads the quantiles, so training values
    round-trip. Draws follow the column's own distribution
    and stay within its training range.

    A value the training data holds many times (a mass point: the zeros of
    a zero-inflated column, every value of an integer column) is scored by
    the probability the decoder's Gaussian gives its score interval, so that
    the model learns each point's share and draws reproduce it; other values
    by their density in the data's units (the transform's Jacobian
    included). Point estimates are E[x | z] in the data's units, by
    Gauss-Hermite quadrature of the quantile function.
    """

    name = "quantile"

    @classmethod
    def fit_stats(cls, values, **options) -> Stats:
        quantiles = []
        for column in values.T:
            observed = np.sort(column[~np.isnan(column)])
            if len(observed) > MAX_KNOTS:
                observed = np.quantile(observed, np.linspace(0, 1, MAX_KNOTS))
            # few values: the sorted values themselves, so that each training
            # value sits exactly on a knot (np.quantile's interpolation can
            # land a hair off one)
            quantiles.append(observed.tolist())
        # The model's units are the scores themselves, not standardized: N(0, 1)
        # in score space is then exactly the training distribution, mass
        # points included.
        return {
            "n_columns": values.shape[1],
            "quantiles": quantiles,
            "atoms": [_atoms(*_knots(q)) for q in quantiles],
            "floor": [MIN_VARIANCE] * values.shape[1],
        }

    @classmethod
    def to_model(cls, values, stats):
        out = np.empty(values.shape)
        for j, quantiles in enumerate(stats["quantiles"]):
            out[:, j] = _scores(values[:, j], *_knots(quantiles))
        return out

    @classmethod
    def from_model(cls, u, stats):
        out = np.empty(u.shape)
        for j, quantiles in enumerate(stats["quantiles"]):
            q, s = _knots(quantiles)
            out[:, j] = np.interp(u[:, j], s, q)
        return out

    @classmethod
    def log_jacobian(cls, values, stats):
        total = np.zeros(values.shape[0])
        for j, quantiles in enumerate(stats["quantiles"]):
            total = total + _log_slope(values[:, j], *_knots(quantiles))
        return total

    # ------------------------------------------------------------- torch side

    def _cached(self, key, like: torch.Tensor, make) -> tuple[torch.Tensor, ...]:
        """The float64 arrays ``make()`` returns, as tensors like ``like``
        (made from float64, not cast from float32), cached under ``key``."""
        cache_key = (key, like.dtype, like.device)
        if cache_key not in self._constants:
            self._constants[cache_key] = tuple(
                torch.tensor(a, dtype=torch.float64, device=like.device).to(like.dtype)
                for a in make()
            )
        return self._constants[cache_key]

    def _knot_tensors(self, j: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Column j's quantiles and their scores."""
        return self._cached(("knots", j), like, lambda: _knots(self.stats["quantiles"][j]))

    def _atom_tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every column's mass points: scores, lower and upper ends, each
        ``(n_columns, most points)``, padded with scores no value has."""

        def make():
            atoms = self.stats["atoms"]
            arrays = np.full((3, self.n_columns, max(len(a) for a in atoms)), np.inf)
            for c, points in enumerate(atoms):
                arrays[:, c, : len(points)] = np.asarray(points, dtype=np.float64).T
            return arrays

        return self._cached("atoms", like, make)

    @property
    def has_mass_points(self) -> bool:
        """Whether some values are scored by interval probabilities."""
        return any(self.stats["atoms"])

    def _variance_candidates(self) -> torch.Tensor:
        """Log variances to choose from, float64 ``(n_candidates, n_columns)``:
        the grid of LOG_VARIANCE_STEPS above each floor, and the current one."""
        log_floor = torch.log(self._constant("floor", self.raw_variance)).double()
        steps = LOG_VARIANCE_STEPS.to(log_floor.device)[:, None]
        return torch.cat([log_floor + steps, self.log_var().double()[None]])

    def variance_terms(self, u, raw):
        """With mass points the variance has no closed form: each candidate's
        log-likelihood of the observed entries, per column."""
        if not self.has_mass_points:
            return super().variance_terms(u, raw)
        missing = torch.isnan(u)
        intervals = self._mass_intervals(u, raw.shape)  # the same for every candidate
        terms = []
        for candidate in self._variance_candidates().to(raw.dtype):
            log_p = self._log_prob_with(u, raw, candidate, intervals)
            terms.append(torch.where(missing, 0.0, log_p.double()).sum(0))
        return torch.stack(terms)

    def variance_from_terms(self, terms, counts):
        """The best candidate per column, never worse on these rows than the
        variance training ended with (one of the candidates)."""
        if not self.has_mass_points:
            return super().variance_from_terms(terms, counts)
        best = self._variance_candidates().gather(0, terms.argmax(0, keepdim=True))[0]
        # a column with no observed entry keeps training's variance
        return torch.where(counts > 0, best.exp(), math.nan)

    def log_prob_given_variance(self, u, raw, log_var):
        intervals = self._mass_intervals(u, raw.shape) if self.has_mass_points else None
        return self._log_prob_with(u, raw, log_var, intervals)

    def _mass_intervals(self, u, shape):
        """For each value of ``u`` (broadcast to ``shape``): whether it is a
        mass point, and its score interval's ends. All columns at once: each
        value's first point at or above it, per column."""
        score, lower, upper = self._atom_tensors(u)
        x = u.expand(shape).reshape(-1, self.n_columns).T.contiguous()  # (columns, rows)
        k = torch.searchsorted(score, x).clamp(max=score.shape[1] - 1)
        found = (score.gather(1, k) == x).T.reshape(shape)
        lower, upper = (end.gather(1, k).T.reshape(shape) for end in (lower, upper))
        # the padding's infinite ends: only in entries torch.where discards
        lower, upper = (end.clamp(-ATOM_BOUND, ATOM_BOUND) for end in (lower, upper))
        return found, lower, upper

    def _log_prob_with(self, u, raw, log_var, intervals):
        """log_prob with log variances ``log_var`` and the ``_mass_intervals``
        of u (None: no mass points): a mass point's score is the probability
        of its interval, other values' their density."""
        log_p = normal_log_prob(u, raw, log_var)
        if intervals is None:
            return log_p
        found, lower, upper = intervals
        std = torch.exp(0.5 * log_var)
        mass = _log_interval((lower - raw) / std, (upper - raw) / std)
        return torch.where(found, mass, log_p)

    def _expected_values(self, raw: torch.Tensor) -> list[torch.Tensor]:
        """E[x] per column under N(raw, variance) in model units."""
        std = torch.exp(0.5 * self.log_var()).to(raw.dtype)
        nodes, weights = self._cached(
            "hermite",
            raw,
            lambda: (_HERMITE_NODES * math.sqrt(2.0), _HERMITE_WEIGHTS / math.sqrt(math.pi)),
        )
        scores = raw.unsqueeze(-1) + std[:, None] * nodes
        out = []
        for j in range(self.n_columns):
            q, s = self._knot_tensors(j, raw)
            out.append((_interp(scores[..., j, :], s, q) * weights).sum(-1))
        return out

    def _model_units(self, values: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """Values per column (in the data's units) back into model units."""
        scores = []
        for j, x in enumerate(values):
            q, s = self._knot_tensors(j, like)
            # the middle of a mass point's scores, as on the host
            left = _interp(x, q, s)
            right = -_interp(-x, -q.flip(0), -s.flip(0))
            scores.append(0.5 * (left + right))
        return torch.stack(scores, -1)

    def point(self, raw):
        return self._model_units(self._expected_values(raw), raw)

    def impute(self, raw, weights):
        mixture = [(weights * e).sum(-1) for e in self._expected_values(raw)]
        return self._model_units(mixture, raw[..., 0, :])
