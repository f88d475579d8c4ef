"""VAEImputer on a GPU (device="cuda"), against the same machine's CPU.

    python benchmarks/bench_gpu_impute.py --mnist ../shared/data/mnist.npz \\
        --out benchmarks/results/gpu_impute.md

Needs a CUDA device; CI has none, so nothing runs this there. Two checks:

- A mixed DataFrame (2,000 rows: a float column of whole numbers, Int64 counts,
  skewed amounts, nullable booleans, strings, a category, dates) with 20% of
  its entries missing, imputed on cuda: dtypes kept, no gap left, observed
  entries unchanged, repeatable draws, a pickle round trip.
- MNIST as in bench_impute.py (the first --mnist-train / --mnist-test images,
  half of each image's pixels hidden, the same mask seed), with the default
  ``VAEImputer(VAETransformer(likelihood="quantile", device=...),
  random_state=0)`` on each --devices entry in turn: fit and transform seconds,
  RMSE on the hidden test pixels, the epochs the fit ran. One run each; the
  first CUDA fit of a process pays for CUDA's start.
"""

import argparse
import os
import pickle
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _data import load_mnist  # noqa: E402
from _impute import SEED, hide_half  # noqa: E402
from _report import Report  # noqa: E402


def mixed_frame(n, seed=0):
    import pandas as pd

    rng = np.random.RandomState(seed)
    age = rng.uniform(18, 80, n)
    return pd.DataFrame(
        {
            "age": age.round(),
            "kids": pd.array(rng.poisson(0.04 * age), dtype="Int64"),
            "income": np.exp(rng.normal(10 + 0.01 * age, 0.8)),
            "owner": pd.array(rng.uniform(size=n) < age / 100, dtype="boolean"),
            "city": pd.Series(rng.choice(["paris", "lyon", "nice"], n), dtype=object),
            "plan": pd.Categorical(np.where(age > 50, "pro", "basic")),
            "since": pd.Timestamp("2015-01-01")
            + pd.to_timedelta(rng.randint(0, 3000, n), unit="D"),
        }
    )


def check_frame(report, device):
    from skvae import VAEImputer, VAETransformer

    df = mixed_frame(2000)
    holes = np.random.RandomState(1).uniform(size=df.shape) < 0.2
    masked = df.copy()
    for j, column in enumerate(df.columns):
        masked.loc[holes[:, j], column] = None
    imputer = VAEImputer(VAETransformer(device=device), random_state=0).fit(masked)
    filled = imputer.transform(masked)
    observed = ~holes
    kept = all(
        filled[c][observed[:, j]].equals(masked[c][observed[:, j]])
        for j, c in enumerate(df.columns)
    )
    imputer.set_params(sample_posterior=True, random_state=1)
    repeat = imputer.transform(masked).equals(imputer.transform(masked))
    again = pickle.loads(pickle.dumps(imputer.set_params(sample_posterior=False)))
    plan = holes[:, list(df.columns).index("plan")]
    right = np.mean(filled["plan"][plan] == df["plan"][plan])
    weights = zip(df.columns, imputer.shrinkage_, strict=True)
    report(
        f"## A mixed DataFrame on {device} (2,000 rows, 20% missing)",
        "",
        f"- dtypes kept: {bool((filled.dtypes == df.dtypes).all())}; gaps left: "
        f"{int(filled.isna().sum().sum())}; observed entries unchanged: {kept}",
        f"- draws repeat with an int seed: {repeat}; pickle round trip fills the same: "
        f"{again.transform(masked).equals(filled)}",
        f"- `plan` (a function of age) filled right: {right:.3f}",
        f"- shrinkage_: {', '.join(f'{c} {w:.2f}' for c, w in weights)}",
        "",
    )


def check_mnist(report, args):
    from skvae import VAEImputer, VAETransformer

    X_train, _, X_test, _ = load_mnist(args.mnist)
    X_train, X_test = X_train[: args.mnist_train], X_test[: args.mnist_test]
    rng = np.random.default_rng([SEED, 1])  # bench_impute.py's mask
    train, _ = hide_half(X_train, rng)
    test, hidden = hide_half(X_test, rng)
    report(
        f"## MNIST: {len(train)} training / {len(test)} test images, half of each hidden",
        "",
        "| device | fit s | transform s | RMSE (hidden pixels) | epochs | precision |",
        "|---|---|---|---|---|---|",
    )
    for device in args.devices:
        vae = VAETransformer(likelihood="quantile", device=device)
        imputer = VAEImputer(vae, random_state=0)
        start = time.perf_counter()
        imputer.fit(train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        filled = imputer.transform(test)
        transform_s = time.perf_counter() - start
        rmse = float(np.sqrt(np.mean((filled[hidden] - X_test[hidden]) ** 2)))
        report(
            f"| {device} | {fit_s:.1f} | {transform_s:.2f} | {rmse:.4f} | "
            f"{imputer.vae_.n_iter_} | {imputer.vae_.precision_} |"
        )
    report("")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", metavar="PATH", help="mnist.npz; without it, the frame only")
    parser.add_argument("--mnist-train", type=int, default=10000)
    parser.add_argument("--mnist-test", type=int, default=2000)
    parser.add_argument("--devices", nargs="+", default=["cuda", "cpu"])
    parser.add_argument("--out", help="also write the markdown to this file")
    args = parser.parse_args(argv)
    import torch

    warnings.simplefilter("ignore")
    report = Report()
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    report(f"Device: {name}; {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads.")
    report("")
    check_frame(report, args.devices[0])
    if args.mnist:
        check_mnist(report, args)
    if args.out:
        report.write(args.out, "bench_gpu_impute.py")


if __name__ == "__main__":
    main()
