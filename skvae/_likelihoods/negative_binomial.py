"""Negative binomial: over-dispersed counts (visits, purchases, prices in cents)."""

import numpy as np
import torch
from torch import nn

from ._base import Stats, as_numpy
from .poisson import Poisson


class NegativeBinomial(Poisson):
    """x ~ NB(mean mu, inverse dispersion theta): variance mu + mu^2 / theta.

    A Poisson whose rate is itself Gamma distributed, as in scvi-tools: the
    decoder emits log mu (relative to the column mean) and the module learns
    one log theta per column, so each column finds its own over-dispersion.
    """

    name = "negbinomial"

    def __init__(self, stats: Stats):
        super().__init__(stats)
        self.log_theta = nn.Parameter(torch.zeros(self.n_columns))

    def theta(self):
        return torch.exp(self.log_theta.clamp(-10.0, 10.0))

    def log_prob(self, u, raw):
        # lgamma(x + theta) - lgamma(theta) - lgamma(x + 1)
        #   + theta log(theta / (theta + mu)) + x log(mu / (theta + mu))
        log_mu = self.log_rate(raw)
        log_theta = self.log_theta.clamp(-10.0, 10.0)
        theta = torch.exp(log_theta)
        log_theta_mu = torch.logaddexp(log_theta, log_mu)
        return (
            torch.lgamma(u + theta)
            - torch.lgamma(theta)
            - torch.lgamma(u + 1.0)
            + theta * (log_theta - log_theta_mu)
            + u * (log_mu - log_theta_mu)
        )

    def draw(self, raw, rng):
        mu = as_numpy(self.point(raw))
        theta = as_numpy(self.theta())
        return rng.poisson(rng.gamma(theta, mu / theta)).astype(np.float64)
