"""Pictures of a VAE fitted on MNIST: samples, reconstructions, the 2-D latent
space and the loss curves, saved as PNGs.

    python examples/plot_mnist.py --mnist ../shared/data/mnist.npz --out docs/images

Without --mnist it uses the 8x8 digits shipped with scikit-learn. Needs
matplotlib (pip install -e ".[examples]").
"""

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from skvae import VAETransformer  # noqa: E402


def load(path):
    if path:
        with np.load(path) as data:
            X = data["x_train"].reshape(-1, 784) / 255.0
            X_test = data["x_test"].reshape(-1, 784) / 255.0
            return X, X_test, data["y_test"], 28
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:1500], X[1500:], y[1500:], 8


def image_grid(rows, side, n_cols):
    """Tile flattened images into one array, n_cols per row, 1-pixel gaps."""
    n_rows = int(np.ceil(len(rows) / n_cols))
    grid = np.ones((n_rows * (side + 1) + 1, n_cols * (side + 1) + 1))
    for i, row in enumerate(rows):
        r, c = divmod(i, n_cols)
        grid[
            1 + r * (side + 1) : 1 + r * (side + 1) + side,
            1 + c * (side + 1) : 1 + c * (side + 1) + side,
        ] = row.reshape(side, side)
    return grid


def save_image(grid, path, title):
    fig, ax = plt.subplots(figsize=(4, 4 * grid.shape[0] / grid.shape[1] + 0.3), dpi=100)
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="path to mnist.npz; load_digits without")
    parser.add_argument("--out", default=".", help="folder for the PNGs")
    parser.add_argument("--n-components", type=int, default=16)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    X, X_test, y_test, side = load(args.mnist)

    start = time.perf_counter()
    vae = VAETransformer(
        n_components=args.n_components, likelihood="bernoulli", random_state=0, verbose=1
    ).fit(X)
    print(
        f"fitted {args.n_components} components in {time.perf_counter() - start:.0f} s, "
        f"{vae.n_iter_} epochs"
    )
    active = int(np.sum(vae.kl_per_component_ > 0.01))
    print(f"active latent dimensions (KL > 0.01 nats): {active} of {args.n_components}")

    save_image(
        image_grid(vae.sample(64, random_state=0), side, 8),
        os.path.join(args.out, "samples.png"),
        "64 samples (codes from the fitted mixture, decoder means)",
    )

    originals = X_test[:32]
    recon = vae.inverse_transform(vae.transform(originals))
    pairs = np.stack([originals, recon], axis=1).reshape(-1, originals.shape[1])
    save_image(
        image_grid(pairs, side, 8),
        os.path.join(args.out, "reconstructions.png"),
        "test images (left) and their reconstructions (right)",
    )

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    epochs = np.arange(1, vae.n_iter_ + 1)
    ax.plot(epochs, vae.loss_curve_, label="training loss (-ELBO)")
    ax.plot(epochs, [-s for s in vae.validation_scores_], label="validation -ELBO")
    ax.axvline(np.argmax(vae.validation_scores_) + 1, color="gray", ls=":", label="kept epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "loss_curves.png"))
    plt.close(fig)

    flat = VAETransformer(n_components=2, likelihood="bernoulli", random_state=0).fit(X)
    Z = flat.transform(X_test)
    fig, ax = plt.subplots(figsize=(5, 4.2), dpi=100)
    points = ax.scatter(Z[:, 0], Z[:, 1], c=y_test, cmap="tab10", s=2, alpha=0.7)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z1 (posterior mean)")
    ax.set_ylabel("z2 (posterior mean)")
    ax.set_title("2-D latent space of the test images", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "latent_2d.png"))
    plt.close(fig)
    print(f"wrote samples.png, reconstructions.png, loss_curves.png, latent_2d.png to {args.out}")


if __name__ == "__main__":
    main()
