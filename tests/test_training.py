"""The training engine: early stopping, KL controls, interrupts, divergence, output."""

import _thread
import signal
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skvae import NonFiniteLossError, VAETransformer
from skvae._training import _Progress

from .conftest import FAST

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_early_stopping_stops_and_restores_the_best_weights(digits):
    X = digits[0][:300]
    params = dict(hidden_layer_sizes=(64,), batch_size=32, random_state=0)
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
    params = dict(n_components=8, hidden_layer_sizes=(64,), max_iter=5, random_state=0)
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
    vae = VAETransformer(learning_rate_init=1e12, **FAST)
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


def test_verbose_1_draws_a_progress_bar(digits, capsys, monkeypatch):
    monkeypatch.setattr("skvae._training._Progress.batch", lambda self, *a: None)
    VAETransformer(verbose=1, **FAST).fit(digits[0])
    err = capsys.readouterr().err
    assert err.count("\rfit [") == 5  # redrawn at each epoch's end
    assert "epoch 5.0/5" in err and "loss" in err and err.endswith("\n")


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
