"""Property-based tests: whatever the shape, dtype, values and parameters, a call
either raises a ValueError that says what is wrong or returns finite output."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skvae import VAETransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DTYPES = st.sampled_from([np.float32, np.float64, np.int32, np.int64, np.bool_])


@st.composite
def datasets(draw):
    n_samples = draw(st.integers(1, 25))
    n_features = draw(st.integers(1, 6))
    dtype = draw(DTYPES)
    if dtype == np.bool_:
        elements = st.booleans()
    elif np.issubdtype(dtype, np.integer):
        elements = st.integers(-1000, 1000)
    else:
        magnitude = draw(st.sampled_from([1.0, 1e3, 1e12, 1e30]))
        width = 32 if dtype == np.float32 else 64
        bound = float(np.float32(magnitude)) if width == 32 else magnitude
        elements = st.floats(-bound, bound, allow_nan=False, width=width)
    return draw(arrays(dtype, (n_samples, n_features), elements=elements))


@st.composite
def parameters(draw):
    return dict(
        n_components=draw(st.integers(1, 4)),
        hidden_layer_sizes=draw(st.sampled_from([(), (4,), (8, 4)])),
        likelihood=draw(st.sampled_from(["gaussian", "bernoulli"])),
        beta=draw(st.sampled_from([0.0, 0.5, 1.0, 4.0])),
        free_bits=draw(st.sampled_from([0.0, 0.5])),
        kl_warmup=draw(st.integers(0, 2)),
        batch_size=draw(st.integers(1, 32)),
        early_stopping=draw(st.booleans()),
        max_iter=draw(st.integers(1, 3)),
        random_state=0,
    )


def _check_finite(out):
    assert np.isfinite(np.asarray(out, dtype=np.float64)).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=datasets(), params=parameters())
def test_fit_and_every_method_raise_clearly_or_return_finite(X, params):
    vae = VAETransformer(**params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vae.fit(X)
    except ValueError as exc:
        message = str(exc)
        assert any(
            words in message
            for words in ("needs values in [0, 1]", "early_stopping", "diverged", "too large")
        ), message
        return
    Z = vae.transform(X)
    assert Z.shape == (X.shape[0], params["n_components"])
    _check_finite(Z)
    for call in (
        lambda: vae.inverse_transform(Z),
        lambda: vae.score_samples(X),
        lambda: vae.sample(3, random_state=0),
        lambda: vae.sample(2, random_state=0, noise=True),
    ):
        try:
            out = call()
        except ValueError as exc:
            assert "non-finite values" in str(exc)
        else:
            _check_finite(out)
