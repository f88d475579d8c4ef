"""Markdown output, and the default-fit metrics, shared by the benchmark scripts."""

import os
import sys
import time
from importlib.metadata import version

# Held-out rows that fit_metrics scores with ``score`` (MNIST's test set is
# 10,000 rows; the bound's estimate needs far fewer).
SCORE_ROWS = 2000


def fit_metrics(vae, X, y, X_test, y_test) -> dict:
    """Fit ``vae`` on X and measure it as the time-to-quality benchmarks do:
    the fit's seconds, the test reconstruction MSE, the accuracy of a
    logistic regression trained on the training codes, and the held-out
    ``score`` on the first SCORE_ROWS test rows. Nothing here imports skvae,
    so that bench_versions can run it against an earlier checkout."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vae.fit(X)
    seconds = time.perf_counter() - start
    mse = float(np.mean((vae.inverse_transform(vae.transform(X_test)) - X_test) ** 2))
    classifier = LogisticRegression(max_iter=1000).fit(vae.transform(X), y)
    return {
        "fit_s": seconds,
        "mse": mse,
        "acc": classifier.score(vae.transform(X_test), y_test),
        "score": vae.score(X_test[:SCORE_ROWS]),
    }


class Report:
    """Markdown lines, printed as they come and kept for --out."""

    def __init__(self):
        self.lines = []

    def __call__(self, *lines):
        for line in lines:
            print(line, flush=True)
            self.lines.append(line)

    def write(self, path, script):
        """Save the lines under a comment holding the command that made them
        (``script`` and this process's arguments) and the machine's versions."""
        command = " ".join([f"python benchmarks/{script}", *sys.argv[1:]])
        header = (
            f"<!-- {command} ({os.cpu_count()} CPU cores, torch {version('torch')}, "
            f"scikit-learn {version('scikit-learn')}) -->"
        )
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join([header, "", *self.lines]) + "\n")


def number(value):
    """A figure to three decimals, "n/a" for none."""
    return "n/a" if value is None else f"{value:.3f}"


def worst_column(by_column, worst=max):
    """ "value (column)" for the worst of a {column: value} dict (``worst``: max
    for errors, min for scores), "n/a" when empty."""
    if not by_column:
        return "n/a"
    column = worst(by_column, key=by_column.get)
    return f"{by_column[column]:.3f} ({column})"


def spread(values, digits):
    """ "mean (min to max)" of some figures, each to ``digits`` decimals."""
    values = list(values)
    mean = sum(values) / len(values)
    return f"{mean:.{digits}f} ({min(values):.{digits}f} to {max(values):.{digits}f})"


def add_run_arguments(parser):
    """--threads and --out, which most benchmark scripts take."""
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--out", help="also write the markdown to this file")


def set_threads(args):
    """Apply --threads, if given, to torch."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
