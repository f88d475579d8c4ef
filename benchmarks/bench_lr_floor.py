"""The learning-rate floor of learning_rate_init="auto", measured on small tables.

    python benchmarks/bench_lr_floor.py --out benchmarks/results/lr_floor.md

"auto" takes Adam's peak rate 1.5e-2 at a batch of 512 rows, in proportion to
the batch below it, but no lower than at 64 rows (1.875e-3). Batches fall
below 64 rows on tables of fewer than 640 training rows, where the batch is
a tenth of the rows (at least 16). This script fits skvae with defaults
(the floor) and with the proportional rate passed as ``learning_rate_init``
(the rule before the floor) on the small tables of bench_tables.py and
bench_synth.py, three seeds each, side by side:

- bench_tables' figures on its 75/25 split (see that script): held-out mean
  R² of the reconstruction at k = 4 and 8, the mean KS of 2,000 samples
  against the test rows, LogisticRegression accuracy on the codes, fit s.
- with ``sdv``/``sdmetrics`` installed (the ``synth`` extra), bench_synth's
  penguins split (167 training rows, all columns modelled): SDMetrics overall
  quality of 2,000 samples against the held-out rows, and the DCR ratio.

Each line is the mean over seeds 0, 1, 2 of VAETransformer(random_state=seed).
"""

import argparse
import math
import warnings
from functools import partial

from _report import Report, add_run_arguments, number, set_threads
from bench_tables import evaluate, load_table, mean_or_none

from skvae import VAETransformer
from skvae._estimator import PEAK_LEARNING_RATE

SEEDS = (0, 1, 2)


def proportional_rate(n_rows, early_stopping=True):
    """The rate "auto" gave before the floor, for a default fit on n_rows."""
    vae = VAETransformer()
    n_train = n_rows - math.ceil(vae.validation_fraction * n_rows) if early_stopping else n_rows
    return PEAK_LEARNING_RATE * vae._batch_size(n_train) / 512


def mean_of(results, key):
    return mean_or_none([r[key] for r in results if r.get(key) is not None])


def tables_section(names, report):
    report(
        "## bench_tables' small tables: mean over seeds 0-2",
        "",
        "| table | k | rate | mean R² | KS | LogReg acc. | fit s |",
        "|---|---|---|---|---|---|---|",
    )
    for name in names:
        t = load_table(name)
        old = proportional_rate(len(t.X_train))
        for k in (4, 8):
            for label, rate in ((f"proportional {old:.2g}", old), ("auto (floor)", "auto")):
                results = [
                    evaluate(
                        partial(
                            VAETransformer,
                            n_components=k,
                            learning_rate_init=rate,
                            random_state=seed,
                        ),
                        t,
                        catch_errors=False,
                    )
                    for seed in SEEDS
                ]
                report(
                    f"| {name} | {k} | {label} | {number(mean_of(results, 'r2_mean'))} "
                    f"| {number(mean_of(results, 'ks'))} "
                    f"| {number(mean_of(results, 'logreg_acc'))} "
                    f"| {mean_of(results, 'fit_s'):.2f} |"
                )
    report("")


def synth_section(report):
    import bench_synth
    from _synth import load_split, quality

    split = load_split("penguins", 2000, 5000)
    metadata, _ = bench_synth.sdv_metadata(split)
    distances = bench_synth.Distances(split)
    old = proportional_rate(len(split.train))
    report(
        f"## bench_synth's penguins ({len(split.train)} training rows): mean over seeds 0-2",
        "",
        "| rate | overall | shapes | pair trends | DCR ratio |",
        "|---|---|---|---|---|",
    )
    for label, rate in ((f"proportional {old:.2g}", old), ("auto (floor)", "auto")):
        rows = []
        for seed in SEEDS:
            vae = VAETransformer(learning_rate_init=rate, random_state=seed).fit(split.train)
            samples = vae.sample(2000, random_state=0)
            rows.append({**quality(split, samples, metadata), **distances.ratio(samples)})
        report(
            f"| {label} | "
            + " | ".join(number(mean_of(rows, key)) for key in ("overall", "shapes", "pairs"))
            + f" | {mean_of(rows, 'dcr_ratio'):.2f} |"
        )
    report("")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["penguins", "wine", "breast_cancer"])
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    set_threads(args)
    warnings.simplefilter("ignore")
    report = Report()
    tables_section(args.tables, report)
    try:
        import sdmetrics  # noqa: F401
    except ImportError:
        report("(sdmetrics is not installed: the penguins synthesis section is skipped.)")
    else:
        synth_section(report)
    if args.out:
        report.write(args.out, "bench_lr_floor.py")


if __name__ == "__main__":
    main()
