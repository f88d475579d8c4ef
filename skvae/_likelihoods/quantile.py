"""Quantile: any numeric column, through its own empirical distribution.

Each column is mapped by its training quantiles to normal scores, the
marginal transform of a Gaussian copula, and modelled there by a Gaussian.
Whatever the column's shape (skewed, heavy-tailed, multimodal, zero-inflated,
bounded, integer), the scores of its training values are close to a standard
normal, and the way back reads the quantiles: draws reproduce the column's
distribution, mass points such as a share of zeros included, and never leave
the training range.
"""

import functools
import math

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

# E[x] under N(m, variance) is a smooth function of the decoder's output m
# (the quantile map convolved with the Gaussian), the same for every row: each
# column tabulates it once per variance, at MEAN_GRID evenly spaced values of m
# from GRID_REACH standard deviations below its smallest knot score to as far
# above its largest (beyond, the Gaussian's mass inside the knots is below
# 1e-15 and E[x] is the end value), and point estimates read the table by
# linear interpolation: one interpolation per entry instead of 64.
MEAN_GRID = 1025
GRID_REACH = 8.0

# Columns tabulated at a time: bounds the (columns, MEAN_GRID, nodes) block.
_TABLE_COLUMNS = 64


def _ndtri(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile function (no scipy at run time)."""
    return torch.special.ndtri(torch.as_tensor(p, dtype=torch.float64)).numpy()


def _knots(quantiles: list) -> tuple[np.ndarray, np.ndarray]:
    """A column's quantiles and their normal scores."""
    return np.asarray(quantiles, dtype=np.float64), _knot_scores(len(quantiles))


def _column_quantiles(stats: Stats) -> list[np.ndarray]:
    """Each column's quantiles, a value repeated as often as the knots share it.

    The statistics hold each distinct quantile once and its number of knots
    ("repeats"): a column with mass points (the zeros of a zero-inflated
    column, pixels in 256 shades) has far fewer distinct quantiles than
    knots, and the statistics are what a pickle stores.
    """
    repeats = stats.get("repeats")
    if repeats is None:  # statistics from before the repeats: every knot listed
        return [np.asarray(q, dtype=np.float64) for q in stats["quantiles"]]
    return [
        np.repeat(np.asarray(q, dtype=np.float64), r)
        for q, r in zip(stats["quantiles"], repeats, strict=True)
    ]


@functools.lru_cache(maxsize=64)
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


def _interp_rows(
    x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor, counts: torch.Tensor
) -> torch.Tensor:
    """np.interp for each row of x ``(columns, L)`` through that column's
    knots: the first ``counts[c]`` entries of row c of ``xp`` and ``fp``
    ``(columns, most knots)``, ``xp`` padded with +inf. Piecewise-linear,
    clamped at the ends."""
    n = counts[:, None]
    i = torch.minimum(torch.searchsorted(xp, x.contiguous()).clamp(min=1), n - 1)
    before = torch.remainder(i - 1, n)  # i - 1, but in range for a one-knot column
    x0, x1, f0, f1 = xp.gather(1, before), xp.gather(1, i), fp.gather(1, before), fp.gather(1, i)
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
        quantiles, distinct, repeats = [], [], []
        for column in values.T:
            observed = np.sort(column[~np.isnan(column)])
            if len(observed) > MAX_KNOTS:
                observed = np.quantile(observed, np.linspace(0, 1, MAX_KNOTS))
            # few values: the sorted values themselves, so that each training
            # value sits exactly on a knot (np.quantile's interpolation can
            # land a hair off one)
            quantiles.append(observed)
            once, counts = np.unique(observed, return_counts=True)
            distinct.append(once.tolist())
            repeats.append(counts.tolist())
        # The model's units are the scores themselves, not standardized: N(0, 1)
        # in score space is then exactly the training distribution, mass
        # points included.
        return {
            "n_columns": values.shape[1],
            "quantiles": distinct,
            "repeats": repeats,
            "atoms": [_atoms(*_knots(q)) for q in quantiles],
            "floor": [MIN_VARIANCE] * values.shape[1],
        }

    @classmethod
    def to_model(cls, values, stats):
        out = np.empty(values.shape)
        for j, quantiles in enumerate(_column_quantiles(stats)):
            out[:, j] = _scores(values[:, j], *_knots(quantiles))
        return out

    @classmethod
    def from_model(cls, u, stats):
        out = np.empty(u.shape)
        for j, quantiles in enumerate(_column_quantiles(stats)):
            q, s = _knots(quantiles)
            out[:, j] = np.interp(u[:, j], s, q)
        return out

    @classmethod
    def log_jacobian(cls, values, stats):
        total = np.zeros(values.shape[0])
        for j, quantiles in enumerate(_column_quantiles(stats)):
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

    def _knot_rows(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every column's knots, a row each ``(n_columns, most knots)``: the
        quantiles and their scores, then both negated and reversed (the map
        read from the other side), each position sequence padded with +inf;
        and the number of knots per column."""

        quantiles = self._quantiles

        def make():
            arrays = np.full((4, self.n_columns, max(len(q) for q in quantiles)), np.inf)
            for c, column in enumerate(quantiles):
                q, s = _knots(column)
                arrays[:, c, : len(q)] = q, s, -q[::-1], -s[::-1]
            return arrays

        counts_key = ("knot counts", like.device)
        if counts_key not in self._constants:
            counts = [len(q) for q in quantiles]
            self._constants[counts_key] = torch.tensor(counts, device=like.device)
        return (*self._cached("knots", like, make), self._constants[counts_key])

    @functools.cached_property
    def _quantiles(self) -> list[np.ndarray]:
        """``_column_quantiles`` of the statistics, expanded once."""
        return _column_quantiles(self.stats)

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

    def _expected_values(self, raw: torch.Tensor) -> torch.Tensor:
        """E[x] per column under N(raw, variance), in the data's units, ``(n_columns, ...)``
        for ``raw`` of shape ``(..., n_columns)``, read from the columns' tables."""
        grid, means = self._mean_tables(raw)
        x = raw.movedim(-1, 0)
        sizes = torch.full((self.n_columns,), MEAN_GRID, device=raw.device)
        return _interp_rows(x.reshape(self.n_columns, -1), grid, means, sizes).reshape(x.shape)

    def _mean_tables(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per column, ``MEAN_GRID`` decoder outputs m and E[x] under N(m,
        variance) at each, both ``(n_columns, MEAN_GRID)``, for the current
        variances (tabulated again when they change)."""
        log_var = self.log_var().detach().double()
        key, variances = ("mean tables", like.dtype, like.device), log_var.cpu().numpy().tobytes()
        cached = self._constants.get(key)
        if cached is None or cached[0] != variances:
            cached = (variances, *self._tabulate_means(torch.exp(0.5 * log_var), like))
            self._constants[key] = cached
        return cached[1], cached[2]

    def _tabulate_means(self, std: torch.Tensor, like: torch.Tensor):
        """``_mean_tables`` for standard deviations ``std``, by Gauss-Hermite
        quadrature of the quantile map at each grid point."""
        q, s, _, _, counts = self._knot_rows(like)
        std = std.to(device=like.device, dtype=like.dtype)
        first, last = s[:, 0], s.gather(1, (counts - 1)[:, None])[:, 0]
        reach = GRID_REACH * std
        steps = torch.linspace(0.0, 1.0, MEAN_GRID, dtype=like.dtype, device=like.device)
        grid = (first - reach)[:, None] + (last - first + 2 * reach)[:, None] * steps
        nodes, weights = self._cached(
            "hermite",
            like,
            lambda: (_HERMITE_NODES * math.sqrt(2.0), _HERMITE_WEIGHTS / math.sqrt(math.pi)),
        )
        means = torch.empty_like(grid)
        for start in range(0, self.n_columns, _TABLE_COLUMNS):
            block = slice(start, start + _TABLE_COLUMNS)
            scores = grid[block, :, None] + std[block, None, None] * nodes
            values = _interp_rows(
                scores.reshape(len(scores), -1), s[block], q[block], counts[block]
            )
            means[block] = (values.reshape(scores.shape) * weights).sum(-1)
        return grid, means

    def _model_units(self, values: torch.Tensor) -> torch.Tensor:
        """Values ``(n_columns, ...)`` in the data's units back into model
        units, ``(..., n_columns)``."""
        q, s, q_reversed, s_reversed, counts = self._knot_rows(values)
        x = values.reshape(self.n_columns, -1)
        # the middle of a mass point's scores, as on the host
        left = _interp_rows(x, q, s, counts)
        right = -_interp_rows(-x, q_reversed, s_reversed, counts)
        return (0.5 * (left + right)).reshape(values.shape).movedim(0, -1)

    def point(self, raw):
        return self._model_units(self._expected_values(raw))

    def impute(self, raw, weights):
        # (columns, batch, K) expected values, weighed over the K draws
        return self._model_units((weights * self._expected_values(raw)).sum(-1))
