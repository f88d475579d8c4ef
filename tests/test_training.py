"""The training engine: early stopping, KL controls, interrupts, divergence, output."""

import _thread
import dataclasses
import math
import re
import signal
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from torch import nn

import skvae._sampling as _sampling
import skvae._training as training
from skvae import NonFiniteLossError, VAETransformer
from skvae._latent import training_loss
from skvae._model import VAE, VAEConfig
from skvae._rows import InMemoryRows, StreamedRows
from skvae._table import Table
from skvae._training import (
    BFLOAT16_MIN_WORK,
    BFloat16Weights,
    TrainingConfig,
    _Progress,
    cpu_has_native_bfloat16,
    learning_rate_at,
    make_optimizer,
    multiply_adds_per_row,
    posterior_statistics,
    resolve_precision,
    train,
    variance_rows,
)

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_early_stopping_stops_and_restores_the_best_weights(digits):
    X = digits[0][:300]
    # A constant rate: a cosine schedule's length is max_iter, so the run cut
    # short below would not follow the long run's path.
    params = dict(
        hidden_layer_sizes=(64,), batch_size=32, learning_rate="constant", random_state=0
    )
    long = VAETransformer(n_components=8, max_iter=500, n_iter_no_change=3, **params).fit(X)
    scores = long.validation_scores_
    best_epoch = int(np.argmax(scores)) + 1
    assert long.n_iter_ < 500
    assert long.n_iter_ == best_epoch + 4  # n_iter_no_change + 1 epochs past the best
    assert long.best_validation_score_ == scores[best_epoch - 1]
    # The same run cut at the best epoch ends with that epoch's weights, so
    # the long run must have gone back to exactly them.
    short = VAETransformer(n_components=8, max_iter=best_epoch, n_iter_no_change=3, **params)
    short.fit(X)
    np.testing.assert_array_equal(long.transform(X), short.transform(X))


def test_without_early_stopping_tol_ends_the_fit_on_training_loss(digits):
    vae = VAETransformer(
        early_stopping=False,
        tol=1e9,
        n_iter_no_change=2,
        **{**FAST, "max_iter": 50},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vae.fit(digits[0])
    assert vae.n_iter_ == 4  # the first epoch sets the bar, then 3 without gain
    assert vae.validation_scores_ is None and vae.best_validation_score_ is None


def _collapsed(vae, threshold=0.05):
    return int(np.sum(vae.kl_per_component_ < threshold))


def test_free_bits_keep_latent_dimensions_active(digits):
    X = digits[0]
    params = dict(n_components=16, hidden_layer_sizes=(64,), beta=4.0, max_iter=30, random_state=0)
    plain = VAETransformer(free_bits=0.0, **params).fit(X)
    floored = VAETransformer(free_bits=1.0, **params).fit(X)
    assert _collapsed(plain) >= 8  # a strong KL weight collapses the posterior
    assert _collapsed(floored) == 0
    assert floored.kl_per_component_.min() > 0.5


def test_beta_trades_kl_for_reconstruction(digits):
    X = digits[0]
    params = dict(n_components=8, hidden_layer_sizes=(64,), max_iter=20, random_state=0)
    low = VAETransformer(beta=0.25, free_bits=0.0, **params).fit(X)
    high = VAETransformer(beta=4.0, free_bits=0.0, **params).fit(X)
    assert low.kl_per_component_.sum() > 2 * high.kl_per_component_.sum()


def test_kl_warmup_raises_the_kl_reached_early(digits):
    X = digits[0]
    params = dict(
        n_components=8,
        hidden_layer_sizes=(64,),
        max_iter=5,
        learning_rate="constant",
        learning_rate_init=1e-3,
        random_state=0,
    )
    cold = VAETransformer(free_bits=0.0, **params).fit(X)
    warm = VAETransformer(free_bits=0.0, kl_warmup=50, **params).fit(X)  # KL weight stays <= 0.1
    assert warm.kl_per_component_.sum() > 1.5 * cold.kl_per_component_.sum()
    assert _collapsed(warm) <= _collapsed(cold)


def _fit_with_ctrl_c(vae, X, monkeypatch, at_epoch, match):
    """Fit, sending the main thread a SIGINT (what Ctrl-C sends) once epoch
    ``at_epoch`` is done: deterministic, unlike a timer."""
    original = _Progress.epoch

    def epoch_then_ctrl_c(self, epoch, *args):
        original(self, epoch, *args)
        if epoch == at_epoch:
            _thread.interrupt_main()

    monkeypatch.setattr(_Progress, "epoch", epoch_then_ctrl_c)
    # A process started in the background may ignore SIGINT; install Python's
    # own handler, which turns it into KeyboardInterrupt as in a terminal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.warns(UserWarning, match=match):
            vae.fit(X)
    finally:
        signal.signal(signal.SIGINT, previous)


LONG = {**FAST, "max_iter": 5_000}


def test_interrupt_keeps_a_usable_model(digits, monkeypatch):
    X = digits[0]
    vae = VAETransformer(**{**LONG, "early_stopping": False})
    _fit_with_ctrl_c(vae, X, monkeypatch, 4, "fit was interrupted after [45] epochs")
    assert vae.n_iter_ in (4, 5)
    assert np.isfinite(vae.transform(X)).all()
    assert len(vae.loss_curve_) == vae.n_iter_


def test_interrupt_with_early_stopping_keeps_the_best_epoch(digits, monkeypatch):
    X = digits[0]
    vae = VAETransformer(**{**LONG, "n_iter_no_change": 5_000, "tol": 0.0})
    _fit_with_ctrl_c(vae, X, monkeypatch, 6, "keeping the weights of epoch")
    assert vae.best_validation_score_ == max(vae.validation_scores_)
    assert len(vae.validation_scores_) == vae.n_iter_ < 5_000


def test_divergence_raises_and_keeps_nothing(digits):
    X = digits[0]
    vae = VAETransformer(**{**FAST, "learning_rate_init": 1e12})
    with pytest.raises(NonFiniteLossError, match="learning_rate_init=1e\\+12.*try a tenth"):
        vae.fit(X)
    assert not hasattr(vae, "module_")
    assert not hasattr(vae, "n_features_in_")
    assert isinstance(NonFiniteLossError("x"), ValueError)


def test_verbose_2_prints_a_line_per_epoch(digits, capsys):
    vae = VAETransformer(verbose=2, **FAST).fit(digits[0])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert len(lines) == vae.n_iter_
    assert lines[0].startswith("Epoch 1/5: loss = ")
    assert "validation score = " in lines[0] and lines[0].endswith(" s")


def test_verbose_1_on_a_pipe_prints_one_line_per_epoch(digits, capsys):
    """Under capsys stderr is not a terminal, as in a log file or a pipe."""
    vae = VAETransformer(verbose=1, **FAST).fit(digits[0])
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == vae.n_iter_ == 5
    for epoch, line in enumerate(lines, 1):
        assert line.startswith(f"fit epoch {epoch}/5  loss ")
        loss = float(re.search(r"loss (\S+)", line).group(1))
        assert loss == pytest.approx(vae.loss_curve_[epoch - 1], abs=1e-4)


def test_verbose_1_on_a_terminal_redraws_a_bar_in_one_unit(digits, capsys, monkeypatch):
    """The running loss mid-epoch and the epoch's figure are both in X's units:
    the last redraw of an epoch, after its last batch, shows the epoch's loss.
    (With the Gaussian likelihood on digits X's units differ from the
    model's by over 100 nats per row.)"""
    monkeypatch.setattr("skvae._training._isatty", lambda stream: True)
    monkeypatch.setattr(_Progress, "REDRAW_SECONDS", 0.0)  # redraw at every batch
    vae = VAETransformer(verbose=1, **FAST).fit(digits[0])
    err = capsys.readouterr().err
    assert err.startswith("\rfit [") and err.endswith("\n") and err.count("\n") == 1
    draws = [float(loss) for loss in re.findall(r"epoch \d+\.\d/5  loss (\S+)", err)]
    n_batches = math.ceil((1797 - math.ceil(0.1 * 1797)) / 64)  # 10% held out
    assert len(draws) == 5 * (n_batches + 1)  # each batch, then the epoch's end
    for epoch in range(1, 6):
        after_last_batch, at_end = draws[epoch * (n_batches + 1) - 2 : epoch * (n_batches + 1)]
        assert after_last_batch == pytest.approx(at_end, abs=2e-4)
        assert at_end == pytest.approx(vae.loss_curve_[epoch - 1], abs=1e-4)


def test_verbose_0_is_silent(digits, capsys):
    VAETransformer(verbose=0, **FAST).fit(digits[0])
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_fit_leaves_torch_global_state_alone(digits):
    threads = torch.get_num_threads()
    rng_state = torch.random.get_rng_state()
    VAETransformer(**FAST).fit(digits[0])
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_loss_curve_is_in_the_units_of_score(digits):
    """With beta=1 and no free bits the last training loss is minus an ELBO of
    the data in X's units, so it sits near minus the validation score."""
    vae = VAETransformer(**{**FAST, "max_iter": 30})
    vae.fit(digits[0])
    assert abs(vae.loss_curve_[-1] + vae.validation_scores_[-1]) < 0.2 * abs(vae.loss_curve_[-1])


# ---------------------------------------------------------------- the engine


class _TinyVAE(nn.Module):
    """The contract train() relies on, and nothing else: ``forward(x, eps)``
    gives float32 log p(x|z) per row and KL per row and dimension, ``encode``
    gives (mu, log sigma^2), ``config.n_components``, ``likelihoods`` (none
    with a variance to set), and the layers' inputs are cast to the layers'
    dtype (bfloat16 under BFloat16Weights). Bernoulli pixels."""

    likelihoods = ()

    def __init__(self, n_features, n_components, seed=0):
        super().__init__()
        self.config = SimpleNamespace(n_components=n_components)
        self.encoder = nn.Linear(n_features, 32)
        self.mu_head = nn.Linear(32, n_components)
        self.log_var_head = nn.Linear(32, n_components)
        self.decoder = nn.Sequential(
            nn.Linear(n_components, 32), nn.ReLU(), nn.Linear(32, n_features)
        )
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for param in self.parameters():
                param.copy_(0.3 * torch.randn(param.shape, generator=gen))

    def encode(self, x):
        h = torch.relu(self.encoder(x.to(self.encoder.weight.dtype)))
        return self.mu_head(h).float(), self.log_var_head(h).float()

    def forward(self, x, eps):
        mu, log_var = self.encode(x)
        z = mu + torch.exp(0.5 * log_var) * eps
        logits = self.decoder(z.to(self.encoder.weight.dtype)).float()
        log_lik = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        return log_lik, 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var)


def _tiny_fit(X, precision, seed=0, **config):
    model = _TinyVAE(X.shape[1], 4)
    params = dict(batch_size=64, learning_rate=1e-2, max_iter=3, tol=0.0, n_iter_no_change=99)
    result = train(
        model,
        InMemoryRows(X, torch.arange(1500)),
        (X, torch.arange(1500, len(X))),
        TrainingConfig(**{**params, "precision": precision, **config}),
        seed=seed,
    )
    return model, result


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_a_seed_gives_bitwise_identical_fits_on_each_precision_path(digits_unit, precision):
    """Also on the bfloat16 path where this CPU only emulates bfloat16 (the
    model is tiny): a user may force it anywhere."""
    X = torch.as_tensor(digits_unit[0], dtype=torch.float32)
    first, result = _tiny_fit(X, precision)
    second, again = _tiny_fit(X, precision)
    assert result.precision == precision
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name]), name
    assert result.loss_curve == again.loss_curve
    assert result.validation_scores == again.validation_scores
    other, _ = _tiny_fit(X, precision, seed=1)
    assert not torch.equal(other.mu_head.weight, first.mu_head.weight)
    if precision == "bfloat16":  # bfloat16 did change the arithmetic
        fp32, _ = _tiny_fit(X, "float32")
        assert not torch.equal(fp32.mu_head.weight, first.mu_head.weight)


def test_precision_auto_takes_bfloat16_where_the_cpu_has_it_and_steps_are_large():
    cpu = torch.device("cpu")
    expected = "bfloat16" if cpu_has_native_bfloat16() else "float32"
    assert resolve_precision("auto", cpu) == expected
    assert resolve_precision("auto", cpu, work=BFLOAT16_MIN_WORK) == expected
    # Small matrix products: casting costs more than bfloat16 saves.
    assert resolve_precision("auto", cpu, work=BFLOAT16_MIN_WORK - 1) == "float32"
    assert resolve_precision("bfloat16", cpu, work=1) == "bfloat16"
    assert resolve_precision("float32", cpu) == "float32"
    assert resolve_precision("bfloat16", cpu) == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("float16", cpu)


def test_multiply_adds_per_row_counts_the_linear_layers():
    model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    assert multiply_adds_per_row(model) == 5 * 3 + 3 * 2


def test_small_steps_train_in_float32_under_auto(digits):
    X = digits[0][:300]
    small = VAETransformer(**FAST).fit(X)
    work = FAST["batch_size"] * multiply_adds_per_row(small.module_)
    assert work < BFLOAT16_MIN_WORK
    assert small.precision_ == "float32"
    # Wide layers: a batch of 64 rows crosses the threshold.
    wide = {**FAST, "hidden_layer_sizes": (1024, 1024), "max_iter": 1}
    large = VAETransformer(**wide).fit(X)
    assert FAST["batch_size"] * multiply_adds_per_row(large.module_) >= BFLOAT16_MIN_WORK
    assert large.precision_ == ("bfloat16" if cpu_has_native_bfloat16() else "float32")
    forced = VAETransformer(**{**FAST, "precision": "bfloat16"}).fit(X)
    assert forced.precision_ == "bfloat16"


def _adam_trajectory(make, fused=None, steps=5):
    """Parameters and moments after ``steps`` updates with changing learning
    rates and gradients, from the same start."""
    gen = torch.Generator().manual_seed(0)
    params = [nn.Parameter(torch.randn(shape, generator=gen)) for shape in [(7, 5), (5,), ()]]
    optimizer = make(params)
    if fused is not None:
        optimizer.fused = fused
    for k in range(steps):
        optimizer.zero_grad()
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        lr = 1e-2 / (k + 1)
        if isinstance(optimizer, torch.optim.Optimizer):
            optimizer.param_groups[0]["lr"] = lr
        else:
            optimizer.lr = lr
        optimizer.step()
    moments = [optimizer.state[p][key] for p in params for key in ("exp_avg", "exp_avg_sq")]
    return params + moments


def test_adam_is_torch_adam():
    """skvae's Adam calls torch's fused kernel where torch has one for the
    device (CPUs from torch 2.4), and then updates bitwise as
    torch.optim.Adam(fused=True); its fallback, tensor by tensor, agrees with
    torch.optim.Adam to rounding."""
    fused_on_cpu = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)
    assert make_optimizer(nn.Linear(3, 2).parameters(), 1e-3).fused is fused_on_cpu
    ours = _adam_trajectory(lambda ps: make_optimizer(ps, 1e-3))
    if fused_on_cpu:
        theirs = _adam_trajectory(lambda ps: torch.optim.Adam(ps, lr=1e-3, fused=True))
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    fallback = _adam_trajectory(lambda ps: make_optimizer(ps, 1e-3), fused=False)
    plain = _adam_trajectory(lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=False))
    for a, b in zip(fallback, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_bfloat16_weights_step_bitwise_as_autocast():
    """Training steps with BFloat16Weights (bfloat16 copies of the layers'
    weights, cast once a step) leave the same float32 weights, bitwise, as
    steps under torch.autocast: on a table with every kind of group, a
    learned Gaussian variance, gaps, and entries hidden from the encoder.
    Outside the context the layers hold the optimizer's float32 weights."""
    pd = pytest.importorskip("pandas")
    gen = torch.Generator().manual_seed(0)
    n = 64
    frame = pd.DataFrame(
        {
            "amount": np.exp(np.linspace(-2.0, 3.0, n)),
            "size": np.linspace(1.0, 3.0, n),
            "flag": np.arange(n) % 3 == 0,
            "kind": np.array(["a", "b", "c", "d"])[np.arange(n) % 4],
        }
    )
    frame.loc[::5, "size"] = np.nan
    table = Table.fit(frame, likelihood={"amount": "lognormal", "size": "gaussian"})
    config = VAEConfig(3, (16, 8), tuple(table.groups), missing_indicators=True)
    x = torch.from_numpy(table.to_model(frame, dtype=np.float32))
    eps = torch.randn(n, 3, generator=gen)
    hide = torch.rand(x.shape, generator=gen) < 0.2
    models = [VAE(config, torch.Generator().manual_seed(1)) for _ in range(2)]
    optimizers = [make_optimizer(m.parameters(), 1e-2) for m in models]
    for _ in range(3):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            log_lik, kl = models[0](x, eps, hide)
        loss = training_loss(log_lik, kl, 1.0, 0.5)
        optimizers[0].zero_grad()
        loss.backward()
        optimizers[0].step()
        with BFloat16Weights(models[1]) as weights:
            assert models[1].mu_head.weight.dtype == torch.bfloat16
            log_lik, kl = models[1](x, eps, hide)
            assert log_lik.dtype == kl.dtype == torch.float32
            loss = training_loss(log_lik, kl, 1.0, 0.5)
            optimizers[1].zero_grad()
            loss.backward()
            weights.step(optimizers[1])
    reference = models[0].state_dict()
    for name, value in models[1].state_dict().items():
        assert value.dtype == reference[name].dtype, name
        assert torch.equal(value, reference[name]), name
    assert all(a is b for a, b in zip(models[1].parameters(), optimizers[1].params, strict=True))


def test_adam_state_round_trips():
    """state_dict / load_state_dict carry the moments and step counts, so a
    loaded optimizer's next update is the original's."""
    gen = torch.Generator().manual_seed(1)
    params = [nn.Parameter(torch.randn(4, 3, generator=gen)), nn.Parameter(torch.randn(3))]
    first = make_optimizer(params, 1e-2)
    params[0].grad = torch.randn(4, 3, generator=gen)  # the second has no gradient yet
    first.step()
    packed = first.state_dict()
    assert packed["lr"] == 1e-2 and packed["state"][1] == {}
    copies = [nn.Parameter(p.detach().clone()) for p in params]
    second = make_optimizer(copies, 0.5)
    second.load_state_dict(packed)
    assert second.lr == 1e-2
    for ps, opt in ((params, first), (copies, second)):
        for p, g in zip(ps, (torch.ones(4, 3), torch.ones(3)), strict=True):
            p.grad = g.clone()
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(params, copies, strict=True))
    assert float(second.state[copies[0]]["step"]) == 2.0
    with pytest.raises(ValueError, match="holds 2 parameters; this model has 1"):
        make_optimizer(copies[:1], 1e-3).load_state_dict(packed)


def test_posterior_statistics_report_dead_dimensions(digits_unit):
    """Dimensions whose mu head is zeroed have a constant posterior mean:
    variance 0, inactive; the KL is the closed form at the weights."""
    X = torch.as_tensor(digits_unit[0], dtype=torch.float32)
    model, _ = _tiny_fit(X, "float32")
    variance, kl, codes, _ = posterior_statistics(model, X[:1500])
    assert variance.shape == kl.shape == (4,) and codes.shape == (1500, 4)
    assert variance.min() > 0.01  # all four active after the fit
    with torch.no_grad():
        model.mu_head.weight[[1, 3]] = 0.0
        model.mu_head.bias[[1, 3]] = 0.5
    variance, kl, codes, log_vars = posterior_statistics(model, X[:1500])
    assert variance[1] == variance[3] == 0.0
    assert variance[0] > 0.01 and variance[2] > 0.01
    with torch.no_grad():
        mu, log_var = (t.double() for t in model.encode(X[:1500]))
    np.testing.assert_allclose(variance, mu.var(0, unbiased=False).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(codes, mu.numpy())
    np.testing.assert_array_equal(log_vars, log_var.numpy())
    expected_kl = 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).mean(0)
    np.testing.assert_allclose(kl, expected_kl.numpy(), rtol=1e-6)


def test_kl_per_component_is_the_true_kl_without_free_bits(digits):
    """With a free-bits floor far above what any dimension reaches, the
    training objective sees the floor; the report shows the KL itself, over
    the training rows."""
    X = digits[0]
    vae = VAETransformer(
        n_components=4, free_bits=50.0, max_iter=3, early_stopping=False, random_state=0
    ).fit(X)
    assert vae.kl_per_component_.max() < 50.0
    device = next(vae.module_.parameters()).device  # the GPU where a fit ran on one
    U = torch.as_tensor(vae.table_.to_model(X, dtype=np.float32), device=device)
    with torch.no_grad():
        mu, log_var = (t.double().cpu() for t in vae.module_.encode(U))
    expected = 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).mean(0).numpy()
    np.testing.assert_allclose(vae.kl_per_component_, expected, rtol=1e-4)


def test_latent_statistics_come_from_the_mixture_rows(digits, monkeypatch):
    """Past _sampling.MAX_ROWS training rows, the statistics and the order of
    the latent dimensions come from the posteriors of the rows drawn for
    sample's mixture: one encoder pass of a bounded size after training. The
    mixture is fitted to one draw z ~ q(z|x) per such row."""
    monkeypatch.setattr(_sampling, "MAX_ROWS", 300)
    X = digits[0]
    vae = VAETransformer(n_components=4, max_iter=3, early_stopping=False, random_state=0)
    vae.fit(X)
    rows = _sampling.mixture_rows(len(X), vae._mixture_seed)
    assert len(rows) == 300
    mu = vae.transform(X[rows])
    np.testing.assert_allclose(vae.latent_variance_, mu.var(0), rtol=1e-4)
    assert list(vae.latent_variance_) == sorted(vae.latent_variance_, reverse=True)
    # the draws scatter around the means by each row's posterior spread
    device = next(vae.module_.parameters()).device
    U = torch.as_tensor(vae.table_.to_model(X[rows], dtype=np.float32), device=device)
    with torch.no_grad():
        sigma = torch.exp(0.5 * vae.module_.encode(U)[1]).double().cpu().numpy()
    eps = (vae._mixture_codes - mu) / sigma
    assert eps.shape == (300, 4)
    assert abs(eps.mean()) < 0.15 and 0.85 < eps.std() < 1.15


def test_cosine_schedule_warms_up_then_decays_to_zero():
    config = TrainingConfig(
        batch_size=10,
        learning_rate=1.0,
        max_iter=10,
        tol=0.0,
        n_iter_no_change=1,
        schedule="cosine",
    )
    rates = [learning_rate_at(step, config, n_batches=5) for step in range(1, 51)]
    assert rates[:10] == pytest.approx([s / 10 for s in range(1, 11)])  # two epochs
    assert all(a >= b for a, b in zip(rates[9:-1], rates[10:], strict=True))
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)
    warmup = dataclasses.replace(config, schedule="warmup")
    assert learning_rate_at(200, warmup, n_batches=5) == 1.0
    constant = dataclasses.replace(config, schedule="constant")
    assert learning_rate_at(1, constant, n_batches=5) == 1.0


def test_auto_learning_rate_scales_with_the_batch_down_to_a_floor():
    vae = VAETransformer()
    # In proportion to the batch (the peak rate at 512 rows): MNIST-sized data
    # batches of 256; digits a tenth of its rows (162); small tables: the rate
    # of 64 rows.
    assert vae._learning_rate(54_000) == pytest.approx(1.5e-2 * 256 / 512)
    assert vae._learning_rate(1_617) == pytest.approx(1.5e-2 * 162 / 512)
    assert vae._learning_rate(150) == pytest.approx(1.5e-2 * 64 / 512)
    assert vae._learning_rate(150) == vae._learning_rate(640)
    assert VAETransformer(learning_rate_init=1e-3)._learning_rate(150) == 1e-3


def test_the_default_digits_fit_ends_by_its_own_criterion(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning would fail the test
        vae = VAETransformer(random_state=0).fit(digits[0])
    # Stopped early, or ran its cosine schedule to the planned end: no warning.
    assert 1 <= vae.n_iter_ <= vae._max_epochs(len(digits[0]) - 180)


class _CountingSource:
    """A row-sliceable array that counts the rows read from it."""

    def __init__(self, array):
        self.array, self.shape, self.rows_read = array, array.shape, 0

    def __getitem__(self, rows):
        block = self.array[rows]
        self.rows_read += len(block)
        return block


def test_variance_rows_cap_what_fit_variances_reads(monkeypatch):
    """Without validation rows the variances come from the training rows: all
    of them in order up to MAX_VARIANCE_ROWS; beyond, that many from a
    shuffled pass, and a streamed source is read only for the chunks they
    come from."""
    X = torch.arange(200.0).reshape(100, 2)
    rows = InMemoryRows(X, torch.arange(100))
    small = list(variance_rows(rows, seed=0))
    assert len(small) == 1 and torch.equal(small[0][1], torch.arange(100))  # all, as before
    monkeypatch.setattr(training, "MAX_VARIANCE_ROWS", 30)
    (part,) = list(variance_rows(rows, seed=0))
    assert len(part[1]) == 30 and len(set(part[1].tolist())) == 30
    assert not torch.equal(part[1], torch.arange(30))  # a shuffled pass, not the first rows
    assert torch.equal(list(variance_rows(rows, seed=0))[0][1], part[1])  # seeded

    source = _CountingSource(np.arange(2000.0).reshape(1000, 2))
    streamed = StreamedRows(
        source, np.arange(1000), lambda b: b.astype(np.float32), torch.device("cpu"), 2, 80
    )  # chunks of 10 rows
    taken = sum(len(index) for _, index in variance_rows(streamed, seed=0))
    assert taken == 30 and source.rows_read == 30  # three chunks of 10 rows
