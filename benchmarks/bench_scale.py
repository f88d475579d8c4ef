"""Fits larger than memory: a memmap streamed by fit, the same rows in memory, and partial_fit.

    python benchmarks/bench_scale.py --mnist ../shared/data/mnist.npz             # 1.2M rows
    python benchmarks/bench_scale.py --mnist ../shared/data/mnist.npz --rows 120000 --epochs 1

Streaming (issue #11). The 60,000 MNIST training images / 255, replicated to
``--rows`` rows (each copy of the 60,000 in its own random order), are written
chunk by chunk to a float32 .npy file in ``--workdir`` (never whole in RAM).
``VAETransformer(n_components=8, likelihood="bernoulli", max_iter=--epochs,
early_stopping=False, random_state=0)`` is fitted on it twice, each time in a
child process: on ``np.load(path, mmap_mode="r")`` (fit streams the memmap in
~64 MB chunks) and on ``np.load(path)`` (the rows in memory, counted in the
child's memory). The parent samples the child's RssAnon (anonymous memory:
RSS without the mapped file's pages) every 0.1 s. Then, for both fits: test
MSE on the 10,000 test images and LogisticRegression accuracy on the codes
(fitted on the codes of the 60,000 original training images).

partial_fit: the 60,000 training images (shuffled once) streamed by
``partial_fit`` in chunks of 6,000 rows for 5 passes, against ``fit`` for 5
epochs, a default fit and PCA(8), on the same test figures.

Timings on a shared machine vary; compare ratios measured in one run. The rows
file was just written, so the streamed fit reads it mostly from the page cache.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _data import load_mnist  # noqa: E402

from skvae import VAETransformer  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)

REPO = HERE.parent
SAMPLE_SECONDS = 0.1
MIB = 2**20

# One fit of the replicated rows, in a child process. argv: rows file, mnist,
# "memmap" or "memory", epochs. Prints one line per epoch (verbose=2, with the
# epoch's seconds), then a JSON line.
CHILD = r"""
import json, sys, time, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression
warnings.simplefilter("ignore")
from skvae import VAETransformer

def rss_anon_mib():
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("RssAnon:"))
    return int(line.split()[1]) / 1024

rows_path, mnist, mode, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
X = np.load(rows_path, mmap_mode="r" if mode == "memmap" else None)
vae = VAETransformer(n_components=8, likelihood="bernoulli", max_iter=epochs,
                     early_stopping=False, random_state=0, verbose=2)
before = rss_anon_mib()
fit_start = time.time()
vae.fit(X)
fit_end = time.time()
kind = type(X).__name__
del X
with np.load(mnist) as data:
    X_train, y = data["x_train"].reshape(-1, 784) / 255.0, data["y_train"]
    X_test, y_test = data["x_test"].reshape(-1, 784) / 255.0, data["y_test"]
mse = float(np.mean((vae.inverse_transform(vae.transform(X_test)) - X_test) ** 2))
clf = LogisticRegression(max_iter=1000).fit(vae.transform(X_train), y)
print(json.dumps({"fit_start": fit_start, "fit_end": fit_end, "before_mib": before,
                  "array": kind, "epochs": vae.n_iter_, "mse": mse,
                  "acc": clf.score(vae.transform(X_test), y_test)}), flush=True)
"""

EPOCH_LINE = re.compile(r"^Epoch \d+/\d+: .*, ([0-9.]+) s$")


def build_rows(mnist: str, path: Path, n_rows: int, seed: int = 0, chunk: int = 10_000):
    """The training images / 255 as float32, replicated to n_rows rows, each
    copy of the set in its own random order, written to a .npy chunk by chunk."""
    with np.load(mnist) as data:
        images = data["x_train"].reshape(len(data["x_train"]), -1)  # uint8, 47 MB
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_rows, images.shape[1])
    )
    rng = np.random.default_rng(seed)
    for copy_start in range(0, n_rows, len(images)):
        order = rng.permutation(len(images))[: n_rows - copy_start]
        for i in range(0, len(order), chunk):
            picked = order[i : i + chunk]
            start = copy_start + i
            out[start : start + len(picked)] = images[picked].astype(np.float32) / 255
    out.flush()
    del out


def rss_anon_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def fit_in_child(rows_path: Path, mnist: str, mode: str, epochs: int, logdir: Path) -> dict:
    """Run CHILD, sampling its RssAnon every 0.1 s; its figures, with the peak
    RssAnon during fit and over its whole life, and the epochs' seconds."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out_path, err_path = logdir / f"{mode}.out", logdir / f"{mode}.err"
    samples = []  # (time.time(), RssAnon MiB)
    with open(out_path, "w") as out, open(err_path, "w") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(rows_path), str(Path(mnist).resolve()), mode,
             str(epochs)],
            env=env, cwd=REPO, stdout=out, stderr=err,
        )  # fmt: skip
        while child.poll() is None:
            rss = rss_anon_mib(child.pid)
            if rss is not None:
                samples.append((time.time(), rss))
            time.sleep(SAMPLE_SECONDS)
    stdout = out_path.read_text()
    if child.returncode != 0:
        raise RuntimeError(
            f"{mode} child failed:\n{stdout[-2000:]}\n{err_path.read_text()[-4000:]}"
        )
    result = json.loads(stdout.strip().splitlines()[-1])
    in_fit = [m for t, m in samples if result["fit_start"] <= t <= result["fit_end"]]
    result["peak_fit_mib"] = max(in_fit)
    result["peak_all_mib"] = max(m for _, m in samples)
    result["fit_s"] = result["fit_end"] - result["fit_start"]
    lines = (EPOCH_LINE.match(line) for line in stdout.splitlines())
    result["epoch_s"] = [float(m.group(1)) for m in lines if m]
    return result


def streaming_table(args, workdir: Path):
    rows_path = workdir / f"mnist_x{args.rows}.npy"
    size_gib = args.rows * 784 * 4 / 2**30
    print(f"writing {args.rows} rows ({size_gib:.2f} GiB) to {rows_path}", file=sys.stderr)
    results = {}
    try:
        start = time.perf_counter()
        build_rows(args.mnist, rows_path, args.rows)
        build_s = time.perf_counter() - start
        for mode in ("memmap", "memory"):
            print(f"fitting on the rows ({mode}) ...", file=sys.stderr, flush=True)
            results[mode] = fit_in_child(rows_path, args.mnist, mode, args.epochs, workdir)
            print(f"  {results[mode]}", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            rows_path.unlink(missing_ok=True)

    print(
        f"## Streaming: {args.rows:,} rows (MNIST x{args.rows / 60000:g}, {size_gib:.2f} GiB "
        f"float32, written in {build_s:.0f} s), {args.epochs} epoch(s)\n"
    )
    print(
        "| fit on | RssAnon before fit (MiB) | peak RssAnon in fit (MiB) | peak RssAnon, "
        "child's life (MiB) | fit s | s per epoch | test MSE | LogReg accuracy |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for mode, name in (("memmap", "np.memmap (streamed)"), ("memory", "ndarray (in memory)")):
        r = results[mode]
        per_epoch = " / ".join(f"{s:.0f}" for s in r["epoch_s"])
        print(
            f"| {name} | {r['before_mib']:.0f} | {r['peak_fit_mib']:.0f} | "
            f"{r['peak_all_mib']:.0f} | {r['fit_s']:.0f} | {per_epoch} | {r['mse']:.5f} | "
            f"{r['acc']:.3f} |"
        )
    m, a = results["memmap"], results["memory"]
    mse_ratio = m["mse"] / a["mse"]
    epoch_ratio = np.mean(m["epoch_s"]) / np.mean(a["epoch_s"])
    print(
        f"\nmemmap / in memory: seconds per epoch {epoch_ratio:.2f}, "
        f"fit seconds {m['fit_s'] / a['fit_s']:.2f}, test MSE {mse_ratio:.3f}, "
        f"accuracy {m['acc'] - a['acc']:+.3f}. 'fit s' includes what fit does after "
        f"training (the codes of 16,384 training rows for the latent statistics and the "
        f"sampling density); the epochs' seconds are fit's own (verbose=2)."
    )
    print(
        f"\nMust-show: memmap fit's peak RssAnon {m['peak_fit_mib']:.0f} MiB <= 1024 MiB: "
        f"{'met' if m['peak_fit_mib'] <= 1024 else 'NOT met'}; test MSE within 5% of the "
        f"in-memory fit's ({mse_ratio:.3f}): {'met' if abs(mse_ratio - 1) <= 0.05 else 'NOT met'}."
        "\n",
        flush=True,
    )


def partial_fit_table(args):
    X, y, X_test, y_test = load_mnist(args.mnist)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]

    def streamed():
        vae = VAETransformer(n_components=8, likelihood="bernoulli", random_state=0)
        for _ in range(5):
            for i in range(0, len(X), 6000):
                vae.partial_fit(X[i : i + 6000])
        return vae

    contenders = {
        "partial_fit, 6,000-row chunks, 5 passes": streamed,
        "fit, max_iter=5, early_stopping=False": lambda: VAETransformer(
            n_components=8, likelihood="bernoulli", max_iter=5, early_stopping=False,
            random_state=0,
        ).fit(X),
        "fit, defaults (early stopping)": lambda: VAETransformer(
            n_components=8, likelihood="bernoulli", random_state=0
        ).fit(X),
        "PCA(8)": lambda: PCA(n_components=8, random_state=0).fit(X),
    }  # fmt: skip
    rows = {}
    for name, make in contenders.items():
        print(f"{name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        model = make()
        seconds = time.perf_counter() - start
        mse = np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2)
        clf = LogisticRegression(max_iter=1000).fit(model.transform(X), y)
        rows[name] = (mse, clf.score(model.transform(X_test), y_test), seconds, model)
    pca_mse = rows["PCA(8)"][0]

    print(
        f"## partial_fit: MNIST's {len(X):,} training images, measured on the "
        f"{len(X_test):,} test images\n"
    )
    print("| model | epochs (n_iter_) | test MSE | MSE / PCA's | LogReg accuracy | seconds |")
    print("|---|---|---|---|---|---|")
    for name, (mse, acc, seconds, model) in rows.items():
        epochs = getattr(model, "n_iter_", "-")
        if name.startswith("partial_fit"):
            epochs = f"5 ({epochs} calls)"
        print(
            f"| {name} | {epochs} | {mse:.5f} | {mse / pca_mse:.3f} | {acc:.3f} | {seconds:.1f} |"
        )
    mse, acc = rows["partial_fit, 6,000-row chunks, 5 passes"][:2]
    print(
        f"\nMust-show: partial_fit's test MSE {mse / pca_mse:.3f}x PCA(8)'s <= 0.6x: "
        f"{'met' if mse <= 0.6 * pca_mse else 'NOT met'}; accuracy {acc:.3f} >= 0.84: "
        f"{'met' if acc >= 0.84 else 'NOT met'}.",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist", required=True, help="path to mnist.npz")
    parser.add_argument("--rows", type=int, default=1_200_000, help="rows of the memmap")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the memmap fits")
    parser.add_argument("--workdir", help="where the rows file goes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the rows file")
    parser.add_argument("--skip-memmap", action="store_true")
    parser.add_argument("--skip-partial", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_memmap:
        if args.workdir:
            workdir = Path(args.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(tempfile.mkdtemp(prefix="bench_scale_"))
        try:
            streaming_table(args, workdir)
        finally:
            if not args.keep and not args.workdir:
                shutil.rmtree(workdir, ignore_errors=True)
    if not args.skip_partial:
        partial_fit_table(args)


if __name__ == "__main__":
    main()
