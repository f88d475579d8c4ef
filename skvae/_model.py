"""The VAE as a pure torch module: encode, reparameterize, decode.

No numpy and no scikit-learn here; the estimator owns validation and scaling.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from ._likelihoods import (
    bernoulli_log_likelihood,
    gaussian_log_likelihood,
    kl_standard_normal,
    log_normal,
    log_standard_normal,
)

# The Gaussian encoder sees standardized features squashed smoothly into
# (-INPUT_BOUND, INPUT_BOUND): rare extreme values (a pixel that is almost always
# blank, an outlier) would otherwise dominate the first layer. Values within a
# standard deviation or so pass nearly unchanged; the likelihood still scores x
# itself.
INPUT_BOUND = 3.0

# Smallest variance the Gaussian decoder may learn, in the model's units (where
# the average feature variance is 1). Without a floor a constant or discrete
# feature lets the likelihood grow without bound.
MIN_VARIANCE = 1e-2


@dataclass(frozen=True)
class VAEConfig:
    """Shape of a VAE: enough to rebuild the module from a state dict."""

    n_features: int
    n_components: int
    hidden_layer_sizes: tuple[int, ...]
    likelihood: str  # "gaussian" or "bernoulli"


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers between consecutive sizes, each followed by a ReLU."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [_linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


def _linear(n_in: int, n_out: int) -> nn.Linear:
    """An nn.Linear left uninitialized (VAE.reset_parameters fills it), so that
    building a model never draws from torch's global RNG."""
    return nn.utils.skip_init(nn.Linear, n_in, n_out)


class VAE(nn.Module):
    """Encoder q(z|x) = N(mu(x), diag sigma^2(x)), decoder p(x|z), prior N(0, I).

    The encoder is an MLP with ReLU hidden layers and two linear heads, one for
    mu and one for log sigma^2; the decoder mirrors the encoder's hidden sizes.
    With ``likelihood="gaussian"`` the decoder outputs the mean of x and learns
    one variance per feature (floored at ``MIN_VARIANCE``); with
    ``likelihood="bernoulli"`` it outputs logits.
    """

    def __init__(self, config: VAEConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        hidden = list(config.hidden_layer_sizes)
        encoder_sizes = [config.n_features, *hidden]
        decoder_sizes = [config.n_components, *reversed(hidden)]
        self.encoder = _mlp(encoder_sizes)
        self.mu_head = _linear(encoder_sizes[-1], config.n_components)
        self.log_var_head = _linear(encoder_sizes[-1], config.n_components)
        self.decoder = _mlp(decoder_sizes)
        self.output_head = _linear(decoder_sizes[-1], config.n_features)
        if config.likelihood == "gaussian":
            # softplus(raw) + MIN_VARIANCE starts every feature at variance 1
            start = math.log(math.expm1(1.0 - MIN_VARIANCE))
            self.raw_variance = nn.Parameter(torch.full((config.n_features,), start))
        self.reset_parameters(generator if generator is not None else torch.Generator())

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Draw every weight from ``generator``, leaving torch's global RNG alone.

        Uses PyTorch's default for ``nn.Linear``: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        for weights and biases alike.
        """
        for module in self.modules():
            if isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
                for param in (module.weight, module.bias):
                    noise = torch.rand(param.shape, generator=generator, dtype=param.dtype)
                    param.copy_((2.0 * noise - 1.0) * bound)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, log sigma^2), each (batch, n_components)."""
        if self.config.likelihood == "gaussian":
            x = INPUT_BOUND * torch.tanh(x / INPUT_BOUND)
        h = self.encoder(x)
        return self.mu_head(h), self.log_var_head(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, log_var: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps, with eps ~ N(0, I) drawn by the caller."""
        return mu + torch.exp(0.5 * log_var) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output: the mean of x (Gaussian) or its logits (Bernoulli)."""
        return self.output_head(self.decoder(z))

    def decoder_log_var(self) -> torch.Tensor:
        """log variance per feature of the Gaussian decoder, (n_features,)."""
        return torch.log(nn.functional.softplus(self.raw_variance) + MIN_VARIANCE)

    def mean(self, decoded: torch.Tensor) -> torch.Tensor:
        """E[x | z] from the decoder output."""
        if self.config.likelihood == "bernoulli":
            return torch.sigmoid(decoded)
        return decoded

    def sample_x(self, decoded: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draw x ~ p(x|z) from the decoder output, with noise from a CPU
        ``generator`` (so that a seed gives the same draws on any device)."""
        if self.config.likelihood == "bernoulli":
            u = torch.rand(decoded.shape, generator=generator, dtype=torch.float64)
            return (u.to(decoded.device) < torch.sigmoid(decoded)).to(decoded.dtype)
        eps = torch.randn(decoded.shape, generator=generator, dtype=torch.float64)
        std = torch.exp(0.5 * self.decoder_log_var())
        return decoded + std * eps.to(decoded.device, decoded.dtype)

    def log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per row, summed over features."""
        if self.config.likelihood == "bernoulli":
            return bernoulli_log_likelihood(x, decoded)
        return gaussian_log_likelihood(x, decoded, self.decoder_log_var())

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample ELBO terms: log p(x|z) per row and KL per row and dimension."""
        mu, log_var = self.encode(x)  # (batch, n_components) each
        z = self.reparameterize(mu, log_var, eps)
        return self.log_likelihood(x, self.decode(z)), kl_standard_normal(mu, log_var)

    def importance_weighted_bound(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k = mu + sigma * eps_k, per row.

        ``eps`` is (K, n_components), shared by all rows, so that each row's
        estimate does not depend on the other rows in the batch. K=1 gives a
        one-sample ELBO; the bound tightens towards log p(x) as K grows
        (Burda et al., 2015).
        """
        mu, log_var = self.encode(x)  # (batch, d)
        z = self.reparameterize(mu[:, None, :], log_var[:, None, :], eps[None])  # (batch, K, d)
        decoded = self.decode(z)  # (batch, K, n_features)
        log_w = (
            self.log_likelihood(x[:, None, :], decoded)
            + log_standard_normal(z)
            - log_normal(z, mu[:, None, :], log_var[:, None, :])
        )  # (batch, K)
        return torch.logsumexp(log_w, dim=1) - math.log(eps.shape[0])
