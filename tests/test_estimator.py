"""Behaviour of VAETransformer's public methods and attributes."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skvae import VAETransformer

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_fit_sets_fitted_attributes(fitted, digits):
    X, _ = digits
    assert fitted.n_features_in_ == 64
    assert fitted.n_iter_ == len(fitted.loss_curve_) >= 1
    assert len(fitted.validation_scores_) == fitted.n_iter_
    assert fitted.best_validation_score_ == max(fitted.validation_scores_)
    assert fitted.kl_per_component_.shape == (4,)
    assert np.all(fitted.kl_per_component_ >= 0)
    np.testing.assert_allclose(fitted.mean_, X.mean(axis=0))
    # scaling="global": one scale, the root mean feature variance.
    np.testing.assert_allclose(fitted.scale_, np.sqrt(X.var(axis=0).mean()))
    assert fitted.module_.training is False


def test_transform_shape_and_determinism(fitted, digits):
    X, _ = digits
    Z = fitted.transform(X)
    assert Z.shape == (len(X), 4)
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z, fitted.transform(X))


def test_transform_independent_of_batching(fitted, digits, monkeypatch):
    X, _ = digits
    Z = fitted.transform(X)
    # Bit for bit: alone, in batches of every size up to 40, from any offset.
    rows = np.vstack([fitted.transform(X[i : i + 1]) for i in range(50)])
    np.testing.assert_array_equal(rows, Z[:50])
    for size in range(2, 41):
        np.testing.assert_array_equal(fitted.transform(X[size : 2 * size]), Z[size : 2 * size])
    order = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(fitted.transform(X[order]), Z[order])
    # The internal batch size changes nothing either.
    monkeypatch.setattr("skvae._estimator.EVAL_BATCH_SIZE", 7)
    np.testing.assert_array_equal(fitted.transform(X), Z)


def test_fit_transform_equals_fit_then_transform(digits):
    X, _ = digits
    Z1 = VAETransformer(n_components=3, **FAST).fit_transform(X)
    Z2 = VAETransformer(n_components=3, **FAST).fit(X).transform(X)
    np.testing.assert_array_equal(Z1, Z2)


def test_inverse_transform_returns_original_units(fitted, digits):
    X, _ = digits
    X_hat = fitted.inverse_transform(fitted.transform(X))
    assert X_hat.shape == X.shape
    # Reconstructions live in pixel units (0..16), not standardized units.
    assert 0 <= X_hat.mean() <= 16
    assert np.abs(X_hat.mean(axis=0) - X.mean(axis=0)).max() < 3.0
    # Better than predicting the mean image.
    assert np.mean((X_hat - X) ** 2) < np.mean((X - X.mean(axis=0)) ** 2)


def test_inverse_transform_wrong_width(fitted):
    with pytest.raises(ValueError, match="Z has 3 columns.*n_components=4"):
        fitted.inverse_transform(np.zeros((2, 3)))


def test_sample_shape_units_and_seed(fitted):
    a = fitted.sample(5, random_state=1)
    assert a.shape == (5, 64)
    np.testing.assert_array_equal(a, fitted.sample(5, random_state=1))
    assert not np.array_equal(a, fitted.sample(5, random_state=2))
    noisy = fitted.sample(5, random_state=1, noise=True)
    assert noisy.shape == (5, 64) and not np.array_equal(a, noisy)


@pytest.mark.parametrize("n", [0, -3, 2.5, "3"])
def test_sample_rejects_bad_counts(fitted, n):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(n)


def test_bernoulli_sample_and_inverse_in_unit_interval(digits_unit):
    X, _ = digits_unit
    vae = VAETransformer(n_components=3, likelihood="bernoulli", **FAST).fit(X)
    assert np.all(vae.mean_ == 0) and np.all(vae.scale_ == 1)
    X_hat = vae.inverse_transform(vae.transform(X))
    assert X_hat.min() >= 0 and X_hat.max() <= 1
    draws = vae.sample(10, random_state=0, noise=True)
    assert set(np.unique(draws)) <= {0.0, 1.0}


def test_score_samples_is_a_lower_bound_that_tightens(fitted, digits):
    X, _ = digits
    elbo = fitted.score_samples(X[:200], n_importance_samples=1)
    iwae = fitted.score_samples(X[:200], n_importance_samples=200)
    assert elbo.shape == (200,)
    # The importance-weighted bound is tighter on average (Burda et al.).
    assert iwae.mean() > elbo.mean()
    np.testing.assert_array_equal(iwae, fitted.score_samples(X[:200], n_importance_samples=200))
    assert fitted.score(X[:200]) == pytest.approx(fitted.score_samples(X[:200]).mean())


@pytest.mark.parametrize("scaling", ["global", "feature"])
def test_score_samples_accounts_for_scaling(digits, scaling):
    """Scaling X by c shifts log-densities by exactly -log(c) per scaled
    feature: the model sees the same data in its own units."""
    X, _ = digits
    # With per-feature scaling the constant pixels keep scale 1 (and stay 0).
    n_scaled = 64 if scaling == "global" else np.count_nonzero(X.std(axis=0))
    a = VAETransformer(n_components=2, scaling=scaling, **FAST).fit(X)
    b = VAETransformer(n_components=2, scaling=scaling, **FAST).fit(X * 10.0)
    shift = a.score_samples(X[:20]) - b.score_samples(X[:20] * 10.0)
    np.testing.assert_allclose(shift, n_scaled * np.log(10.0), rtol=1e-4)


def test_feature_scaling_standardizes_each_feature(digits):
    X, _ = digits
    vae = VAETransformer(n_components=2, scaling="feature", **FAST).fit(X)
    varying = X.std(axis=0) > 0
    np.testing.assert_allclose(vae.scale_[varying], X.std(axis=0)[varying])
    # Constant pixels are left unscaled rather than divided by zero.
    assert np.all(vae.scale_[~varying] == 1.0)
    assert np.isfinite(vae.score(X))


def test_constant_data_gives_a_finite_model():
    X = np.full((30, 4), 7.0)
    for scaling in ("global", "feature"):
        vae = VAETransformer(n_components=2, scaling=scaling, **FAST).fit(X)
        assert np.all(vae.scale_ == 1.0)
        assert np.isfinite(vae.score_samples(X)).all()
        np.testing.assert_allclose(vae.inverse_transform(vae.transform(X)), X, atol=0.5)


def test_score_selects_n_components_without_labels(digits):
    X, _ = digits
    search = GridSearchCV(VAETransformer(**FAST), {"n_components": [1, 4]}, cv=2)
    search.fit(X)
    assert search.best_params_["n_components"] in (1, 4)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_pipeline_and_grid_search_over_latent_size(digits):
    X, y = digits
    pipe = Pipeline([("vae", VAETransformer(**FAST)), ("clf", LogisticRegression(max_iter=200))])
    search = GridSearchCV(pipe, {"vae__n_components": [2, 4]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.5


def test_feature_names_out(fitted):
    names = fitted.get_feature_names_out()
    assert list(names) == [f"vaetransformer{i}" for i in range(4)]


def test_pandas_output(digits):
    pd = pytest.importorskip("pandas")
    X, _ = digits
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    vae = VAETransformer(n_components=3, **FAST).set_output(transform="pandas")
    Z = vae.fit_transform(frame)
    assert isinstance(Z, pd.DataFrame)
    assert list(Z.columns) == ["vaetransformer0", "vaetransformer1", "vaetransformer2"]
    assert list(vae.feature_names_in_) == list(frame.columns)
    np.testing.assert_allclose(Z.to_numpy(), vae.transform(frame).to_numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(digits, dtype):
    X = digits[0].astype(dtype)
    vae = VAETransformer(n_components=2, **FAST).fit(X)
    Z = vae.transform(X)
    assert Z.dtype == dtype
    assert vae.inverse_transform(Z).dtype == dtype
    assert vae.score_samples(X[:5]).dtype == dtype
    assert vae.sample(2).dtype == dtype


def test_integer_input_is_accepted(digits):
    X = digits[0].astype(np.int64)
    Z = VAETransformer(n_components=2, **FAST).fit_transform(X)
    assert Z.dtype == np.float64


def test_same_seed_same_model_different_seed_different_model(digits):
    X, _ = digits
    a = VAETransformer(n_components=2, **{**FAST, "random_state": 3})
    b = clone(a)
    c = clone(a).set_params(random_state=4)
    Za, Zb, Zc = (est.fit(X).transform(X) for est in (a, b, c))
    np.testing.assert_array_equal(Za, Zb)
    assert a.loss_curve_ == b.loss_curve_
    assert not np.allclose(Za, Zc)


def test_random_state_instance_is_accepted(digits):
    X, _ = digits
    Z1 = VAETransformer(**{**FAST, "random_state": np.random.RandomState(7)}).fit_transform(X)
    Z2 = VAETransformer(**{**FAST, "random_state": np.random.RandomState(7)}).fit_transform(X)
    np.testing.assert_array_equal(Z1, Z2)


@pytest.mark.parametrize("dump_load", ["pickle", "joblib"])
def test_persistence_round_trip(fitted, digits, tmp_path, dump_load):
    X, _ = digits
    if dump_load == "pickle":
        loaded = pickle.loads(pickle.dumps(fitted))
    else:
        joblib.dump(fitted, tmp_path / "vae.joblib")
        loaded = joblib.load(tmp_path / "vae.joblib")
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X[:50]), fitted.score_samples(X[:50]))
    np.testing.assert_array_equal(
        loaded.sample(3, random_state=0), fitted.sample(3, random_state=0)
    )
    np.testing.assert_array_equal(
        loaded.inverse_transform(np.ones((2, 4))), fitted.inverse_transform(np.ones((2, 4)))
    )


def test_warm_start_continues_training(digits):
    X, _ = digits
    vae = VAETransformer(n_components=2, warm_start=True, **FAST).fit(X)
    first = vae.module_.output_head.weight.detach().clone()
    vae.fit(X)
    assert vae.module_.output_head.weight.shape == first.shape
    assert vae.n_iter_ >= 1
    # Continued, not restarted: a fresh fit would start from the initial loss.
    fresh = VAETransformer(n_components=2, **FAST).fit(X)
    assert vae.loss_curve_[0] < fresh.loss_curve_[0]


def test_warm_start_refuses_a_new_architecture(digits):
    X, _ = digits
    vae = VAETransformer(n_components=2, warm_start=True, **FAST).fit(X)
    vae.set_params(n_components=3)
    with pytest.raises(ValueError, match="warm_start=True.*Set warm_start=False"):
        vae.fit(X)


def test_linear_vae_without_hidden_layers(digits):
    X, _ = digits
    vae = VAETransformer(n_components=2, **{**FAST, "hidden_layer_sizes": ()}).fit(X)
    assert vae.transform(X).shape == (len(X), 2)


def test_convergence_warning_when_max_iter_ends_the_fit(digits):
    X, _ = digits
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        VAETransformer(**{**FAST, "max_iter": 2}).fit(X)


def test_one_line_swap_for_pca(digits):
    X, y = digits
    for reducer in (PCA(n_components=4), VAETransformer(n_components=4, **FAST)):
        pipe = Pipeline([("red", reducer), ("clf", LogisticRegression(max_iter=300))])
        assert pipe.fit(X, y).score(X, y) > 0.5


# ------------------------------------------------------------------ errors


def test_unfitted_methods_raise(digits):
    X, _ = digits
    vae = VAETransformer()
    for call in (
        lambda: vae.transform(X),
        lambda: vae.inverse_transform(np.zeros((1, 10))),
        lambda: vae.score_samples(X),
        lambda: vae.sample(2),
    ):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


def test_infinities_are_refused(fitted, digits):
    X = digits[0].copy()
    X[3, 5] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        VAETransformer(**FAST).fit(X)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        fitted.transform(X)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        fitted.score_samples(X)


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_codes_must_be_finite(fitted, bad, word):
    Z = np.zeros((2, 4))
    Z[0, 0] = bad
    with pytest.raises(ValueError, match=f"Input Z contains {word}"):
        fitted.inverse_transform(Z)


def test_wrong_number_of_features(fitted, digits):
    X = digits[0][:, :10]
    msg = "X has 10 features, but VAETransformer is expecting 64 features as input"
    with pytest.raises(ValueError, match=msg):
        fitted.transform(X)
    with pytest.raises(ValueError, match=msg):
        fitted.score_samples(X)


def test_bernoulli_refuses_data_outside_unit_interval(digits, digits_unit):
    with pytest.raises(
        ValueError,
        match=r"needs values in \[0, 1\], but X holds values from 0 to 16.*divide by 255",
    ):
        VAETransformer(likelihood="bernoulli", **FAST).fit(digits[0])
    vae = VAETransformer(likelihood="bernoulli", **FAST).fit(digits_unit[0])
    for method in (vae.transform, vae.score_samples):
        with pytest.raises(ValueError, match=r"needs values in \[0, 1\]"):
            method(digits_unit[0] - 0.5)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            {"n_components": 0},
            "'n_components' parameter of VAETransformer must be an int in the range \\[1, inf\\)",
        ),
        (
            {"likelihood": "zipf"},
            "'likelihood' parameter of VAETransformer must be a str among",
        ),
        ({"beta": -1.0}, "'beta' parameter"),
        ({"learning_rate_init": 0.0}, "'learning_rate_init' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"max_iter": 0}, "'max_iter' parameter"),
        ({"free_bits": -0.1}, "'free_bits' parameter"),
        ({"kl_warmup": -1}, "'kl_warmup' parameter"),
        ({"device": 3}, "'device' parameter"),
        ({"early_stopping": "yes"}, "'early_stopping' parameter"),
    ],
)
def test_invalid_parameters(digits, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        VAETransformer(**params).fit(digits[0])


@pytest.mark.parametrize("sizes", [(0,), (64, -2), (3.5,)])
def test_invalid_hidden_layer_sizes(digits, sizes):
    with pytest.raises(ValueError, match="hidden_layer_sizes must hold positive integers"):
        VAETransformer(hidden_layer_sizes=sizes).fit(digits[0])


def test_unknown_device_name(digits):
    with pytest.raises(ValueError, match="device='gpu0' is not a device torch knows"):
        VAETransformer(device="gpu0", **FAST).fit(digits[0])


def test_cuda_without_cuda_is_a_clear_error(digits, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available here.*device='cpu'"):
        VAETransformer(device="cuda", **FAST).fit(digits[0])


def test_auto_device_falls_back_to_cpu(digits, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    vae = VAETransformer(device="auto", **FAST).fit(digits[0])
    assert next(vae.module_.parameters()).device.type == "cpu"


def test_early_stopping_needs_rows_to_train_on():
    with pytest.raises(ValueError, match="n_samples=1.*early_stopping=False"):
        VAETransformer(**FAST).fit(np.ones((1, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        Z = VAETransformer(early_stopping=False, **FAST).fit_transform(np.ones((1, 3)))
    assert Z.shape == (1, 10)


def test_auto_batch_size_and_max_iter_budget_optimizer_steps():
    vae = VAETransformer()
    assert vae._batch_size(1_000) == 100 and vae._batch_size(54_000) == 256
    assert vae._max_epochs(1_000) == 100  # 10 steps an epoch: the cap
    assert vae._max_epochs(54_000) == 24  # MNIST's training split: 211 steps an epoch
    assert vae._max_epochs(2_000_000) == 1  # 7,813 steps: one epoch is past the budget
    assert VAETransformer(max_iter=7)._max_epochs(54_000) == 7


def test_latent_dimensions_come_most_active_first(digits):
    X = digits[0]
    vae = VAETransformer(n_components=6, **FAST).fit(X)
    variance = vae.latent_variance_
    assert np.all(np.diff(variance) <= 0)
    # (over the training rows, which exclude the validation tenth)
    np.testing.assert_allclose(vae.transform(X).var(axis=0), variance, rtol=0.05)
    assert vae.n_active_components_ == int(np.sum(variance > 0.01))
    assert vae.kl_per_component_.shape == (6,)
    assert vae.precision_ in ("float32", "bfloat16")


def test_dead_dimensions_are_reported_inactive(digits):
    # A KL weight of 30 and no free bits leave most dimensions at the prior.
    vae = VAETransformer(n_components=8, beta=30.0, free_bits=0.0, **FAST).fit(digits[0])
    assert vae.n_active_components_ < 8
    dead = vae.latent_variance_ <= 0.01
    assert np.all(vae.kl_per_component_[dead] < 0.05)


def test_the_code_mixture_is_fitted_on_first_use_and_pickles(digits):
    import pickle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae = VAETransformer(n_components=2, **FAST).fit(digits[0])
    assert "_code_mixture" not in vars(vae)  # fit did not pay for EM
    again = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(vae.sample(5, random_state=0), again.sample(5, random_state=0))
    assert vae.code_mixture_["means"].shape[1] == 2
    np.testing.assert_array_equal(vae.code_mixture_["means"], again.code_mixture_["means"])
