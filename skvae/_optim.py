"""Adam for the training loop: torch's fused kernel, called without the
machinery of ``torch.optim``.

``torch.optim.Adam(fused=True)`` runs one kernel over all parameters, but
around it each step pays for hooks, grouping and checks made for every
optimizer torch has, and its constructor imports ``torch._dynamo`` (the
first time in a process). skvae's loop has one group of float32
parameters on one device and a learning rate set every step, so it calls the
kernel itself: the same update, bitwise (tests/test_training.py checks it
against ``torch.optim.Adam(fused=True)``). Where torch has no fused kernel for
the device (CPUs before torch 2.4, MPS before 2.5, other backends) the update
runs tensor by tensor with the same formula.
"""

import math

import torch


class Adam:
    """Adam (Kingma and Ba, 2015) without weight decay or AMSGrad.

    Parameters
    ----------
    params : iterable of torch.nn.Parameter
        The parameters to update, all on one device.
    lr : float
        The learning rate; set the attribute to change it between steps.
    betas : tuple of float, default=(0.9, 0.999)
        Decay rates of the first and second moment estimates.
    eps : float, default=1e-8
        Added to the denominator's square root.

    Attributes
    ----------
    state : dict
        Per parameter (the key): ``"step"`` (a float32 0-d tensor),
        ``"exp_avg"`` and ``"exp_avg_sq"``, created at its first update, as
        ``torch.optim.Adam`` keeps them.
    """

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        self.fused = bool(self.params) and _has_fused_kernel(self.params[0])

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _state_of(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state.get(p)
        if not state:
            state = self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return state

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        params = [p for p in self.params if p.grad is not None]
        if not params:
            return
        grads = [p.grad for p in params]
        states = [self._state_of(p) for p in params]
        steps = [s["step"] for s in states]
        exp_avgs = [s["exp_avg"] for s in states]
        exp_avg_sqs = [s["exp_avg_sq"] for s in states]
        beta1, beta2 = self.betas
        if self.fused:
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                lr=self.lr,
                beta1=beta1,
                beta2=beta2,
                weight_decay=0.0,
                eps=self.eps,
                amsgrad=False,
                maximize=False,
            )
            return
        for p, grad, exp_avg, exp_avg_sq, step in zip(
            params, grads, exp_avgs, exp_avg_sqs, steps, strict=True
        ):
            step += 1
            t = step.item()
            exp_avg.lerp_(grad, 1.0 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
            denom = (exp_avg_sq.sqrt() / math.sqrt(1.0 - beta2**t)).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-self.lr / (1.0 - beta1**t))

    def state_dict(self) -> dict:
        """The learning rate and, in parameter order, each parameter's state
        (an empty dict before its first update)."""
        return {"lr": self.lr, "state": [dict(self.state.get(p, {})) for p in self.params]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue from ``state_dict`` (see ``state_dict``); tensors are
        copied onto each parameter's device."""
        self.lr = float(state_dict["lr"])
        entries = state_dict["state"]
        if len(entries) != len(self.params):
            raise ValueError(
                f"The optimizer state holds {len(entries)} parameters; this model has "
                f"{len(self.params)}."
            )
        self.state = {
            p: {k: torch.as_tensor(v).to(p.device, copy=True) for k, v in entry.items()}
            for p, entry in zip(self.params, entries, strict=True)
            if entry
        }


def _has_fused_kernel(p: torch.Tensor) -> bool:
    """Whether torch's fused Adam kernel runs on ``p``'s device and dtype:
    tried once on a throwaway tensor, since support differs by torch version."""
    if not hasattr(torch, "_fused_adam_") or not p.dtype.is_floating_point:
        return False
    probe = [torch.zeros(1, dtype=p.dtype, device=p.device) for _ in range(4)]
    step = [torch.zeros((), dtype=torch.float32, device=p.device)]
    try:
        torch._fused_adam_(
            probe[:1], probe[1:2], probe[2:3], probe[3:], [], step,
            lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8,
            amsgrad=False, maximize=False,
        )  # fmt: skip
    except (RuntimeError, NotImplementedError, TypeError):
        return False
    return True
