import numpy as np
import pytest
from sklearn.datasets import load_digits

from skvae import VAETransformer

# Small, quick settings for behaviour tests; quality lives in benchmarks/.
# A constant learning rate: five epochs of the default cosine schedule spend
# two warming up, which leaves tests a rougher model than they need.
FAST = dict(
    hidden_layer_sizes=(32,),
    max_iter=5,
    batch_size=64,
    learning_rate="constant",
    learning_rate_init=1e-3,
    random_state=0,
)


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def digits_unit(digits):
    """Digits pixels scaled into [0, 1], for the Bernoulli likelihood."""
    X, y = digits
    return X / 16.0, y


@pytest.fixture(scope="session")
def fitted(digits):
    """A Gaussian VAE fitted on digits, shared by read-only tests."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return VAETransformer(n_components=4, **FAST).fit(digits[0])


@pytest.fixture
def rng():
    return np.random.RandomState(0)
