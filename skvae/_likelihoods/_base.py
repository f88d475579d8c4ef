"""What every likelihood class provides: the contract between a column group,
the model and the table.

A likelihood models a group of columns with one distribution. It has two
sides:

- the host side (numpy, classmethods): ``fit_stats`` learns what the
  distribution needs from the training values (a location and scale, the
  categories, ...), ``to_model`` maps values into the units the network works
  in, ``from_model`` maps them back, ``log_jacobian`` is the log-determinant
  of that map, so that densities can be reported in the data's own units;
- the torch side (an ``nn.Module`` built from those stats): the decoder emits
  ``n_params`` raw outputs per group, and ``log_prob``, ``point`` and ``draw``
  turn them into a log-likelihood, a point estimate and a random draw. Learned
  parameters of the distribution itself (a variance, a dispersion) live on
  the module.

Missing entries are NaN on the host side, in the values and in model units
alike: ``check`` and ``fit_stats`` look at the observed values only, and
``to_model`` keeps NaN where the value is missing (``None`` for categories).
The torch side never sees NaN: the model puts ``fill`` values in the gaps and
masks their terms out of the likelihood.

Adding a distribution is adding one subclass and registering it in
``skvae._likelihoods.LIKELIHOODS``.
"""

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

Stats = dict[str, Any]


class Likelihood(nn.Module):
    """p(x|z) for a group of ``n_columns`` columns.

    Parameters
    ----------
    stats : dict
        What ``fit_stats`` learned from the training values, plain Python
        lists and numbers (pickle- and skops-friendly).
    """

    #: The name users pass in ``likelihood=``.
    name: ClassVar[str]
    #: True when the values are discrete (counts, categories, flags): draws
    #: from p(x|z) are then integers or codes.
    discrete: ClassVar[bool] = False

    def __init__(self, stats: Stats):
        super().__init__()
        self.stats = stats
        self.n_columns = int(stats["n_columns"])

    # -------------------------------------------------------------- host side

    @classmethod
    def check(cls, values: np.ndarray, labels: list[str]) -> None:
        """Raise a ValueError naming the column when values are out of the
        distribution's support. ``values`` is ``(n_samples, n_columns)``;
        ``labels`` names each column for messages ("column 'price'")."""

    @classmethod
    def fit_stats(cls, values: np.ndarray, **options) -> Stats:
        """What the distribution needs from the training values."""
        return {"n_columns": values.shape[1]}

    @classmethod
    def to_model(cls, values: np.ndarray, stats: Stats) -> np.ndarray:
        """Values (float64) into the model's units; identity by default."""
        return values

    @classmethod
    def from_model(cls, u: np.ndarray, stats: Stats) -> np.ndarray:
        """Model units back into values; identity by default."""
        return u

    @classmethod
    def log_jacobian(cls, values: np.ndarray, stats: Stats) -> np.ndarray:
        """log |d to_model(x) / dx| summed over the group's observed columns,
        per row: add it to a log-density in model units to get one in the
        data's units."""
        return np.zeros(values.shape[0])

    # ------------------------------------------------------------- torch side

    @property
    def n_params(self) -> int:
        """Raw decoder outputs the group needs."""
        return self.n_columns

    @property
    def n_inputs(self) -> int:
        """Width of what the encoder sees of the group."""
        return self.n_columns

    def encoder_input(self, u: torch.Tensor) -> torch.Tensor:
        """What the encoder sees of values ``u`` in model units."""
        return u

    def fill(self) -> torch.Tensor:
        """What the encoder sees in place of a missing entry, in model units,
        ``(n_columns,)``: 0 by default, the training mean of a standardized
        column."""
        return torch.zeros(self.n_columns)

    def log_prob(self, u: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """log p(u | raw) per entry, ``(..., n_columns)``."""
        raise NotImplementedError

    def log_prob_sum(self, u: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """log p(u | raw) summed over the group's columns, ``(...,)``: the sum
        of ``log_prob``, bit for bit. A likelihood whose ``log_prob`` ends in
        a negation overrides it to negate the sums instead, one pass over a
        row instead of over every entry, forward and backward."""
        return self.log_prob(u, raw).sum(-1)

    def point(self, raw: torch.Tensor) -> torch.Tensor:
        """The point estimate in model units, ``(..., n_columns)``: the mean
        (the most probable category for categorical columns)."""
        raise NotImplementedError

    def impute(self, raw: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The point estimate under a mixture of K decoder outputs: ``raw`` is
        ``(batch, K, n_params)`` and ``weights`` ``(batch, K)`` sums to 1 over
        K. The weighted mean of the components' means by default."""
        return (weights.unsqueeze(-1) * self.point(raw)).sum(-2)

    @property
    def n_outcomes(self) -> int:
        """Width of ``probabilities``: the outcomes whose predictive
        probabilities the group gives (each categorical column's categories);
        0 for continuous and count columns."""
        return 0

    def probabilities(self, raw: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The probability of each of the ``n_outcomes`` outcomes under the
        mixture of K decoder outputs (``raw`` and ``weights`` as in
        ``impute``): ``(batch, n_outcomes)``."""
        return raw.new_zeros(raw.shape[:-2] + (0,))

    def draw(self, raw: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        """A draw from p(u | raw) in model units, as a float64 array. Noise
        comes from a numpy ``rng`` so that a seed gives the same draws on
        every device."""
        raise NotImplementedError


def observed_entries(values: np.ndarray) -> np.ndarray:
    """Which entries of a column hold a value: not NaN, not None."""
    if values.dtype != object:
        return ~np.isnan(values) if values.dtype.kind == "f" else np.ones(len(values), bool)
    return np.fromiter(
        (v is not None and not (isinstance(v, float) and v != v) for v in values),
        dtype=bool,
        count=len(values),
    )


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()
