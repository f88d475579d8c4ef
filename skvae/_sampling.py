"""Where sampled codes come from: a Gaussian mixture fitted to the training
codes (ex-post density estimation, Ghosh et al. 2020), one draw z ~ q(z|x)
per training row: a sample of the aggregate posterior, where the decoder's
training inputs came from.

A VAE's codes never fill N(0, I) exactly: the prior has regions that no
training row's posterior covers, and decoding codes drawn there gives rows
unlike the data (blurry images, tables whose marginals drift). Drawing codes
from a density fitted to where the training rows actually sit removes that
mismatch. The mixture is stored as plain arrays, so that pickles and skops
files hold no extra types.
"""

import numpy as np
from sklearn.mixture import GaussianMixture

# Components of the mixture, and rows each needs at the least.
MAX_COMPONENTS = 10
ROWS_PER_COMPONENT = 20
# The mixture is fitted to at most this many codes, drawn at random: ten
# components in a few dimensions need no more, and EM's cost grows with the
# rows (on a streamed million rows it cost more memory and time than the fit,
# benchmarks/results/scale_mnist.md). The same rows' codes give the fitted
# latent statistics (latent_variance_, kl_per_component_), so that what a fit
# encodes after training is bounded too.
MAX_ROWS = 16384


def mixture_rows(n_rows: int, seed: int) -> np.ndarray:
    """Which of ``n_rows`` training rows the mixture (and the latent
    statistics) use: all, or MAX_ROWS of them drawn with ``seed``."""
    if n_rows <= MAX_ROWS:
        return np.arange(n_rows)
    return np.random.default_rng(seed).choice(n_rows, MAX_ROWS, replace=False)


def fit_code_mixture(codes: np.ndarray, seed: int) -> dict:
    """Weights, means and Cholesky factors of a full-covariance Gaussian
    mixture fitted to ``codes`` (n_rows, n_components): the codes of the
    training rows ``mixture_rows`` picks."""
    n_rows, n_components = codes.shape
    if n_rows < 2:  # nothing to estimate a spread from: the prior N(0, I)
        return {
            "weights": np.ones(1),
            "means": np.zeros((1, n_components)),
            "cholesky": np.eye(n_components)[None],
        }
    n_mixture = max(1, min(MAX_COMPONENTS, n_rows // ROWS_PER_COMPONENT))
    gmm = GaussianMixture(
        n_mixture, covariance_type="full", reg_covar=1e-4, random_state=seed
    ).fit(codes)
    return {
        "weights": gmm.weights_,
        "means": gmm.means_,
        "cholesky": np.linalg.cholesky(gmm.covariances_),
    }


def draw_codes(mixture: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` codes from the mixture, as a float64 array."""
    weights = np.asarray(mixture["weights"], dtype=np.float64)
    component = rng.choice(len(weights), size=n, p=weights / weights.sum())
    eps = rng.standard_normal((n, mixture["means"].shape[1]))
    return mixture["means"][component] + np.einsum(
        "nij,nj->ni", mixture["cholesky"][component], eps
    )
