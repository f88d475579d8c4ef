"""skvae against PCA (and FactorAnalysis) on real data; prints markdown tables.

    python benchmarks/bench_quality.py                      # digits tables only
    python benchmarks/bench_quality.py --mnist ../shared/data/mnist.npz
    python benchmarks/bench_quality.py --mnist ../shared/data/mnist.npz --nll

Digits (load_digits, shipped with scikit-learn): 5-fold CV accuracy of
Pipeline([reducer, LogisticRegression]) and 5-fold held-out log-likelihood
(``score``, nats per row) of VAETransformer, PCA and FactorAnalysis.

MNIST (--mnist): trained on the 60,000 training images, measured on the 10,000
test images (pixels scaled to [0, 1]): reconstruction MSE in pixel units,
LogisticRegression accuracy on the codes, fit seconds.

--nll: test negative log-likelihood of a Bernoulli VAE on stochastically
binarized MNIST (seeded), the VAE literature's figure, with its fit time and
the number of importance samples behind the estimate.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

sys.path.insert(0, os.path.dirname(__file__))
from _data import load_mnist  # noqa: E402

from skvae import VAETransformer  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


DIGITS_SIZES = (2, 5, 10, 16)


def digits_accuracy(sizes=DIGITS_SIZES):
    X, y = load_digits(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    reducers = {
        "VAETransformer": lambda d: VAETransformer(n_components=d, random_state=0),
        'VAETransformer(scaling="feature")': lambda d: VAETransformer(
            n_components=d, scaling="feature", random_state=0
        ),
        "PCA": lambda d: PCA(n_components=d, random_state=0),
        "PCA(whiten=True)": lambda d: PCA(n_components=d, whiten=True, random_state=0),
    }
    print("## load_digits: 5-fold CV accuracy of Pipeline([reducer, LogisticRegression])\n")
    print("| n_components | " + " | ".join(reducers) + " |")
    print("|---|" + "---|" * len(reducers))
    for d in sizes:
        row = []
        for make in reducers.values():
            pipe = make_pipeline(make(d), LogisticRegression(max_iter=1000))
            row.append(cross_val_score(pipe, X, y, cv=cv).mean())
        print(f"| {d} | " + " | ".join(f"{a:.3f}" for a in row) + " |", flush=True)


def digits_one_liner():
    """The README's one-liner as written: defaults, plain cv=5 (unshuffled folds)."""
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(VAETransformer(random_state=0), LogisticRegression(max_iter=1000))
    scores = cross_val_score(pipe, X, y, cv=5)
    print(
        f"\nPipeline(VAETransformer(random_state=0), LogisticRegression(max_iter=1000)), "
        f"cross_val_score(cv=5): {scores.mean():.3f} (folds: "
        f"{', '.join(f'{s:.3f}' for s in scores)})",
        flush=True,
    )


def digits_likelihood(sizes=DIGITS_SIZES):
    X, _ = load_digits(return_X_y=True)
    cv = KFold(5, shuffle=True, random_state=0)
    models = {
        "VAETransformer": lambda d: VAETransformer(n_components=d, random_state=0),
        "PCA": lambda d: PCA(n_components=d, random_state=0),
        "FactorAnalysis": lambda d: FactorAnalysis(n_components=d, random_state=0),
    }
    print(
        "\n## load_digits: 5-fold held-out log-likelihood, `score` (nats per row, higher "
        "is better)\n"
    )
    print("| n_components | " + " | ".join(models) + " |")
    print("|---|" + "---|" * len(models))
    for d in sizes:
        row = [cross_val_score(make(d), X, cv=cv).mean() for make in models.values()]
        print(f"| {d} | " + " | ".join(f"{s:.1f}" for s in row) + " |", flush=True)


def mnist_table(path, sizes=(2, 8, 16, 32)):
    X, y, X_test, y_test = load_mnist(path)
    contenders = {
        "PCA": lambda d: PCA(n_components=d, random_state=0),
        "skvae gaussian (default)": lambda d: VAETransformer(n_components=d, random_state=0),
        "skvae bernoulli": lambda d: VAETransformer(
            n_components=d, likelihood="bernoulli", random_state=0
        ),
    }
    print(f"\n## MNIST: fit on {len(X)} training images, measured on {len(X_test)} test images\n")
    print("| n_components | model | test MSE | LogReg test accuracy | fit s | epochs |")
    print("|---|---|---|---|---|---|")
    for d in sizes:
        for name, make in contenders.items():
            model = make(d)
            start = time.perf_counter()
            Z = model.fit_transform(X)
            seconds = time.perf_counter() - start
            Z_test = model.transform(X_test)
            mse = np.mean((model.inverse_transform(Z_test) - X_test) ** 2)
            clf = LogisticRegression(max_iter=1000).fit(Z, y)
            acc = clf.score(Z_test, y_test)
            epochs = getattr(model, "n_iter_", "-")
            print(
                f"| {d} | {name} | {mse:.4f} | {acc:.3f} | {seconds:.1f} | {epochs} |", flush=True
            )


def mnist_nll(path, n_importance_samples, max_iter, free_bits=None):
    X, _, X_test, _ = load_mnist(path)
    rng = np.random.RandomState(0)
    X_bin = (rng.rand(*X.shape) < X).astype(np.float32)
    X_test_bin = (rng.rand(*X_test.shape) < X_test).astype(np.float32)
    vae = VAETransformer(
        n_components=32,
        hidden_layer_sizes=(512, 256),
        likelihood="bernoulli",
        max_iter=max_iter,
        random_state=0,
        verbose=1,
    )
    if free_bits is not None:
        vae.set_params(free_bits=free_bits)
    start = time.perf_counter()
    vae.fit(X_bin)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    nll = -vae.score(X_test_bin, n_importance_samples=n_importance_samples)
    score_seconds = time.perf_counter() - start
    elbo = -vae.score(X_test_bin, n_importance_samples=1)
    print("\n## Binarized MNIST: test negative log-likelihood (nats, lower is better)\n")
    print(
        "| model | test NLL (IWAE bound) | importance samples | test -ELBO | fit s | epochs |"
        " score s |"
    )
    print("|---|---|---|---|---|---|---|")
    model = " ".join(repr(vae).split())  # one line, for the table
    print(
        f"| `{model}` | {nll:.2f} | {n_importance_samples} | {elbo:.2f} | {fit_seconds:.0f} |"
        f" {vae.n_iter_} | {score_seconds:.0f} |"
    )
    print(
        f"\nActive latent dimensions (posterior-mean variance > 0.01): "
        f"{vae.n_active_components_} of {vae.n_components}; KL per dimension (nats): "
        + ", ".join(f"{kl:.2f}" for kl in vae.kl_per_component_)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="path to mnist.npz")
    parser.add_argument("--nll", action="store_true", help="binarized-MNIST NLL (needs --mnist)")
    parser.add_argument("--nll-importance-samples", type=int, default=1000)
    parser.add_argument("--nll-max-iter", type=int, default=100)
    parser.add_argument(
        "--nll-free-bits", type=float, help="free_bits for the NLL fit (default: the estimator's)"
    )
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--skip-digits-accuracy", action="store_true")
    parser.add_argument("--skip-mnist-table", action="store_true")
    parser.add_argument("--mnist-sizes", type=int, nargs="+", default=[2, 8, 16, 32])
    args = parser.parse_args()
    if not (args.skip_digits or args.skip_digits_accuracy):
        digits_accuracy()
        digits_one_liner()
    if not args.skip_digits:
        digits_likelihood()
    if args.mnist and not args.skip_mnist_table:
        mnist_table(args.mnist, args.mnist_sizes)
    if args.mnist and args.nll:
        mnist_nll(args.mnist, args.nll_importance_samples, args.nll_max_iter, args.nll_free_bits)


if __name__ == "__main__":
    main()
