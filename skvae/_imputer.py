"""VAEImputer: fill missing entries with a VAE fitted on the gaps themselves.

The model is a :class:`~skvae.VAETransformer` (the ``vae`` parameter) whose
encoder is told which entries are missing and whose likelihood counts the
observed ones only; training also hides a share of the observed entries from
the encoder, so that the model learns to propose them from the rest.
Imputations are importance-weighted over draws from q(z|x_obs) (MIWAE,
Mattei and Frellsen 2019), not a single decoder pass, and shrunk towards each
column's training distribution by a weight fitted on rows the model never
trained on (its validation rows, or on small data every row, by cross-fitting).
"""

import warnings
from numbers import Integral

import numpy as np
from scipy.stats import binom
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.impute import MissingIndicator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._estimator import VAETransformer, _rows
from ._likelihoods.gaussian import _observed_sums
from ._table import _is_frame

# Share of the observed entries hidden from the encoder in each training batch
# (their likelihood still counts): the model practises filling gaps.
TRAIN_HIDE_RATE = 0.2

# The shrinkage is fitted by hiding the validation rows' observed entries in
# up to this many rounds, each entry in one round (so TRAIN_HIDE_RATE of them
# in each): all of them on small tables.
SHRINKAGE_ROUNDS = 5
# ... within this many row passes (rows times rounds), on at most as many
# validation rows: the shrinkage then costs a few epochs of training.
SHRINKAGE_PASSES = 2000
# The weights tried for a categorical column's mixture with its frequencies.
CATEGORY_WEIGHTS = np.linspace(0.0, 1.0, 21)
# The level of the one-sided sign test that keeps a categorical column's guesses.
SIGN_TEST_LEVEL = 0.05
# Below this many rows the validation rows are too few to fit the shrinkage on
# (airquality's nine): it is fitted on every row instead, each filled by one of
# CROSS_FIT_FOLDS extra fits on the other folds (cross-fitting), when the data
# holds at most CROSS_FIT_ENTRIES entries, where those fits take seconds
# (airquality's fit: 0.6-1.3 s without them in impute_airquality_seeds.md as of
# commit 1c1f647, 2.3-3.2 s with them in the file now; bench_impute's pilot on
# 500 MNIST images did not finish within 40 s with them).
CROSS_FIT_ROWS = 1000
CROSS_FIT_ENTRIES = 50_000
CROSS_FIT_FOLDS = 5


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
        ``n_importance_samples`` importance-weighted draws of z. A
        DataFrame's float columns keep the estimate's precision, as an
        array's do (a column of whole numbers gets fractional estimates,
        as from IterativeImputer: rounding them would add error); integer,
        date and time columns are rounded to their dtype's or their training
        unit. True: each gap gets a draw from that distribution instead, for
        multiple imputation, rounded like the column's training values;
        rows are drawn jointly, so the filled entries of a row are
        consistent with each other.

    n_importance_samples : int, default=50
        Draws of z from q(z | x_obs) per row, weighted by
        p(x_obs, z) / q(z | x_obs).

    calibrate : bool, default=True
        Shrink each column's point estimates towards what is known without
        the row: a numeric estimate v becomes ``m + w * (v - m)``, m the
        column's training mean; a categorical column's predictive
        probabilities p become ``w * p + (1 - w) * f``, f its training
        frequencies, before the most probable category is taken. The weight
        w in [0, 1] (``shrinkage_``) is fitted per column after training:
        rows the model never trained on have their observed entries hidden
        in turn and filled, and w minimizes the squared error (numeric) or
        maximizes the log-probability of the true categories (categorical;
        kept only when, where its guesses differ from the most frequent
        category, an exact one-sided sign test at the 5% level finds them
        right more often, else 0). Those rows are the model's validation
        rows, or on small data (below 1,000 rows and 50,000 entries) every
        row, each filled by one of 5 extra fits on the other rows
        (cross-fitting; not after a fit stopped by Ctrl-C, nor when one of
        those fits is: the validation rows then). A model that predicts a
        column well keeps w near 1; one that barely can gets w near 0, and
        the column's mean or most frequent category, which it would
        otherwise miss. Beyond small data
        it needs the model's ``early_stopping=True`` (the default), which
        holds the validation rows out; without it, or with False here, w is
        1. Draws of ``sample_posterior`` are never shrunk.

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

    shrinkage_ : ndarray of shape (n_features_in_,)
        Each column's weight w of the model's estimate (see ``calibrate``).

    statistics_ : ndarray of shape (n_features_in_,)
        Each numeric column's training mean, in its units (counts of its
        unit for datetime and timedelta columns), towards which its point
        estimates shrink; NaN for categorical columns.

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
        "calibrate": ["boolean"],
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
        calibrate=True,
        add_indicator=False,
        random_state=None,
    ):
        self.vae = vae
        self.missing_values = missing_values
        self.sample_posterior = sample_posterior
        self.n_importance_samples = n_importance_samples
        self.calibrate = calibrate
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
        outcome = vae._fit_or_restore(X, missing_indicators=True, hide_rate=TRAIN_HIDE_RATE)
        self.vae_ = vae
        self.shrinkage_, self.statistics_ = self._fit_shrinkage(vae, X, outcome)
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
            gappy, toward = _rows(X, rows), None
            # draws are never shrunk; an imputer pickled before the shrinkage has no weights
            if rng is not None or getattr(self, "shrinkage_", None) is None:
                U = self.vae_._fill_gaps(gappy, self.n_importance_samples, rng)
            else:
                table = self.vae_.table_
                order = table.model_order()
                weights = self.shrinkage_[order]
                U, probs = self.vae_._predictive(gappy, self.n_importance_samples, to_model=True)
                _shrink_categories(U, probs, table, weights)
                toward = (weights, self.statistics_[order])  # numbers: in the data's units
            dtype = None if _is_frame(X) else out.dtype
            point = rng is None  # estimates keep their precision; draws are rounded as data
            filled = self.vae_._to_data(U, dtype, "transform", "X", toward, estimates=point)
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

    def _fit_shrinkage(self, vae, X, outcome):
        """(shrinkage_, statistics_): see ``calibrate``. Rows whose values are
        known (the validation rows, or every row of a small X) have their
        observed entries hidden in rounds (never a row's only observed entry)
        and filled from the rest of their row by a model that never trained
        on them. ``outcome``: vae's ``_FitOutcome``; after an interrupted fit
        (Ctrl-C) no further fits are started for cross-fitting."""
        table = vae.table_
        X = vae._validated_X(X)
        total, count = np.zeros(vae.n_features_in_), np.zeros(vae.n_features_in_)
        for start in range(0, X.shape[0], 8192):  # in the model's column order
            values = table.numeric_values(table.to_model(_rows(X, slice(start, start + 8192))))
            sums, observed = _observed_sums(values)
            total, count = total + sums, count + observed
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(count > 0, total / count, np.nan)
        weights = np.ones(vae.n_features_in_)
        rng = np.random.default_rng(check_random_state(vae.random_state).randint(2**31 - 1))
        fillers = None
        small = X.shape[0] < CROSS_FIT_ROWS and X.shape[0] * X.shape[1] <= CROSS_FIT_ENTRIES
        if self.calibrate and small and not outcome.interrupted:
            fillers = self._cross_fitted(vae, X, rng)
        validation = outcome.validation_rows
        if self.calibrate and fillers is None and validation is not None and len(validation):
            if len(validation) > SHRINKAGE_PASSES:
                validation = np.sort(rng.choice(validation, SHRINKAGE_PASSES, replace=False))
            fillers = [(vae, validation)]
        if fillers is not None:
            rows = np.concatenate([r for _, r in fillers])
            fillers = [(model, np.flatnonzero(np.isin(rows, r))) for model, r in fillers]
            truth = table.to_model(_rows(X, rows))
            observed = ~np.isnan(truth)
            rounds = rng.integers(SHRINKAGE_ROUNDS, size=truth.shape)
            rounds[observed.sum(axis=1) < 2] = -1  # a row's only observed entry stays
            rounds[rounds >= max(1, SHRINKAGE_PASSES // len(rows))] = -1
            hidden = observed & (rounds >= 0)
            estimates, probs = self._hide_and_fill(fillers, truth, rounds, table)
            predicted, actual = table.numeric_values(estimates), table.numeric_values(truth)
            _least_squares_weights(predicted - means, actual - means, hidden, weights)
            _category_weights(probs, truth, hidden, table, weights)
        order = table.model_order()
        out_weights, out_means = np.empty_like(weights), np.empty_like(means)
        out_weights[order], out_means[order] = weights, means
        return out_weights, out_means

    def _cross_fitted(self, vae, X, rng):
        """(model, rows) for CROSS_FIT_FOLDS folds of X's rows: each model
        fitted as ``vae`` was, on the other folds, with ``vae``'s schema and
        column statistics (``table_``), so that its model units are vae's
        (a category missing from the other folds keeps its code). None when
        a fold's fit refuses its rows (ValueError) or is interrupted
        (KeyboardInterrupt): the validation rows are used instead."""
        folds = np.array_split(rng.permutation(X.shape[0]), CROSS_FIT_FOLDS)
        fillers = []
        for fold in folds:
            model = clone(vae).set_params(verbose=0)  # progress is reported by vae's own fit
            rest = np.sort(np.setdiff1d(np.arange(X.shape[0]), fold))
            try:
                # vae's own fit has given the warnings a fit of these data gives
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outcome = model._fit_or_restore(
                        _rows(X, rest),
                        missing_indicators=True,
                        hide_rate=TRAIN_HIDE_RATE,
                        table=vae.table_,
                    )
            except ValueError:
                return None
            if outcome.interrupted:
                warnings.warn(
                    "VAEImputer: the cross-fitting was interrupted; the shrinkage is "
                    "fitted on the model's validation rows instead.",
                    UserWarning,
                    stacklevel=4,
                )
                return None
            fillers.append((model, np.sort(fold)))
        return fillers

    def _hide_and_fill(self, fillers, truth, rounds, table):
        """Hide the observed entries of ``truth`` (model units) whose round is
        r, for each of the SHRINKAGE_ROUNDS r, and fill them from the rest of
        their row, each row by its model of ``fillers`` ((model, rows of
        truth) pairs): (the unshrunk point estimates, of truth's shape; the
        predictive probabilities of each categorical column's categories
        where its entry was hidden, as ``_predictive`` gives them, else
        NaN)."""
        observed = ~np.isnan(truth)
        # the model column behind each categorical probability
        outcome_column = np.concatenate(
            [np.full(len(f), k) for k, _, f in _categories(table)] + [np.zeros(0)]
        ).astype(np.intp)
        estimates = np.full(truth.shape, np.nan)
        probs = np.full((len(truth), len(outcome_column)), np.nan)
        for r in range(SHRINKAGE_ROUNDS):
            now = observed & (rounds == r)
            for model, rows in fillers:
                keep = rows[now[rows].any(axis=1)]
                if not len(keep):
                    continue
                U = np.where(now[keep], np.nan, truth[keep])
                est, pr = model._predictive(U, self.n_importance_samples)
                estimates[keep] = np.where(now[keep], est, estimates[keep])
                probs[keep] = np.where(now[keep][:, outcome_column], pr, probs[keep])
        return estimates, probs

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


def _categories(table):
    """(model column, its slice of ``_predictive``'s probabilities, its
    training frequencies) for each categorical column, in the model's order."""
    column, slot = 0, 0
    for (name, members), group in zip(table.layout, table.groups, strict=True):
        if name == "categorical":
            for j, freq in enumerate(group.stats["frequencies"]):
                yield column + j, slice(slot, slot + len(freq)), np.asarray(freq, np.float64)
                slot += len(freq)
        column += len(members)


def _mix_frequencies(probs, frequencies, weight):
    """``weight * probs + (1 - weight) * frequencies``: a categorical
    predictive shrunk towards the training frequencies."""
    return weight * probs + (1 - weight) * frequencies


def _shrink_categories(U, probs, table, weights):
    """Set each categorical column k of U (model units and order) whose
    weight is below 1 to its most probable category under its predictive
    ``probs`` mixed with its training frequencies by ``weights[k]``."""
    for k, slots, freq in _categories(table):
        if weights[k] < 1:
            U[:, k] = np.argmax(_mix_frequencies(probs[:, slots], freq, weights[k]), axis=1)


def _least_squares_weights(p, t, hidden, weights):
    """Set ``weights[k]`` to the least-squares weight of column k of p for t
    (estimates and truths around the column's mean) on its ``hidden``
    entries, clipped to [0, 1], for every column with such entries and
    estimates not all at the mean; NaN columns (categorical) are left."""
    for k in np.flatnonzero(hidden.any(axis=0) & ~np.isnan(p).all(axis=0)):
        entries = hidden[:, k]
        pk, tk = p[entries, k], t[entries, k]
        if pk @ pk > 0:
            weights[k] = float(np.clip((pk @ tk) / (pk @ pk), 0.0, 1.0))


def _category_weights(probs, truth, hidden, table, weights):
    """Set the weights of the categorical columns in ``weights`` (in the
    model's column order) from their predictive probabilities ``probs`` (as
    ``_hide_and_fill`` gives them) on their ``hidden`` entries: the mixture
    weight that gives the true categories the highest log-probability, kept
    only when the most probable category under that mixture beats the most
    frequent one on the entries where they differ, by an exact one-sided sign
    test at the SIGN_TEST_LEVEL; else 0 (the most frequent category)."""
    for k, slots, f in _categories(table):
        entries = hidden[:, k]
        if not entries.any():
            continue
        p, true = probs[entries, slots], truth[entries, k].astype(np.intp)
        weight = _best_mixture(p[np.arange(len(true)), true], f[true])
        guess, top = np.argmax(_mix_frequencies(p, f, weight), axis=1), np.argmax(f)
        wins = np.sum((guess != top) & (guess == true))
        losses = np.sum((guess != top) & (top == true))
        # exact: P(at least `wins` of the wins + losses) for a fair coin
        significant = binom.sf(wins - 1, wins + losses, 0.5) < SIGN_TEST_LEVEL
        weights[k] = weight if significant else 0.0


def _best_mixture(p, f):
    """The weight w of CATEGORY_WEIGHTS that maximizes
    sum log(w * p + (1 - w) * f) over the entries (p, f: the probabilities of
    the true categories under the model's predictive and the training
    frequencies)."""
    with np.errstate(divide="ignore"):
        scores = [np.log(_mix_frequencies(p, f, w)).sum() for w in CATEGORY_WEIGHTS]
    return float(CATEGORY_WEIGHTS[int(np.argmax(scores))])
