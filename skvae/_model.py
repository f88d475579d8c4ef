"""The VAE as a pure torch module: encode, reparameterize, decode.

No scikit-learn here; the estimator owns validation and the table owns the
mapping between a user's columns and the model's. The model sees one matrix
whose columns come group by group, each group modelled by one likelihood
class (``skvae/_likelihoods/``); its decoder emits one block of raw
parameters per group.

Missing entries are NaN in the model's matrix. The encoder sees a column's
``fill`` value in their place and, when the model was built with
``missing_indicators``, one more input per column saying whether it was
observed; the likelihood sums over the observed entries only.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ._latent import kl_standard_normal, log_normal, log_standard_normal
from ._likelihoods import LIKELIHOODS
from ._optim import Adam


@dataclass(frozen=True)
class ColumnGroup:
    """Consecutive model columns sharing one likelihood."""

    likelihood: str  # a key of LIKELIHOODS
    stats: dict[str, Any]  # what the likelihood learned from the training values

    @property
    def n_columns(self) -> int:
        return int(self.stats["n_columns"])


@dataclass(frozen=True)
class VAEConfig:
    """Shape of a VAE: enough to rebuild the module from a state dict."""

    n_components: int
    hidden_layer_sizes: tuple[int, ...]
    groups: tuple[ColumnGroup, ...]
    # One more encoder input per column: 1 where the entry is observed.
    missing_indicators: bool = False

    @property
    def n_features(self) -> int:
        return sum(g.n_columns for g in self.groups)

    def architecture(self) -> tuple:
        """What a warm start must not change: layer sizes and likelihoods."""
        return (
            self.n_components,
            self.hidden_layer_sizes,
            tuple((g.likelihood, g.n_columns) for g in self.groups),
            self.missing_indicators,
        )


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers between consecutive sizes, each followed by a ReLU."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [_Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


def _split(t: torch.Tensor, sizes: list[int]):
    """``t``'s last axis cut into consecutive blocks of ``sizes``."""
    return [t] if len(sizes) == 1 else torch.split(t, sizes, dim=-1)


def _widened(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 when the layers computed it in a reduced precision
    (bfloat16 weights, or autocast): the network's outputs (posterior
    parameters, the decoder's raw parameters) leave it before the KL, the
    sampling of z and the likelihoods."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


class _Linear(nn.Linear):
    """An nn.Linear whose weights start uninitialized (VAE.reset_parameters
    fills them), so that building a model never draws from torch's global
    RNG. (``nn.utils.skip_init`` does the same through the meta device, at
    the cost of importing torch.distributed on first use.)"""

    def reset_parameters(self) -> None:
        pass


class VAE(nn.Module):
    """Encoder q(z|x) = N(mu(x), diag sigma^2(x)), decoder p(x|z), prior N(0, I).

    The encoder is an MLP with ReLU hidden layers and two linear heads, one for
    mu and one for log sigma^2; the decoder mirrors the encoder's hidden sizes
    and ends in one linear head whose outputs are split into each column
    group's raw parameters. log p(x|z) is the sum over groups.
    """

    def __init__(self, config: VAEConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        likelihoods = [LIKELIHOODS[g.likelihood](g.stats) for g in config.groups]
        hidden = list(config.hidden_layer_sizes)
        n_inputs = sum(lik.n_inputs for lik in likelihoods)
        if config.missing_indicators:
            n_inputs += config.n_features
        encoder_sizes = [n_inputs, *hidden]
        decoder_sizes = [config.n_components, *reversed(hidden)]
        self.encoder = _mlp(encoder_sizes)
        self.mu_head = _Linear(encoder_sizes[-1], config.n_components)
        self.log_var_head = _Linear(encoder_sizes[-1], config.n_components)
        self.decoder = _mlp(decoder_sizes)
        self.output_head = _Linear(decoder_sizes[-1], sum(lik.n_params for lik in likelihoods))
        self.likelihoods = nn.ModuleList(likelihoods)
        self._column_sizes = [lik.n_columns for lik in likelihoods]
        self._param_sizes = [lik.n_params for lik in likelihoods]
        fill = torch.cat([lik.fill().float() for lik in likelihoods])
        self.register_buffer("fill", fill, persistent=False)
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

    @torch.no_grad()
    def permute_latents(self, order: torch.Tensor, optimizer: Adam | None = None) -> None:
        """Reorder the latent dimensions in place: dimension ``order[i]``
        becomes dimension i. The model computes the same function, and an
        ``optimizer``'s per-weight state (Adam's moments) follows the weights."""
        first = next(m for m in [*self.decoder, self.output_head] if isinstance(m, nn.Linear))
        moves = [(head.weight, 0) for head in (self.mu_head, self.log_var_head)]
        moves += [(head.bias, 0) for head in (self.mu_head, self.log_var_head)]
        moves.append((first.weight, 1))
        for param, dim in moves:
            tensors = [param]
            if optimizer is not None:
                state = optimizer.state.get(param, {})
                tensors += [v for v in state.values() if v.shape == param.shape]
            for t in tensors:
                t.copy_(t.index_select(dim, order))

    def _groups(self, x: torch.Tensor | None = None, raw: torch.Tensor | None = None):
        """(likelihood, its columns of x, its raw parameters) for each group."""
        n = len(self.likelihoods)
        xs = [None] * n if x is None else _split(x, self._column_sizes)
        raws = [None] * n if raw is None else _split(raw, self._param_sizes)
        return zip(self.likelihoods, xs, raws, strict=True)

    def observed(self, x: torch.Tensor) -> torch.Tensor | None:
        """Which entries of x are observed (not NaN); None when x is known to
        be complete, so that a model fitted without gaps trains without the
        masking. Outside training the check costs one host sync per batch."""
        if self.config.missing_indicators:
            return ~torch.isnan(x)
        if self.training or not torch.isnan(x.sum()):  # a sum, cheaper than a mask
            return None
        return ~torch.isnan(x)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, log sigma^2), each (batch, n_components),
        in float32 or wider (also under autocast)."""
        return self._encode(x, self.observed(x))

    def _encode(self, x, seen):
        """``encode`` given what the encoder may see (None: all of x)."""
        if seen is not None:
            x = torch.where(seen, x, self.fill.to(x.dtype))
        parts = [lik.encoder_input(xg) for lik, xg, _ in self._groups(x)]
        if self.config.missing_indicators:
            parts.append(torch.ones_like(x) if seen is None else seen.to(x.dtype))
        h = self.encoder(self._layer_input(parts[0] if len(parts) == 1 else torch.cat(parts, -1)))
        return _widened(self.mu_head(h)), _widened(self.log_var_head(h))

    def _layer_input(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` in the layers' dtype: bfloat16 while training holds bfloat16
        copies of the weights (``skvae._training.BFloat16Weights``), else as is."""
        dtype = self.output_head.weight.dtype
        return t if t.dtype == dtype or dtype != torch.bfloat16 else t.to(dtype)

    @staticmethod
    def reparameterize(mu: torch.Tensor, log_var: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps, with eps ~ N(0, I) drawn by the caller."""
        return mu + torch.exp(0.5 * log_var) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's raw parameters, all groups side by side, in float32 or
        wider (so that likelihoods never run in a reduced precision)."""
        return _widened(self.output_head(self.decoder(self._layer_input(z))))

    def log_prob(
        self, x: torch.Tensor, raw: torch.Tensor, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(x|z) per entry, (..., n_features); 0 where ``observed`` is
        False (None: every entry is observed)."""
        if observed is not None:
            x = torch.where(observed, x, self.fill.to(x.dtype))
        parts = [lik.log_prob(xg, rg) for lik, xg, rg in self._groups(x, raw)]
        log_p = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return log_p if observed is None else torch.where(observed, log_p, 0.0)

    def log_likelihood(
        self, x: torch.Tensor, raw: torch.Tensor, observed: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(x|z) per row, summed over the observed columns."""
        if observed is None and len(self.likelihoods) == 1:
            # the same sums, with the fewest passes over the entries
            return self.likelihoods[0].log_prob_sum(x, raw)
        return self.log_prob(x, raw, observed).sum(-1)

    def point(self, raw: torch.Tensor) -> torch.Tensor:
        """Point estimates of x given z (means; modes for categories)."""
        parts = [lik.point(rg) for lik, _, rg in self._groups(None, raw)]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def draw(self, raw: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        """x ~ p(x|z) in model units, a float64 array; noise from numpy's ``rng``."""
        return np.concatenate([lik.draw(rg, rng) for lik, _, rg in self._groups(None, raw)], -1)

    def forward(
        self, x: torch.Tensor, eps: torch.Tensor, hide: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One-sample ELBO terms: log p(x|z) per row and KL per row and dimension.

        ``hide`` (boolean, like x) keeps entries from the encoder while the
        likelihood still scores them: the model learns to fill gaps.
        """
        observed = self.observed(x)
        seen = observed if hide is None or observed is None else observed & ~hide
        mu, log_var = self._encode(x, seen)  # (batch, n_components) each
        z = self.reparameterize(mu, log_var, eps)
        log_lik = self.log_likelihood(x, self.decode(z), observed)
        return log_lik, kl_standard_normal(mu, log_var)

    def importance_weighted_bound(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k = mu + sigma * eps_k, per row.

        ``eps`` is (K, n_components), shared by all rows, so that each row's
        estimate does not depend on the other rows in the batch. K=1 gives a
        one-sample ELBO; the bound tightens towards log p(x) as K grows
        (Burda et al., 2015).
        """
        log_w, _ = self._importance_weights(x, eps, self.observed(x))
        return torch.logsumexp(log_w, dim=1) - math.log(eps.shape[0])

    def _importance_weights(self, x, eps, observed):
        """log p(x_obs, z_k) / q(z_k | x_obs) per row and draw, (batch, K), and
        the decoder outputs of the draws, (batch, K, n_params)."""
        mu, log_var = self._encode(x, observed)  # (batch, d)
        z = self.reparameterize(mu[:, None, :], log_var[:, None, :], eps[None])  # (batch, K, d)
        decoded = self.decode(z)  # (batch, K, n_params)
        log_w = (
            self.log_likelihood(
                x[:, None, :], decoded, None if observed is None else observed[:, None, :]
            )
            + log_standard_normal(z)
            - log_normal(z, mu[:, None, :], log_var[:, None, :])
        )  # (batch, K)
        return log_w, decoded

    def impute(
        self,
        x: torch.Tensor,
        eps: torch.Tensor,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """x with its missing entries filled, observed ones kept, a float64 array.

        The K draws z_k = mu + sigma * eps_k from q(z|x_obs) are weighted by
        w_k proportional to p(x_obs, z_k) / q(z_k|x_obs), self-normalized
        importance sampling of p(z|x_obs) (Mattei and Frellsen, 2019). Without
        ``rng`` each gap gets its likelihood's point estimate under the mixture
        sum_k w_k p(x|z_k) (means; the most probable category); with ``rng``
        a draw: z_k picked with probability w_k, then x ~ p(x|z_k).
        """
        observed = ~torch.isnan(x)
        log_w, decoded = self._importance_weights(x, eps, observed)
        weights = _normalized(log_w, decoded.dtype)
        if rng is None:
            filled = self._point_estimates(weights, decoded)
        else:
            cdf = np.cumsum(weights.cpu().double().numpy(), axis=1)
            u = rng.random((len(cdf), 1)) * cdf[:, -1:]
            pick = torch.as_tensor(np.minimum((cdf < u).sum(1), len(eps) - 1))
            rows = torch.arange(len(pick))
            filled = self.draw(decoded[rows, pick.to(decoded.device)], rng)
        return np.where(observed.cpu().numpy(), x.cpu().double().numpy(), filled)

    def _point_estimates(self, weights, decoded) -> np.ndarray:
        """Each group's point estimate under the mixture of the K decoder
        outputs weighted by ``weights``, a float64 array."""
        parts = [lik.impute(rg, weights) for lik, _, rg in self._groups(None, decoded)]
        return (torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]).cpu().double().numpy()

    @property
    def n_outcomes(self) -> int:
        """Width of ``predictive``'s probabilities: every categorical column's
        categories."""
        return sum(lik.n_outcomes for lik in self.likelihoods)

    def predictive(self, x: torch.Tensor, eps: torch.Tensor) -> np.ndarray:
        """How the model fills x's gaps, for VAEImputer's shrinkage: a float64
        array ``(batch, n_features + n_outcomes)``, the point estimate of every
        entry (as ``impute``'s, observed entries included), then the
        predictive probabilities of each categorical column's categories
        under the same importance-weighted mixture, the columns side by side
        in the model's order.
        """
        log_w, decoded = self._importance_weights(x, eps, ~torch.isnan(x))
        weights = _normalized(log_w, decoded.dtype)
        estimates = self._point_estimates(weights, decoded)
        groups = self._groups(None, decoded)
        probs = torch.cat([lik.probabilities(rg, weights) for lik, _, rg in groups], dim=-1)
        return np.concatenate([estimates, probs.cpu().double().numpy()], axis=1)


def _normalized(log_w: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Self-normalized importance weights softmax(log_w) over the K draws,
    computed in float64, in ``dtype``."""
    return torch.softmax(log_w.double(), dim=1).to(dtype)
