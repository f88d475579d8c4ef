"""From a user's columns to the model's matrix and back.

A :class:`Table` remembers, for each column seen in fit, its name, its kind
(float, int, bool, category, object, string, datetime, timedelta), its dtype
and range, and the
likelihood that models it; columns sharing a likelihood form one group, and
the model's matrix holds the groups one after the other. ``to_model`` maps
rows into that matrix, ``from_model`` maps the model's output back into a
DataFrame with the training schema (or an array, for arrays), and
``log_jacobian`` carries densities back into the data's own units.

Missing entries (NaN, None, pd.NA) become NaN in the model's matrix; the
statistics are those of the observed values. A column with no observed value
in fit has nothing to learn from and is refused.

No torch here; pandas only when the user hands over a DataFrame.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._likelihoods import LIKELIHOODS, observed_entries
from ._model import ColumnGroup

# An object or string column with more distinct values than this, and more
# than half of its rows distinct, reads as free text or an identifier.
MAX_FREE_CATEGORIES = 100

# scaling="auto" shares one scale among the Gaussian columns when the median
# column spans at least this share of the widest column's range (pixels,
# spectra: one unit throughout), and scales each column by itself otherwise.
GLOBAL_RANGE_SHARE = 0.5

# Float columns of a DataFrame keep the decimal places of their training
# values, up to this many (a price in cents, a length in millimetres).
MAX_DECIMALS = 6

# Datetime and timedelta columns are counted in one of these units, with its
# length in nanoseconds: the coarsest that holds every training value whole.
_TIME_UNITS = {"D": 86_400 * 10**9, "h": 3_600 * 10**9, "m": 60 * 10**9, "s": 10**9}
_TIME_UNITS.update({"ms": 10**6, "us": 10**3, "ns": 1})
_TIME_KINDS = ("datetime", "timedelta")

# A streamed fit decides each column's likelihood from this many first rows.
STREAM_HEAD_ROWS = 65536

_NUMERIC_LIKELIHOODS = ("gaussian", "lognormal", "quantile", "bernoulli", "poisson", "negbinomial")


@dataclass
class Column:
    """What fit learned about one column."""

    name: Any  # the DataFrame's column label, or the array's column index
    kind: str  # "float", "int", "bool", "category", "object", "string", "datetime", "timedelta"
    dtype: Any  # the training dtype, restored on the way out of a DataFrame
    likelihood: str = ""
    minimum: float = -np.inf
    maximum: float = np.inf
    # Decimal places every training value fits in (0 for whole numbers stored
    # as floats), up to MAX_DECIMALS; None when they need more. DataFrame
    # float columns come back rounded to them.
    decimals: int | None = None
    # Datetime and timedelta columns: the unit their values are counted in
    # (since 1970-01-01 UTC for datetimes), the coarsest one of _TIME_UNITS
    # that holds every training value whole: "D" for dates, "s" for times
    # to the second. They come back rounded to it. (float64 counts are exact
    # below 2**53 units: times in nanoseconds since 1970 come back to within
    # 128 ns.)
    unit: str | None = None

    @property
    def label(self) -> str:
        """How messages name the column."""
        return f"column {self.name!r}" if isinstance(self.name, str) else f"column {self.name}"


@dataclass
class Table:
    """The fitted column schema; see the module docstring."""

    columns: list[Column]
    is_frame: bool
    # Per group: the likelihood's name and the indices of its columns, in the
    # order the model's matrix holds them.
    layout: list[tuple[str, list[int]]] = field(default_factory=list)
    groups: list[ColumnGroup] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return len(self.columns)

    def likelihoods(self) -> dict:
        return {c.name: c.likelihood for c in self.columns}

    # ---------------------------------------------------------- persistence

    def to_state(self) -> dict:
        """The schema as plain data (lists, dicts, strings, numbers): what a
        pickle or a skops file stores."""
        return {
            "columns": [
                {
                    "name": _plain(c.name),
                    "kind": c.kind,
                    "dtype": _dtype_state(c.dtype),
                    "likelihood": c.likelihood,
                    "minimum": c.minimum,
                    "maximum": c.maximum,
                    "decimals": c.decimals,
                    "unit": c.unit,
                }
                for c in self.columns
            ],
            "is_frame": self.is_frame,
            "layout": [[name, list(members)] for name, members in self.layout],
            "groups": [{"likelihood": g.likelihood, "stats": g.stats} for g in self.groups],
        }

    @classmethod
    def from_state(cls, state: dict) -> "Table":
        columns = [
            Column(**{**c, "dtype": _dtype_from_state(c["dtype"])}) for c in state["columns"]
        ]
        return cls(
            columns,
            state["is_frame"],
            [(name, list(members)) for name, members in state["layout"]],
            [ColumnGroup(g["likelihood"], g["stats"]) for g in state["groups"]],
        )

    # ---------------------------------------------------------------- fit

    @classmethod
    def fit(cls, X, likelihood="auto", scaling="auto", streamed=False) -> "Table":
        """Learn the schema of X (a DataFrame, or a validated float array).

        ``streamed``: X is an array read by row slices (not in memory). Each
        column's likelihood, and the statistics of likelihoods other than
        Gaussian and Bernoulli, come from its first ``STREAM_HEAD_ROWS``
        rows; the Gaussian columns' centering and scale and the Bernoulli
        columns' means from a streaming pass over all rows.
        """
        if streamed:
            return cls._fit_streamed(X, likelihood, scaling)
        is_frame = _is_frame(X)
        columns = [_describe(X, j, is_frame) for j in range(X.shape[1])]
        table = cls(columns, is_frame)
        chosen = _requested(likelihood, columns)
        if is_frame:
            table._describe_frame_columns(X, chosen)
        else:
            table._describe_array_columns(X, chosen)
        for name in LIKELIHOODS:
            members = [j for j, c in enumerate(columns) if c.likelihood == name]
            if members:
                table.layout.append((name, members))
        for name, members in table.layout:
            values = table._group_values(X, members, name)
            options = {}
            if name == "gaussian":
                options["scaling"] = _scaling(scaling, values)
            stats = LIKELIHOODS[name].fit_stats(values, **options)
            table.groups.append(ColumnGroup(name, stats))
        return table

    def _describe_frame_columns(self, X, chosen: dict[int, str]) -> None:
        """Each DataFrame column's likelihood, range and decimal places."""
        for j, column in enumerate(self.columns):
            values = self._column_values(X, j)
            values = values[observed_entries(values)]
            if len(values) == 0:
                raise _no_observed_value(column)
            column.likelihood = chosen.get(j) or _auto_likelihood(values, column, True)
            if column.likelihood in _NUMERIC_LIKELIHOODS:
                values = _as_float(values, column)
                column.minimum, column.maximum = float(values.min()), float(values.max())
                if column.kind == "float":
                    column.decimals = _decimals(values)

    def _describe_array_columns(self, X, chosen: dict[int, str]) -> None:
        """The same for a validated float array (finite or NaN), its ranges in
        one pass over row blocks: a column is read by itself only when
        "auto" has to look at its values."""
        low, high = _column_ranges(X)
        for j, column in enumerate(self.columns):
            if np.isnan(low[j]):
                raise _no_observed_value(column)
            if j not in chosen:
                values = X[:, j]
                chosen[j] = _auto_likelihood(values[~np.isnan(values)], column, False)
            column.likelihood = chosen[j]
            column.minimum, column.maximum = float(low[j]), float(high[j])

    @classmethod
    def _fit_streamed(cls, X, likelihood, scaling) -> "Table":
        head = np.asarray(X[:STREAM_HEAD_ROWS])
        table = cls.fit(head, likelihood, scaling)
        for k, (name, members) in enumerate(table.layout):
            if name not in ("gaussian", "bernoulli"):
                continue
            options = {}
            if name == "gaussian":
                options["scaling"] = _scaling(scaling, head[:, members])
            values = _ColumnSlices(X, members)
            table.groups[k] = ColumnGroup(name, LIKELIHOODS[name].fit_stats(values, **options))
        return table

    # ---------------------------------------------------- the way in and out

    def to_model(self, X, dtype=np.float64, unknown="ignore") -> np.ndarray:
        """Rows of X in the model's units, groups side by side.

        ``unknown="error"`` refuses categories never seen in fit (scores need
        their probability); "ignore" encodes them as index -1 (all zeros in
        the encoder's one-hot input).
        """
        out = np.empty((X.shape[0], self.n_features), dtype=dtype)
        start = 0
        for (name, members), group in zip(self.layout, self.groups, strict=True):
            stop = start + len(members)
            likelihood = LIKELIHOODS[name]
            for rows in _row_chunks(X.shape[0]):
                values = self._group_values(X, members, name, rows)
                u = likelihood.to_model(values, group.stats)
                if name == "categorical" and unknown == "error":
                    self._refuse_unknown(values, u, members)
                out[rows, start:stop] = u
            start = stop
        return out

    def from_model(self, U: np.ndarray, dtype=np.float64, toward=None, estimates=False):
        """Model-unit rows back into the data's units: a DataFrame with the
        training schema when fit saw one, else an array of ``dtype``.

        ``toward``: (weights, means), arrays in the model's column order; a
        numeric column's values v become ``means + weights * (v - means)``
        in the data's units (VAEImputer's shrinkage) before their types are
        restored.

        ``estimates``: the rows are estimates (VAEImputer's conditional
        means), not values of the data: a DataFrame's float columns keep
        their precision instead of coming back rounded to their training
        decimal places, which would add error to each estimate (as an
        array's columns do; integer columns are still rounded, their dtype
        holds nothing else).
        """
        values = [None] * self.n_features
        start = 0
        for (name, members), group in zip(self.layout, self.groups, strict=True):
            stop = start + len(members)
            block = LIKELIHOODS[name].from_model(U[:, start:stop], group.stats)
            if toward is not None and name in _NUMERIC_LIKELIHOODS:
                weights, means = (t[start:stop] for t in toward)
                block = np.where(weights < 1, means + weights * (block - means), block)
            for k, j in enumerate(members):
                values[j] = block[:, k]
            start = stop
        if not self.is_frame:
            return np.column_stack(values).astype(dtype, copy=False)
        import pandas as pd

        return pd.DataFrame(
            {c.name: _restore(v, c, estimates) for c, v in zip(self.columns, values, strict=True)}
        )

    def model_order(self) -> np.ndarray:
        """The input column behind each column of the model's matrix."""
        return np.concatenate([members for _, members in self.layout]).astype(np.intp)

    def numeric_values(self, U: np.ndarray) -> np.ndarray:
        """Model-unit rows as floats in the data's units (before types are
        restored), in the model's column order; NaN in categorical columns."""
        out = np.full(U.shape, np.nan)
        start = 0
        for (name, members), group in zip(self.layout, self.groups, strict=True):
            stop = start + len(members)
            if name in _NUMERIC_LIKELIHOODS:
                out[:, start:stop] = LIKELIHOODS[name].from_model(U[:, start:stop], group.stats)
            start = stop
        return out

    def log_jacobian(self, X) -> np.ndarray:
        """log |d(model units) / d(data units)| per row, summed over columns."""
        total = np.zeros(X.shape[0])
        for (name, members), group in zip(self.layout, self.groups, strict=True):
            values = self._group_values(X, members, name)
            total += LIKELIHOODS[name].log_jacobian(values, group.stats)
        return total

    # ------------------------------------------------------------- columns

    def _column_values(self, X, j, rows=slice(None)) -> np.ndarray:
        """Column j of X: missing entries are NaN in numeric columns (floats
        out of a DataFrame) and None in the others."""
        if not _is_frame(X):
            return X[rows, j]
        series = X.iloc[rows, j]
        if self.columns[j].kind in _TIME_KINDS:
            return _time_counts(series, self.columns[j])
        if self.columns[j].kind in ("float", "int", "bool") and series.dtype.kind != "O":
            if series.hasnans:
                return series.to_numpy(dtype=np.float64, na_value=np.nan)
            return series.to_numpy()
        values = series.to_numpy(dtype=object)
        missing = series.isna().to_numpy()
        if missing.any():
            values = np.where(missing, None, values)
        return values

    def _group_values(self, X, members, name, rows=slice(None)) -> np.ndarray:
        """The group's columns as an (n, m) array: floats for numeric
        likelihoods (support checked), objects for categories."""
        if not _is_frame(X) and name in _NUMERIC_LIKELIHOODS and X.dtype.kind == "f":
            # All of a float array is used as is: no copy of a large X.
            values = X[rows] if len(members) == X.shape[1] else X[rows][:, members]
        else:
            cols = [self._column_values(X, j, rows) for j in members]
            if name in _NUMERIC_LIKELIHOODS:
                values = np.column_stack(
                    [_as_float(v, self.columns[j]) for v, j in zip(cols, members, strict=True)]
                )
            else:
                values = np.column_stack([np.asarray(v, dtype=object) for v in cols])
        if name in _NUMERIC_LIKELIHOODS:
            whole = not self.is_frame and len(self.columns) == len(members)
            LIKELIHOODS[name].check(values, _Labels(self.columns, members, whole))
        return values

    def _refuse_unknown(self, values, codes, members):
        unseen = codes < 0
        if unseen.any():
            i, k = np.argwhere(unseen)[0]
            raise ValueError(
                f"{self.columns[members[k]].label.capitalize()} holds the category "
                f"{values[i, k]!r}, never seen in fit: it has no probability under the "
                f"model. transform encodes unseen categories as all-zero one-hot inputs; "
                f"to score such rows, refit with data that includes the category."
            )


# ----------------------------------------------------------------- helpers


class _Labels:
    """How messages name a group's columns, worked out only when one is read
    (a check that passes reads none)."""

    def __init__(self, columns: list[Column], members: list[int], whole_array: bool):
        self.columns, self.members, self.whole_array = columns, members, whole_array

    def __len__(self):
        return len(self.members)

    def __getitem__(self, k: int) -> str:
        return "X" if self.whole_array else self.columns[self.members[k]].label


class _ColumnSlices:
    """Some columns of a row-sliceable array, read one row slice at a time."""

    def __init__(self, X, members: list[int]):
        self.X, self.members = X, members
        self.shape = (X.shape[0], len(members))

    def __getitem__(self, rows):
        block = np.asarray(self.X[rows])
        return block if len(self.members) == self.X.shape[1] else block[:, self.members]


def _plain(value):
    """numpy scalars as Python ones (column names, categories)."""
    return value.item() if isinstance(value, np.generic) else value


def _dtype_state(dtype):
    """A dtype as plain data: its name, or a category dtype's categories."""
    if getattr(dtype, "name", None) == "category":
        return {
            "categories": [_plain(v) for v in dtype.categories],
            "ordered": bool(dtype.ordered),
        }
    return str(dtype)


def _dtype_from_state(state):
    if state in ("float64", "float32"):  # arrays: no pandas needed
        return np.dtype(state)
    import pandas as pd

    if isinstance(state, dict):
        return pd.CategoricalDtype(state["categories"], ordered=state["ordered"])
    # pandas reads its own names ("Int64", "boolean", "str") and numpy's
    return pd.api.types.pandas_dtype(state)


def _is_frame(X) -> bool:
    return hasattr(X, "iloc") and hasattr(X, "dtypes")


def _row_chunks(n: int, size: int = 8192):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _column_ranges(X: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest observed value per column of a float array, NaN
    for a column with none, read a block of rows at a time."""
    low = np.full(X.shape[1], np.nan)
    high = np.full(X.shape[1], np.nan)
    for start in range(0, X.shape[0], chunk):
        block = X[start : start + chunk]
        np.fmin(low, np.fmin.reduce(block, axis=0), out=low)  # fmin skips NaN
        np.fmax(high, np.fmax.reduce(block, axis=0), out=high)
    return low, high


def _no_observed_value(column: Column) -> ValueError:
    return ValueError(
        f"{column.label.capitalize()} has no observed value: every entry is missing, "
        f"so there is nothing to learn its distribution from. Drop it."
    )


def _describe(X, j: int, is_frame: bool) -> Column:
    """Name, kind and dtype of column j; unmodellable kinds raise, naming it."""
    if not is_frame:
        return Column(name=j, kind="float", dtype=X.dtype)
    import pandas as pd

    name, dtype = X.columns[j], X.dtypes.iloc[j]
    column = Column(name=name, kind="", dtype=dtype)
    series = X.iloc[:, j]
    if pd.api.types.is_datetime64_any_dtype(dtype):
        column.kind, column.unit = "datetime", _time_unit(series)
    elif pd.api.types.is_timedelta64_dtype(dtype):
        column.kind, column.unit = "timedelta", _time_unit(series)
    elif pd.api.types.is_bool_dtype(dtype):
        column.kind = "bool"
    elif isinstance(dtype, pd.CategoricalDtype):
        column.kind = "category"
    elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        column.kind = "string"
    elif pd.api.types.is_integer_dtype(dtype):
        column.kind = "int"
    elif pd.api.types.is_float_dtype(dtype):
        column.kind = "float"
    elif pd.api.types.is_object_dtype(dtype):
        column.kind = _object_kind(series, column)
    else:
        raise _unmodellable(column, f"has dtype {dtype}")
    return column


def _object_kind(series, column: Column) -> str:
    """An object column holds strings (categories), bools, or numbers, and
    perhaps missing entries."""
    types = {type(v) for v in series[series.notna()]}
    if types <= {str}:
        return "object"
    if types <= {bool, np.bool_}:
        return "bool"
    if all(issubclass(t, (int, float, np.integer, np.floating)) for t in types):
        return "float"
    if all(issubclass(t, (datetime.date, np.datetime64)) for t in types):
        raise _unmodellable(
            column,
            "holds dates or times as Python objects",
            f"convert it with pandas.to_datetime(X[{column.name!r}])",
        )
    names = ", ".join(sorted(t.__name__ for t in types))
    holds = f"mixes values of types {names}" if len(types) > 1 else f"holds {names} values"
    raise _unmodellable(column, holds)


def _unmodellable(column: Column, why: str, fix: str = "") -> ValueError:
    fix = fix or "drop it, or encode it as numbers, strings or datetimes"
    return ValueError(
        f"{column.label.capitalize()} {why}, which VAETransformer cannot model: {fix}."
    )


def _time_ticks(series) -> tuple[np.ndarray, np.ndarray, int]:
    """A datetime or timedelta column as int64 ticks of its own unit
    (datetimes since 1970-01-01 UTC), which entries are NaT, and the
    length of a tick in nanoseconds."""
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    times = series.to_numpy()
    native, step = np.datetime_data(times.dtype)
    # NaT's ticks are the smallest int64: masked by the caller
    return times.view(np.int64), np.isnat(times), _TIME_UNITS[native] * step


def _time_unit(series) -> str:
    """The coarsest of _TIME_UNITS that holds every value of a datetime or
    timedelta column whole."""
    ticks, missing, tick_ns = _time_ticks(series)
    observed = ticks[~missing]
    return next(
        unit
        for unit, ns in _TIME_UNITS.items()
        if ns % tick_ns == 0 and not np.any(observed % (ns // tick_ns))
    )


def _time_counts(series, column: Column) -> np.ndarray:
    """A datetime or timedelta column as float64 counts of ``column.unit``,
    NaT as NaN."""
    ticks, missing, tick_ns = _time_ticks(series)
    counts = ticks / (_TIME_UNITS[column.unit] / tick_ns)
    counts[missing] = np.nan
    return counts


def _as_float(values: np.ndarray, column: Column) -> np.ndarray:
    """Values as float64, missing entries (None) as NaN; infinities refused."""
    if values.dtype == object:
        values = np.where(observed_entries(values), values, np.nan)
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{column.label.capitalize()} holds values that are not numbers, so "
            f"likelihood={column.likelihood!r} cannot model it. Use 'categorical' for it."
        ) from exc
    if np.isinf(out).any():
        raise ValueError(
            f"{column.label.capitalize()} holds infinite values. Replace them (with "
            f"NaN, which skvae treats as missing, or a finite value) or drop those rows."
        )
    return out


def _requested(likelihood, columns: list[Column]) -> dict[int, str]:
    """Column index -> likelihood name, from a name or a mapping."""
    if isinstance(likelihood, str):
        if likelihood == "auto":
            return {}
        return dict.fromkeys(range(len(columns)), likelihood)
    by_name = {c.name: j for j, c in enumerate(columns)}
    chosen = {}
    for key, name in likelihood.items():
        if key in by_name:
            j = by_name[key]
        elif (
            isinstance(key, (int, np.integer))
            and not isinstance(key, bool)
            and 0 <= key < len(columns)
        ):
            j = int(key)
        else:
            raise ValueError(
                f"likelihood names column {key!r}, which X does not have. Its columns "
                f"are {[c.name for c in columns][:20]}."
            )
        if name != "auto" and name not in LIKELIHOODS:
            raise ValueError(
                f"likelihood[{key!r}]={name!r} is not a likelihood skvae knows; use "
                f"'auto' or one of {sorted(LIKELIHOODS)}."
            )
        if name != "auto":
            chosen[j] = name
    return chosen


def _skewness(values: np.ndarray) -> float:
    centered = values - values.mean()
    std = centered.std()
    return float((centered**3).mean() / std**3) if std > 0 else 0.0


def _auto_likelihood(values: np.ndarray, column: Column, is_frame: bool) -> str:
    """The likelihood "auto" picks for a column (the README lists the rules).

    A DataFrame's numeric columns, flags aside, are each in their own units
    and of their own shape: each goes through its own quantiles. An array's
    columns (pixels, spectra, embeddings) get a parametric likelihood.
    """
    if column.kind == "bool":
        return "bernoulli"
    if column.kind in ("category", "object", "string"):
        n_unique = len(set(values))
        if column.kind != "category" and n_unique > max(MAX_FREE_CATEGORIES, len(values) / 2):
            raise ValueError(
                f"{column.label.capitalize()} has {n_unique} distinct values in "
                f"{len(values)} rows: it reads as free text or an identifier, not a "
                f"category. Drop it, or pass likelihood={{{column.name!r}: "
                f"'categorical'}} to model it as categories anyway."
            )
        return "categorical"
    values = _as_float(values, column)
    unique = np.unique(values)
    if column.kind == "int" and len(unique) == 2 and unique[0] == 0 and unique[1] == 1:
        # Only integer flags: a float column that held just 0 and 1 in fit
        # (a rarely lit pixel) may hold other values later.
        return "bernoulli"
    if is_frame:
        return "quantile"
    if unique[0] > 0:
        skew = _skewness(values)
        if skew > 1.0 and abs(_skewness(np.log(values))) < skew / 2:
            return "lognormal"
    return "gaussian"


def _decimals(values: np.ndarray) -> int | None:
    """The fewest decimal places, up to MAX_DECIMALS, that hold every value."""
    for decimals in range(MAX_DECIMALS + 1):
        scaled = values * 10.0**decimals
        # within a millionth of a unit in the last place: float error, not data
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6):
            return decimals
    return None


def _scaling(scaling: str, values: np.ndarray) -> str:
    if scaling != "auto":
        return scaling
    spans = np.nanmax(values, axis=0) - np.nanmin(values, axis=0)
    spans = spans[spans > 0]
    if len(spans) == 0:
        return "feature"
    return "global" if np.median(spans) >= GLOBAL_RANGE_SHARE * spans.max() else "feature"


def _restore(values: np.ndarray, column: Column, estimates: bool = False):
    """One output column in the training dtype: integers rounded, floats to
    their training decimal places (unless they are ``estimates``), columns
    that were non-negative in fit kept non-negative, categories as
    categories."""
    import pandas as pd

    if column.kind == "bool":
        return pd.array(values.astype(np.float64) > 0.5, dtype=column.dtype)
    if column.kind in ("category", "object", "string"):
        return pd.Series(np.asarray(values, dtype=object), dtype=column.dtype)
    values = values.astype(np.float64)
    if column.kind in _TIME_KINDS:
        return _restore_times(values, column)
    if column.minimum >= 0:
        values = np.maximum(values, 0.0)
    if column.kind == "int":
        values = np.round(values)
        if column.likelihood == "gaussian":
            values = np.clip(values, column.minimum, column.maximum)
    elif column.decimals is not None and not estimates:
        values = np.round(values, column.decimals)
    return (
        pd.array(values, dtype=column.dtype)
        if column.kind == "int"
        else values.astype(column.dtype)
    )


def _restore_times(counts: np.ndarray, column: Column):
    """Counts of ``column.unit`` back into the column's datetime or timedelta
    dtype, whole units within the training range (NaN as NaT)."""
    import pandas as pd

    counts = np.clip(np.round(counts), column.minimum, column.maximum)
    if column.kind == "timedelta":
        return pd.Series(pd.to_timedelta(counts, unit=column.unit)).astype(column.dtype)
    times = pd.Series(pd.to_datetime(counts, unit=column.unit))
    tz = getattr(column.dtype, "tz", None)
    if tz is not None:
        times = times.dt.tz_localize("UTC").dt.tz_convert(tz)
    return times.astype(column.dtype)
