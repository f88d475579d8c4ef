"""The latent side of the ELBO: the KL term, the prior and posterior densities,
and the training objective, as pure functions on tensors.

Every function returns one value per row (or per row and latent dimension), in
nats, so that callers decide how to reduce them. The likelihoods p(x|z) live in
``skvae/_likelihoods/``.
"""

import math

import torch

LOG_2PI = math.log(2.0 * math.pi)


def kl_standard_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(log_var))) || N(0, I)) per latent dimension.

    Returns a tensor shaped like ``mu``: sum it over the last axis for the KL of
    the whole code.
    """
    # 1/2 * (mu^2 + sigma^2 - 1 - log sigma^2), per dimension
    return 0.5 * (mu.square() + torch.exp(log_var) - 1.0 - log_var)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z | 0, I), summed over the last axis."""
    return -0.5 * (LOG_2PI + z.square()).sum(-1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z | mu, diag(exp(log_var))), summed over the last axis."""
    # -1/2 * sum_j [ log(2 pi) + log var_j + (z_j - mu_j)^2 / var_j ]
    squared = (z - mu).square() * torch.exp(-log_var)
    return -0.5 * (LOG_2PI + log_var + squared).sum(-1)


def training_loss(
    log_likelihood: torch.Tensor,
    kl_per_dim: torch.Tensor,
    kl_weight: float,
    free_bits: float,
) -> torch.Tensor:
    """Mean training objective of a batch: -log p(x|z) + kl_weight * KL.

    ``log_likelihood`` is ``(batch,)`` and ``kl_per_dim`` is
    ``(batch, n_components)``. With ``free_bits > 0`` each latent dimension's
    batch-mean KL is clamped from below at ``free_bits`` nats (Kingma et al.,
    2016), so the optimizer gains nothing by pushing a dimension's KL under that
    floor: a guard against posterior collapse. With ``kl_weight=1`` and
    ``free_bits=0`` this is the negative ELBO.
    """
    kl = kl_per_dim.mean(0)  # (n_components,)
    if free_bits > 0.0:
        kl = torch.clamp(kl, min=free_bits)
    return -log_likelihood.mean() + kl_weight * kl.sum()
