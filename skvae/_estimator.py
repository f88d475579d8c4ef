"""VAETransformer: the scikit-learn face of the VAE.

Parameters, validation, scaling, tags and fitted attributes live here; the
model is in ``_model.py`` and the fit loop in ``_training.py``.
"""

import copy
import dataclasses
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._likelihoods import LIKELIHOODS
from ._model import VAE, ColumnGroup, VAEConfig
from ._rows import InMemoryRows, StreamedRows
from ._sampling import draw_codes, fit_code_mixture, mixture_rows
from ._table import Table, _is_frame
from ._training import (
    EVAL_BATCH_SIZE,
    TrainingConfig,
    make_optimizer,
    posterior_statistics,
    train,
)
from ._version import __version__

# A latent dimension is active when its posterior mean varies over the data
# by more than this (Burda et al., 2016): an inactive one carries no information.
ACTIVE_VARIANCE = 0.01

# Seed of the noise shared by every row in score_samples: fixed, so that scores
# are deterministic and a row's score does not depend on the rows beside it.
_SCORE_NOISE_SEED = 0


# learning_rate_init="auto": Adam's peak rate at a batch of 512 rows, scaled
# down in proportion for smaller batches, but no lower than at LR_FLOOR_ROWS:
# small tables (batches of 16 to 43 rows on penguins, wine and breast_cancer)
# trained at the proportional rate end under-fitted
# (benchmarks/results/lr_floor.md). The floor is low enough that small tables
# with gaps (bench_impute's airquality) still impute better than their means.
PEAK_LEARNING_RATE = 1.5e-2
LR_FLOOR_ROWS = 64

# batch_size="auto" and max_iter="auto": batches of at most AUTO_BATCH_ROWS
# (a tenth of the training rows on small data, at least 16), for about
# AUTO_STEPS optimizer steps but at most AUTO_MAX_EPOCHS epochs. Tuned for
# time to quality against skvae 0.1.0 (benchmarks/bench_versions.py): on
# MNIST, batches of 256 for 24 epochs fit in 0.27-0.35x of 0.1.0's time with
# 0.005 less LogReg accuracy on average over three seeds, where batches of
# 512 for 24 epochs took 0.23-0.29x and lost 0.010
# (results/versions_mnist_seeds.md and versions_mnist_seeds_rerun.md, and the
# former as of commit 80e9b06); on digits, 100 epochs take 0.32x of 0.1.0's
# 200 with 0.020 more accuracy (results/versions_digits.md).
AUTO_BATCH_ROWS = 256
AUTO_STEPS = 5_040
AUTO_MAX_EPOCHS = 100

# A streamed fit validates on at most this many of its held-out rows, copied
# into memory once.
MAX_STREAMED_VALIDATION = 16384

# transform encodes with the fitted float32 module, each encoder pass on at
# least this many rows (a shorter batch is padded). On this project's CPU,
# torch's float32 matrix products gave a row the same bits in every batch of
# 12 rows or more, and other bits in some smaller batches (observed, not a
# documented guarantee); tests/test_estimator.py checks transform bit for bit,
# alone and in batches of every size up to 40.
MIN_ENCODER_ROWS = 16


def _is_out_of_core(X) -> bool:
    """A memmap, or an array-like that is not a numpy array nor a DataFrame
    but can be sliced by rows (dask, zarr, h5py): fit streams it in chunks."""
    if isinstance(X, np.memmap):
        return True
    if isinstance(X, np.ndarray) or _is_frame(X) or not hasattr(X, "__getitem__"):
        return False
    if scipy.sparse.issparse(X):  # validate_data refuses it, with the fix
        return False
    return getattr(X, "ndim", None) == 2 and hasattr(X, "dtype")


class _Materialized:
    """An out-of-core array whose row slices come back as numpy arrays; the
    array itself is never read whole."""

    def __init__(self, source):
        if np.dtype(source.dtype).kind != "f":
            raise ValueError(
                f"fit streams arrays that are not in memory (here a "
                f"{type(source).__name__}), and needs them as floats, not "
                f"{source.dtype}: store the data as float32 (e.g. "
                f"np.lib.format.open_memmap(path, dtype=np.float32, ...))."
            )
        self.source, self.shape, self.dtype, self.ndim = source, source.shape, source.dtype, 2

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        return np.asarray(self.source[key])

    def scan(self, chunk: int = 65536) -> bool:
        """One pass over the rows: raise on an infinity, and say whether
        there is a gap (NaN)."""
        gaps = False
        for start in range(0, self.shape[0], chunk):
            block = self[start : start + chunk]
            if np.isinf(block).any():
                raise ValueError(
                    "Input X contains infinity: replace it with NaN or a finite value."
                )
            gaps = gaps or bool(np.isnan(block).any())
        return gaps


def _has_nan(U: np.ndarray, chunk: int = 8192) -> bool:
    """Whether U holds a NaN, without a full-size temporary."""
    return any(np.isnan(U[i : i + chunk]).any() for i in range(0, len(U), chunk))


class SkvaeVersionWarning(UserWarning):
    """A pickled VAETransformer was saved by another version of skvae."""


def _resolve_device(device) -> torch.device:
    """The torch.device that ``device`` names, checked to exist on this machine."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"device={device!r} is not a device torch knows. Use 'auto', 'cpu', "
            f"'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested, but CUDA is not available here "
            f"(torch {torch.__version__}, built "
            f"{'with CUDA ' + torch.version.cuda if torch.version.cuda else 'without CUDA'}). "
            f"Use device='cpu', or device='auto' to take a GPU only when one is present."
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was requested, but MPS is not available here. "
            f"Use device='cpu' or device='auto'."
        )
    return resolved


@dataclasses.dataclass(frozen=True)
class _FitOutcome:
    """What ``VAETransformer._fit`` tells its caller (VAEImputer) beyond the
    fitted attributes."""

    validation_rows: np.ndarray | None  # the rows held out for early stopping
    interrupted: bool  # a KeyboardInterrupt ended the epochs; the best weights were kept


def _rows(A, rows):
    """Rows of an array or a DataFrame: a slice or an index array."""
    return A.iloc[rows] if hasattr(A, "iloc") else A[rows]


# What a PCA user reaches for, and where the VAE's counterpart is.
_FROM_PCA = {
    "components_": "a VAE has no linear components: its decoder is a network. "
    "inverse_transform(Z) maps codes to data (inverse_transform(np.eye(n_components)) "
    "shows what each axis alone decodes to)",
    "explained_variance_": "a VAE explains no variance along axes; latent_variance_ "
    "(sorted, as PCA's) is each code's variance, kl_per_component_ the information it "
    "carries, and score(X) the held-out log-likelihood to compare sizes by",
    "explained_variance_ratio_": "score(X) is the held-out log-likelihood to compare sizes "
    "by; latent_variance_ and n_active_components_ say how many latent dimensions are used",
    "singular_values_": "a VAE has no singular values; latent_variance_ and "
    "kl_per_component_ say how much each latent dimension carries",
    "noise_variance_": "the decoder has one variance per Gaussian column (in model units: "
    "module_.likelihoods); sample(noise=True) draws with it",
    "n_components_": "the latent size is n_components; n_active_components_ counts the "
    "dimensions that carry information",
    "get_covariance": "a VAE's covariance of x is not a closed form; estimate it from "
    "sample(n, noise=True)",
    "get_precision": "a VAE's covariance of x is not a closed form; estimate it from "
    "sample(n, noise=True)",
}


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Variational autoencoder as a scikit-learn transformer.

    Learns a nonlinear, probabilistic low-dimensional code for X: an encoder
    q(z|x) = N(mu(x), diag sigma^2(x)), a decoder p(x|z) and a standard normal
    prior p(z) = N(0, I), trained by minimizing the negative evidence lower
    bound (ELBO) with Adam. ``transform`` returns the posterior means mu(x), so
    the estimator can stand where :class:`~sklearn.decomposition.PCA` stands.

    Parameters
    ----------
    n_components : int, default=10
        Dimension of the latent code z. PCA's fractions (0.95), "mle" and
        None are refused with a pointer to how a VAE's size is chosen: by
        ``score`` in a grid search, or by ``kl_per_component_``.

    hidden_layer_sizes : array-like of int, default=(256, 128)
        Widths of the encoder's ReLU hidden layers; the decoder mirrors them.
        An empty tuple gives a linear VAE, which with the Gaussian likelihood
        fits probabilistic PCA.

    likelihood : str or dict, default="auto"
        Distribution p(x|z) of each column, one class per distribution in
        ``skvae/_likelihoods/``. A name applies to every column; a dict maps
        columns (names for DataFrames, or positions) to names, the others
        taking "auto". The names:

        - "gaussian": real values, centered and scaled inside (see
          ``scaling``), one variance per column, learned in training and
          then set in closed form to the mean squared residual of the
          held-out rows (without early stopping: of the training rows, at
          most 65,536 of them),
          floored at 1% of the column's variance (of the shared variance
          with ``scaling="global"``), so that constant or discrete columns
          cannot drive the likelihood to infinity. The encoder sees the scaled
          values softly bounded to (-3, 3).
        - "lognormal": positive, right-skewed amounts: a Gaussian on the
          standardized log; scores are densities of x itself.
        - "bernoulli": flags and values in [0, 1] (pixel intensities);
          values outside raise.
        - "categorical": strings and categories, one-hot inside, a softmax
          over the categories seen in fit. An unseen category is encoded as
          all zeros by ``transform`` (as ``OneHotEncoder(handle_unknown=
          "ignore")``) and refused by ``score_samples``.
        - "poisson", "negbinomial": non-negative integer counts; the negative
          binomial learns one dispersion per column.
        - "quantile": any numeric column, mapped by its own training
          quantiles to normal scores (a Gaussian copula's margins) and
          modelled by a Gaussian there. Draws follow the column's own
          distribution (skew, zero shares, modes) and stay in its training
          range; a value the training data holds many times (a mass point)
          is scored by its probability, other values by their density in
          the column's units. The variance in score space is set after
          training like a Gaussian column's, or, where the column has mass
          points, to the best of a grid of values by the held-out rows'
          likelihood.
        - "auto": per column, from its dtype and values: bool and integer
          columns holding only 0 and 1 -> "bernoulli"; category, object and
          string columns -> "categorical"; a DataFrame's other numeric
          columns, and its datetime and timedelta columns (counted in the
          coarsest unit that holds every training value whole: days for
          dates), -> "quantile". A numpy array's columns (pixels, spectra,
          embeddings) -> "lognormal" when positive and right-skewed
          (skewness above 1, halved by a log), "gaussian" otherwise. The
          choice is in ``likelihoods_``.

    scaling : {"auto", "global", "feature"}, default="auto"
        How the Gaussian columns are scaled. All are centered.

        - "global": divide every Gaussian column by one scale, the root of
          the mean column variance. Columns keep their relative variances,
          as in PCA, so low-variance columns (the almost always blank pixels
          at an image's border) weigh little in the codes. Best when columns
          share a unit: pixels, spectra, embeddings.
        - "feature": divide each column by its own standard deviation, as
          StandardScaler does, so every column weighs alike: right for
          columns in unrelated units (dollars beside years).
        - "auto": "global" when most Gaussian columns span the same range as
          the widest (the median range is at least half the largest: images),
          else "feature".

    beta : float, default=1.0
        Weight of the KL term: loss = -E_q[log p(x|z)] + beta * KL(q || p).
        ``beta=1`` is the negative ELBO; smaller values keep more latent
        dimensions active, larger ones give smoother codes.

    kl_warmup : int, default=0
        Number of epochs over which the KL weight rises linearly from 0 to
        ``beta`` (batch by batch), a guard against posterior collapse early in
        training. Not applied again when ``warm_start`` continues a fit.

    free_bits : float, default=2.0
        Minimum KL in nats per latent dimension in the training objective
        (Kingma et al., 2016): below it a dimension's KL is not penalized, so
        the optimizer gains nothing by collapsing it, and each dimension may
        carry up to that much information about x for free, which keeps
        reconstructions sharp. ``0`` disables it and trains on the plain
        (beta-weighted) negative ELBO. ``kl_per_component_`` reports the true
        KL either way.

    batch_size : int or "auto", default="auto"
        Rows per optimizer step; clipped to the number of training rows.
        "auto" takes 256, or on fewer than 2,560 training rows a tenth of
        them (at least 16), so that small tables get about ten optimizer
        steps per epoch.

    learning_rate : {"cosine", "constant"}, default="cosine"
        The learning-rate schedule. "cosine": a linear warm-up over the
        first two epochs to ``learning_rate_init``, then a cosine decay that
        reaches 0 at the end of ``max_iter`` epochs; a fit that runs to that
        end has finished its schedule (no ConvergenceWarning). "constant":
        ``learning_rate_init`` throughout, as in 0.1. ``partial_fit`` warms
        up over its first two calls and then keeps ``learning_rate_init``
        (with "constant": throughout).

    learning_rate_init : float or "auto", default="auto"
        Adam's (peak) learning rate. "auto": 1.5e-2 for a batch of 512 rows,
        in proportion to the batch size (the linear scaling rule, Goyal et
        al. 2017) down to batches of 64 rows, and 1.875e-3 below that:
        7.5e-3 on MNIST's batches of 256, about 5e-3 on digits' batches of 162,
        1.875e-3 on tables of fewer than 640 training rows, which the
        proportional rate left under-fitted.

    max_iter : int or "auto", default="auto"
        Maximum number of epochs (passes over the training rows), and the
        length of the cosine schedule. "auto" allows
        ``min(100, ceil(5040 / batches per epoch))`` epochs, about 5,000
        optimizer steps on large data (24 epochs on MNIST's 54,000 training
        rows at the default batch size) and 100 epochs on small data, where
        an epoch is about ten steps. Chosen for time to quality against
        skvae 0.1.0 (``benchmarks/bench_versions.py``) and on the table
        benchmarks (``benchmarks/results/epochs_200/`` holds 200-epoch runs
        of the tables: longer fits, with samples worse on three tables of
        five).

    tol : float, default=1e-4
        Improvement, in nats per row, that counts as progress: training stops
        once the validation score (``early_stopping=True``) or the training
        loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.

    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows, stop when their ELBO
        stops improving, and keep the weights of the best epoch.

    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.

    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` before training stops.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, the validation split and the
        reparameterization noise. An int gives identical fits on the CPU.

    device : str or torch.device, default="auto"
        Where to train and predict: "auto" takes CUDA when available, else
        the CPU; or "cpu", "cuda", "cuda:1", ... Asking for a device that is
        not there raises ValueError.

    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training steps' matrix products. "auto" trains the
        layers on bfloat16 copies of their float32 weights (autocast's
        arithmetic, cast once a step) where the hardware computes it natively
        (CPUs with AVX512-BF16 or AMX, recent GPUs) and a training step's
        matrix products are large (at least 48 million multiply-adds: batch
        rows times the layers' weights, as on MNIST's batches of 256), and
        float32 elsewhere: on smaller steps (digits, most tables) casting to
        bfloat16 costs more than it saves.
        Likelihoods, the KL, gradients' accumulation and Adam's state stay
        float32. "float32" forces full precision. Each path gives bitwise
        identical fits for the same ``random_state`` on the same machine;
        ``precision_`` says which ran. Prediction is unaffected: transform
        encodes in float32, decoding and scores run in float64 on the CPU.

    verbose : int, default=0
        0 is silent; 1 draws a progress bar with the running loss on stderr;
        2 prints one line per epoch (loss, validation score, seconds).

    warm_start : bool, default=False
        Continue from the previous fit's weights (and standardization) instead
        of starting afresh. The architecture parameters must not change.

    Attributes
    ----------
    module_ : torch.nn.Module
        The fitted VAE (a ``skvae._model.VAE``), in eval mode.

    likelihoods_ : dict
        The likelihood of each column, by column name (DataFrames) or
        position (arrays).

    table_ : object
        The fitted column schema: each column's kind, dtype, range and
        likelihood, and what each likelihood learned from the training
        values. ``inverse_transform`` and ``sample`` rebuild the training
        table's columns and dtypes from it.

    mean_ : ndarray of shape (n_features_in_,)
        The mean subtracted from each Gaussian column before the model sees
        it (0 for other columns).

    scale_ : ndarray of shape (n_features_in_,)
        What each Gaussian column is divided by after centering: one shared
        value with ``scaling="global"``, each column's standard deviation
        with ``scaling="feature"`` (1 for constant columns); 1 for other
        columns.

    loss_curve_ : list of float
        Training objective per epoch, in nats per row, in the units of X.

    validation_scores_ : list of float or None
        Minus the training objective on the held-out rows per epoch, in nats
        per row in the units of :meth:`score`: their ELBO when ``beta=1`` and
        ``free_bits=0``, with the free bits' floor otherwise. Early stopping
        compares it (the plain ELBO falls while the free KL fills up). None
        without early stopping.

    best_validation_score_ : float or None
        The best of ``validation_scores_``, whose weights were kept.

    latent_variance_ : ndarray of shape (n_components,)
        Variance over the training rows (at most 16,384 of them, drawn at
        random, on larger data) of each latent dimension's posterior mean
        mu(x), in decreasing order: the dimensions are sorted by it, so
        ``transform(X)[:, 0]`` is the most informative code, as with PCA.

    n_active_components_ : int
        Latent dimensions whose ``latent_variance_`` exceeds 0.01, the
        active units of Burda et al. (2016); the others have collapsed to
        the prior and carry no information.

    precision_ : str
        The precision the fit ran in, "float32" or "bfloat16".

    code_mixture_ : dict of ndarray
        A Gaussian mixture fitted to the training rows' codes ("weights",
        "means", "cholesky" factors of the covariances), one draw
        z ~ q(z|x) for each of at most 16,384 training rows drawn at random (a
        sample of the aggregate posterior), that ``sample`` draws codes from
        by default. It is fitted the first time it is read, so that a fit
        does not pay for it unless samples are drawn.

    kl_per_component_ : ndarray of shape (n_components,)
        Mean KL(q(z_j|x) || p(z_j)) in nats per latent dimension over the
        training rows of ``latent_variance_``, of the kept weights, in closed
        form: the true KL, without the free bits' floor. A dimension near 0
        carries no information about x: the posterior has collapsed to the
        prior there.

    n_iter_ : int
        Number of epochs run (by ``partial_fit``: the number of calls).

    n_samples_seen_ : int
        Rows processed in training, each pass counted: training rows times
        epochs after ``fit``; the sum of the batches' rows over
        ``partial_fit`` calls.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear projection; the deterministic baseline.
    sklearn.decomposition.FactorAnalysis : Linear Gaussian latent model.

    Notes
    -----
    Training runs in float32. On the CPU, ``transform``, ``inverse_transform``,
    ``score_samples`` and ``sample`` compute in float64 from the float32
    weights, so that a row's result does not depend on the rows batched with
    it; on a GPU they compute in float32.

    References
    ----------
    Kingma, D. P. and Welling, M. (2014). Auto-Encoding Variational Bayes.
    Burda, Y., Grosse, R. and Salakhutdinov, R. (2016). Importance Weighted
    Autoencoders.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(n_components=2, max_iter=5, random_state=0)
    >>> Z = vae.fit_transform(X)
    >>> Z.shape
    (1797, 2)
    """

    _parameter_constraints: dict = {
        # PCA's fractions, "mle" and None pass here so that fit can say what
        # a VAE does instead (see _check_n_components).
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "likelihood": [StrOptions({"auto", *LIKELIHOODS}), dict],
        "scaling": [StrOptions({"auto", "global", "feature"})],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "free_bits": [Interval(Real, 0, None, closed="left")],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [StrOptions({"cosine", "constant"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        n_components=10,
        *,
        hidden_layer_sizes=(256, 128),
        likelihood="auto",
        scaling="auto",
        beta=1.0,
        kl_warmup=0,
        free_bits=2.0,
        batch_size="auto",
        learning_rate="cosine",
        learning_rate_init="auto",
        max_iter="auto",
        tol=1e-4,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        device="auto",
        precision="auto",
        verbose=0,
        warm_start=False,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.likelihood = likelihood
        self.scaling = scaling
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.free_bits = free_bits
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.warm_start = warm_start

    def __getattr__(self, name):
        # Only reached when normal lookup fails: name PCA's attributes' counterparts.
        if name in _FROM_PCA:
            raise AttributeError(
                f"'VAETransformer' has no attribute {name!r}, which is PCA's: {_FROM_PCA[name]}."
            )
        raise AttributeError(f"'VAETransformer' object has no attribute {name!r}")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = True
        return tags

    @property
    def _n_features_out(self):
        """Number of transformed output features, for get_feature_names_out."""
        return self.n_components

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the VAE to X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Sparse matrices are refused: densify with
            ``X.toarray()`` first.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : VAETransformer
            The fitted estimator.
        """
        self._fit_or_restore(X)
        return self

    def _fit_or_restore(self, X, **options):
        """``_fit``'s result. Fit on the side: a fit that raises (bad data,
        divergence, an interrupt outside the epoch loop) leaves the estimator
        as it was."""
        before = self.__dict__.copy()
        try:
            return self._fit(X, **options)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _check_n_components(self):
        n = self.n_components
        if isinstance(n, Integral) and not isinstance(n, bool):
            return
        how = (
            "Pass an int (the latent size). To choose it without labels, "
            "GridSearchCV(VAETransformer(), {'n_components': [2, 4, 8, 16]}) picks the "
            "size with the best score (the held-out log-likelihood); or fit a generous "
            "size and read n_active_components_ (the dimensions that carry information)."
        )
        if n is None:
            why = "PCA(n_components=None) keeps every component; a VAE needs a latent size."
        elif n == "mle":
            why = (
                "n_components='mle' is Minka's estimate of PCA's dimension, which has no "
                "counterpart for a nonlinear model."
            )
        else:
            why = (
                f"n_components={n!r} asks PCA for the components that explain {n:.0%} of "
                f"the variance; a VAE has no explained-variance ratio to threshold."
            )
        raise InvalidParameterError(f"{why} {how}")

    def _fit(self, X, missing_indicators=False, hide_rate=0.0, table=None):
        """Fit on X; return a ``_FitOutcome`` (the rows held out for
        validation, None without early stopping; whether a KeyboardInterrupt
        ended the training). The model gets missing-value
        indicators when X has gaps or ``missing_indicators`` asks for them,
        and training hides a share ``hide_rate`` of the observed entries from
        the encoder (VAEImputer's training for filling gaps). ``table``: the
        schema and column statistics to use instead of fitting them on X
        (VAEImputer's cross-fitting, whose models must share the model units
        of the model they stand in for). An array that is not in memory (a
        memmap, a dask or zarr array) is streamed in chunks, never copied
        whole."""
        self._check_n_components()
        warm = self.warm_start and hasattr(self, "module_")
        streamed = _is_out_of_core(X)
        X = _Materialized(X) if streamed else self._check_input(X, reset=not warm)
        if streamed:
            _check_n_features(self, X, reset=not warm)
            has_gaps = X.scan()  # before any statistics: an infinity raises first
        n_samples = X.shape[0]
        if table is None:
            table = self.table_ if warm else Table.fit(X, self.likelihood, self.scaling, streamed)
        device = _resolve_device(self.device)
        rng = check_random_state(self.random_state)
        config = VAEConfig(self.n_components, self._hidden_sizes(), tuple(table.groups))

        train_index, val_index = self._split(n_samples, rng)
        if streamed:
            rows = StreamedRows(
                X,
                train_index,
                lambda block: table.to_model(block, dtype=np.float32),
                device,
                table.n_features,
            )
            validation = None
            if val_index is not None:
                held_out = val_index[:MAX_STREAMED_VALIDATION]
                validation = (rows.take(held_out), torch.arange(len(held_out), device=device))
            head = X[: rows.chunk_rows]
        else:
            # One float32 copy of X in the model's units (NaN in the gaps): the
            # only copy fit makes.
            U = table.to_model(X, dtype=np.float32)
            has_gaps = _has_nan(U)
            Xt = torch.from_numpy(U).to(device)
            rows = InMemoryRows(Xt, torch.as_tensor(train_index, device=device))
            validation = None
            if val_index is not None:
                validation = (Xt, torch.as_tensor(val_index, device=device))
            head = X
        if missing_indicators or has_gaps or (warm and self.module_.config.missing_indicators):
            config = dataclasses.replace(config, missing_indicators=True)
        if warm:
            if self.module_.config.architecture() != config.architecture():
                raise ValueError(
                    f"warm_start=True continues the previous fit, whose architecture "
                    f"{self.module_.config.architecture()} (latent size, hidden layers, "
                    f"likelihoods) differs from the requested {config.architecture()}. "
                    f"Set warm_start=False to fit a new model."
                )
            model = copy.deepcopy(self.module_).to(device)
        else:
            init = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
            model = VAE(config, init).to(device)

        max_iter = self._max_epochs(len(train_index))
        result = train(
            model,
            rows,
            validation,
            self._training_config(
                table, head, len(train_index), max_iter, warm=warm, hide_rate=hide_rate
            ),
            seed=int(rng.randint(2**31 - 1)),
        )
        if result.interrupted:
            warnings.warn(
                f"fit was interrupted after {result.n_iter} epochs; keeping the "
                f"weights of epoch {result.best_epoch}. The estimator is usable; call "
                f"fit again (warm_start=True continues) to train further.",
                UserWarning,
                stacklevel=3,
            )
        elif not result.stopped_early and self.learning_rate == "constant":
            warnings.warn(
                f"VAETransformer: max_iter={self.max_iter!r} ended the fit after "
                f"{max_iter} epochs, before the stopping criterion was met. Pass a "
                f"larger max_iter to train further.",
                ConvergenceWarning,
                stacklevel=3,
            )
        # A new fit: a later partial_fit starts a fresh optimizer.
        for key in ("_optimizer", "_partial_seed", "_n_steps"):
            self.__dict__.pop(key, None)
        self.loss_curve_ = result.loss_curve
        self.validation_scores_ = result.validation_scores if val_index is not None else None
        self.best_validation_score_ = (
            max(result.validation_scores) if result.validation_scores else None
        )
        self.n_iter_ = result.n_iter
        self.n_samples_seen_ = len(train_index) * result.n_iter
        seed = int(rng.randint(2**31 - 1))
        some = rows.take(train_index[mixture_rows(len(train_index), seed)])
        self._set_model(model, table, result, X, some, seed)
        return _FitOutcome(val_index, result.interrupted)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One pass of minibatch updates over the rows of X.

        The first call (on an unfitted estimator) fixes what a fit fixes from
        the data: the number and names of the features, each column's
        likelihood and the scaling statistics, all from this first batch of
        rows, so it should be representative (a shuffled chunk, not the rows
        of one class or one month). Later calls continue the same model and
        optimizer state (Adam's moments, the KL warm-up); ``n_iter_`` counts
        the calls, ``loss_curve_`` gets one value per call and
        ``n_samples_seen_`` the rows seen. No rows are held out and nothing
        stops early: the caller decides when to stop. After a ``fit``,
        partial_fit continues that fit's model with a fresh optimizer.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            A batch of training rows, with the columns of the first call.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : VAETransformer
            The estimator, updated.
        """
        first = not hasattr(self, "module_")
        if first:
            self._check_n_components()
        X = self._check_input(X, reset=first)
        table = Table.fit(X, self.likelihood, self.scaling) if first else self.table_
        U = table.to_model(X, dtype=np.float32)
        has_gaps = _has_nan(U)
        if first:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            config = VAEConfig(
                self.n_components, self._hidden_sizes(), tuple(table.groups), has_gaps
            )
            model = VAE(config, torch.Generator().manual_seed(seed))
            model = model.to(_resolve_device(self.device))
            self._partial_seed, self.n_samples_seen_, self.loss_curve_ = seed, 0, []
            self.n_iter_, self.validation_scores_, self.best_validation_score_ = 0, None, None
        else:
            model = self.module_
            if not hasattr(self, "_partial_seed"):  # continuing a fit
                seed = check_random_state(self.random_state).randint(2**31 - 1)
                self._partial_seed = int(seed)
            if has_gaps and not model.config.missing_indicators:
                raise ValueError(
                    "X has missing values, but the model was built by a first "
                    "partial_fit call (or a fit) on rows without any, so it has no "
                    "missing-value inputs. Start again with a first batch that has "
                    "gaps, or fill them first."
                )
        device = next(model.parameters()).device
        optimizer = getattr(self, "_optimizer", None)
        if optimizer is None:
            optimizer = make_optimizer(model.parameters(), self._learning_rate(len(U)))
            self._n_steps = 0
        Xt = torch.from_numpy(U).to(device)
        rows = InMemoryRows(Xt, torch.arange(len(Xt), device=device))
        result = train(
            model,
            rows,
            None,
            self._training_config(
                table,
                X,
                len(Xt),
                1,
                warm=False,
                schedule="warmup" if self.learning_rate == "cosine" else "constant",
                # one call's rows are too few to set the variances from:
                # Adam keeps learning them across calls
                fit_variances=False,
            ),
            seed=self._partial_seed + self.n_iter_,
            optimizer=optimizer,
            first_step=self._n_steps,
        )
        self._optimizer, self._n_steps = optimizer, result.n_steps
        self.n_samples_seen_ += len(Xt)
        self.n_iter_ += 1
        self.loss_curve_ = [*self.loss_curve_, *result.loss_curve]
        seed = self._partial_seed + self.n_iter_
        some = rows.take(mixture_rows(len(Xt), seed))
        self._set_model(model, table, result, X, some, seed, optimizer)
        return self

    def _training_config(
        self, table, X, n_train, max_iter, warm, hide_rate=0.0, schedule=None, fit_variances=True
    ):
        return TrainingConfig(
            batch_size=self._batch_size(n_train),
            learning_rate=self._learning_rate(n_train),
            schedule=schedule or self.learning_rate,
            max_iter=max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            beta=self.beta,
            kl_warmup=0 if warm else self.kl_warmup,
            free_bits=self.free_bits,
            verbose=self.verbose,
            # log |d(model units)/dx|, averaged: reported figures are in X's units.
            nats_offset=float(table.log_jacobian(X).mean()),
            precision=self.precision,
            hide_rate=hide_rate,
            fit_variances=fit_variances,
        )

    def _set_model(self, model, table, result, X, rows, seed, optimizer=None) -> None:
        """Keep the trained model and what it reports. ``rows``: training rows
        in the model's units (at most ``_sampling.MAX_ROWS``, drawn with
        ``seed``), whose posteriors give the latent statistics, the order of
        the latent dimensions (most active first, as PCA orders its
        components) and the codes that ``sample``'s mixture is fitted to: one
        draw z ~ q(z|x) per row, a sample of the aggregate posterior, the
        codes the decoder was trained on (a mixture of the posterior means,
        which are less spread, gave lower SDMetrics quality and DCR ratios:
        README, "Synthetic tables")."""
        self.module_ = model
        inference = self._make_inference_module()
        variance, kl, mu, log_var = posterior_statistics(inference, rows)
        eps = np.random.default_rng(seed).standard_normal(mu.shape)
        codes = mu + np.exp(0.5 * log_var) * eps
        order = np.argsort(-variance, kind="stable")
        moves = torch.as_tensor(order, device=next(model.parameters()).device)
        model.permute_latents(moves, optimizer)
        if inference is not model:  # the float64 copy: the same exact moves
            inference.permute_latents(moves)
        self._inference_module = inference
        self.table_ = table
        self.likelihoods_ = table.likelihoods()
        self.mean_, self.scale_ = self._gaussian_scaling(table)
        self.latent_variance_ = variance[order]
        self.n_active_components_ = int(np.sum(self.latent_variance_ > ACTIVE_VARIANCE))
        self.kl_per_component_ = kl[order]
        self.precision_ = result.precision
        # A dtype's name, not the dtype: the state stays plain data for skops.
        self._fit_dtype = "float64" if table.is_frame else X.dtype.name
        self._keep_codes(codes[:, order], seed)

    def _keep_codes(self, codes: np.ndarray, seed: int) -> None:
        """Keep the training codes that ``code_mixture_`` is fitted to when
        first read (by ``sample``): a fit does not pay for EM it may never use."""
        self._mixture_codes = codes
        self._mixture_seed = seed
        self.__dict__.pop("_code_mixture", None)

    @property
    def code_mixture_(self) -> dict:
        """A Gaussian mixture fitted to the training rows' codes, that
        ``sample`` draws codes from; fitted on first use."""
        # (a pickle from before the lazy fit holds the mixture itself)
        mixture = self.__dict__.get("_code_mixture", self.__dict__.get("code_mixture_"))
        if mixture is None:
            mixture = fit_code_mixture(self._mixture_codes, self._mixture_seed)
            self._code_mixture = mixture
        return mixture

    def _batch_size(self, n_train: int) -> int:
        if self.batch_size != "auto":
            return min(self.batch_size, n_train)
        # fewer rows on small tables, so that an epoch is about 10 steps
        return min(n_train, AUTO_BATCH_ROWS, max(16, math.ceil(n_train / 10)))

    def _learning_rate(self, n_train: int) -> float:
        if self.learning_rate_init != "auto":
            return self.learning_rate_init
        return PEAK_LEARNING_RATE * max(self._batch_size(n_train), LR_FLOOR_ROWS) / 512

    def _max_epochs(self, n_train: int) -> int:
        if self.max_iter != "auto":
            return self.max_iter
        steps_per_epoch = math.ceil(n_train / self._batch_size(n_train))
        return min(AUTO_MAX_EPOCHS, math.ceil(AUTO_STEPS / steps_per_epoch))

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {sizes!r}. "
                f"Pass e.g. (256, 128), or () for a linear VAE."
            )
        return tuple(int(s) for s in sizes)

    def _split(self, n_samples, rng):
        """Row indices to train on and to validate on (None without early stopping)."""
        if not self.early_stopping:
            return np.arange(n_samples), None
        n_val = math.ceil(self.validation_fraction * n_samples)
        if n_samples - n_val < 1:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the rows, which leaves no row to train "
                f"on with n_samples={n_samples}. Pass more rows, or set "
                f"early_stopping=False."
            )
        order = rng.permutation(n_samples)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    @staticmethod
    def _gaussian_scaling(table: Table) -> tuple[np.ndarray, np.ndarray]:
        """mean_ and scale_: the Gaussian columns' centering and scale, 0 and 1
        for the others."""
        mean, scale = np.zeros(table.n_features), np.ones(table.n_features)
        for (name, members), group in zip(table.layout, table.groups, strict=True):
            if name == "gaussian":
                mean[members], scale[members] = group.stats["mean"], group.stats["scale"]
        return mean, scale

    def _check_input(self, X, reset: bool):
        """X validated: a DataFrame is checked for names and width and kept as
        it is (its columns have their own kinds); anything else becomes a
        float array through validate_data."""
        if _is_frame(X):
            _check_feature_names(self, X, reset=reset)
            _check_n_features(self, X, reset=reset)
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(
                    f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
                    f"while a minimum of 1 is required by VAETransformer."
                )
            return X
        if not reset and getattr(self, "table_", None) is not None and self.table_.is_frame:
            numeric = all(c.kind in ("float", "int", "bool") for c in self.table_.columns)
            dtype = [np.float64, np.float32] if numeric else None
            return validate_data(self, X, dtype=dtype, reset=False, ensure_all_finite="allow-nan")
        try:
            return validate_data(
                self, X, dtype=[np.float64, np.float32], reset=reset, ensure_all_finite="allow-nan"
            )
        except ValueError as exc:
            if "could not convert string" not in str(exc):
                raise
            raise ValueError(
                f"{exc}. VAETransformer models string columns as categories when they "
                f"come in a pandas DataFrame: pass X as a DataFrame (its string columns "
                f"get likelihood='categorical'), or encode them as numbers first."
            ) from exc

    # -------------------------------------------------------- inference

    def _make_inference_module(self) -> VAE:
        """The module that serves decoding, scores and imputation: a float64 copy
        on the CPU (so that results do not depend on batching), the fitted
        module itself elsewhere. transform encodes with the fitted module."""
        if next(self.module_.parameters()).device.type == "cpu":
            return copy.deepcopy(self.module_).double().eval()
        return self.module_

    def _validated_X(self, X):
        check_is_fitted(self)
        return self._check_input(X, reset=False)

    def _batched(
        self, A, fn, n_out, *, to_model=False, rows_per_batch=None, module=None, min_rows=1
    ):
        """Apply ``fn(module, a)`` to the rows of A batch by batch and return a
        float64 array with ``n_out`` columns (None: one value per row).

        ``to_model`` maps rows of X into the model's units first (on the host,
        in float64, so large offsets survive a float32 device). ``fn`` returns
        a tensor or a numpy array. ``module``: the inference module unless
        given. A batch of fewer than ``min_rows`` rows is padded to that many
        by repeating its first row, and the padding's results dropped.
        """
        module = self._inference_module if module is None else module
        rows_per_batch = rows_per_batch or EVAL_BATCH_SIZE
        param = next(module.parameters())
        host_dtype = np.float64 if param.dtype == torch.float64 else np.float32
        out = np.empty((A.shape[0],) if n_out is None else (A.shape[0], n_out))
        with torch.inference_mode():
            for start in range(0, A.shape[0], rows_per_batch):
                rows = _rows(A, slice(start, start + rows_per_batch))
                if to_model:
                    rows = to_model(rows)
                # A writable copy: torch warns on read-only arrays (pandas 3 hands
                # them over), and the batch is small. Values beyond float32's
                # range become inf, which the callers' finite checks report.
                with np.errstate(over="ignore"):
                    rows = np.array(rows, dtype=host_dtype)
                n_rows = len(rows)
                if n_rows < min_rows:
                    rows = np.concatenate([rows, np.repeat(rows[:1], min_rows - n_rows, 0)])
                result = fn(module, torch.from_numpy(rows).to(param.device))[:n_rows]
                if isinstance(result, torch.Tensor):
                    result = result.cpu().numpy()
                out[start : start + rows_per_batch] = result
        return out

    def _to_data(self, U, dtype, method, what, toward=None, estimates=False):
        """Model-unit rows into X's units and types (checked finite first);
        ``toward`` and ``estimates``: see ``Table.from_model``."""
        self._finite(U, method, what)
        return self.table_.from_model(U, dtype=dtype, toward=toward, estimates=estimates)

    @staticmethod
    def _out_dtype(X):
        """float32 for float32 arrays (as PCA), float64 otherwise."""
        return X.dtype if getattr(X, "dtype", None) == np.float32 else np.float64

    def _finite(self, out, method, what):
        if not np.isfinite(out).all():
            raise ValueError(
                f"{method} produced non-finite values: {what} is far outside the "
                f"range this model was fitted on. Check the input's scale and units."
            )
        return out

    def transform(self, X):
        """Encode X as the means of the approximate posterior q(z|x).

        Deterministic: no noise is drawn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units seen by ``fit``.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            Posterior means mu(x), of X's dtype (float32 or float64),
            computed in float32 (the precision the model was trained in):
            a row's code is the same, bit for bit, whatever the rows it is
            passed with.
        """
        X = self._validated_X(X)
        Z = self._batched(
            X,
            lambda m, u: m.encode(u)[0],
            self.n_components,
            to_model=self.table_.to_model,
            module=self.module_,
            min_rows=MIN_ENCODER_ROWS,
        )
        return self._finite(Z, "transform", "X").astype(self._out_dtype(X), copy=False)

    def inverse_transform(self, Z):
        """Decode latent codes into the means of p(x|z), in the units of X.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Latent codes, e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : DataFrame or ndarray of shape (n_samples, n_features_in_)
            The point estimate of each column given z: E[x|z] for numeric
            columns (the decoder mean; E[x] = exp(m + s^2/2) for log-normal
            columns; probabilities for Bernoulli columns of an array), the
            most probable category for categorical columns. Fitted on a
            DataFrame, a DataFrame with the training columns and dtypes:
            integer columns rounded, columns non-negative in fit kept
            non-negative, flags as booleans or 0/1, categories as seen in
            fit. Fitted on an array, an array of Z's dtype.
        """
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32], input_name="Z")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but this VAETransformer was fitted with "
                f"n_components={self.n_components}: pass codes from its transform."
            )
        U = self._batched(Z, lambda m, z: m.point(m.decode(z)), self.n_features_in_)
        return self._to_data(U, Z.dtype, "inverse_transform", "Z")

    def score_samples(self, X, n_importance_samples=10):
        """Lower bound on the log-likelihood of each row, in nats, in X's units.

        Uses the importance-weighted bound of Burda et al. (2016) with
        ``n_importance_samples`` draws from q(z|x); 1 gives the ELBO, and the
        bound tightens towards log p(x) as the number grows. log p(x|z) is
        the sum of the columns' terms: densities for continuous columns in
        their own units (the scaling and, for log-normal columns, the log are
        accounted for through their Jacobians), probabilities for discrete
        ones (flags, counts, categories). For an all-Gaussian array the
        figures are log-densities comparable with ``PCA.score_samples`` and
        ``FactorAnalysis.score_samples``. The draws use a fixed seed and are
        shared by all rows, so scores are deterministic and a row's score does
        not depend on the other rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units seen by ``fit``.

        n_importance_samples : int, default=10
            Number of importance samples K; the cost grows linearly with K.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            log p(x) lower bounds, of X's dtype.
        """
        X = self._validated_X(X)
        if not isinstance(n_importance_samples, Integral) or n_importance_samples < 1:
            raise ValueError(
                f"n_importance_samples must be a positive integer, got {n_importance_samples!r}."
            )
        eps = self._shared_noise(n_importance_samples, _SCORE_NOISE_SEED)
        scores = self._batched(
            X,
            lambda m, u: m.importance_weighted_bound(u, eps),
            None,
            to_model=lambda rows: self.table_.to_model(rows, unknown="error"),
            rows_per_batch=max(1, EVAL_BATCH_SIZE // n_importance_samples),
        )
        # log p(x) = log p(x in model units) + log |d(model units)/dx|
        scores += self.table_.log_jacobian(X)
        return self._finite(scores, "score_samples", "X").astype(self._out_dtype(X), copy=False)

    def score(self, X, y=None, n_importance_samples=10):
        """Mean of :meth:`score_samples`: the average log-likelihood bound.

        Higher is better, so ``GridSearchCV(VAETransformer(), {"n_components":
        [...]})`` picks a latent size without labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the units seen by ``fit``.

        y : Ignored
            Not used, present for API consistency by convention.

        n_importance_samples : int, default=10
            Passed to :meth:`score_samples`.

        Returns
        -------
        score : float
            Mean log-likelihood lower bound per row, in nats.
        """
        return float(np.mean(self.score_samples(X, n_importance_samples)))

    def _shared_noise(self, n_draws: int, seed: int) -> torch.Tensor:
        """(n_draws, n_components) standard normal noise from ``seed``, shared
        by every row, so that a row's result does not depend on its batch."""
        param = next(self._inference_module.parameters())
        eps = torch.randn(
            (n_draws, self.n_components),
            generator=torch.Generator().manual_seed(seed),
            dtype=torch.float64,
        )
        return eps.to(param.device, param.dtype)

    def _importance_pass(self, X, n_importance_samples, seed, fn, n_out, to_model=False):
        """``fn(module, rows, eps)`` over the rows of X batch by batch (see
        ``_batched``), eps the ``n_importance_samples`` draws of noise from
        ``seed`` that every row shares."""
        eps = self._shared_noise(n_importance_samples, seed)
        return self._batched(
            X,
            lambda m, u: fn(m, u, eps),
            n_out,
            to_model=to_model,
            rows_per_batch=max(1, EVAL_BATCH_SIZE // n_importance_samples),
        )

    def _fill_gaps(self, X, n_importance_samples, rng=None):
        """The rows of X (validated) in the model's units, float64, with every
        missing entry filled by ``VAE.impute``: point estimates, or draws when
        a numpy Generator ``rng`` is given."""
        seed = _SCORE_NOISE_SEED if rng is None else int(rng.integers(2**31 - 1))
        return self._importance_pass(
            X,
            n_importance_samples,
            seed,
            lambda m, u, eps: m.impute(u, eps, rng),
            self.n_features_in_,
            to_model=self.table_.to_model,
        )

    def _predictive(self, X, n_importance_samples, to_model=False):
        """``VAE.predictive`` of rows with gaps, model-unit rows or, with
        ``to_model``, rows of X (validated): (the point estimates of every
        entry, in the model's units and column order; each categorical
        column's predictive probabilities of its categories, ``(len(X),
        module_.n_outcomes)``), float64 arrays."""
        d = self.n_features_in_
        out = self._importance_pass(
            X,
            n_importance_samples,
            _SCORE_NOISE_SEED,
            lambda m, u, eps: m.predictive(u, eps),
            d + self.module_.n_outcomes,
            to_model=self.table_.to_model if to_model else False,
        )
        return out[:, :d], out[:, d:]

    def sample(self, n_samples=1, random_state=None, noise="auto", latent="mixture"):
        """Generate new rows: codes z pushed through the decoder.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.

        random_state : int, RandomState instance or None, default=None
            Seeds the draws; an int gives the same rows on every call.

        noise : bool or "auto", default="auto"
            With ``noise=True`` each row is a draw from p(x|z): every column
            follows its likelihood (categories drawn from their probabilities,
            counts from their count model, Gaussian noise with the learned
            variance, 0/1 for Bernoulli). With ``noise=False`` the rows are the
            point estimates (decoder means, most probable categories): sharper,
            and what VAE papers show for images. "auto" draws when the model
            was fitted on a DataFrame (a table) and gives means when it was
            fitted on an array (images, embeddings).

        latent : {"mixture", "prior"}, default="mixture"
            Where the codes come from. "mixture": a Gaussian mixture (up to 10
            full-covariance components) fitted to the training rows' codes
            (``code_mixture_``, fitted on first use), so that codes land where
            the data's codes are; the prior N(0, I) has regions no training
            row covers, and rows decoded from there drift from the data
            (ex-post density estimation, Ghosh et al. 2020). "prior": z ~
            N(0, I), the VAE's generative model as trained.

        Returns
        -------
        X : DataFrame or ndarray of shape (n_samples, n_features_in_)
            Generated rows in the units of X: a DataFrame with the training
            columns and dtypes when fit saw a DataFrame, else an array of the
            dtype X had in fit.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        if not (isinstance(noise, bool) or noise == "auto"):
            raise ValueError(f"noise must be True, False or 'auto', got {noise!r}.")
        if latent not in ("mixture", "prior"):
            raise ValueError(f"latent must be 'mixture' or 'prior', got {latent!r}.")
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        draws = np.random.default_rng(seed)
        if latent == "prior":
            generator = torch.Generator().manual_seed(seed)
            Z = torch.randn(
                (n_samples, self.n_components), generator=generator, dtype=torch.float64
            )
        else:
            Z = torch.from_numpy(draw_codes(self.code_mixture_, n_samples, draws))
        if noise == "auto":
            noise = self.table_.is_frame

        def decode(m, z):
            raw = m.decode(z)
            return m.draw(raw, draws) if noise else m.point(raw)

        Z = Z.numpy().astype(self._fit_dtype)
        U = self._batched(Z, decode, self.n_features_in_)
        return self._to_data(U, self._fit_dtype, "sample", "the model")

    # ------------------------------------------------------ persistence

    def __getstate__(self):
        """Pickle the weights as CPU numpy arrays, never as live device tensors,
        and the column schema as plain lists and dicts, so that ``skops.io``
        needs to trust no type but VAETransformer itself."""
        state = dict(super().__getstate__())
        state.pop("_inference_module", None)
        table = state.get("table_")
        if table is not None:
            state["table_"] = table.to_state()
        module = state.pop("module_", None)
        if module is not None:
            config = {
                f.name: getattr(module.config, f.name)
                for f in dataclasses.fields(module.config)
                if f.name != "groups"
            }
            groups = module.config.groups
            if (
                table is not None
                and len(groups) == len(table.groups)
                and all(g is t for g, t in zip(groups, table.groups, strict=True))
            ):
                # the table's own groups: stored once, with the table
                config["groups"] = "table_"
            else:
                config["groups"] = [dataclasses.asdict(g) for g in groups]
            state["module_"] = {
                "config": config,
                "state_dict": {
                    k: v.detach().cpu().numpy() for k, v in module.state_dict().items()
                },
                "device": str(next(module.parameters()).device),
            }
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:  # partial_fit's Adam, its state in parameter order
            packed = optimizer.state_dict()
            state["_optimizer"] = {
                "lr": packed["lr"],
                "state": [
                    {k: v.detach().cpu().numpy() for k, v in entry.items()}
                    for entry in packed["state"]
                ],
            }
        state["_skvae_version"] = __version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        version = state.pop("_skvae_version", "unknown")
        if version != __version__:
            warnings.warn(
                f"This VAETransformer was pickled by skvae {version} and is loaded by "
                f"skvae {__version__}. It may not work as it did; refit it with this "
                f"version, or load it with skvae=={version}.",
                SkvaeVersionWarning,
                stacklevel=2,
            )
        packed = state.pop("module_", None)
        if isinstance(state.get("table_"), dict):
            state["table_"] = Table.from_state(state["table_"])
        super().__setstate__(state)
        if packed is None:
            return
        config = dict(packed["config"])
        config["hidden_layer_sizes"] = tuple(config["hidden_layer_sizes"])
        if config["groups"] == "table_":
            config["groups"] = tuple(self.table_.groups)
        else:
            config["groups"] = tuple(ColumnGroup(**g) for g in config["groups"])
        module = VAE(VAEConfig(**config))
        module.load_state_dict(
            {k: torch.from_numpy(np.array(v)) for k, v in packed["state_dict"].items()}
        )
        device = torch.device(packed["device"])
        if device.type == "cuda" and not torch.cuda.is_available():
            device = torch.device("cpu")
        self.module_ = module.to(device).eval()
        self._inference_module = self._make_inference_module()
        packed_optimizer = state.get("_optimizer")
        if packed_optimizer is not None:
            optimizer = make_optimizer(self.module_.parameters(), packed_optimizer["lr"])
            optimizer.load_state_dict(
                {
                    "lr": packed_optimizer["lr"],
                    "state": [
                        {k: torch.from_numpy(np.array(v)) for k, v in entry.items()}
                        for entry in packed_optimizer["state"]
                    ],
                }
            )
            self._optimizer = optimizer
