"""The torch model and the loss terms, checked against torch.distributions and
closed forms."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from skvae import VAETransformer
from skvae._latent import kl_standard_normal, training_loss
from skvae._likelihoods import LIKELIHOODS
from skvae._likelihoods.gaussian import MIN_VARIANCE
from skvae._model import VAE, ColumnGroup, VAEConfig
from skvae._training import fit_variances


def config(n_features, n_components, hidden, likelihood):
    """A VAEConfig with one group of ``n_features`` columns."""
    values = np.linspace(0.0, 1.0, 10)[:, None].repeat(n_features, axis=1)
    stats = LIKELIHOODS[likelihood].fit_stats(values)
    return VAEConfig(n_components, hidden, (ColumnGroup(likelihood, stats),))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_kl_matches_torch(gen):
    mu, log_var = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * log_var)), Normal(0.0, 1.0))
    torch.testing.assert_close(kl_standard_normal(mu, log_var), expected)


def test_training_loss_is_the_negative_elbo_and_free_bits_floor_each_dimension():
    log_lik = torch.tensor([-10.0, -12.0])
    kl = torch.tensor([[0.1, 3.0], [0.3, 1.0]])  # batch means: 0.2 and 2.0
    assert training_loss(log_lik, kl, 1.0, 0.0).item() == pytest.approx(11.0 + 2.2)
    assert training_loss(log_lik, kl, 0.5, 0.0).item() == pytest.approx(11.0 + 1.1)
    # Free bits of 1 nat lift the first dimension to 1 and leave the second.
    assert training_loss(log_lik, kl, 1.0, 1.0).item() == pytest.approx(11.0 + 3.0)


def test_free_bits_stop_the_gradient_below_the_floor():
    mu = torch.tensor([[0.1, 2.0]], requires_grad=True)
    log_var = torch.zeros(1, 2)
    training_loss(torch.zeros(1), kl_standard_normal(mu, log_var), 1.0, 0.5).backward()
    assert mu.grad[0, 0] == 0.0  # KL 0.005 < 0.5: no pull towards the prior
    assert mu.grad[0, 1] > 0.0


def test_shapes_and_mirrored_decoder():
    model = VAE(config(12, 3, (16, 8), "gaussian"))
    widths = [m.out_features for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert widths == [8, 16]
    mu, log_var = model.encode(torch.zeros(4, 12))
    assert mu.shape == log_var.shape == (4, 3)
    assert model.decode(mu).shape == (4, 12)
    log_lik, kl = model(torch.zeros(4, 12), torch.zeros(4, 3))
    assert log_lik.shape == (4,) and kl.shape == (4, 3)


def test_under_bfloat16_autocast_only_the_layers_run_in_bfloat16(gen):
    # The training step's matmuls may run in bfloat16; the posterior
    # parameters, the KL and the likelihood do not.
    model = VAE(config(6, 2, (8,), "bernoulli"), gen)
    x, eps = torch.rand(4, 6, generator=gen), torch.randn(4, 2, generator=gen)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mu, log_var = model.encode(x)
        log_lik, kl = model(x, eps)
        hidden = model.encoder(x)
    assert hidden.dtype == torch.bfloat16  # autocast is on
    assert mu.dtype == log_var.dtype == log_lik.dtype == kl.dtype == torch.float32


def test_fit_variances_sets_each_gaussian_column_to_its_mean_squared_residual(gen):
    model = VAE(config(3, 2, (4,), "gaussian"), gen)
    with torch.no_grad():  # a decoder whose mean ignores z: residuals are exact
        model.output_head.weight.zero_()
        model.output_head.bias.copy_(torch.tensor([0.0, 1.0, 2.0]))
    x = torch.tensor([[1.0, 1.0, 2.0], [-1.0, 1.0, 2.0], [3.0, math.nan, 2.0]])
    fit_variances(model, [(x, torch.arange(3))], seed=0)
    variance = model.likelihoods[0].log_var().exp()
    # column 0: (1 + 1 + 9) / 3; column 1: its observed rows fit exactly and
    # column 2 too: both end at the floor (1% of the unit variance)
    torch.testing.assert_close(variance, torch.tensor([11.0 / 3.0, 0.01, 0.01]))


def test_fit_variances_searches_where_mass_points_have_no_closed_form(gen):
    # Column 0 is mostly zeros (a mass point), column 1 continuous.
    rng = np.random.default_rng(0)
    values = np.column_stack(
        [np.repeat([0.0, 1.0, 2.0, 5.0], [60, 15, 15, 10]), rng.normal(size=100)]
    )
    stats = LIKELIHOODS["quantile"].fit_stats(values)
    model = VAE(VAEConfig(2, (4,), (ColumnGroup("quantile", stats),)), gen)
    lik = model.likelihoods[0]
    assert lik.has_mass_points
    with torch.no_grad():  # a decoder whose mean ignores z: the draws do not matter
        model.output_head.weight.zero_()
        model.output_head.bias.zero_()
    x = torch.as_tensor(LIKELIHOODS["quantile"].to_model(values, stats), dtype=torch.float32)
    raw = torch.zeros_like(x)

    def total(log_var):
        return lik.log_prob_given_variance(x, raw, log_var).sum(0)

    before = total(lik.log_var())
    fit_variances(model, [(x, torch.arange(len(x)))], seed=0)
    after = lik.log_var()
    assert torch.all(total(after) >= before)
    for step in (-0.1, 0.1):  # the best of its grid: no better one step away
        assert torch.all(total(after) >= total(after + step) - 1e-3)


def test_decoder_variance_has_a_floor():
    model = VAE(config(4, 2, (), "gaussian"))
    gaussian = model.likelihoods[0]
    with torch.no_grad():
        gaussian.raw_variance.fill_(-1e4)
    assert torch.exp(gaussian.log_var()).min().item() == pytest.approx(MIN_VARIANCE)
    fresh = VAE(config(4, 2, (), "gaussian")).likelihoods[0]
    assert torch.exp(fresh.log_var()).allclose(torch.ones(4))


def test_initialization_is_seeded_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = VAE(config(5, 2, (4,), "bernoulli"), torch.Generator().manual_seed(1))
    b = VAE(config(5, 2, (4,), "bernoulli"), torch.Generator().manual_seed(1))
    c = VAE(config(5, 2, (4,), "bernoulli"), torch.Generator().manual_seed(2))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.output_head.weight, b.output_head.weight)
    assert not torch.equal(a.output_head.weight, c.output_head.weight)


def _exact_linear_gaussian_log_density(model, x):
    """log N(x | b, W W^T + D) for a VAE with no hidden layers."""
    W = model.output_head.weight.double().cpu()
    b = model.output_head.bias.double().cpu()
    D = torch.diag(torch.exp(model.likelihoods[0].log_var().double().cpu()))
    dist = torch.distributions.MultivariateNormal(b, W @ W.T + D)
    return dist.log_prob(x).detach()


def test_importance_weighted_bound_converges_to_the_exact_likelihood(gen):
    """A linear Gaussian VAE has a closed-form marginal: the IWAE bound stays
    below it and closes in on it as the number of samples grows."""
    model = VAE(config(6, 2, (), "gaussian"), gen).double()
    x = torch.randn(40, 6, generator=gen, dtype=torch.float64)
    exact = _exact_linear_gaussian_log_density(model, x)

    def bound(k, repeats):  # averaged over independent draws of the shared noise
        with torch.no_grad():
            return np.mean(
                [
                    model.importance_weighted_bound(
                        x, torch.randn(k, 2, generator=gen, dtype=torch.float64)
                    )
                    .mean()
                    .item()
                    for _ in range(repeats)
                ]
            )

    elbo, iwae_30, iwae_3000 = bound(1, 300), bound(30, 30), bound(3000, 1)
    assert elbo < iwae_30 < iwae_3000 <= exact.mean().item() + 0.02
    assert iwae_3000 == pytest.approx(exact.mean().item(), abs=0.05)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_score_samples_is_a_density_of_x_in_original_units(digits):
    """For a fitted linear VAE, score_samples with many importance samples
    matches the exact Gaussian log-density of X in its own units."""
    X = digits[0][:, [20, 21, 27, 28, 35, 36]] * 3.0 + 5.0
    vae = VAETransformer(
        n_components=2,
        hidden_layer_sizes=(),
        likelihood="gaussian",
        max_iter=20,
        learning_rate="constant",
        learning_rate_init=1e-3,
        random_state=0,
    ).fit(X)
    model = vae._inference_module
    x_std = torch.from_numpy((X[:50] - vae.mean_) / vae.scale_)
    exact = _exact_linear_gaussian_log_density(model, x_std) - np.log(vae.scale_).sum()
    got = vae.score_samples(X[:50], n_importance_samples=3000)
    assert np.all(got <= exact.numpy() + 0.1)
    assert got.mean() == pytest.approx(exact.mean().item(), abs=0.1)
    assert math.isfinite(vae.score(X))
