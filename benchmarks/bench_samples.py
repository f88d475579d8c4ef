"""Sampled images against held-out ones: where the codes come from.

    python benchmarks/bench_samples.py [--mnist ../shared/data/mnist.npz]

Fits a default VAETransformer (random_state=0) on digits (and on MNIST's 60,000
training images with --mnist) and draws images three ways:

- posterior draws: ``sample`` as it is, codes from the Gaussian mixture fitted
  to one draw z ~ q(z|x) per training row (at most 16,384 rows);
- posterior means: the same kind of mixture fitted to the means mu(x) of the
  training rows (all of them, or 16,384 drawn; ``sample`` before commit
  340d782 used the training rows left after the validation split);
- prior: ``sample(latent="prior")``, z ~ N(0, I).

Each set (as many images as held-out ones, at most 10,000) is scored against
the held-out images by improved precision and recall (Kynkaanniemi et al.
2019, k=3 nearest neighbours, Euclidean in pixel space): precision is the
share of samples that fall inside the held-out images' manifold (a ball around
some held-out image reaching its third neighbour), recall the share of held-out
images inside the samples' manifold. Also the share of each class among the
samples as labelled by a logistic regression trained on the training images
(its largest share; 0.1 is even), and the classifier's mean top probability on
the samples (on held-out real images for reference).
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, os.path.dirname(__file__))
from _data import load_mnist  # noqa: E402

from skvae import VAETransformer  # noqa: E402
from skvae._sampling import fit_code_mixture, mixture_rows  # noqa: E402
from skvae._training import posterior_statistics  # noqa: E402

K = 3
MAX_IMAGES = 10_000


def manifold_share(reference, queries):
    """Share of ``queries`` within the k-NN balls of ``reference`` points."""
    neighbors = NearestNeighbors(n_neighbors=K + 1).fit(reference)
    radii = neighbors.kneighbors(reference)[0][:, K]
    distances, index = neighbors.kneighbors(queries)
    return float(np.mean((distances <= radii[index]).any(axis=1)))


def means_mixture_samples(vae, X_train, n, seed):
    """``sample``'s images with the mixture fitted to posterior means instead."""
    rows = mixture_rows(len(X_train), seed)
    U = torch.from_numpy(vae.table_.to_model(X_train[rows], dtype=np.float32))
    mu = posterior_statistics(vae._inference_module, U)[2]
    saved = vae.__dict__.get("_code_mixture")
    vae._code_mixture = fit_code_mixture(mu, vae._mixture_seed)
    try:
        return vae.sample(n, random_state=seed)
    finally:
        vae.__dict__.pop("_code_mixture")
        if saved is not None:
            vae._code_mixture = saved


def run(name, X_train, y_train, X_test, y_test, scale, report):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae = VAETransformer(random_state=0).fit(X_train)
        clf = LogisticRegression(max_iter=2000).fit(X_train / scale, y_train)
    n = min(len(X_test), MAX_IMAGES)
    held_out = X_test[:n] / scale
    sets = {
        "posterior draws (default)": vae.sample(n, random_state=0),
        "posterior means": means_mixture_samples(vae, X_train, n, 0),
        "prior N(0, I)": vae.sample(n, random_state=0, latent="prior"),
    }
    report(
        f"## {name}: {len(X_train)} training / {n} held-out images, "
        f"likelihood {sorted(set(vae.likelihoods_.values()))}, "
        f"{vae.n_components} components\n",
        "| codes from | precision | recall | largest class share | classifier confidence |",
        "|---|---|---|---|---|",
    )
    real_confidence = clf.predict_proba(held_out).max(axis=1).mean()
    for label, images in sets.items():
        images = np.asarray(images, dtype=np.float64) / scale
        classes = np.bincount(clf.predict(images), minlength=10) / len(images)
        report(
            f"| {label} | {manifold_share(held_out, images):.3f} | "
            f"{manifold_share(images, held_out):.3f} | {classes.max():.3f} | "
            f"{clf.predict_proba(images).max(axis=1).mean():.3f} |"
        )
    report(
        f"\nClassifier confidence on the held-out images themselves: {real_confidence:.3f}. "
        f"Wall time: {time.perf_counter() - start:.0f} s.\n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="path to mnist.npz")
    parser.add_argument("--out", help="also write the markdown to this file")
    args = parser.parse_args()
    lines = []

    def report(*text):
        for line in text:
            print(line, flush=True)
            lines.append(line)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    run("digits", X_train, y_train, X_test, y_test, 16.0, report)
    if args.mnist:
        X_train, y_train, X_test, y_test = load_mnist(args.mnist)
        run("MNIST", X_train, y_train, X_test, y_test, 1.0, report)
    if args.out:
        with open(args.out, "w") as f:
            command = " ".join(["python", "benchmarks/bench_samples.py", *sys.argv[1:]])
            f.write(f"<!-- {command} (torch {torch.__version__}) -->\n\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
