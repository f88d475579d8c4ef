"""What a PCA user types, answered; skops persistence; no stray warnings."""

import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skvae import VAETransformer

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The one type skops must be told to trust: the schema and weights are plain data.
TRUSTED = ["skvae._estimator.VAETransformer"]


@pytest.mark.parametrize(
    "n_components, words",
    [(0.95, "explain 95% of the variance"), ("mle", "Minka"), (None, "needs a latent size")],
)
def test_pca_sizes_point_to_how_a_vae_chooses(digits, n_components, words):
    with pytest.raises(InvalidParameterError, match=words) as info:
        VAETransformer(n_components=n_components, **FAST).fit(digits[0])
    assert "GridSearchCV" in str(info.value) and "n_active_components_" in str(info.value)


@pytest.mark.parametrize(
    "name, words",
    [
        ("components_", "inverse_transform"),
        ("explained_variance_ratio_", "score"),
        ("explained_variance_", "latent_variance_"),
        ("singular_values_", "kl_per_component_"),
        ("noise_variance_", "variance per Gaussian column"),
        ("n_components_", "n_active_components_"),
        ("get_covariance", "sample"),
        ("get_precision", "sample"),
    ],
)
def test_pca_attributes_say_what_to_use_instead(fitted, name, words):
    assert hasattr(PCA(n_components=2).fit(np.eye(3)), name)
    with pytest.raises(AttributeError, match=f"{name}.*PCA's.*{words}"):
        getattr(fitted, name)
    assert not hasattr(fitted, name)
    with pytest.raises(AttributeError, match="has no attribute 'nonsense_'$"):
        fitted.nonsense_  # noqa: B018


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=120),
            "n": rng.poisson(2, 120).astype(np.int64),
            "city": rng.choice(["a", "b"], 120),
            "kind": pd.Categorical(rng.choice(["u", "v"], 120)),
            "flag": rng.uniform(size=120) < 0.3,
        }
    )


def test_skops_round_trip_of_an_estimator(fitted, digits, frame, tmp_path):
    X = digits[0]
    sio.dump(fitted, tmp_path / "vae.skops")
    assert sio.get_untrusted_types(file=tmp_path / "vae.skops") == TRUSTED
    loaded = sio.load(tmp_path / "vae.skops", trusted=TRUSTED)
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X[:20]), fitted.score_samples(X[:20]))

    table = VAETransformer(n_components=2, **FAST).fit(frame)
    data = sio.dumps(table)
    assert sio.get_untrusted_types(data=data) == TRUSTED
    loaded = sio.loads(data, trusted=TRUSTED)
    np.testing.assert_array_equal(loaded.transform(frame), table.transform(frame))
    pd.testing.assert_frame_equal(
        loaded.sample(30, random_state=0), table.sample(30, random_state=0)
    )


def test_skops_round_trip_of_a_pipeline(digits):
    X, y = digits
    pipe = Pipeline(
        [
            ("vae", VAETransformer(n_components=3, **FAST)),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    ).fit(X, y)
    data = sio.dumps(pipe)
    assert sio.get_untrusted_types(data=data) == TRUSTED
    loaded = sio.loads(data, trusted=TRUSTED)
    np.testing.assert_array_equal(loaded[:-1].transform(X), pipe[:-1].transform(X))
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def _read_only(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


def test_no_warning_escapes_the_public_api(digits, frame):
    """Every public method on DataFrames and read-only arrays, with every warning
    an error (but ConvergenceWarning, which short test fits mean)."""
    X = _read_only(digits[0][:300])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        for data in (X, pd.DataFrame(X, columns=[f"p{j}" for j in range(64)]), frame):
            vae = VAETransformer(n_components=2, **FAST).fit(data)
            Z = vae.transform(data)
            vae.inverse_transform(_read_only(Z))
            vae.score_samples(data)
            vae.score(data)
            vae.sample(5, random_state=0)
            vae.sample(5, random_state=0, noise=True)
            vae.fit_transform(data)
            vae.set_output(transform="pandas").transform(data)
