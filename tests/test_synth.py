"""sample() as a synthetic-data generator: each column's shape, range and type
survive, on crafted columns that a Gaussian would get wrong."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from skvae import VAETransformer


@pytest.fixture(scope="module")
def crafted():
    rng = np.random.RandomState(0)
    n = 1500
    return pd.DataFrame(
        {
            "income": rng.lognormal(10, 1, n),  # skewed
            "spend": np.where(rng.rand(n) < 0.4, 0.0, rng.gamma(2, 50, n)),  # zero-inflated
            "score": np.where(rng.rand(n) < 0.5, -5, 5) + rng.normal(0, 1, n),  # bimodal
            "version": np.full(n, 3.0),  # constant
            "visits": rng.poisson(2, n).astype(np.int64),  # integer counts
            "share": rng.beta(0.5, 0.5, n),  # bounded in [0, 1]
            "grams": np.round(rng.normal(4000, 500, n)),  # whole numbers stored as floats
            "length": np.round(rng.normal(40, 5, n), 1),  # one decimal place
        }
    )


@pytest.fixture(scope="module")
def synthetic(crafted):
    # Defaults, as a user making synthetic rows would fit
    return VAETransformer(random_state=0).fit(crafted).sample(3000, random_state=0)


def test_every_column_goes_through_its_quantiles(crafted):
    vae = VAETransformer(n_components=2, max_iter=1, random_state=0).fit(crafted)
    assert set(vae.likelihoods_.values()) == {"quantile"}


def test_sampled_columns_keep_their_shapes(crafted, synthetic):
    # A Gaussian would sample no zero at all; the model's own spread moves
    # the share by a few points on these independent columns.
    assert (synthetic["spend"] == 0).mean() == pytest.approx(0.4, abs=0.1)
    assert (synthetic["score"].abs() > 2).mean() > 0.95  # two modes, little between
    assert (synthetic["score"] > 0).mean() == pytest.approx(0.5, abs=0.08)
    assert (synthetic["version"] == 3.0).all()
    for column in ["income", "spend", "score", "visits", "share", "grams", "length"]:
        assert st.ks_2samp(synthetic[column], crafted[column]).statistic < 0.1, column


def test_sampled_values_stay_valid(crafted, synthetic):
    assert synthetic.dtypes.to_dict() == crafted.dtypes.to_dict()
    assert (synthetic.min() >= crafted.min()).all()
    assert (synthetic.max() <= crafted.max()).all()
    assert set(synthetic["visits"]) <= set(range(crafted["visits"].max() + 1))
    # floats keep the decimal places of their training values
    np.testing.assert_array_equal(synthetic["grams"], np.round(synthetic["grams"]))
    np.testing.assert_allclose(synthetic["length"], np.round(synthetic["length"], 1), atol=1e-9)
    assert (synthetic["length"] != np.round(synthetic["length"])).any()


def test_round_trip_of_training_values_through_model_units(crafted):
    vae = VAETransformer(n_components=2, max_iter=1, random_state=0).fit(crafted)
    back = vae.table_.from_model(vae.table_.to_model(crafted))
    pd.testing.assert_frame_equal(back, crafted, check_exact=False, rtol=1e-12)
