"""Data loading shared by the benchmark scripts."""

import numpy as np


def load_mnist(path, dtype=np.float64):
    """MNIST pixels scaled to [0, 1]: (X_train, y_train, X_test, y_test)."""
    with np.load(path) as data:
        X_train = data["x_train"].reshape(len(data["x_train"]), -1).astype(dtype) / 255.0
        X_test = data["x_test"].reshape(len(data["x_test"]), -1).astype(dtype) / 255.0
        return X_train, data["y_train"].astype(int), X_test, data["y_test"].astype(int)


def synthetic_mnist_like(n_train=60000, n_test=10000, n_features=784, seed=0):
    """Random data of MNIST's shape in [0, 1], for timing without the real set."""
    rng = np.random.RandomState(seed)
    basis = rng.rand(16, n_features)
    codes = rng.rand(n_train + n_test, 16)
    X = np.clip(codes @ basis / 8.0 + 0.1 * rng.rand(n_train + n_test, n_features), 0, 1)
    y = codes.argmax(axis=1) % 10
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
