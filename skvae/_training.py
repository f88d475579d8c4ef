"""The fit loop: batches, optimizer, KL schedule, early stopping, progress.

Pure torch, no scikit-learn. The data arrive as one float32 tensor on the
training device; each epoch shuffles an index and slices batches from it, and
the loop syncs with the host once per epoch (more often only to draw a
progress bar).
"""

import math
import sys
import time
from dataclasses import dataclass, field

import torch

from ._likelihoods import training_loss
from ._model import VAE

# Rows per forward pass when evaluating without gradients (validation, transform).
EVAL_BATCH_SIZE = 4096


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


@dataclass
class TrainingResult:
    """What a fit recorded. Losses and scores are nats per row, in X's units."""

    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    best_epoch: int = 0  # epochs completed when the kept weights were taken
    # Mean KL per latent dimension over the training rows, in the kept epoch.
    kl_per_component: list[float] = field(default_factory=list)
    n_iter: int = 0
    stopped_early: bool = False
    interrupted: bool = False


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
def evaluate_elbo(model: VAE, X: torch.Tensor, index: torch.Tensor, eps: torch.Tensor) -> float:
    """Mean one-sample ELBO of the rows ``X[index]`` with fixed noise ``eps``."""
    model.eval()
    total = torch.zeros((), device=X.device, dtype=torch.float64)
    for start in range(0, len(index), EVAL_BATCH_SIZE):
        stop = start + EVAL_BATCH_SIZE
        log_lik, kl = model(X[index[start:stop]], eps[start:stop])
        total += (log_lik - kl.sum(1)).sum(dtype=torch.float64)
    return total.item() / len(index)


class _Progress:
    """verbose=1: one bar on stderr, redrawn at most every 0.2 s.
    verbose=2: one line per epoch on stdout."""

    def __init__(self, verbose: int, max_iter: int, n_batches: int):
        self.verbose = verbose
        self.max_iter = max_iter
        self.n_batches = n_batches
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def batch(self, epoch: int, batch: int, running_loss: torch.Tensor, n_seen: int) -> None:
        if self.verbose != 1:
            return
        now = time.perf_counter()
        if now - self.last_draw < 0.2:
            return
        self.last_draw = now
        # The only host sync inside an epoch, at most five times a second.
        self._draw(epoch + (batch + 1) / self.n_batches, running_loss.item() / n_seen, now)

    def epoch(self, epoch: int, loss: float, score: float | None, seconds: float) -> None:
        if self.verbose >= 2:
            val = "" if score is None else f", validation score = {score:.4f}"
            print(
                f"Epoch {epoch}/{self.max_iter}: loss = {loss:.4f}{val}, {seconds:.2f} s",
                flush=True,
            )
        elif self.verbose == 1:
            self._draw(epoch, loss, time.perf_counter())

    def _draw(self, done: float, loss: float, now: float) -> None:
        width = 30
        filled = int(width * done / self.max_iter)
        elapsed = now - self.started
        sys.stderr.write(
            f"\rfit [{'#' * filled}{'.' * (width - filled)}] epoch {done:.1f}/"
            f"{self.max_iter}  loss {loss:.4f}  {elapsed:.0f}s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.verbose == 1:
            sys.stderr.write("\n")
            sys.stderr.flush()


def train(
    model: VAE,
    X: torch.Tensor,
    train_index: torch.Tensor,
    val_index: torch.Tensor | None,
    config: TrainingConfig,
    seed: int,
) -> TrainingResult:
    """Fit ``model`` in place on the rows ``X[train_index]`` with Adam.

    With ``val_index`` the fit stops once the validation ELBO has not improved
    by ``tol`` for ``n_iter_no_change`` epochs and the best weights are
    restored; without it, once the training loss has not improved by ``tol``
    for as long. A KeyboardInterrupt ends the fit with the best weights so far
    and ``interrupted=True``. A non-finite loss raises NonFiniteLossError.
    """
    device = X.device
    shuffle_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    n_train = len(train_index)
    batch_size = min(config.batch_size, n_train)
    n_batches = math.ceil(n_train / batch_size)
    n_components = model.config.n_components
    warmup_steps = config.kl_warmup * n_batches
    val_eps = None
    if val_index is not None:
        val_eps = torch.randn((len(val_index), n_components), generator=noise_gen, device=device)

    result = TrainingResult(kl_per_component=[math.nan] * n_components)
    kept_kl = None  # mean KL per component in the kept epoch, left on the device
    progress = _Progress(config.verbose, config.max_iter, n_batches)
    # Weights to fall back on: the best validation epoch with early stopping,
    # else the last completed epoch (kept for interrupts only).
    kept_state = _snapshot(model)
    best_value = -math.inf  # validation score, or minus the training loss
    no_improvement = 0
    step = 0
    try:
        for epoch in range(1, config.max_iter + 1):
            started = time.perf_counter()
            model.train()
            order = train_index[torch.randperm(n_train, generator=shuffle_gen).to(device)]
            total = torch.zeros((), device=device)
            kl_total = torch.zeros(n_components, device=device)
            for batch, start in enumerate(range(0, n_train, batch_size)):
                xb = X[order[start : start + batch_size]]
                step += 1
                kl_weight = config.beta
                if step <= warmup_steps:
                    kl_weight *= step / warmup_steps
                eps = torch.randn((xb.shape[0], n_components), generator=noise_gen, device=device)
                log_lik, kl = model(xb, eps)
                loss = training_loss(log_lik, kl, kl_weight, config.free_bits)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * xb.shape[0]
                kl_total += kl.detach().sum(0)
                if config.verbose == 1:
                    progress.batch(epoch - 1, batch, total, min(start + batch_size, n_train))

            epoch_loss = total.item() / n_train  # the one host sync of an epoch
            if not math.isfinite(epoch_loss):
                raise _diverged(epoch, epoch_loss, config)
            result.loss_curve.append(epoch_loss - config.nats_offset)
            result.n_iter = epoch

            score = None
            if val_index is not None:
                score = evaluate_elbo(model, X, val_index, val_eps) + config.nats_offset
                if not math.isfinite(score):
                    raise _diverged(epoch, score, config)
                result.validation_scores.append(score)
                value = score
            else:
                value = -result.loss_curve[-1]
                kept_state = _snapshot(model)
                result.best_epoch = epoch
                kept_kl = kl_total / n_train
            progress.epoch(epoch, result.loss_curve[-1], score, time.perf_counter() - started)

            if val_index is None and epoch <= config.kl_warmup:
                # The training objective itself moves while the KL weight rises.
                best_value, no_improvement = value, 0
                continue
            no_improvement = no_improvement + 1 if value < best_value + config.tol else 0
            if value > best_value:
                best_value = value
                if val_index is not None:
                    kept_state = _snapshot(model)
                    result.best_epoch = epoch
                    kept_kl = kl_total / n_train
            if no_improvement > config.n_iter_no_change:
                result.stopped_early = True
                break
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        progress.close()

    if val_index is not None or result.interrupted:
        # An interrupt can land halfway through an optimizer step.
        model.load_state_dict(kept_state)
    if not _weights_are_finite(model):
        raise _diverged(result.n_iter, math.nan, config)
    if kept_kl is not None:
        result.kl_per_component = kept_kl.tolist()
    model.eval()
    return result
