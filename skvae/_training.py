"""The fit loop: batches, optimizer, precision, KL schedule, early stopping,
progress, and the posterior statistics of the fitted model.

Pure torch, no scikit-learn. The data come from a rows source
(``skvae/_rows.py``): one tensor on the training device, or chunks of an
array streamed from outside memory. Each epoch shuffles the rows, draws the
reparameterization noise a block at a time, and slices batches from both. Inside an epoch the loop
issues only the work of a training step (gather, forward, backward, one fused
optimizer kernel) and syncs with the host once, at the epoch's end (and, on
a terminal with ``verbose=1``, at most five times a second to redraw the bar).
"""

import functools
import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from ._latent import kl_standard_normal, training_loss
from ._likelihoods.gaussian import Gaussian
from ._optim import Adam
from ._rows import InMemoryRows, Part, StreamedRows

# Rows per forward pass when evaluating without gradients (validation, transform).
EVAL_BATCH_SIZE = 4096

# The epoch's noise is drawn in one call of at most this many numbers (4 MB
# in float32), in whole batches: one call per epoch on MNIST-sized data,
# without a copy the size of the data set on large ones.
_NOISE_BLOCK = 2**20

PRECISIONS = ("auto", "float32", "bfloat16")


class NonFiniteLossError(ValueError):
    """The training loss or the weights became NaN or infinite during fit."""


@dataclass(frozen=True)
class TrainingConfig:
    """The knobs of one call to :func:`train`."""

    batch_size: int
    learning_rate: float
    max_iter: int
    tol: float
    n_iter_no_change: int
    beta: float = 1.0
    kl_warmup: int = 0
    free_bits: float = 0.0
    verbose: int = 0
    # Added to every reported figure so that they are in the units of X (for a
    # standardized Gaussian model: minus the sum of log scales).
    nats_offset: float = 0.0
    # Arithmetic of the layers' matrix products: "auto" (bfloat16 where the
    # hardware computes it natively, else float32; see BFloat16Weights),
    # "float32" or "bfloat16". Likelihood, KL, loss, gradients of the weights
    # and optimizer state are float32 on every path. See resolve_precision.
    precision: str = "auto"
    # Share of the entries hidden from the encoder at random in each training
    # batch, while the likelihood still scores them: training to fill gaps.
    hide_rate: float = 0.0
    # "constant": learning_rate throughout. "cosine": a linear warm-up over
    # warmup_epochs, then a cosine decay that reaches 0 at the end of max_iter
    # epochs (Loshchilov and Hutter, 2017); reaching that end is the fit's
    # planned end, not a failure to converge. "warmup": the warm-up, then
    # constant (partial_fit, whose length nobody knows in advance).
    schedule: str = "constant"
    warmup_epochs: float = 2.0
    # After training, set the Gaussian columns' variances to their best values
    # (fit_variances) on the validation rows, or without them on the training
    # rows (variance_rows: at most MAX_VARIANCE_ROWS of them).
    fit_variances: bool = True


def learning_rate_at(step: int, config: TrainingConfig, n_batches: int) -> float:
    """The learning rate of optimizer step ``step`` (counted from 1)."""
    base = config.learning_rate
    if config.schedule == "constant":
        return base
    warm = max(1, round(config.warmup_epochs * n_batches))
    if step <= warm:
        return base * step / warm
    if config.schedule == "warmup":
        return base
    total = config.max_iter * n_batches
    done = min(1.0, (step - warm) / max(1, total - warm))
    return 0.5 * base * (1.0 + math.cos(math.pi * done))


@dataclass
class TrainingResult:
    """What a fit recorded. Losses and scores are nats per row, in X's units."""

    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    best_epoch: int = 0  # epochs completed when the kept weights were taken
    n_iter: int = 0
    n_steps: int = 0  # optimizer steps taken, counting those before this call
    stopped_early: bool = False
    interrupted: bool = False
    # The precision the fit ran in: "float32" or "bfloat16" ("auto" resolved).
    precision: str = "float32"


# --------------------------------------------------------------- precision


@functools.cache
def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware, and torch
    routes bfloat16 matrix products to those instructions (oneDNN).

    Read from the CPU feature flags torch reports (x86: AVX512-BF16 or AMX-BF16;
    ARM: the BF16 extension), never from the CPU's name, and never timed, so
    that the answer, and with it a seeded fit, is the same on every run on a
    given machine. Without these instructions torch emulates bfloat16 and a
    fit would run several times slower than in float32.
    """
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)  # torch >= 2.10
    if get_capabilities is not None:
        caps = get_capabilities()
        native = any(caps.get(flag) for flag in ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16"))
    else:
        native = any(
            getattr(torch.cpu, probe, lambda: False)()
            for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        )
    if not native:
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _cuda_has_native_bfloat16(device: torch.device) -> bool:
    if torch.version.hip:
        return torch.cuda.is_bf16_supported()
    # Ampere (8.0) and later multiply bfloat16 in tensor cores. Older GPUs have
    # neither bfloat16 nor TF32 tensor cores: float32 is their fast path.
    return torch.cuda.get_device_capability(device) >= (8, 0)


# precision="auto" trains in float32 where a step does fewer multiply-adds in
# its matrix products (batch rows times the model's weights) than this.
# bfloat16 pays only where the products are large: casting weights and
# activations on every step costs more than it saves on small ones. On this
# project's CPU (native bfloat16), with the default layers
# (benchmarks/results/precision_steps.md): float32 steps were faster up to 13M
# multiply-adds a step on the narrow models of digits, breast_cancer and
# penguins (1.09-1.88x) and at 15M and 30M on MNIST's wide model (1.64x,
# 1.68x); the two were level at 19M-26M (0.95-1.11x); bfloat16 steps were
# faster from 52M up (0.92-0.96x at 52M-60M, 0.75-0.93x from 104M). Digits'
# default steps (16M) train in float32, 1.16x faster over a whole fit at the
# same quality (same file); MNIST's default fit (120M in batches of 256)
# trains in bfloat16.
BFLOAT16_MIN_WORK = 48_000_000


def multiply_adds_per_row(model: torch.nn.Module) -> int:
    """Multiply-adds of one row's forward pass through ``model``'s linear layers."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def resolve_precision(precision: str, device: torch.device, work: int | None = None) -> str:
    """The precision a fit on ``device`` runs in: "float32" or "bfloat16".

    "auto" takes bfloat16 on CUDA GPUs with bfloat16 tensor cores and on CPUs
    with native bfloat16 instructions (see cpu_has_native_bfloat16), where a
    step does at least BFLOAT16_MIN_WORK multiply-adds (``work``: batch rows
    times multiply_adds_per_row; None: large); else float32. "bfloat16" is
    honoured wherever torch multiplies bfloat16 matrices on the device, even
    where it is emulated and slow.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    device = torch.device(device)
    if precision == "bfloat16":
        try:
            probe = torch.ones((2, 2), dtype=torch.bfloat16, device=device)
            torch.nn.functional.linear(probe, probe, probe[0])
        except (RuntimeError, NotImplementedError, TypeError) as exc:
            raise ValueError(
                f"precision='bfloat16' needs bfloat16 matrix products, which this "
                f"torch ({torch.__version__}) does not compute on {device.type}. Use "
                f"precision='float32' or 'auto'."
            ) from exc
        return "bfloat16"
    if precision == "float32" or (work is not None and work < BFLOAT16_MIN_WORK):
        return "float32"
    if device.type == "cpu":
        return "bfloat16" if cpu_has_native_bfloat16() else "float32"
    if device.type == "cuda":
        return "bfloat16" if _cuda_has_native_bfloat16(device) else "float32"
    return "float32"


class BFloat16Weights:
    """Mixed precision for the training steps: the linear layers compute with
    bfloat16 copies of their float32 weights, made in one operation per step;
    everything else (the likelihoods' own parameters, the KL, the loss, the
    optimizer's weights and state) stays float32.

    Inside ``with BFloat16Weights(model) as weights:`` the model's linear
    layers hold the bfloat16 copies; ``weights.step(optimizer)`` after a
    backward pass turns their gradients into float32 gradients of the
    float32 weights, steps the optimizer on those, and refreshes the copies.
    On leaving, the layers hold their float32 weights again, so that
    evaluation, snapshots and state dicts never see the copies.

    The arithmetic is autocast's (``torch.autocast(dtype=torch.bfloat16)``
    casts each layer's weight, bias and input to bfloat16 and its gradients
    back, and leaves other operations in float32), bitwise
    (tests/test_training.py), without autocast's casts of every weight and
    gradient one by one, on every step (with skvae's own Adam, it took
    bench_fit's engine from 0.91x to 1.05x a hand-written autocast loop,
    benchmarks/results/fit_cpu.md at commit 7ab21ce).
    """

    def __init__(self, model: torch.nn.Module):
        self.slots = [
            (module, name)
            for module in model.modules()
            if isinstance(module, torch.nn.Linear)
            for name in ("weight", "bias")
            if module._parameters.get(name) is not None
        ]
        self.masters = [module._parameters[name] for module, name in self.slots]
        self.copies = [
            torch.nn.Parameter(torch.empty_like(p, dtype=torch.bfloat16)) for p in self.masters
        ]
        self._grads = [torch.empty_like(p) for p in self.masters]

    def __enter__(self) -> "BFloat16Weights":
        self._refresh()
        for (module, name), copy in zip(self.slots, self.copies, strict=True):
            module._parameters[name] = copy
        return self

    def __exit__(self, *exc) -> None:
        for (module, name), master in zip(self.slots, self.masters, strict=True):
            module._parameters[name] = master

    @torch.no_grad()
    def _refresh(self) -> None:
        torch._foreach_copy_(self.copies, self.masters)

    @torch.no_grad()
    def step(self, optimizer: Adam) -> None:
        """The optimizer's step on the float32 weights, from the gradients
        the backward pass left on the copies."""
        with_grad = [k for k, copy in enumerate(self.copies) if copy.grad is not None]
        torch._foreach_copy_(
            [self._grads[k] for k in with_grad], [self.copies[k].grad for k in with_grad]
        )
        for k in with_grad:
            self.masters[k].grad = self._grads[k]
            self.copies[k].grad = None
        optimizer.step()
        self._refresh()


class _Float32Weights:
    """BFloat16Weights' interface for float32 training: the layers compute
    with the weights themselves."""

    def __enter__(self) -> "_Float32Weights":
        return self

    def __exit__(self, *exc) -> None:
        pass

    @staticmethod
    def step(optimizer: Adam) -> None:
        optimizer.step()


def make_optimizer(params, learning_rate: float) -> Adam:
    """Adam over ``params``, with torch's fused kernel where torch has one for
    their device (see ``skvae/_optim.py``)."""
    return Adam(params, lr=learning_rate)


# ------------------------------------------------------------- the loop


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _weights_are_finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _diverged(epoch: int, value: float, config: TrainingConfig) -> NonFiniteLossError:
    return NonFiniteLossError(
        f"The training loss became {value} at epoch {epoch}: the optimization "
        f"diverged. The usual causes are a learning rate that is too large "
        f"(learning_rate_init={config.learning_rate:g}; try a tenth of it) or "
        f"features on extreme scales (standardize X, or use "
        f"likelihood='gaussian', which does). No weights from this fit were kept."
    )


@torch.inference_mode()
def evaluate_objective(
    model: torch.nn.Module,
    X: torch.Tensor,
    index: torch.Tensor,
    eps: torch.Tensor,
    kl_weight: float = 1.0,
    free_bits: float = 0.0,
) -> float:
    """Minus the training objective on the rows ``X[index]`` with fixed noise
    ``eps``, in float32 whatever the training precision: the mean one-sample
    ELBO when ``kl_weight=1`` and ``free_bits=0``.

    Early stopping compares this, not the plain ELBO: with free bits the KL
    of the first nats per dimension is free in training, so the held-out
    ELBO falls while that KL fills up, and a fit stopped on it ends in its
    first epochs.
    """
    model.eval()
    log_lik_total = torch.zeros((), device=X.device, dtype=torch.float64)
    kl_total = torch.zeros(model.config.n_components, device=X.device, dtype=torch.float64)
    for start in range(0, len(index), EVAL_BATCH_SIZE):
        stop = start + EVAL_BATCH_SIZE
        log_lik, kl = model(X.index_select(0, index[start:stop]), eps[start:stop])
        log_lik_total += log_lik.sum(dtype=torch.float64)
        kl_total += kl.sum(0, dtype=torch.float64)
    kl_mean = kl_total / len(index)  # (n_components,)
    if free_bits > 0.0:
        kl_mean = kl_mean.clamp(min=free_bits)
    return (log_lik_total / len(index) - kl_weight * kl_mean.sum()).item()


# Draws of z per row behind the variances that ``fit_variances`` sets.
VARIANCE_DRAWS = 4


@torch.no_grad()
def fit_variances(
    model: torch.nn.Module,
    parts: Iterable[tuple[torch.Tensor, torch.Tensor]],
    seed: int,
    hide_rate: float = 0.0,
) -> None:
    """Set the variance of every column with a Gaussian likelihood (quantile
    and log-normal columns included) to the value that maximizes the
    expected log-likelihood of the rows ``X[index]`` of each of ``parts``
    under q(z|x), given the trained encoder and decoder, estimated with
    VARIANCE_DRAWS draws of z per row and floored as in training. Each
    likelihood says what to sum and what follows from it
    (``Gaussian.variance_terms``): the mean squared residual where every
    value is scored by a density, the best of a grid where some are mass
    points. With ``hide_rate`` (a fit that trains to fill gaps) the encoder
    sees each draw's rows with that share of entries hidden, as in training,
    and the hidden entries' residuals count: the variance then measures how
    well a gap is predicted, which is what imputation weighs draws by.

    Adam moves a variance's parameter by about the learning rate a step, so
    a fit of a few thousand steps leaves columns whose residuals are far
    below their starting variance of 1 with variances far too large: blurred
    samples and a held-out likelihood that keeps improving with the length
    of the schedule (Rybkin et al., 2021, set the variance in closed form at
    every step).
    """
    targets = {i for i, lik in enumerate(model.likelihoods) if isinstance(lik, Gaussian)}
    if not targets:
        return
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    terms, counts = dict.fromkeys(targets, 0.0), dict.fromkeys(targets, 0.0)
    for X, index in parts:
        for start in range(0, len(index), EVAL_BATCH_SIZE):
            x = X.index_select(0, index[start : start + EVAL_BATCH_SIZE])
            observed = model.observed(x)
            for i, (_, xg, _) in enumerate(model._groups(x)):
                if i in targets:  # the same entries in every draw
                    counts[i] = counts[i] + VARIANCE_DRAWS * (~torch.isnan(xg)).sum(0).double()
            for draw in range(VARIANCE_DRAWS):
                if hide_rate > 0.0:  # the encoder sees what it saw in training
                    hide = torch.rand(x.shape, generator=generator, device=device) < hide_rate
                    mu, log_var = model._encode(x, ~hide if observed is None else observed & ~hide)
                elif draw == 0:
                    mu, log_var = model._encode(x, observed)
                eps = torch.randn(mu.shape, generator=generator, device=device, dtype=mu.dtype)
                raw = model.decode(model.reparameterize(mu, log_var, eps))
                for i, (lik, xg, rg) in enumerate(model._groups(x, raw)):
                    if i in targets:
                        terms[i] = terms[i] + lik.variance_terms(xg, rg)
    for i in targets:
        lik = model.likelihoods[i]
        lik.set_variance(lik.variance_from_terms(terms[i], counts[i]))


# Without validation rows, fit_variances estimates from at most this many
# training rows (4 draws each): plenty for a variance per column, and a
# streamed fit reads only the chunks they come from, not the whole source again.
MAX_VARIANCE_ROWS = 65_536


def variance_rows(rows: "InMemoryRows | StreamedRows", seed: int) -> Iterator[Part]:
    """The training rows fit_variances uses when there are no validation
    rows: all of them, in order, up to MAX_VARIANCE_ROWS; beyond, that many
    taken from a pass shuffled with ``seed``."""
    if rows.n_rows <= MAX_VARIANCE_ROWS:
        yield from rows.parts(None)
        return
    budget = MAX_VARIANCE_ROWS
    for X, index in rows.parts(torch.Generator().manual_seed(seed)):
        yield X, index[:budget]
        budget -= min(budget, len(index))
        if budget == 0:
            return


@torch.inference_mode()
def posterior_statistics(
    model: torch.nn.Module, X: torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per latent dimension, over the rows of X (in the model's units, on its
    device): the variance of the posterior mean mu(x) (the active-units
    statistic) and the mean KL of q(z|x) from the prior, in closed form; and
    the posterior parameters mu(x) and log sigma^2(x) themselves, each
    (len(X), n_components). All float64 numpy.

    One encoder pass in eval mode in the model's dtype (a float64 copy gives
    codes that do not depend on batching), EVAL_BATCH_SIZE rows at a time.
    """
    model.eval()
    k = model.config.n_components
    dtype = next(model.parameters()).dtype
    parts = [
        torch.cat(model.encode(X[start : start + EVAL_BATCH_SIZE].to(dtype)), 1)
        for start in range(0, len(X), EVAL_BATCH_SIZE)
    ]
    if not parts:
        return np.full(k, np.nan), np.full(k, np.nan), np.empty((0, k)), np.empty((0, k))
    out = torch.cat(parts).double().cpu()
    kl = kl_standard_normal(out[:, :k], out[:, k:]).mean(0).numpy()
    mu, log_var = out[:, :k].numpy(), out[:, k:].numpy()
    return mu.var(axis=0), kl, mu, log_var


class _Progress:
    """verbose=1: on a terminal, one bar on stderr redrawn at most every 0.2 s;
    elsewhere (a pipe, a log file, a notebook's captured stream) one line per
    epoch on stderr. verbose>=2: one line per epoch on stdout with the
    validation score. Every figure is in nats per row in X's units: the
    running mid-epoch loss carries the same offset as the epoch's."""

    REDRAW_SECONDS = 0.2  # at most five redraws (and host syncs) a second

    def __init__(self, verbose: int, max_iter: int, n_batches: int, nats_offset: float = 0.0):
        self.verbose = verbose
        self.max_iter = max_iter
        self.n_batches = n_batches
        self.nats_offset = nats_offset
        self.started = time.perf_counter()
        self.last_draw = 0.0
        stream = sys.stderr
        self.bar = verbose == 1 and stream is not None and _isatty(stream)
        self.drawn = False

    def batch(self, epoch: int, losses: list[torch.Tensor], batch_rows: list[float]) -> None:
        """Mid-epoch: redraw the bar with the running mean of the epoch's batch
        losses so far (model units), ``batch_rows`` rows per batch."""
        if not self.bar:
            return
        now = time.perf_counter()
        if now - self.last_draw < self.REDRAW_SECONDS:
            return
        self.last_draw = now
        # A host sync, only on a terminal and at most five times a second.
        seen = torch.tensor(batch_rows, dtype=torch.float64, device=losses[0].device)
        loss = (torch.stack(losses).double() @ seen / seen.sum()).item() - self.nats_offset
        self._draw(epoch + len(losses) / self.n_batches, loss, now)

    def epoch(self, epoch: int, loss: float, score: float | None, seconds: float) -> None:
        """``loss`` and ``score`` already in X's units."""
        if self.verbose >= 2:
            val = "" if score is None else f", validation score = {score:.4f}"
            print(
                f"Epoch {epoch}/{self.max_iter}: loss = {loss:.4f}{val}, {seconds:.2f} s",
                flush=True,
            )
        elif self.bar:
            self._draw(epoch, loss, time.perf_counter())
        elif self.verbose == 1:
            val = "" if score is None else f"  validation score {score:.4f}"
            _write(
                f"fit epoch {epoch}/{self.max_iter}  loss {loss:.4f}{val}  "
                f"{time.perf_counter() - self.started:.0f}s\n"
            )

    def _draw(self, done: float, loss: float, now: float) -> None:
        width = 30
        filled = int(width * done / self.max_iter)
        elapsed = now - self.started
        self.drawn = True
        _write(
            f"\rfit [{'#' * filled}{'.' * (width - filled)}] epoch {done:.1f}/"
            f"{self.max_iter}  loss {loss:.4f}  {elapsed:.0f}s"
        )

    def close(self) -> None:
        if self.drawn:
            _write("\n")


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or a bare object
        return False


def _write(text: str) -> None:
    stream = sys.stderr
    if stream is not None:
        stream.write(text)
        stream.flush()


def train(
    model: torch.nn.Module,
    rows: InMemoryRows | StreamedRows,
    validation: tuple[torch.Tensor, torch.Tensor] | None,
    config: TrainingConfig,
    seed: int,
    optimizer: Adam | None = None,
    first_step: int = 0,
) -> TrainingResult:
    """Fit ``model`` in place on the training ``rows`` with Adam.

    With ``validation``, a tensor and the indices of its held-out rows, the
    fit stops once the held-out objective has not improved by ``tol`` for
    ``n_iter_no_change`` epochs and the best weights are restored; without
    it, once the training loss has not improved by ``tol`` for as long.
    ``optimizer`` and ``first_step`` continue an earlier call (partial_fit):
    Adam's moments and the KL warm-up carry on. A KeyboardInterrupt ends the
    fit with the best weights so far and ``interrupted=True``. A non-finite
    loss raises NonFiniteLossError. What the kept weights encode
    (``posterior_statistics``) is for the caller to compute, on the rows it
    chooses.

    The same ``seed``, data, config and machine give bitwise identical weights
    on each precision path.
    """
    device = next(model.parameters()).device
    n_train = rows.n_rows
    batch_size = min(config.batch_size, n_train)
    precision = resolve_precision(
        config.precision, device, batch_size * multiply_adds_per_row(model)
    )
    shuffle_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    if optimizer is None:
        optimizer = make_optimizer(model.parameters(), config.learning_rate)
    n_batches = math.ceil(n_train / batch_size)
    n_components = model.config.n_components
    # Rows of noise per draw: whole batches, at most _NOISE_BLOCK numbers.
    noise_rows = batch_size * max(1, _NOISE_BLOCK // (batch_size * n_components))
    warmup_steps = config.kl_warmup * n_batches
    val_eps = None
    if validation is not None:
        X_val, val_index = validation
        val_eps = torch.randn((len(val_index), n_components), generator=noise_gen, device=device)

    # The weights the training steps compute with (see BFloat16Weights).
    weights = BFloat16Weights(model) if precision == "bfloat16" else _Float32Weights()
    result = TrainingResult(precision=precision)
    progress = _Progress(config.verbose, config.max_iter, n_batches, config.nats_offset)
    # Weights to fall back on: the best validation epoch with early stopping,
    # else the last completed epoch (kept for interrupts only).
    kept_state = _snapshot(model)
    best_value = -math.inf  # validation score, or minus the training loss
    no_improvement = 0
    step = first_step
    try:
        for epoch in range(1, config.max_iter + 1):
            started = time.perf_counter()
            model.train()
            losses = []  # batch losses, 0-d tensors left on the device
            sizes = []  # rows per batch, to weigh the losses into the epoch's mean
            with weights:
                for X, order in rows.parts(shuffle_gen):
                    n_part = len(order)
                    for start in range(0, n_part, batch_size):
                        if start % noise_rows == 0:
                            size = min(noise_rows, n_part - start)
                            noise = torch.randn(
                                (size, n_components), generator=noise_gen, device=device
                            )
                        offset = start % noise_rows
                        xb = X.index_select(0, order[start : start + batch_size])
                        eps = noise[offset : offset + batch_size]
                        step += 1
                        kl_weight = config.beta
                        if step <= warmup_steps:
                            kl_weight *= step / warmup_steps
                        if config.hide_rate > 0.0:
                            hide = torch.rand(xb.shape, generator=noise_gen, device=device)
                            log_lik, kl = model(xb, eps, hide < config.hide_rate)
                        else:
                            log_lik, kl = model(xb, eps)
                        loss = training_loss(log_lik, kl, kl_weight, config.free_bits)
                        optimizer.zero_grad()
                        loss.backward()
                        if config.schedule != "constant":
                            optimizer.lr = learning_rate_at(step, config, n_batches)
                        weights.step(optimizer)
                        losses.append(loss.detach())
                        sizes.append(float(len(xb)))
                        if progress.bar:
                            progress.batch(epoch - 1, losses, sizes)

            # The one host sync of an epoch.
            batch_rows = torch.tensor(sizes, dtype=torch.float64, device=device)
            epoch_loss = (torch.stack(losses).double() @ batch_rows).item() / n_train
            if not math.isfinite(epoch_loss):
                raise _diverged(epoch, epoch_loss, config)
            result.loss_curve.append(epoch_loss - config.nats_offset)
            result.n_iter = epoch

            score = None
            if validation is not None:
                score = (
                    evaluate_objective(
                        model, X_val, val_index, val_eps, config.beta, config.free_bits
                    )
                    + config.nats_offset
                )
                if not math.isfinite(score):
                    raise _diverged(epoch, score, config)
                result.validation_scores.append(score)
                value = score
            else:
                value = -result.loss_curve[-1]
                kept_state = _snapshot(model)
                result.best_epoch = epoch
            progress.epoch(epoch, result.loss_curve[-1], score, time.perf_counter() - started)

            if validation is None and epoch <= config.kl_warmup:
                # The training objective itself moves while the KL weight rises.
                best_value, no_improvement = value, 0
                continue
            no_improvement = no_improvement + 1 if value < best_value + config.tol else 0
            if value > best_value:
                best_value = value
                if validation is not None:
                    kept_state = _snapshot(model)
                    result.best_epoch = epoch
            if no_improvement > config.n_iter_no_change:
                result.stopped_early = True
                break
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        progress.close()

    if validation is not None or result.interrupted:
        # An interrupt can land halfway through an optimizer step.
        model.load_state_dict(kept_state)
    if not _weights_are_finite(model):
        raise _diverged(result.n_iter, math.nan, config)
    result.n_steps = step
    if config.fit_variances:
        held_out = [validation] if validation is not None else variance_rows(rows, seed + 3)
        fit_variances(model, held_out, seed + 2, config.hide_rate)
    model.eval()
    return result
