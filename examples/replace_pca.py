"""Replacing PCA with VAETransformer in an existing script: one line changes.

The script below is an ordinary scikit-learn workflow: reduce the digits to
8 features, classify them, and measure how well the 8 features reconstruct
the images. Run it twice, once per reducer; only the line marked
``# <- the one line`` differs.

    python examples/replace_pca.py
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from skvae import VAETransformer


def workflow(reducer):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    pipe = Pipeline([("reduce", reducer), ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(X_train, y_train)
    accuracy = pipe.score(X_test, y_test)
    reduce = pipe.named_steps["reduce"]
    X_hat = reduce.inverse_transform(reduce.transform(X_test))
    mse = np.mean((X_hat - X_test) ** 2)
    loglik = reduce.score(X_test)  # both are log-likelihoods in nats per image
    return accuracy, mse, loglik


def main():
    before = workflow(PCA(n_components=8))
    after = workflow(VAETransformer(n_components=8, random_state=0))  # <- the one line
    print("held-out quarter of load_digits, 8 components\n")
    print(
        "| reducer | LogReg accuracy | reconstruction MSE (pixel units) | log-likelihood (nats) |"
    )
    print("|---|---|---|---|")
    for name, (acc, mse, ll) in (
        ("PCA(n_components=8)", before),
        ("VAETransformer(n_components=8)", after),
    ):
        print(f"| {name} | {acc:.3f} | {mse:.2f} | {ll:.1f} |")


if __name__ == "__main__":
    main()
