"""Missing values: VAETransformer on data with gaps, and VAEImputer."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from skvae import VAEImputer, VAETransformer
from skvae._imputer import _categories

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _holes(shape, rate, seed):
    return np.random.RandomState(seed).uniform(size=shape) < rate


@pytest.fixture(scope="module")
def wine_gaps():
    X, _ = load_wine(return_X_y=True)
    X = X.copy()
    X[_holes(X.shape, 0.2, 0)] = np.nan
    return X


@pytest.fixture(scope="module")
def frame():
    """A mixed table with gaps in every column kind."""
    rng = np.random.RandomState(0)
    n = 240
    age = rng.uniform(18, 80, n)
    df = pd.DataFrame(
        {
            "age": age,
            "kids": pd.array(rng.poisson(0.04 * age), dtype="Int64"),
            "income": np.exp(rng.normal(10 + 0.01 * age, 0.8)),
            "owner": pd.array(rng.uniform(size=n) < age / 100, dtype="boolean"),
            "city": pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype=object),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        }
    )
    holes = _holes(df.shape, 0.15, 1)
    for j, column in enumerate(df.columns):
        df.loc[holes[:, j], column] = None
    return df


@pytest.fixture(scope="module")
def imputer(frame):
    return VAEImputer(VAETransformer(n_components=3, **FAST), random_state=0).fit(frame)


# ------------------------------------------------------------ VAETransformer


def test_fit_on_gaps_gives_codes_and_scores_for_rows_with_gaps(wine_gaps):
    vae = VAETransformer(n_components=3, **FAST).fit(wine_gaps)
    assert vae.module_.config.missing_indicators
    Z = vae.transform(wine_gaps)
    scores = vae.score_samples(wine_gaps)
    assert np.isfinite(Z).all() and np.isfinite(scores).all()
    # a row's score counts its observed entries only: hiding one more changes it
    row = wine_gaps[:1].copy()
    column = int(np.flatnonzero(~np.isnan(row[0]))[0])
    fewer = row.copy()
    fewer[0, column] = np.nan
    assert vae.score_samples(fewer)[0] != vae.score_samples(row)[0]


def test_a_model_fitted_without_gaps_still_takes_rows_with_gaps(fitted, digits):
    X = digits[0][:20].copy()
    X[:, ::3] = np.nan
    assert not fitted.module_.config.missing_indicators
    assert np.isfinite(fitted.transform(X)).all()
    assert np.isfinite(fitted.score_samples(X)).all()


def test_nan_none_and_pd_na_are_alike(frame):
    vae = VAETransformer(n_components=2, **FAST).fit(frame)
    as_none = frame.astype({"age": object, "income": object})
    as_none = as_none.where(frame.notna(), None)
    as_na = frame.astype({"age": "Float64", "income": "Float64"})
    Z = vae.transform(frame)
    np.testing.assert_array_equal(vae.transform(as_none), Z)
    np.testing.assert_array_equal(vae.transform(as_na), Z)


def test_an_entirely_missing_column_is_refused_by_name(frame):
    with pytest.raises(ValueError, match="Column 'age' has no observed value"):
        VAETransformer(**FAST).fit(frame.assign(age=np.nan))
    X = np.ones((30, 3))
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match="Column 1 has no observed value"):
        VAETransformer(**FAST).fit(X)


def test_entirely_missing_rows_are_fitted_and_encoded(wine_gaps):
    X = wine_gaps.copy()
    X[:5] = np.nan
    vae = VAETransformer(n_components=2, **FAST).fit(X)
    Z = vae.transform(X[:5])
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z, Z[:1].repeat(5, axis=0))  # nothing known: one code


def test_infinities_name_the_column(frame):
    with pytest.raises(ValueError, match="Column 'income' holds infinite values"):
        VAETransformer(**FAST).fit(frame.assign(income=np.inf))


# ------------------------------------------------------------------ VAEImputer


def test_imputer_fills_gaps_and_keeps_observed_entries_bitwise(wine_gaps):
    imputer = VAEImputer(VAETransformer(n_components=3, **FAST), random_state=0)
    filled = imputer.fit_transform(wine_gaps)
    observed = ~np.isnan(wine_gaps)
    assert filled.dtype == np.float64 and not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[observed], wine_gaps[observed])
    filled32 = imputer.transform(wine_gaps.astype(np.float32))
    assert filled32.dtype == np.float32
    np.testing.assert_array_equal(filled32[observed], wine_gaps.astype(np.float32)[observed])


def test_imputer_dataframe_round_trip_keeps_columns_and_dtypes(frame, imputer):
    filled = imputer.transform(frame)
    assert list(filled.columns) == list(frame.columns)
    assert (filled.dtypes == frame.dtypes).all()
    assert not filled.isna().any().any()
    observed = frame.notna().to_numpy()
    for j, column in enumerate(frame.columns):
        kept = filled[column][observed[:, j]]
        pd.testing.assert_series_equal(kept, frame[column][observed[:, j]])
    assert set(filled["city"]) <= {"paris", "lyon", "nice"}
    assert (filled["kids"] >= 0).all()


def test_imputer_point_estimates_are_deterministic(frame, imputer):
    pd.testing.assert_frame_equal(imputer.transform(frame), imputer.transform(frame))
    again = VAEImputer(VAETransformer(n_components=3, **FAST), random_state=0).fit(frame)
    pd.testing.assert_frame_equal(again.transform(frame), imputer.transform(frame))


def test_default_imputer_fills_an_array_within_each_columns_training_range(wine_gaps):
    imputer = VAEImputer(random_state=0).fit(wine_gaps)
    assert set(imputer.vae_.likelihoods_.values()) == {"quantile"}
    filled = imputer.transform(wine_gaps)
    gaps = np.isnan(wine_gaps)
    low, high = np.nanmin(wine_gaps, axis=0), np.nanmax(wine_gaps, axis=0)
    assert not np.isnan(filled).any()
    assert ((filled >= low) & (filled <= high))[gaps].all()


def test_point_estimates_keep_their_precision_and_draws_are_rounded_like_the_data(frame):
    whole = frame.assign(age=frame["age"].round())  # a float column of whole numbers
    imputer = VAEImputer(VAETransformer(n_components=3, **FAST), random_state=0).fit(whole)
    gaps = whole["age"].isna().to_numpy()
    estimates = imputer.transform(whole)
    assert estimates["age"].dtype == np.float64
    assert (estimates["age"][gaps] % 1 != 0).any()  # conditional means, not rounded
    assert (estimates["kids"] % 1 == 0).all()  # an integer dtype holds whole numbers only
    draws = imputer.set_params(sample_posterior=True).transform(whole)
    assert (draws["age"] % 1 == 0).all()  # draws are values: whole, as in training


def test_imputer_fills_missing_dates_with_dates_in_the_training_range(frame):
    days = np.random.RandomState(2).randint(0, 3000, len(frame))
    dated = frame.assign(since=pd.Timestamp("2015-01-01") + pd.to_timedelta(days, unit="D"))
    dated.loc[::6, "since"] = pd.NaT
    imputer = VAEImputer(VAETransformer(n_components=3, **FAST), random_state=0)
    filled = imputer.fit_transform(dated)["since"]
    observed = dated["since"].notna()
    assert filled.dtype == dated["since"].dtype and filled.notna().all()
    pd.testing.assert_series_equal(filled[observed], dated["since"][observed])
    gaps = filled[~observed]
    assert (gaps == gaps.dt.normalize()).all()  # whole days, as in training
    assert gaps.min() >= dated["since"].min() and gaps.max() <= dated["since"].max()


def test_posterior_draws_repeat_with_an_int_seed_and_vary_across_seeds(frame, imputer):
    def draws(seed):
        return imputer.set_params(sample_posterior=True, random_state=seed).transform(frame)

    try:
        pd.testing.assert_frame_equal(draws(1), draws(1))
        assert not draws(1).equals(draws(2))
        observed = frame.notna()
        assert draws(2)[observed].equals(frame[observed])
    finally:
        imputer.set_params(sample_posterior=False, random_state=0)


def test_imputer_fills_entirely_missing_rows(wine_gaps):
    X = wine_gaps.copy()
    X[:3] = np.nan
    filled = VAEImputer(VAETransformer(n_components=2, **FAST), random_state=0).fit_transform(X)
    assert np.isfinite(filled[:3]).all()


def test_missing_values_placeholder_and_indicator(wine_gaps):
    X = np.where(np.isnan(wine_gaps), -1.0, wine_gaps)
    imputer = VAEImputer(
        VAETransformer(n_components=2, **FAST), missing_values=-1.0, add_indicator=True
    )
    out = imputer.fit_transform(X)
    n = X.shape[1]
    assert out.shape == (X.shape[0], 2 * n)  # every wine column has gaps
    np.testing.assert_array_equal(out[:, n:], np.isnan(wine_gaps))
    assert (out[:, :n] != -1.0).all()
    names = imputer.get_feature_names_out()
    assert names[0] == "x0" and names[n] == "missingindicator_x0"


def test_imputer_pickles(frame, imputer):
    again = pickle.loads(pickle.dumps(imputer))
    pd.testing.assert_frame_equal(again.transform(frame), imputer.transform(frame))


@pytest.fixture(scope="module")
def signal_and_noise():
    """Columns the others predict ('twin', 'side'), and one numeric ('noise')
    and one categorical ('draw') column that nothing predicts."""
    rng = np.random.RandomState(3)
    n = 2000  # 200 validation rows: enough to tell signal from noise
    x = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "x": x,
            "twin": x + 0.05 * rng.normal(size=n),
            "noise": rng.normal(5.0, 1.0, n),
            "draw": pd.Categorical(rng.choice(["a", "b", "c"], n, p=[0.5, 0.25, 0.25])),
            "side": np.where(x > 0, "right", "left"),
        }
    )
    holes = _holes(df.shape, 0.2, 4)
    for j, column in enumerate(df.columns):
        df.loc[holes[:, j], column] = None
    return df


def _shrinking_pair(df, **options):
    fitted = [
        VAEImputer(
            VAETransformer(n_components=2, hidden_layer_sizes=(32,), max_iter=30),
            calibrate=calibrate,
            random_state=0,
            **options,
        ).fit(df)
        for calibrate in (True, False)
    ]
    return fitted


def test_shrinkage_keeps_what_the_model_predicts_and_drops_what_it_cannot(signal_and_noise):
    df = signal_and_noise
    calibrated, plain = _shrinking_pair(df)
    weights = dict(zip(df.columns, calibrated.shrinkage_, strict=True))
    assert weights["twin"] > 0.9
    assert weights["noise"] < 0.3
    assert weights["draw"] == 0.0
    assert weights["side"] > 0.5
    np.testing.assert_array_equal(plain.shrinkage_, np.ones(5))
    # the models are the same: only the point estimates move
    filled, raw = calibrated.transform(df), plain.transform(df)
    gaps = df["noise"].isna().to_numpy()
    mean = df["noise"].mean()
    np.testing.assert_allclose(calibrated.statistics_[2], mean)
    expected = mean + weights["noise"] * (raw["noise"][gaps] - mean)
    np.testing.assert_allclose(filled["noise"][gaps], expected)
    # an unpredictable category is filled with the most frequent one, a
    # predictable one from the rest of its row
    assert (filled["draw"][df["draw"].isna()] == "a").all()
    gaps = df["side"].isna() & df["x"].notna()
    right = np.where(df["x"][gaps] > 0, "right", "left")
    assert np.mean(filled["side"][gaps] == right) > 0.8  # the most frequent: 0.5
    # draws for multiple imputation are the model's, never shrunk
    calibrated.set_params(sample_posterior=True)
    plain.set_params(sample_posterior=True)
    pd.testing.assert_frame_equal(calibrated.transform(df), plain.transform(df))


def test_small_data_fits_the_shrinkage_by_cross_fitting(signal_and_noise):
    # 600 rows: below CROSS_FIT_ROWS, every row is filled by a model fitted on
    # the other folds, so the weights need no validation rows
    vae = VAETransformer(
        n_components=2, hidden_layer_sizes=(32,), max_iter=30, early_stopping=False
    )
    imputer = VAEImputer(vae, random_state=0).fit(signal_and_noise.iloc[:600])
    weights = dict(zip(signal_and_noise.columns, imputer.shrinkage_, strict=True))
    assert weights["twin"] > 0.9
    assert weights["noise"] < 0.3
    assert weights["draw"] == 0.0


def test_without_validation_rows_large_data_is_not_shrunk(signal_and_noise):
    vae = VAETransformer(n_components=2, early_stopping=False, **FAST)
    imputer = VAEImputer(vae, random_state=0).fit(signal_and_noise)
    np.testing.assert_array_equal(imputer.shrinkage_, np.ones(signal_and_noise.shape[1]))


def test_an_imputer_pickled_before_the_shrinkage_fills_without_it(wine_gaps):
    vae = VAETransformer(n_components=2, **FAST)
    plain = VAEImputer(vae, calibrate=False, random_state=0).fit(wine_gaps)
    imputer = VAEImputer(vae, random_state=0).fit(wine_gaps)
    del imputer.shrinkage_, imputer.statistics_  # as pickled before they existed
    np.testing.assert_array_equal(imputer.transform(wine_gaps), plain.transform(wine_gaps))


def test_predictive_probabilities_of_a_hidden_category_sum_to_one(frame, imputer):
    """VAE.predictive's probabilities of a hidden column's categories sum to
    one; its point estimate is the most probable of them, and so is the
    imputer's fill without shrinkage. With the column's weight at 0 the fill
    is its most frequent category."""
    vae = imputer.vae_
    U = vae.table_.to_model(frame.iloc[:40])
    k = list(vae.table_.model_order()).index(list(frame.columns).index("city"))
    U[:, k] = np.nan
    estimates, probs = vae._predictive(U, 50)
    slots, freq = next((s, f) for j, s, f in _categories(vae.table_) if j == k)
    city = probs[:, slots]
    np.testing.assert_allclose(city.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(estimates[:, k], city.argmax(axis=1))
    gaps = frame.iloc[:40].assign(city=None)
    np.testing.assert_array_equal(vae._fill_gaps(gaps, 50)[:, k], city.argmax(axis=1))
    unshrunk = copy.deepcopy(imputer)
    unshrunk.shrinkage_[:] = 1.0
    np.testing.assert_array_equal(
        unshrunk.transform(gaps)["city"], np.array(["lyon", "nice", "paris"])[city.argmax(axis=1)]
    )
    unshrunk.shrinkage_[list(frame.columns).index("city")] = 0.0
    most_frequent = ["lyon", "nice", "paris"][np.argmax(freq)]
    assert (unshrunk.transform(gaps)["city"] == most_frequent).all()


def test_cross_fitting_models_share_the_models_units(monkeypatch):
    """A category seen in one row only is missing from the other folds: each
    fold's model still codes every column as the imputer's model does, so
    the hidden entries it fills are read in the same units."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=300)
    df = pd.DataFrame(
        {"x": x, "y": x + 0.1 * rng.normal(size=300), "kind": np.where(x > 0, "b", "c")}
    )
    df.loc[0, "kind"] = "a"  # sorts first: without it, "b" and "c" would move
    df = df.mask(_holes(df.shape, 0.1, 2))
    folds = []
    real = VAEImputer._cross_fitted
    monkeypatch.setattr(VAEImputer, "_cross_fitted", lambda *a: folds.extend(real(*a)) or folds)
    imputer = VAEImputer(VAETransformer(n_components=2, max_iter=30), random_state=0).fit(df)
    assert len(folds) == 5
    for model, _ in folds:
        assert model.table_.to_state() == imputer.vae_.table_.to_state()
    assert imputer.shrinkage_[2] > 0.5  # the model's guesses of the category are kept


def test_cross_fitting_fits_report_no_progress_of_their_own(wine_gaps, capsys):
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=3, verbose=2)
    VAEImputer(vae, random_state=0).fit(wine_gaps)
    out = capsys.readouterr()
    assert (out.out + out.err).count("Epoch ") == 3  # vae's own fit, not its five folds'


def test_an_interrupted_cross_fitting_falls_back_to_the_validation_rows(wine_gaps, monkeypatch):
    import skvae._estimator as estimator

    real_train, calls = estimator.train, []

    def train(*args, **kwargs):  # every fit after vae's own is "interrupted" (Ctrl-C)
        result = real_train(*args, **kwargs)
        calls.append(1)
        result.interrupted = len(calls) > 1
        return result

    monkeypatch.setattr(estimator, "train", train)
    imputer = VAEImputer(VAETransformer(n_components=2, **FAST), random_state=0)
    with pytest.warns(UserWarning, match="cross-fitting was interrupted"):
        imputer.fit(wine_gaps)
    assert len(calls) == 2  # vae's fit, then the first fold's
    assert imputer.shrinkage_.shape == (wine_gaps.shape[1],)
    assert not np.isnan(imputer.transform(wine_gaps)).any()


def test_an_interrupted_fit_starts_no_cross_fitting(wine_gaps, monkeypatch):
    import skvae._estimator as estimator

    real_train, calls = estimator.train, []

    def train(*args, **kwargs):  # vae's own fit is "interrupted" (Ctrl-C)
        result = real_train(*args, **kwargs)
        calls.append(1)
        result.interrupted = True
        return result

    monkeypatch.setattr(estimator, "train", train)
    imputer = VAEImputer(VAETransformer(n_components=2, **FAST), random_state=0)
    with pytest.warns(UserWarning, match="fit was interrupted"):
        imputer.fit(wine_gaps)
    assert len(calls) == 1  # no fold fits after the user stopped the fit
    assert not np.isnan(imputer.transform(wine_gaps)).any()
