"""Larger data: partial_fit, fits streamed from arrays outside memory, and Dask."""

import pickle
import warnings

import numpy as np
import pytest
import torch

import skvae._rows
import skvae._sampling
from skvae import VAETransformer

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(32,), random_state=0)


def _chunks(X, n=4):
    return np.array_split(X, n)


def _same_weights(a, b):
    for (name, x), (_, y) in zip(
        a.module_.state_dict().items(), b.module_.state_dict().items(), strict=True
    ):
        assert torch.equal(x, y), name


# ------------------------------------------------------------------ partial_fit


def test_partial_fit_continues_and_counts(digits):
    X = digits[0]
    vae = VAETransformer(n_components=3, **SMALL)
    for chunk in _chunks(X):
        vae.partial_fit(chunk)
    first_pass = vae.loss_curve_[:]
    for chunk in _chunks(X):
        vae.partial_fit(chunk)
    assert vae.n_iter_ == 8 and vae.n_samples_seen_ == 2 * len(X)
    assert len(vae.loss_curve_) == 8 and vae.loss_curve_[:4] == first_pass
    assert np.mean(vae.loss_curve_[4:]) < np.mean(first_pass)  # it keeps learning
    assert vae.transform(X).shape == (len(X), 3)
    assert list(vae.latent_variance_) == sorted(vae.latent_variance_, reverse=True)


def test_partial_fit_is_reproducible_and_survives_pickling_between_calls(digits):
    chunks = _chunks(digits[0])
    straight = VAETransformer(n_components=2, **SMALL)
    for chunk in chunks:
        straight.partial_fit(chunk)
    again = VAETransformer(n_components=2, **SMALL)
    for chunk in chunks[:2]:
        again.partial_fit(chunk)
    again = pickle.loads(pickle.dumps(again))  # Adam's moments travel too
    for chunk in chunks[2:]:
        again.partial_fit(chunk)
    _same_weights(straight, again)


def test_partial_fit_refuses_a_changed_feature_count(digits):
    vae = VAETransformer(n_components=2, **SMALL).partial_fit(digits[0][:100])
    with pytest.raises(ValueError, match="X has 10 features, but VAETransformer is expecting 64"):
        vae.partial_fit(digits[0][:100, :10])


def test_partial_fit_after_fit_continues_that_model(digits, fitted):
    vae = pickle.loads(pickle.dumps(fitted))
    before = vae.transform(digits[0][:50])
    vae.partial_fit(digits[0][:200])
    assert vae.n_iter_ == fitted.n_iter_ + 1
    assert not np.array_equal(vae.transform(digits[0][:50]), before)


def test_gaps_after_a_complete_first_batch_are_refused(digits):
    vae = VAETransformer(n_components=2, **SMALL).partial_fit(digits[0][:100])
    X = digits[0][100:200].copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="no missing-value inputs"):
        vae.partial_fit(X)


# ------------------------------------------------------------- streamed fit


@pytest.fixture
def memmap(tmp_path, digits):
    path = tmp_path / "digits.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=digits[0].shape)
    out[:] = digits[0]
    out.flush()
    return np.load(path, mmap_mode="r")


def test_a_memmap_in_one_chunk_fits_as_the_array_in_memory(memmap):
    streamed = VAETransformer(n_components=2, **FAST).fit(memmap)
    in_memory = VAETransformer(n_components=2, **FAST).fit(np.array(memmap))
    _same_weights(streamed, in_memory)


def test_a_memmap_gives_the_statistics_and_codes_of_the_same_rows(memmap, monkeypatch):
    """Past _sampling.MAX_ROWS training rows, a streamed fit reads the rows
    drawn for the latent statistics and sample's mixture in file order and
    puts them back in the drawn order: the same as in memory."""
    monkeypatch.setattr(skvae._sampling, "MAX_ROWS", 300)
    streamed = VAETransformer(n_components=2, **FAST).fit(memmap)
    in_memory = VAETransformer(n_components=2, **FAST).fit(np.array(memmap))
    np.testing.assert_array_equal(streamed._mixture_codes, in_memory._mixture_codes)
    np.testing.assert_array_equal(streamed.latent_variance_, in_memory.latent_variance_)
    np.testing.assert_array_equal(
        streamed.sample(5, random_state=0), in_memory.sample(5, random_state=0)
    )


def test_a_memmap_streamed_in_many_chunks_trains(memmap, monkeypatch):
    monkeypatch.setattr(skvae._rows, "CHUNK_BYTES", 100 * 64 * 4)  # 100 rows a chunk
    vae = VAETransformer(n_components=2, **{**FAST, "max_iter": 20}).fit(memmap)
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    assert vae.validation_scores_[-1] > vae.validation_scores_[0]
    assert np.isfinite(vae.transform(memmap)).all()


class _LazyArray:
    """An array-like read only by row slices, as a zarr or h5py array."""

    def __init__(self, X):
        self._X, self.shape, self.dtype, self.ndim = X, X.shape, X.dtype, 2
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return self._X[key].copy()


def test_any_row_sliceable_array_is_streamed(digits):
    lazy = _LazyArray(digits[0].astype(np.float32))
    vae = VAETransformer(n_components=2, **FAST).fit(lazy)
    assert lazy.reads > 0 and vae.n_features_in_ == 64
    with pytest.raises(ValueError, match="needs them as floats"):
        VAETransformer(**FAST).fit(_LazyArray(digits[0].astype(np.int64)))


# --------------------------------------------------------------------- Dask

distributed = pytest.importorskip("distributed")
dask_ml = pytest.importorskip("dask_ml")


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with distributed.Client(cluster) as client:
            yield client
        cluster.close()


def test_dask_incremental_parallel_post_fit_and_grid_search(client, digits):
    import dask.array as da
    import joblib
    from dask_ml.wrappers import Incremental, ParallelPostFit
    from sklearn.model_selection import GridSearchCV

    X = digits[0].astype(np.float32)
    dX = da.from_array(X, chunks=(450, 64))
    incremental = Incremental(VAETransformer(n_components=2, **SMALL), random_state=0)
    incremental.fit(dX)
    vae = incremental.estimator_
    assert vae.n_iter_ == dX.numblocks[0] and vae.n_samples_seen_ == len(X)
    Z = ParallelPostFit(vae).transform(dX)
    np.testing.assert_allclose(Z.compute(), vae.transform(X))

    search = GridSearchCV(VAETransformer(**FAST), {"n_components": [2, 4]}, cv=2)
    with joblib.parallel_backend("dask"):
        on_dask = search.fit(X).cv_results_["mean_test_score"]
    local = GridSearchCV(VAETransformer(**FAST), {"n_components": [2, 4]}, cv=2, n_jobs=1)
    np.testing.assert_allclose(on_dask, local.fit(X).cv_results_["mean_test_score"])
