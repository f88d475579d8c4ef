"""Tables, SDV metadata and sample metrics for bench_synth.py."""

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from _tables import _rdataset, cps1988, diamonds, doctor_visits, penguins
from bench_tables import as_objects, is_categorical
from sklearn.compose import ColumnTransformer
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import OneHotEncoder, StandardScaler

SEED = 0

# ----------------------------------------------------------------- tables


def _whole(loader):
    """A bench_tables loader's (features, label) as one table: the label is modelled too."""

    def load():
        X, y = loader()
        return pd.concat([X, y], axis=1)

    load.__name__ = loader.__name__
    return load


def txhousing():
    # Monthly housing market of 46 Texas cities (ggplot2): city (46 values, 62
    # to 187 rows each), year, month (ints), sales, listings (integer-valued
    # floats), volume, median (prices, heavy right tails), inventory (months)
    # and date (year + (month - 1) / 12, a function of year and month). Rows
    # with a missing value (1,476 of 8,602) are dropped.
    return _rdataset("ggplot2", "txhousing").dropna().reset_index(drop=True)


TABLES = {
    "diamonds": _whole(diamonds),
    "CPS1988": _whole(cps1988),
    "DoctorVisits": _whole(doctor_visits),
    "penguins": _whole(penguins),
    "txhousing": txhousing,
}


@dataclass
class Split:
    """A shuffled table: held-out real rows and (at most max_train) training rows."""

    name: str
    train: pd.DataFrame
    holdout: pd.DataFrame
    categorical: list = field(init=False)
    numeric: list = field(init=False)

    def __post_init__(self):
        self.categorical = [c for c in self.train if is_categorical(self.train[c])]
        self.numeric = [c for c in self.train if c not in self.categorical]


def load_split(name, n_holdout, max_train):
    """Shuffle (seed 0), hold out min(n_holdout, half the table), train on <= max_train rest."""
    df = TABLES[name]().sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    n_holdout = min(n_holdout, len(df) // 2)
    holdout = df.iloc[:n_holdout].reset_index(drop=True)
    train = df.iloc[n_holdout : n_holdout + max_train].reset_index(drop=True)
    return Split(name, train, holdout)


# --------------------------------------------------------------- metadata


def _wanted_sdtypes(column):
    if is_categorical(column):
        return ("boolean", "categorical") if column.dtype == bool else ("categorical",)
    return ("numerical",)


def sdv_metadata(split):
    """SDV metadata detected on the training rows, with sdtypes put right.

    Returns (Metadata, notes): every column that SDV detects as anything but
    numerical (numbers) or categorical (strings, categories; bool may stay
    boolean), such as ordinal, id or a PII type, is overridden, and a detected
    primary key is removed; each change is one note.
    """
    from sdv.metadata import Metadata

    name = split.name
    metadata = Metadata.detect_from_dataframes({name: split.train})
    table = metadata.tables[name]
    notes = []
    if table.primary_key is not None:
        notes.append(f"primary key {table.primary_key} removed")
        metadata.remove_primary_key(table_name=name)
    for column in split.train:
        detected = table.columns[column]
        wanted = _wanted_sdtypes(split.train[column])
        if detected["sdtype"] not in wanted or detected.get("pii"):
            pii = " (PII)" if detected.get("pii") else ""
            notes.append(f"{column}: {detected['sdtype']}{pii} -> {wanted[-1]}")
            metadata.update_column(column, table_name=name, sdtype=wanted[-1])
    return metadata, notes


def _shared_bins_pair_trends():
    """SDMetrics' Column Pair Trends property, except that a numeric column of
    the synthetic rows is binned on the real rows' bin edges (widened to
    -inf and +inf), as SDMetrics' maintainers describe the property
    (SDMetrics pull request 368) and as its own ``discretize_column`` does.
    The report of SDMetrics 0.32 bins each table on its own edges (10 equal
    bins between that table's min and max), so that a numeric-categorical
    contingency score moves with the synthetic rows' extremes: on diamonds a
    held-out depth of 44 and table of 95 stretch the real bins, and a sampler
    that stays within the training range is scored against misaligned bins."""
    from sdmetrics.reports.single_table._properties import ColumnPairTrends

    class SharedBins(ColumnPairTrends):
        def _generate_details(self, real_data, synthetic_data, metadata, *args, **kwargs):
            self._edges = {}  # per column, from the real rows: processed first
            return super()._generate_details(real_data, synthetic_data, metadata, *args, **kwargs)

        def _discretize_column(self, column_name, data, bin_edges=None):
            if column_name not in self._edges:
                edges = np.histogram_bin_edges(data.dropna()).astype(float)
                edges[0], edges[-1] = -np.inf, np.inf
                self._edges[column_name] = edges
            return super()._discretize_column(column_name, data, self._edges[column_name])

    return SharedBins()


def quality_report(split, samples, table, shared=False):
    """SDMetrics' single-table QualityReport of samples against the held-out
    rows (``table``: the table's metadata dict); with ``shared``, Column Pair
    Trends on shared bins (_shared_bins_pair_trends)."""
    with warnings.catch_warnings():
        # 0.32 announces that this report moves to sdmetrics.reports.
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    if shared:
        report._properties["Column Pair Trends"] = _shared_bins_pair_trends()
    report.generate(split.holdout, samples[list(split.train.columns)], table, verbose=False)
    return report


def quality(split, samples, metadata):
    """The overall, shapes and pair-trends scores of quality_report, as
    published and with shared bins."""
    table = metadata.to_dict()["tables"][split.name]
    out = {}
    for suffix in ("", "_shared"):
        report = quality_report(split, samples, table, shared=bool(suffix))
        scores = report.get_properties().set_index("Property")["Score"]
        out["overall" + suffix] = float(report.get_score())
        out["pairs" + suffix] = float(scores["Column Pair Trends"])
        out.setdefault("shapes", float(scores["Column Shapes"]))
    return out


# ---------------------------------------------------------------- validity


class Rules:
    """What the training rows allow, checked on sampled rows.

    The rules, per column: ``unseen category`` (a categorical value not in the
    training rows), ``non-integer`` (a column whose training values are all
    integers), ``negative`` (a column non-negative in training), ``out of
    range`` (outside the training [min, max]; a negative value already caught
    by ``negative`` is not counted again), ``missing`` (a column with no
    missing value in training). Infinite values are out of range.
    """

    def __init__(self, split):
        train = split.train
        self.columns = list(train.columns)
        self.seen = {c: set(as_objects(train[c].dropna())) for c in split.categorical}
        self.numeric = {}
        for c in split.numeric:
            x = train[c].dropna().to_numpy(dtype=np.float64)
            self.numeric[c] = {
                "min": x.min(),
                "max": x.max(),
                "integer": bool(np.all(x == np.round(x))),
                "nonnegative": bool(x.min() >= 0),
            }
        self.complete = [c for c in train if not train[c].isna().any()]

    def broken(self, samples):
        """{(rule, column): boolean array over the sampled rows}, rules broken at least once."""
        out = {}
        for c in self.complete:
            out["missing", c] = samples[c].isna().to_numpy()
        for c, seen in self.seen.items():
            values = pd.Series(as_objects(samples[c]))
            out["unseen category", c] = (values.notna() & ~values.isin(seen)).to_numpy()
        for c, allowed in self.numeric.items():
            x = pd.to_numeric(samples[c], errors="coerce").to_numpy(dtype=np.float64)
            with np.errstate(invalid="ignore"):
                negative = x < 0 if allowed["nonnegative"] else np.zeros(len(x), dtype=bool)
                if allowed["integer"]:
                    out["non-integer", c] = np.isfinite(x) & (x != np.round(x))
                out["negative", c] = negative
                out["out of range", c] = ~negative & ((x < allowed["min"]) | (x > allowed["max"]))
        return {key: broken for key, broken in out.items() if broken.any()}


def validity(rules, samples):
    """valid % and the (rule, column) broken by the most sampled rows."""
    broken = rules.broken(samples)
    invalid = np.zeros(len(samples), dtype=bool)
    for rows in broken.values():
        invalid |= rows
    result = {"valid": 100.0 * (1.0 - invalid.mean()), "worst_rule": None}
    if broken:
        (rule, column), rows = max(broken.items(), key=lambda item: item[1].sum())
        result["worst_rule"] = f"{rule}: {column} ({100 * rows.mean():.1f}%)"
    return result


# ------------------------------------------------------------------ privacy


def row_keys(frame, split):
    """One hash per row of its normalized values: numbers to 6 significant digits
    ("%.6g", so 5, 5.0 and 5.0000001 agree), everything else as its str()."""
    parts = {}
    for c in split.train.columns:
        if c in split.numeric:
            x = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
            parts[c] = x.map("{:.6g}".format)
        else:
            parts[c] = frame[c].astype(str)
    return pd.util.hash_pandas_object(pd.DataFrame(parts), index=False).to_numpy()


class Distances:
    """Exact copies of training rows, and distances to the closest training row.

    Rows are encoded with the training rows' StandardScaler on numeric columns
    and one-hot categoricals (unseen categories all zeros), so a differing
    category adds sqrt(2) to the Euclidean distance. Rows with a missing or
    infinite number are left out of the distances.
    """

    def __init__(self, split):
        self.split = split
        self.train_keys = set(row_keys(split.train, split).tolist())
        one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        self.encoder = ColumnTransformer(
            [("num", StandardScaler(), split.numeric), ("cat", one_hot, split.categorical)]
        )
        encoded = self.encoder.fit_transform(split.train)
        self.neighbors = NearestNeighbors(n_neighbors=1).fit(
            encoded[np.isfinite(encoded).all(axis=1)]
        )
        self.holdout = self.measure(split.holdout)

    def copies(self, frame):
        """Percentage of rows identical to some training row."""
        return 100.0 * np.isin(row_keys(frame, self.split), list(self.train_keys)).mean()

    def median_distance(self, frame):
        """Median distance from each row to its nearest training row."""
        frame = frame[list(self.split.train.columns)].copy()
        for c in self.split.numeric:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
        for c in self.split.categorical:
            frame[c] = as_objects(frame[c])
        encoded = self.encoder.transform(frame)
        encoded = encoded[np.isfinite(encoded).all(axis=1)]
        if not len(encoded):
            return None
        return float(np.median(self.neighbors.kneighbors(encoded)[0][:, 0]))

    def measure(self, frame):
        return {"copies": self.copies(frame), "dcr": self.median_distance(frame)}

    def ratio(self, samples):
        """copies % and the DCR ratio: samples' median distance / the held-out rows'."""
        result = self.measure(samples)
        bar = self.holdout["dcr"]
        dcr = result.pop("dcr")
        result["dcr_ratio"] = None if dcr is None or not bar else dcr / bar
        return result
