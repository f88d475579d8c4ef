"""Fit throughput of skvae against hand-written PyTorch loops, transform
throughput, and the peak memory of a fit.

    python benchmarks/bench_fit.py --mnist ../shared/data/mnist.npz

Every contender trains the same VAE (same layers, likelihood, batch size, Adam,
learning rate, epochs) on the same float64 array:

- naive loop: the textbook loop, float32, torch's default Adam (on the CPU its
  per-tensor implementation);
- fused loop, float32: the same with ``Adam(fused=True)``;
- fused loop + bf16 autocast: the same with the forward pass under
  ``torch.autocast(..., dtype=torch.bfloat16)``, likelihood and KL in float32:
  the fastest loop a careful engineer writes on hardware with native bfloat16;
- skvae fit: ``VAETransformer(...).fit(X)``, everything included (validation
  of X, the float32 copy, the post-fit statistics), at its default precision;
- with --naive-batch-size N, the naive loop once more at batches of N rows: the
  textbook loop as a user writes it, whose throughput the issue measured at 128.
- two ceilings, not loops: the matrix products of the same training steps
  alone (forward with bias, weight and input gradients) on tensors made once,
  in float32 and in bfloat16. No loop that trains this model in that
  precision can be faster; the ratios to them say how much of a step is
  matrix products and how far a loop can get above the naive one here.

The runs alternate, each round in a new order, so that drift in the machine's
speed hits all alike; the figures are medians over rounds, and the ratios the
medians of the ratios within a round. Without --mnist, random data of MNIST's
shape is used. Prints a markdown table. The transform figure is the fitted
skvae model's ``transform`` of the test rows, the median of five calls after
one to warm up, beside the same codes from the model's float64 copy (how
transform computed them before it encoded in float32).
"""

import argparse
import functools
import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(__file__))
from _data import load_mnist, synthetic_mnist_like  # noqa: E402

from skvae import VAETransformer  # noqa: E402
from skvae import _estimator as skvae_estimator  # noqa: E402
from skvae._training import cpu_has_native_bfloat16  # noqa: E402

# The Gaussian hand loop's variance floor, as skvae's (1% of the average
# feature variance).
MIN_VARIANCE = 1e-2

# The transform figures: the median of this many timed calls after one to warm up.
TRANSFORM_CALLS = 5


def hand_loop(
    X64, *, hidden, n_components, likelihood, batch_size, epochs, lr, device, seed, fused, bf16
):
    """A hand-written VAE training loop, nothing else: with ``fused=False,
    bf16=False`` the naive one, else with fused Adam and bf16 autocast."""
    torch.manual_seed(seed)
    X = torch.from_numpy(X64.astype(np.float32))
    if likelihood == "gaussian":
        mean, std = X.mean(0), X.std(0)
        std[std == 0] = 1.0
        X = (X - mean) / std
    X = X.to(device)
    n, p = X.shape

    def relu_layers(sizes):
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return layers

    enc = nn.Sequential(*relu_layers([p, *hidden]))
    width = hidden[-1] if hidden else p
    mu_head, lv_head = nn.Linear(width, n_components), nn.Linear(width, n_components)
    dec = nn.Sequential(
        *relu_layers([n_components, *reversed(hidden)]),
        nn.Linear(hidden[0] if hidden else n_components, p),
    )
    raw_var = nn.Parameter(torch.zeros(p))
    modules = nn.ModuleList([enc, mu_head, lv_head, dec]).to(device)
    params = list(modules.parameters()) + ([raw_var] if likelihood == "gaussian" else [])
    if likelihood == "gaussian":
        raw_var.data = raw_var.data.to(device)
    opt = torch.optim.Adam(params, lr=lr, fused=True) if fused else torch.optim.Adam(params, lr=lr)
    device_type = torch.device(device).type
    for _ in range(epochs):
        perm = torch.randperm(n, device=device)
        for i in range(0, n, batch_size):
            xb = X[perm[i : i + batch_size]]
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
                h = enc(3.0 * torch.tanh(xb / 3.0) if likelihood == "gaussian" else xb)
                mu, log_var = mu_head(h).float(), lv_head(h).float()
                z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
                out = dec(z).float()
            if likelihood == "bernoulli":
                rec = F.binary_cross_entropy_with_logits(out, xb, reduction="sum") / len(xb)
            else:
                lv = torch.log(F.softplus(raw_var) + MIN_VARIANCE)
                rec = (
                    0.5
                    * ((xb - out) ** 2 * torch.exp(-lv) + lv + np.log(2 * np.pi)).sum()
                    / len(xb)
                )
            kl = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum() / len(xb)
            loss = rec + kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matrix_products(
    X64, *, hidden, n_components, likelihood, batch_size, epochs, lr, device, seed, bf16
):
    """A ceiling, not a loop: only the matrix products of the training steps
    of this model (per linear layer the forward product with its bias, the
    weight gradient, and the input gradient but for the first layer), on the
    same shapes and as many steps, in bfloat16 or float32. No activation,
    likelihood, KL, optimizer or data movement: any loop that trains the model
    in that precision, skvae's included, takes at least this long."""
    del likelihood, lr  # the products are the same for both likelihoods
    generator = torch.Generator().manual_seed(seed)
    dtype = torch.bfloat16 if bf16 else torch.float32
    encoder = [X64.shape[1], *hidden]
    decoder = [n_components, *reversed(hidden)]
    layers = [
        *zip(encoder[:-1], encoder[1:], strict=True),
        (encoder[-1], n_components),  # mu head
        (encoder[-1], n_components),  # log-variance head
        *zip(decoder[:-1], decoder[1:], strict=True),
        (decoder[-1], X64.shape[1]),  # output head
    ]

    def randn(*shape):
        return torch.randn(shape, generator=generator).to(device=device, dtype=dtype)

    sizes = [min(batch_size, len(X64) - i) for i in range(0, len(X64), batch_size)]
    tensors = {
        rows: [(randn(b, a), randn(b), randn(rows, a), randn(rows, b)) for a, b in layers]
        for rows in set(sizes)
    }
    for _ in range(epochs):
        for rows in sizes:
            for k, (weight, bias, inputs, grads) in enumerate(tensors[rows]):
                torch.addmm(bias, inputs, weight.t())
                grads.t().mm(inputs)
                if k > 0:
                    grads.mm(weight)
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# Seconds spent in skvae's training engine (skvae._training.train) by each
# skvae fit, to tell the engine's throughput from the estimator's fixed costs.
TRAIN_SECONDS = []


def _timed(train):
    @functools.wraps(train)
    def timed_train(*args, **kwargs):
        start = time.perf_counter()
        result = train(*args, **kwargs)
        TRAIN_SECONDS.append(time.perf_counter() - start)
        return result

    return timed_train


skvae_estimator.train = _timed(skvae_estimator.train)


def skvae_fit(X64, *, hidden, n_components, likelihood, batch_size, epochs, lr, device, seed):
    vae = VAETransformer(
        n_components=n_components,
        hidden_layer_sizes=hidden,
        likelihood=likelihood,
        batch_size=batch_size,
        learning_rate="constant",  # the loops' schedule: the same work per step
        learning_rate_init=lr,
        max_iter=epochs,
        early_stopping=False,
        device=device,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vae.fit(X64)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return vae


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_probe(args):
    """Run in a child process: peak RSS of one fit over the RSS before the data."""
    base = _rss_mb()
    X = load(args)[0]
    peak = [_rss_mb()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    skvae_fit(X, **fit_params(args, epochs=1))
    done.set()
    sampler.join()
    print(f"{peak[0] - base:.1f} {X.nbytes / 2**20:.1f}")


def load(args):
    if args.mnist:
        return load_mnist(args.mnist)
    return synthetic_mnist_like()


def fit_params(args, epochs=None):
    return dict(
        hidden=tuple(args.hidden),
        n_components=args.n_components,
        likelihood=args.likelihood,
        batch_size=args.batch_size,
        epochs=epochs or args.epochs,
        lr=1e-3,
        device=args.device,
        seed=0,
    )


def rows_per_second(transform, X):
    """Rows per second of ``transform(X)``: the median of TRANSFORM_CALLS timed
    calls after one to warm up."""
    transform(X)
    seconds = []
    for _ in range(TRANSFORM_CALLS):
        start = time.perf_counter()
        transform(X)
        seconds.append(time.perf_counter() - start)
    return len(X) / float(np.median(seconds))


def float64_transform(vae, X):
    """transform as skvae computed it before encoding in float32: the float64
    copy of the model that serves decoding and scores, on batches of any size."""
    X = vae._validated_X(X)
    return vae._batched(
        X, lambda m, u: m.encode(u)[0], vae.n_components, to_model=vae.table_.to_model
    )


CONTENDERS = {
    "naive loop, fp32": functools.partial(hand_loop, fused=False, bf16=False),
    "fused Adam loop, fp32": functools.partial(hand_loop, fused=True, bf16=False),
    "fused Adam + bf16 autocast loop": functools.partial(hand_loop, fused=True, bf16=True),
    "skvae fit": skvae_fit,
    "ceiling: the steps' matrix products alone, fp32": functools.partial(
        matrix_products, bf16=False
    ),
    "ceiling: the steps' matrix products alone, bf16": functools.partial(
        matrix_products, bf16=True
    ),
}
NAIVE, FUSED, BF16, SKVAE, PRODUCTS_FP32, PRODUCTS_BF16 = CONTENDERS
ENGINE = "skvae fit: its training engine alone (train())"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="path to mnist.npz; random data of its shape without")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--n-components", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--likelihood", default="bernoulli", choices=["bernoulli", "gaussian"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--naive-batch-size",
        type=int,
        help="also time the naive loop at this batch size (the issue's was 128)",
    )
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe:
        return memory_probe(args)

    X, _, X_test, _ = load(args)
    params = fit_params(args)
    n = len(X) * args.epochs
    contenders = dict(CONTENDERS)
    textbook = None
    if args.naive_batch_size:
        textbook = f"{NAIVE}, batch {args.naive_batch_size}"
        contenders[textbook] = lambda X, **p: CONTENDERS[NAIVE](
            X, **{**p, "batch_size": args.naive_batch_size}
        )
    names = list(contenders)
    times = {name: [] for name in [*names, ENGINE]}
    for r in range(args.rounds):
        # Each round in another order: first, last and neighbours all rotate.
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order if r % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            vae = contenders[name](X, **params)
            times[name].append(time.perf_counter() - start)
            if name == SKVAE:
                times[ENGINE].append(TRAIN_SECONDS[-1])
                fitted = vae
            print(f"round {r + 1}: {name}: {times[name][-1]:.1f} s", file=sys.stderr, flush=True)
    rate = {k: n / np.median(v) for k, v in times.items()}

    def ratio(a, b):
        """Median over rounds of a's throughput over b's, within a round."""
        return float(np.median(np.array(times[b]) / np.array(times[a])))

    transform_rate = rows_per_second(fitted.transform, X_test)
    float64_rate = rows_per_second(functools.partial(float64_transform, fitted), X_test)

    probe = subprocess.run(
        [sys.executable, __file__, "--memory-probe", *sys.argv[1:]],
        capture_output=True,
        text=True,
        check=True,
    )
    peak, x_mb = map(float, probe.stdout.split())
    budget = x_mb * 1.5 + 300

    device = torch.device(args.device)
    if device.type == "cpu":
        native = (
            "native" if cpu_has_native_bfloat16() else "emulated (no AVX512-BF16/AMX/ARM BF16)"
        )
        hardware = f"CPU bfloat16: {native}"
    else:
        hardware = f"GPU: {torch.cuda.get_device_name(device)}"
    source = "MNIST" if args.mnist else "synthetic MNIST-shaped data"
    print(
        f"## Fit throughput: {len(X)}x{X.shape[1]} {source}, hidden {args.hidden}, "
        f"{args.n_components} components, {args.likelihood}, batch {args.batch_size}, "
        f"{args.epochs} epochs, device {args.device}, torch {torch.__version__}, threads "
        f"{torch.get_num_threads()}, median of {args.rounds} alternating rounds\n"
    )
    print(f"{hardware}; skvae's precision='auto' resolves to {fitted.precision_}.\n")
    print("| contender | samples/s | seconds per epoch | best round, samples/s |")
    print("|---|---|---|---|")
    for name, r in rate.items():
        best = n / min(times[name])
        print(f"| {name} | {r:,.0f} | {len(X) / r:.2f} | {best:,.0f} |")
    best_loop = max((FUSED, BF16), key=lambda name: rate[name])
    checks = [
        (f"skvae / {BF16}", ratio(SKVAE, BF16), 1.0),
        (f"skvae / {NAIVE}", ratio(SKVAE, NAIVE), 2.0),
        *([(f"skvae / {textbook}", ratio(SKVAE, textbook), 2.0)] if textbook else []),
        (f"skvae / the faster careful loop ({best_loop})", ratio(SKVAE, best_loop), 1.0),
        (f"{BF16} / {FUSED}", ratio(BF16, FUSED), None),
        (f"skvae's engine alone / {NAIVE}", ratio(ENGINE, NAIVE), None),
        ("skvae's engine alone / the faster careful loop", ratio(ENGINE, best_loop), None),
        (f"{PRODUCTS_BF16} / {NAIVE}", ratio(PRODUCTS_BF16, NAIVE), None),
        (f"{PRODUCTS_BF16} / {PRODUCTS_FP32}", ratio(PRODUCTS_BF16, PRODUCTS_FP32), None),
        (f"{NAIVE} / {PRODUCTS_FP32}", ratio(NAIVE, PRODUCTS_FP32), None),
        (f"{BF16} / {PRODUCTS_BF16}", ratio(BF16, PRODUCTS_BF16), None),
        (f"skvae's engine alone / {PRODUCTS_BF16}", ratio(ENGINE, PRODUCTS_BF16), None),
    ]
    print("\n| throughput ratio | value | target |")
    print("|---|---|---|")
    for label, value, target in checks:
        verdict = (
            "" if target is None else f">= {target:.1f}: {'met' if value >= target else 'NOT met'}"
        )
        print(f"| {label} | **{value:.3f}** | {verdict} |")
    outside = np.median(np.array(times[SKVAE]) - np.array(times[ENGINE]))
    print(
        f"\nskvae fit outside its training engine (checks, float32 copy, what the "
        f"estimator derives after training): {outside:.1f} s per fit (median)"
    )
    print(
        f"\ntransform throughput ({len(X_test)} rows, median of {TRANSFORM_CALLS} calls after "
        f"one to warm up): {transform_rate:,.0f} rows/s; the same codes from the float64 "
        f"copy of the model (transform's path before float32 encoding): {float64_rate:,.0f} rows/s"
    )
    print(
        f"\npeak memory of a fit over the process before loading X: {peak:.0f} MB "
        f"(float64 X is {x_mb:.0f} MB; budget X + float32 copy + 300 MB = {budget:.0f} MB)"
    )


if __name__ == "__main__":
    main()
