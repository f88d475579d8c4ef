"""VAETransformer on DataFrames: per-column likelihoods, the table's own types
out, and errors that name the column."""

import dataclasses
import datetime
import pickle

import numpy as np
import pandas as pd
import pytest

from skvae import VAETransformer

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def table():
    rng = np.random.RandomState(0)
    n = 300
    age = rng.uniform(18, 80, n)
    return pd.DataFrame(
        {
            "age": age,
            "kids": rng.poisson(0.04 * age).astype(np.int64) + rng.poisson(0.5, n),
            "income": np.exp(rng.normal(10 + 0.01 * age, 0.8)),
            "owner": rng.uniform(size=n) < age / 100,
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "plan": pd.Categorical(
                rng.choice(["basic", "pro"], n), categories=["basic", "pro", "max"]
            ),
            "year": rng.choice([2019, 2020, 2021], n).astype(np.int64),
            "flag01": rng.randint(0, 2, n).astype(np.int64),
        }
    )


@pytest.fixture(scope="module")
def fitted_table(table):
    return VAETransformer(n_components=3, **FAST).fit(table)


def test_auto_picks_a_likelihood_per_column(fitted_table):
    # A table's numbers, flags aside, each go through their own quantiles.
    assert fitted_table.likelihoods_ == {
        "age": "quantile",
        "kids": "quantile",
        "income": "quantile",
        "owner": "bernoulli",
        "city": "categorical",
        "plan": "categorical",
        "year": "quantile",
        "flag01": "bernoulli",
    }


def test_auto_on_arrays_keeps_float_columns_continuous(digits):
    vae = VAETransformer(n_components=2, **FAST).fit(digits[0])
    # Three digits pixels hold only 0 and 1, but as floats they stay Gaussian:
    # a later image may light them brighter.
    assert set(vae.likelihoods_.values()) == {"gaussian"}


def test_round_trip_keeps_columns_dtypes_and_categories(table, fitted_table):
    for out in (
        fitted_table.inverse_transform(fitted_table.transform(table)),
        fitted_table.sample(200, random_state=0),
    ):
        assert list(out.columns) == list(table.columns)
        assert out.dtypes.to_dict() == table.dtypes.to_dict()
        assert out["plan"].cat.categories.tolist() == ["basic", "pro", "max"]
        assert set(out["city"]) <= {"paris", "lyon", "nice"}
        assert (out["kids"] >= 0).all() and (out["income"] > 0).all() and (out["age"] >= 0).all()
        assert set(out["year"]) <= {2019, 2020, 2021}
        assert set(out["flag01"]) <= {0, 1}


def test_sample_draws_discrete_columns_by_default(fitted_table):
    rows = fitted_table.sample(500, random_state=0)
    assert rows["city"].nunique() > 1 and rows["kids"].nunique() > 2
    means = fitted_table.sample(500, random_state=0, noise=False)
    assert means["income"].std() < rows["income"].std()
    pd.testing.assert_frame_equal(rows, fitted_table.sample(500, random_state=0))


def test_score_samples_sums_per_column_terms(table, fitted_table):
    scores = fitted_table.score_samples(table)
    assert scores.shape == (len(table),) and np.isfinite(scores).all()
    # Densities of income in its own units: rescaling income by 1000 shifts
    # every row's log-density by -log(1000), as a density must.
    scaled = table.assign(income=table["income"] * 1000)
    vae = VAETransformer(n_components=3, **FAST).fit(table)
    vae_scaled = VAETransformer(n_components=3, **FAST).fit(scaled)
    np.testing.assert_allclose(
        vae_scaled.score_samples(scaled), vae.score_samples(table) - np.log(1000), atol=1e-3
    )


def test_likelihood_mapping_by_name_and_index(table):
    vae = VAETransformer(
        n_components=2, likelihood={"kids": "poisson", 2: "gaussian"}, **FAST
    ).fit(table)
    assert vae.likelihoods_["kids"] == "poisson"
    assert vae.likelihoods_["income"] == "gaussian"
    assert vae.likelihoods_["city"] == "categorical"
    with pytest.raises(ValueError, match="likelihood names column 'nope'"):
        VAETransformer(likelihood={"nope": "gaussian"}, **FAST).fit(table)
    with pytest.raises(ValueError, match=r"likelihood\['kids'\]='zipf' is not a likelihood"):
        VAETransformer(likelihood={"kids": "zipf"}, **FAST).fit(table)


def test_unseen_category_is_ignored_by_transform_and_refused_by_score(table, fitted_table):
    new = table.head(3).assign(city=["rome", "paris", "paris"])
    Z = fitted_table.transform(new)
    assert np.isfinite(Z).all()
    with pytest.raises(ValueError, match="Column 'city' holds the category 'rome', never seen"):
        fitted_table.score_samples(new)


def test_pickled_table_model_gives_the_same_outputs(table, fitted_table):
    clone = pickle.loads(pickle.dumps(fitted_table))
    np.testing.assert_array_equal(clone.transform(table), fitted_table.transform(table))
    pd.testing.assert_frame_equal(
        clone.sample(50, random_state=1), fitted_table.sample(50, random_state=1)
    )


def test_pickle_stores_the_column_statistics_once(table, fitted_table):
    state = fitted_table.__getstate__()
    # the module's likelihood groups are the table's: the pickle names them
    assert state["module_"]["config"]["groups"] == "table_"
    loaded = VAETransformer.__new__(VAETransformer)
    loaded.__setstate__(state)
    assert loaded.module_.config.groups == tuple(loaded.table_.groups)
    # a pickle that spells them out in the module's config (before) loads the same
    state = fitted_table.__getstate__()
    groups = fitted_table.module_.config.groups
    state["module_"]["config"]["groups"] = [dataclasses.asdict(g) for g in groups]
    older = VAETransformer.__new__(VAETransformer)
    older.__setstate__(state)
    np.testing.assert_array_equal(older.transform(table), fitted_table.transform(table))


def test_pandas_output_of_transform(table):
    vae = VAETransformer(n_components=2, **FAST).set_output(transform="pandas").fit(table)
    Z = vae.transform(table)
    assert list(Z.columns) == ["vaetransformer0", "vaetransformer1"]


@pytest.mark.parametrize(
    "column, values, words",
    [
        ("when", pd.period_range("2020-01", periods=300, freq="M"), "has dtype period"),
        ("day", [datetime.date(2020, 1, 1 + i % 28) for i in range(300)], "as Python objects"),
        ("note", [f"free text {i}" for i in range(300)], "300 distinct values in 300 rows"),
        ("mixed", ["a", 1.5] * 150, "mixes values of types float, str"),
        ("empty", [np.nan] * 300, "has no observed value"),
        ("big", [1.0, np.inf] * 150, "holds infinite values"),
        ("cplx", np.ones(300) * 1j, "has dtype complex128"),
    ],
)
def test_unmodellable_columns_are_named_with_a_fix(table, column, values, words):
    bad = table.assign(**{column: values})
    with pytest.raises(ValueError, match=words) as info:
        VAETransformer(**FAST).fit(bad)
    assert f"'{column}'" in str(info.value)


def test_forced_likelihood_outside_its_support_names_the_column(table):
    with pytest.raises(ValueError, match="Column 'age' holds values that are not non-negative"):
        VAETransformer(likelihood={"age": "poisson"}, **FAST).fit(table)
    with pytest.raises(ValueError, match="Column 'city' holds values that are not numbers"):
        VAETransformer(likelihood={"city": "gaussian"}, **FAST).fit(table)


def test_strings_in_an_array_point_to_dataframes():
    X = np.array([["paris", 1.0], ["lyon", 2.0]], dtype=object)
    with pytest.raises(ValueError, match="pass X as a DataFrame"):
        VAETransformer(**FAST).fit(X)


def test_codes_for_samples_come_from_the_fitted_mixture_or_the_prior(table, fitted_table):
    mixture = fitted_table.code_mixture_
    assert mixture["means"].shape[1] == 3 and np.isclose(mixture["weights"].sum(), 1.0)
    from_prior = fitted_table.sample(50, random_state=0, latent="prior")
    assert list(from_prior.columns) == list(table.columns)
    pd.testing.assert_frame_equal(
        fitted_table.sample(50, random_state=3), fitted_table.sample(50, random_state=3)
    )
    with pytest.raises(ValueError, match="latent must be 'mixture' or 'prior'"):
        fitted_table.sample(5, latent="posterior")


def test_auto_epoch_budget_is_the_same_for_a_table_and_its_array(table):
    # Small data runs to the cap of 100 epochs, whatever container it comes in.
    settings = dict(hidden_layer_sizes=(8,), n_components=2, n_iter_no_change=1000, random_state=0)
    numbers = table[["age", "income"]]
    assert VAETransformer(**settings).fit(numbers).n_iter_ == 100
    assert VAETransformer(**settings).fit(numbers.to_numpy()).n_iter_ == 100


@pytest.fixture(scope="module")
def times():
    """Dates (with gaps), times to the second in a time zone, durations in minutes."""
    rng = np.random.RandomState(0)
    n = 300
    day = pd.Timestamp("1965-06-01") + pd.to_timedelta(rng.randint(0, 8000, n), unit="D")
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "day": pd.Series(day).astype("datetime64[ns]"),
            "stamp": pd.Timestamp("2021-03-01 08:00", tz="Europe/Paris")
            + pd.to_timedelta(rng.randint(0, 10**6, n), unit="s"),
            "wait": pd.to_timedelta(rng.randint(1, 120, n), unit="min"),
        }
    )
    frame.loc[::7, "day"] = pd.NaT
    return frame


def test_datetime_and_timedelta_columns_are_counted_in_their_coarsest_unit(times):
    vae = VAETransformer(n_components=2, **FAST).fit(times)
    assert vae.likelihoods_ == dict.fromkeys(times.columns, "quantile")
    assert [c.unit for c in vae.table_.columns] == [None, "D", "s", "m"]
    # training values and gaps round-trip through the model's units exactly
    back = vae.table_.from_model(vae.table_.to_model(times))
    pd.testing.assert_frame_equal(back, times)


def test_sampled_times_keep_their_dtype_unit_and_range(times):
    vae = VAETransformer(n_components=2, **FAST).fit(times)
    samples = vae.sample(500, random_state=0)
    assert samples.dtypes.to_dict() == times.dtypes.to_dict()
    for column, unit in (("day", "D"), ("stamp", "s"), ("wait", "min")):
        values, seen = samples[column], times[column].dropna()
        assert values.notna().all()
        assert values.min() >= seen.min() and values.max() <= seen.max()
        assert (values == values.dt.round(unit)).all()  # whole units, as in training
    again = pickle.loads(pickle.dumps(vae)).sample(500, random_state=0)
    pd.testing.assert_frame_equal(again, samples)
