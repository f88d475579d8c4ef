"""VAEImputer: fill missing entries with a VAE fitted on the gaps themselves.

The model is a :class:`~skvae.VAETransformer` (the ``vae`` parameter) whose
encoder is told which entries are missing and whose likelihood counts the
observed ones only; training also hides a share of the observed entries from
the encoder, so that the model learns to propose them from the rest.
Imputations are importance-weighted over draws from q(z|x_obs) (MIWAE,
Mattei and Frellsen 2019), not a single decoder pass.
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.impute import MissingIndicator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._estimator import VAETransformer
from ._table import _is_frame

# Share of the observed entries hidden from the encoder in each training batch
# (their likelihood still counts): the model practises filling gaps.
TRAIN_HIDE_RATE = 0.2


class VAEImputer(TransformerMixin, BaseEstimator):
    """Impute missing values with a variational autoencoder.

    Fits a :class:`VAETransformer` on the incomplete data (observed entries
    only enter the likelihood; the encoder sees which entries are missing)
    and fills each gap with the model's estimate given the row's observed
    entries. Observed entries are returned unchanged.

    Parameters
    ----------
    vae : VAETransformer or None, default=None
        The model, with its parameters (``n_components``, ``likelihood``,
        ``max_iter``, ...); cloned in fit. None uses ``VAETransformer()``
        on a DataFrame and ``VAETransformer(likelihood="quantile")`` on an
        array: either way every numeric column goes through its own
        training quantiles, so that the filled values follow each column's
        shape (bounds, mass points such as a share of zeros) and stay within
        its training range, where a Gaussian's means overshoot them (on
        MNIST's pixels, below 0 and above 1). In a search, reach its
        parameters as ``vae__n_components``.

    missing_values : float, int or None, default=np.nan
        The placeholder for missing entries. NaN, None and pd.NA in a
        DataFrame are always missing.

    sample_posterior : bool, default=False
        False: each gap gets the point estimate, the mean of its column (the
        most probable category) under p(x | x_obs), estimated with
        ``n_importance_samples`` importance-weighted draws of z. True: each
        gap gets a draw from that distribution instead, for multiple
        imputation; rows are drawn jointly, so the filled entries of a row
        are consistent with each other.

    n_importance_samples : int, default=50
        Draws of z from q(z | x_obs) per row, weighted by
        p(x_obs, z) / q(z | x_obs).

    add_indicator : bool, default=False
        Append a :class:`~sklearn.impute.MissingIndicator` to the output: one
        boolean column per feature that had missing values in fit.

    random_state : int, RandomState instance or None, default=None
        Seeds the model's fit when ``vae`` has no ``random_state`` of its
        own, and the draws of ``sample_posterior``: an int gives the same
        imputations on every call.

    Attributes
    ----------
    vae_ : VAETransformer
        The fitted model: ``vae_.transform`` gives codes of incomplete rows,
        ``vae_.sample`` new rows, ``vae_.score_samples`` log-likelihoods of
        the observed entries.

    indicator_ : MissingIndicator or None
        The fitted indicator when ``add_indicator=True``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.impute.IterativeImputer : Regresses each feature on the others.
    sklearn.impute.KNNImputer : Averages the nearest rows.

    Notes
    -----
    A column with no observed value in fit is refused. A row with no
    observed value gets the model's estimate for a row about which nothing
    is known (close to each column's mean). Categorical columns of a
    DataFrame are imputed with categories seen in fit; integer columns get
    integers; datetime and timedelta columns get values in their dtype, in
    whole units of their training values (whole days for dates).

    References
    ----------
    Mattei, P.-A. and Frellsen, J. (2019). MIWAE: Deep Generative Modelling
    and Imputation of Incomplete Data Sets. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> from skvae import VAEImputer, VAETransformer
    >>> X, _ = load_wine(return_X_y=True)
    >>> X[::7, 3] = np.nan
    >>> imputer = VAEImputer(VAETransformer(n_components=4, max_iter=5), random_state=0)
    >>> X_filled = imputer.fit_transform(X)
    >>> bool(np.isnan(X_filled).any())
    False
    """

    _parameter_constraints: dict = {
        "vae": [HasMethods(["fit", "transform"]), None],
        "missing_values": [Integral, float, str, None],
        "sample_posterior": ["boolean"],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "add_indicator": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        vae=None,
        *,
        missing_values=np.nan,
        sample_posterior=False,
        n_importance_samples=50,
        add_indicator=False,
        random_state=None,
    ):
        self.vae = vae
        self.missing_values = missing_values
        self.sample_posterior = sample_posterior
        self.n_importance_samples = n_importance_samples
        self.add_indicator = add_indicator
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the model on X, gaps and all.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data with missing entries.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : VAEImputer
            The fitted imputer.
        """
        X = self._as_nan(X)
        if self.vae is not None:
            vae = clone(self.vae)
        else:  # each numeric column through its own quantiles, as "auto" does in a DataFrame
            vae = VAETransformer(likelihood="auto" if _is_frame(X) else "quantile")
        if vae.random_state is None and self.random_state is not None:
            seed = check_random_state(self.random_state).randint(2**31 - 1)
            vae.set_params(random_state=int(seed))
        vae._fit_or_restore(X, missing_indicators=True, hide_rate=TRAIN_HIDE_RATE)
        self.vae_ = vae
        self.n_features_in_ = vae.n_features_in_
        if hasattr(vae, "feature_names_in_"):
            self.feature_names_in_ = vae.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.indicator_ = None
        if self.add_indicator:
            gaps = np.where(_missing_mask(X), np.nan, 0.0)
            self.indicator_ = MissingIndicator(error_on_new=False).fit(gaps)
        return self

    def transform(self, X):
        """Fill the missing entries of X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Data with missing entries, in the units and columns seen by fit.

        Returns
        -------
        X_filled : ndarray or DataFrame of shape (n_samples, n_features_out)
            X with every missing entry filled and the observed ones as they
            were: a DataFrame with X's columns and dtypes for a DataFrame,
            else a float array of X's dtype (float32 stays float32). With
            ``add_indicator``, the indicator columns follow.
        """
        check_is_fitted(self)
        X = self.vae_._validated_X(self._as_nan(X))
        missing = _missing_mask(X)
        rows = np.flatnonzero(missing.any(axis=1))
        rng = None
        if self.sample_posterior:
            rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        if _is_frame(X):
            out = X.copy()
        else:
            out = np.array(X, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
        if len(rows):
            gaps = X.iloc[rows] if _is_frame(X) else X[rows]
            U = self.vae_._fill_gaps(gaps, self.n_importance_samples, rng)
            dtype = None if _is_frame(X) else out.dtype
            filled = self.vae_._to_data(U, dtype, "transform", "X")
            _put(out, filled, rows, missing[rows])
        if self.indicator_ is None:
            return out
        indicators = self.indicator_.transform(np.where(missing, np.nan, 0.0))
        if not _is_frame(X):
            return np.hstack([out, indicators.astype(out.dtype)])
        import pandas as pd

        names = self.indicator_.get_feature_names_out(np.asarray(X.columns, dtype=object))
        flags = pd.DataFrame(indicators, columns=names)
        return pd.concat([out, flags.set_axis(out.index)], axis=1)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the input's, then the indicators'.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The output's column names.
        """
        check_is_fitted(self)
        from sklearn.utils.validation import _check_feature_names_in

        names = _check_feature_names_in(self, input_features)
        if self.indicator_ is None:
            return names
        flags = self.indicator_.get_feature_names_out(names)  # "missingindicator_<name>"
        return np.concatenate([names, flags]).astype(object)

    def _as_nan(self, X):
        """X with the ``missing_values`` placeholder as NaN (as None in a
        DataFrame's object columns)."""
        value = self.missing_values
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return X
        if _is_frame(X):
            return X.mask(X == value)
        X = np.array(X, dtype=np.float64 if np.asarray(X).dtype.kind not in "f" else None)
        X[X == value] = np.nan
        return X


def _missing_mask(X) -> np.ndarray:
    if _is_frame(X):
        return X.isna().to_numpy()
    return np.isnan(np.asarray(X, dtype=np.float64))


def _put(out, filled, rows, missing) -> None:
    """Write ``filled``'s entries where ``missing`` (rows of ``out``) in place."""
    if not _is_frame(out):
        block = out[rows]
        block[missing] = filled[missing]
        out[rows] = block
        return
    for j in np.flatnonzero(missing.any(axis=0)):
        hit = rows[missing[:, j]]
        out.iloc[hit, j] = filled.iloc[np.flatnonzero(missing[:, j]), j].to_numpy()
