"""Bad input, faults during fit, persistence, concurrency and reproducibility."""

import pickle
import pickletools
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import skvae
from skvae import NonFiniteLossError, SkvaeVersionWarning, VAETransformer

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------- bad input

BAD_X = {
    "strings": (
        np.array([["a", "b"], ["c", "d"]], dtype=object),
        ValueError,
        "could not convert string to float",
    ),
    "complex": (np.ones((4, 64)) + 1j, ValueError, "Complex data not supported"),
    "empty": (
        np.empty((0, 64)),
        ValueError,
        "Found array with 0 sample\\(s\\).*minimum of 1 is required",
    ),
    "no features": (np.empty((5, 0)), ValueError, "0 feature\\(s\\).*minimum of 1 is required"),
    "1-d": (
        np.ones(64),
        ValueError,
        "(?s)Expected 2D array, got 1D array instead.*Reshape your data",
    ),
    "3-d": (np.ones((2, 8, 8)), ValueError, "Found array with dim 3"),
    "sparse": (
        sp.csr_matrix(np.ones((4, 64))),
        TypeError,
        "dense data is required. Use '.toarray\\(\\)'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_x_in_fit(case):
    X, error, match = BAD_X[case]
    with pytest.raises(error, match=match):
        VAETransformer(**FAST).fit(X)


@pytest.mark.parametrize("case", list(BAD_X))
@pytest.mark.parametrize("method", ["transform", "score_samples"])
def test_bad_x_after_fit(fitted, case, method):
    X, error, match = BAD_X[case]
    with pytest.raises(error, match=match):
        getattr(fitted, method)(X)


@pytest.mark.parametrize(
    "Z, error, match",
    [
        (np.ones(4), ValueError, "Expected 2D array, got 1D array instead"),
        (np.ones((3, 5)), ValueError, "Z has 5 columns.*n_components=4"),
        (np.array([["a"] * 4]), ValueError, "could not convert string to float"),
        (np.full((1, 4), np.nan), ValueError, "Input Z contains NaN"),
        (np.empty((0, 4)), ValueError, "Found array with 0 sample"),
        (sp.csr_matrix(np.ones((2, 4))), TypeError, "dense data is required"),
    ],
)
def test_bad_z_in_inverse_transform(fitted, Z, error, match):
    with pytest.raises(error, match=match):
        fitted.inverse_transform(Z)


@pytest.mark.parametrize("kwargs", [{"n_samples": -1}, {"n_samples": 0}, {"n_samples": None}])
def test_bad_sample_counts(fitted, kwargs):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(**kwargs)


@pytest.mark.parametrize("k", [0, -5, 1.5])
def test_bad_importance_sample_counts(fitted, digits, k):
    with pytest.raises(ValueError, match="n_importance_samples must be a positive integer"):
        fitted.score_samples(digits[0][:3], n_importance_samples=k)


def test_values_too_large_to_standardize(digits):
    X = digits[0] * 1e300
    with pytest.raises(ValueError, match="too large to standardize.*MaxAbsScaler"):
        VAETransformer(**FAST).fit(X)


def test_extreme_but_representable_magnitudes_give_a_finite_model(digits):
    X = digits[0] * 1e30
    vae = VAETransformer(**FAST).fit(X)
    for out in (
        vae.transform(X),
        vae.inverse_transform(vae.transform(X)),
        vae.sample(3),
        vae.score_samples(X[:20]),
    ):
        assert np.isfinite(out).all()


def test_far_out_of_range_input_raises_or_stays_finite(fitted, digits):
    X = digits[0][:5] * 1e200
    for method in (fitted.transform, fitted.score_samples):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the error below is the one signal
                out = method(X)
        except ValueError as exc:
            assert "non-finite values" in str(exc) and "scale" in str(exc)
        else:
            assert np.isfinite(out).all()


def test_bool_input(digits):
    X = digits[0] > 8
    vae = VAETransformer(likelihood="bernoulli", **FAST).fit(X)
    assert np.isfinite(vae.transform(X)).all()


# ---------------------------------------------------- faults during fit


@pytest.fixture
def refit_target(digits):
    vae = VAETransformer(n_components=3, **FAST).fit(digits[0])
    return vae, vae.transform(digits[0]), dict(vae.__dict__)


def _assert_unchanged(vae, Z, state, X):
    np.testing.assert_array_equal(vae.transform(X), Z)
    assert vae.__dict__.keys() == state.keys()
    for key, value in state.items():
        assert vae.__dict__[key] is value, key


def test_failed_refit_on_bad_data_keeps_the_old_model(refit_target, digits):
    vae, Z, state = refit_target
    X_bad = digits[0][:, :10].copy()
    X_bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        vae.fit(X_bad)
    _assert_unchanged(vae, Z, state, digits[0])


def test_failed_refit_on_divergence_keeps_the_old_model(refit_target, digits):
    vae, Z, state = refit_target
    vae.set_params(learning_rate_init=1e12)
    with pytest.raises(NonFiniteLossError):
        vae.fit(digits[0][:, :20])
    vae.set_params(learning_rate_init=1e-3)
    _assert_unchanged(vae, Z, {**state, "learning_rate_init": 1e-3}, digits[0])


def test_failed_warm_start_keeps_the_old_weights(refit_target, digits):
    vae, Z, state = refit_target
    vae.set_params(warm_start=True, learning_rate_init=1e12)
    with pytest.raises(NonFiniteLossError):
        vae.fit(digits[0])
    np.testing.assert_array_equal(vae.transform(digits[0]), Z)


def test_interrupt_outside_the_epoch_loop_keeps_the_old_model(refit_target, digits, monkeypatch):
    vae, Z, state = refit_target

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("skvae._estimator.train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        vae.fit(digits[0][:, :20])
    _assert_unchanged(vae, Z, state, digits[0])


def test_failed_first_fit_leaves_the_estimator_unfitted(digits):
    vae = VAETransformer(likelihood="bernoulli", **FAST)
    with pytest.raises(ValueError, match=r"needs values in \[0, 1\]"):
        vae.fit(digits[0])
    assert [k for k in vars(vae) if k.endswith("_") and not k.startswith("_")] == []


# ----------------------------------------------------------- persistence


def test_pickle_holds_no_torch_objects(fitted):
    """The pickled state is numpy arrays and plain config: no tensors, no
    devices, nothing that needs torch's storage machinery to load."""
    data = pickle.dumps(fitted)
    globals_ = {
        str(arg)
        for op, arg, _ in pickletools.genops(data)
        if op.name in ("GLOBAL", "STACK_GLOBAL")
        or (op.name.endswith("UNICODE") and "." in str(arg))
    }
    assert not any(name.startswith("torch") for name in globals_), globals_


def test_model_saved_on_gpu_loads_on_cpu(fitted, digits, monkeypatch):
    state = fitted.__getstate__()
    state["module_"]["device"] = "cuda:0"  # as written by a fit on a GPU
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    loaded = VAETransformer.__new__(VAETransformer)
    loaded.__setstate__(state)
    assert next(loaded.module_.parameters()).device.type == "cpu"
    if next(fitted.module_.parameters()).device.type == "cpu":
        np.testing.assert_array_equal(loaded.transform(digits[0]), fitted.transform(digits[0]))
    else:  # fitted on a GPU here: its float32 products round differently from the CPU's
        np.testing.assert_allclose(
            loaded.transform(digits[0]), fitted.transform(digits[0]), rtol=1e-4, atol=1e-5
        )


def test_pickle_from_another_version_warns(fitted):
    state = fitted.__getstate__()
    state["_skvae_version"] = "0.0.1"
    loaded = VAETransformer.__new__(VAETransformer)
    with pytest.warns(SkvaeVersionWarning, match="pickled by skvae 0.0.1.*loaded by skvae"):
        loaded.__setstate__(state)


def _run(code, *args):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
    )


def test_pickle_loads_in_a_fresh_process(fitted, digits, tmp_path):
    path = tmp_path / "vae.pkl"
    path.write_bytes(pickle.dumps(fitted))
    np.save(tmp_path / "X.npy", digits[0])
    _run(
        """
        import pickle, sys, warnings
        import numpy as np
        warnings.simplefilter("error")  # same version: no warning at all
        vae = pickle.load(open(sys.argv[1], "rb"))
        X = np.load(sys.argv[2])
        np.save(sys.argv[3], vae.transform(X))
        np.save(sys.argv[4], vae.score_samples(X[:100]))
        """,
        path,
        tmp_path / "X.npy",
        tmp_path / "Z.npy",
        tmp_path / "s.npy",
    )
    np.testing.assert_array_equal(np.load(tmp_path / "Z.npy"), fitted.transform(digits[0]))
    np.testing.assert_array_equal(
        np.load(tmp_path / "s.npy"), fitted.score_samples(digits[0][:100])
    )


def test_same_seed_gives_identical_transforms_across_processes(digits, tmp_path):
    np.save(tmp_path / "X.npy", digits[0])
    code = """
        import sys, warnings
        import numpy as np
        from skvae import VAETransformer
        warnings.simplefilter("ignore")
        X = np.load(sys.argv[1])
        vae = VAETransformer(n_components=3, hidden_layer_sizes=(32,), max_iter=5,
                             batch_size=64, learning_rate="constant",
                             learning_rate_init=1e-3, random_state=0).fit(X)
        np.save(sys.argv[2], vae.transform(X))
        """
    _run(code, tmp_path / "X.npy", tmp_path / "Z1.npy")
    _run(code, tmp_path / "X.npy", tmp_path / "Z2.npy")
    here = VAETransformer(n_components=3, **FAST).fit(digits[0]).transform(digits[0])
    np.testing.assert_array_equal(np.load(tmp_path / "Z1.npy"), np.load(tmp_path / "Z2.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "Z1.npy"), here)


# ----------------------------------------------------------- concurrency


def test_threaded_transform_matches_serial(fitted, digits):
    X = digits[0]
    chunks = np.array_split(np.arange(len(X)), 16)
    serial = [fitted.transform(X[idx]) for idx in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda idx: fitted.transform(X[idx]), chunks))
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(a, b)


def torch_threads_score(estimator, X, y):
    """A GridSearchCV scorer that reports the worker's torch thread count."""
    import torch

    return float(torch.get_num_threads())


def test_grid_search_workers_do_not_oversubscribe(digits):
    import os

    X, y = digits
    pipe = Pipeline([("vae", VAETransformer(**FAST)), ("clf", LogisticRegression(max_iter=100))])
    search = GridSearchCV(
        pipe, {"vae__n_components": [2, 3]}, cv=2, n_jobs=2, scoring=torch_threads_score
    )
    search.fit(X[:400], y[:400])
    per_worker = search.cv_results_["mean_test_score"]
    assert np.all(per_worker >= 1)
    assert np.all(per_worker <= max(1, (os.cpu_count() or 1) // 2))


def test_version_is_exposed():
    assert isinstance(skvae.__version__, str) and skvae.__version__.count(".") == 2
