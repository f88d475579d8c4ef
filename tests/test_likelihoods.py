"""Each likelihood class against torch.distributions or scipy.stats, and its
host-side round trip."""

import numpy as np
import pytest
import torch
from scipy import stats as st
from torch import distributions as D

from skvae._likelihoods import LIKELIHOODS
from skvae._likelihoods.gaussian import MIN_VARIANCE


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def build(name, values, **options):
    cls = LIKELIHOODS[name]
    dtype = object if name == "categorical" else float
    stats = cls.fit_stats(np.asarray(values, dtype=dtype), **options)
    return cls, stats, cls(stats).double().requires_grad_(False)


def test_gaussian_matches_normal(gen):
    cls, stats, lik = build("gaussian", np.random.RandomState(0).normal(5, 3, (50, 3)))
    with torch.no_grad():
        lik.raw_variance.copy_(torch.randn(3, generator=gen))
    u = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    raw = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    var = torch.nn.functional.softplus(lik.raw_variance) + MIN_VARIANCE
    expected = D.Normal(raw, var.sqrt()).log_prob(u)
    torch.testing.assert_close(lik.log_prob(u, raw), expected)
    torch.testing.assert_close(lik.point(raw), raw)


def test_gaussian_log_density_in_data_units():
    values = np.random.RandomState(0).normal(5, 3, (50, 2))
    cls, stats, lik = build("gaussian", values, scaling="feature")
    raw = torch.zeros(50, 2, dtype=torch.float64)
    u = torch.from_numpy(cls.to_model(values, stats))
    got = lik.log_prob(u, raw).sum(-1).numpy() + cls.log_jacobian(values, stats)
    sd = np.sqrt(torch.exp(lik.log_var()).numpy()) * np.asarray(stats["scale"])
    expected = st.norm(np.asarray(stats["mean"]), sd).logpdf(values).sum(-1)
    np.testing.assert_allclose(got, expected)


def test_lognormal_is_a_density_of_x_itself():
    values = np.random.RandomState(0).lognormal(2.0, 0.7, (60, 2))
    cls, stats, lik = build("lognormal", values)
    raw = torch.full((60, 2), 0.3, dtype=torch.float64)
    u = torch.from_numpy(cls.to_model(values, stats))
    got = lik.log_prob(u, raw).sum(-1).numpy() + cls.log_jacobian(values, stats)
    m, s = np.asarray(stats["mean"]), np.asarray(stats["scale"])
    sigma = np.sqrt(torch.exp(lik.log_var()).numpy()) * s
    expected = st.lognorm(s=sigma, scale=np.exp(m + 0.3 * s)).logpdf(values).sum(-1)
    np.testing.assert_allclose(got, expected)
    # The point estimate is the mean of the log-normal, in data units.
    point = cls.from_model(lik.point(raw).numpy(), stats)
    np.testing.assert_allclose(point[0], np.exp(m + 0.3 * s + sigma**2 / 2))


def test_bernoulli_matches_torch(gen):
    cls, stats, lik = build("bernoulli", np.eye(2)[[0, 1, 1]])
    logits = 3 * torch.randn(5, 2, generator=gen, dtype=torch.float64)
    x = (torch.rand(5, 2, generator=gen) < 0.5).double()
    torch.testing.assert_close(lik.log_prob(x, logits), D.Bernoulli(logits=logits).log_prob(x))


def test_categorical_matches_torch(gen):
    values = np.array([["a", "x"], ["b", "y"], ["c", "x"], ["a", "x"]], dtype=object)
    cls, stats, lik = build("categorical", values)
    assert stats["categories"] == [["a", "b", "c"], ["x", "y"]]
    raw = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    u = torch.from_numpy(cls.to_model(values, stats))
    prior = torch.log(torch.tensor([0.5, 0.25, 0.25, 0.75, 0.25], dtype=torch.float64))
    logits = raw + prior
    expected = torch.stack(
        [
            D.Categorical(logits=logits[:, :3]).log_prob(u[:, 0].long()),
            D.Categorical(logits=logits[:, 3:]).log_prob(u[:, 1].long()),
        ],
        dim=-1,
    )
    torch.testing.assert_close(lik.log_prob(u, raw), expected)
    # All columns' softmaxes are computed at once: columns whose logits sit
    # far apart stay exact, gradients are torch's, and K decoder outputs per
    # row broadcast against one row of values.
    shifted = (
        raw + torch.tensor([500.0] * 3 + [-500.0] * 2, dtype=torch.float64)
    ).requires_grad_()
    torch.testing.assert_close(lik.log_prob(u, shifted), expected)
    lik.log_prob(u, shifted).sum().backward()
    reference = (
        raw + torch.tensor([500.0] * 3 + [-500.0] * 2, dtype=torch.float64)
    ).requires_grad_()
    expected_sum = sum(
        D.Categorical(logits=block + p).log_prob(u[:, j].long()).sum()
        for j, (block, p) in enumerate(
            zip(reference.split([3, 2], -1), prior.split([3, 2]), strict=True)
        )
    )
    expected_sum.backward()
    torch.testing.assert_close(shifted.grad, reference.grad)
    draws = torch.randn(4, 6, 5, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        lik.log_prob(u[:, None, :], draws)[:, 2], lik.log_prob(u, draws[:, 2])
    )
    # Round trip, one-hot encoder input, and unseen categories as all zeros.
    np.testing.assert_array_equal(cls.from_model(u.numpy(), stats), values)
    unseen = torch.from_numpy(cls.to_model(np.array([["z", "y"]], dtype=object), stats))
    assert unseen[0, 0] == -1
    assert lik.encoder_input(unseen).tolist() == [[0, 0, 0, 0, 1]]


def test_poisson_matches_torch(gen):
    counts = np.random.RandomState(0).poisson(3.0, (40, 2))
    cls, stats, lik = build("poisson", counts)
    raw = 0.5 * torch.randn(40, 2, generator=gen, dtype=torch.float64)
    u = torch.from_numpy(counts.astype(float))
    rate = torch.exp(raw + torch.tensor(stats["log_mean"], dtype=torch.float64))
    torch.testing.assert_close(lik.log_prob(u, raw), D.Poisson(rate).log_prob(u))
    torch.testing.assert_close(lik.point(raw), rate)


def test_negative_binomial_matches_torch(gen):
    counts = np.random.RandomState(0).negative_binomial(2, 0.3, (40, 2))
    cls, stats, lik = build("negbinomial", counts)
    with torch.no_grad():
        lik.log_theta.copy_(torch.tensor([0.7, -1.2]))
    raw = 0.5 * torch.randn(40, 2, generator=gen, dtype=torch.float64)
    u = torch.from_numpy(counts.astype(float))
    mu = torch.exp(raw + torch.tensor(stats["log_mean"], dtype=torch.float64))
    theta = torch.exp(lik.log_theta)
    # torch's NegativeBinomial counts successes with probability sigmoid(logits):
    # mean = total_count * exp(logits), so logits = log(mu / theta).
    expected = D.NegativeBinomial(total_count=theta, logits=torch.log(mu / theta)).log_prob(u)
    torch.testing.assert_close(lik.log_prob(u, raw), expected)


@pytest.mark.parametrize("name", ["poisson", "negbinomial"])
def test_count_draws_are_integers_with_the_model_mean(name):
    counts = np.random.RandomState(0).poisson(4.0, (30, 1))
    cls, stats, lik = build(name, counts)
    raw = torch.zeros(20000, 1, dtype=torch.float64)
    draws = lik.draw(raw, np.random.default_rng(0))
    assert np.all(draws >= 0) and np.all(draws == np.round(draws))
    assert draws.mean() == pytest.approx(lik.point(raw)[0, 0].item(), rel=0.05)


@pytest.mark.parametrize(
    "name, values, word",
    [
        ("bernoulli", [[0.0], [2.0]], r"needs values in \[0, 1\]"),
        ("poisson", [[1.0], [-1.0]], "not non-negative integers"),
        ("negbinomial", [[1.5], [2.0]], "not non-negative integers"),
        ("lognormal", [[1.0], [0.0]], "values <= 0"),
    ],
)
def test_support_is_checked_and_the_column_named(name, values, word):
    with pytest.raises(ValueError, match=word + ".*|.*" + word) as info:
        LIKELIHOODS[name].check(np.asarray(values), ["column 'kids'"])
    assert "'kids'" in str(info.value)


def _crafted_columns(n=2000, seed=0):
    rng = np.random.RandomState(seed)
    return np.column_stack(
        [
            rng.lognormal(3, 1, n),  # skewed
            np.where(rng.rand(n) < 0.4, 0.0, rng.gamma(2, 50, n)),  # zero-inflated
            np.where(rng.rand(n) < 0.5, -5, 5) + rng.normal(0, 1, n),  # bimodal
            np.full(n, 7.0),  # constant
            rng.poisson(3, n),  # integer
            rng.beta(0.5, 0.5, n),  # bounded
        ]
    )


def test_quantile_round_trips_training_values_into_normal_scores():
    values = _crafted_columns()
    cls, stats, lik = build("quantile", values)
    u = cls.to_model(values, stats)
    np.testing.assert_allclose(cls.from_model(u, stats), values, rtol=1e-12, atol=1e-12)
    # continuous columns read as standard normal scores
    np.testing.assert_allclose(u[:, [0, 2, 5]].mean(0), 0, atol=0.02)
    np.testing.assert_allclose(u[:, [0, 2, 5]].std(0), 1, atol=0.02)
    # a mass point maps to one score: the zeros, and each count
    assert len(np.unique(u[values[:, 1] == 0, 1])) == 1
    assert len(np.unique(u[:, 4])) == len(np.unique(values[:, 4]))
    # missing entries stay missing
    gaps = values[:3].copy()
    gaps[0, 0] = np.nan
    assert np.isnan(cls.to_model(gaps, stats)[0, 0])


def test_quantile_draws_reproduce_each_column_within_its_range():
    values = _crafted_columns()
    cls, stats, lik = build("quantile", values)
    with torch.no_grad():  # N(0, 1) in model units: the training distribution
        lik.raw_variance.copy_(torch.full((6,), np.log(np.expm1(1 - MIN_VARIANCE))))
    raw = torch.zeros(20000, 6, dtype=torch.float64)
    draws = cls.from_model(lik.draw(raw, np.random.default_rng(0)), stats)
    assert (draws.min(0) >= values.min(0)).all() and (draws.max(0) <= values.max(0)).all()
    assert (draws[:, 1] == 0).mean() == pytest.approx(0.4, abs=0.02)
    assert (np.abs(draws[:, 2]) > 2.5).mean() > 0.97  # two modes, nothing between
    assert (draws[:, 2] > 0).mean() == pytest.approx(0.5, abs=0.02)
    np.testing.assert_array_equal(draws[:, 3], 7.0)
    for j in range(6):
        assert st.ks_2samp(draws[:, j], values[:, j]).statistic < 0.03


def test_quantile_statistics_hold_each_distinct_quantile_once():
    values = _crafted_columns()
    cls, stats, _ = build("quantile", values)
    knots = [sum(r) for r in stats["repeats"]]
    assert knots == [1000] * 6  # 2,000 rows: MAX_KNOTS quantiles per column
    assert len(stats["quantiles"][3]) == 1  # the constant column: one value, 1,000 knots
    assert len(stats["quantiles"][4]) < 20  # the Poisson counts
    # statistics that list every knot (pickles from before) read the same
    older = dict(stats)
    repeats = older.pop("repeats")
    older["quantiles"] = [
        np.repeat(q, r).tolist() for q, r in zip(stats["quantiles"], repeats, strict=True)
    ]
    np.testing.assert_array_equal(cls.to_model(values, older), cls.to_model(values, stats))
    u = np.linspace(-3, 3, 13)[:, None].repeat(6, axis=1)
    np.testing.assert_array_equal(cls.from_model(u, older), cls.from_model(u, stats))
    torch.testing.assert_close(
        cls(older).double().point(torch.as_tensor(u)),
        cls(stats).double().point(torch.as_tensor(u)),
        rtol=0,
        atol=0,
    )


def test_quantile_point_is_the_mean_in_data_units():
    values = _crafted_columns()[:, [0, 1]]
    cls, stats, lik = build("quantile", values)
    raw = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    point = cls.from_model(lik.point(raw).numpy(), stats)[0]
    draws = cls.from_model(lik.draw(raw.expand(200000, 2), np.random.default_rng(0)), stats)
    np.testing.assert_allclose(point, draws.mean(0), rtol=0.02)
    # a mixture's mean: the weighted means of its components
    mix = torch.tensor([[[0.3, -0.2], [-1.0, 1.0]]], dtype=torch.float64)
    weights = torch.tensor([[0.25, 0.75]], dtype=torch.float64)
    means = cls.from_model(lik.point(mix[0]).numpy(), stats)
    got = cls.from_model(lik.impute(mix, weights).numpy(), stats)[0]
    np.testing.assert_allclose(got, 0.25 * means[0] + 0.75 * means[1], rtol=1e-6)


def test_quantile_point_tables_follow_the_variance():
    values = _crafted_columns()[:, [0, 1]]
    _, stats, lik = build("quantile", values)
    raw = torch.linspace(-4.0, 4.0, 41, dtype=torch.float64)[:, None].expand(41, 2)
    before = lik.point(raw)
    wider = torch.tensor([0.5, 2.0], dtype=torch.float64)
    lik.set_variance(wider)  # the tables cached for the old variances no longer hold
    _, _, fresh = build("quantile", values)
    fresh.set_variance(wider)
    torch.testing.assert_close(lik.point(raw), fresh.point(raw), rtol=0, atol=0)
    assert not torch.equal(lik.point(raw), before)


def test_quantile_log_jacobian_is_the_slope_of_the_transform():
    values = np.random.RandomState(0).gamma(2.0, 3.0, (500, 1))
    cls, stats, _ = build("quantile", values)
    x = np.linspace(1.0, 10.0, 7)[:, None] + 1e-3  # inside the range, off the knots
    h = 1e-7
    slope = (cls.to_model(x + h, stats) - cls.to_model(x - h, stats)) / (2 * h)
    np.testing.assert_allclose(cls.log_jacobian(x, stats), np.log(slope[:, 0]), rtol=1e-5)
    # beyond the training range: finite, the end segments extended
    outside = np.array([[values.min() - 1.0], [values.max() + 1.0]])
    assert np.isfinite(cls.to_model(outside, stats)).all()
    assert np.isfinite(cls.log_jacobian(outside, stats)).all()


def test_quantile_mass_points_score_as_probabilities():
    counts = np.random.RandomState(0).poisson(3.0, (5000, 1)).astype(float)
    cls, stats, lik = build("quantile", counts)
    with torch.no_grad():
        lik.raw_variance.copy_(torch.full((1,), np.log(np.expm1(1 - MIN_VARIANCE))))
    support = np.unique(counts)[:, None]
    u = torch.from_numpy(cls.to_model(support, stats))
    log_p = lik.log_prob(u, torch.zeros_like(u))[:, 0].numpy() + cls.log_jacobian(support, stats)
    # under the training distribution, the scores are the value frequencies
    freq = (counts == support.T).mean(0)
    common = freq > 0.01  # rarer values hold fewer knots than their share
    np.testing.assert_allclose(np.exp(log_p)[common], freq[common], rtol=0.05)
