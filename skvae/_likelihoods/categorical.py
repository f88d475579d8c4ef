"""Categorical: string, category and object columns, one-hot inside."""

import numpy as np
import torch

from ._base import Likelihood, Stats, as_numpy, observed_entries


class Categorical(Likelihood):
    """x ~ Categorical(softmax(raw)) per column, over the categories seen in fit.

    In model units a column holds the category's index (-1 for a category
    never seen in fit); the encoder sees it one-hot, an unseen category as all
    zeros, as ``OneHotEncoder(handle_unknown="ignore")`` does. The decoder
    emits one logit per category, offset by the log training frequencies so
    that an untrained decoder predicts the marginal distribution.
    """

    name = "categorical"
    discrete = True

    def __init__(self, stats: Stats):
        super().__init__(stats)
        self.sizes = [len(c) for c in stats["categories"]]
        log_freq = np.concatenate([np.log(f) for f in stats["frequencies"]])
        self.register_buffer("log_prior", torch.tensor(log_freq, dtype=torch.float32))
        # Column j's categories start at offsets[j] of the one-hot block.
        offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        # The column each logit belongs to.
        column = np.repeat(np.arange(len(self.sizes)), self.sizes)
        self.register_buffer("column", torch.tensor(column, dtype=torch.long), persistent=False)

    @classmethod
    def fit_stats(cls, values, **options) -> Stats:
        categories, frequencies = [], []
        for column in values.T:
            cats, counts = np.unique(column[observed_entries(column)], return_counts=True)
            categories.append(cats.tolist())
            frequencies.append((counts / counts.sum()).tolist())
        return {"n_columns": values.shape[1], "categories": categories, "frequencies": frequencies}

    @classmethod
    def to_model(cls, values, stats):
        codes = np.empty(values.shape, dtype=np.float64)
        for j, cats in enumerate(stats["categories"]):
            lookup = {c: i for i, c in enumerate(cats)}
            lookup[None] = np.nan
            codes[:, j] = [lookup.get(v, -1) for v in values[:, j]]
        return codes

    @classmethod
    def from_model(cls, u, stats):
        out = np.empty(u.shape, dtype=object)
        for j, cats in enumerate(stats["categories"]):
            out[:, j] = np.asarray(cats, dtype=object)[u[:, j].astype(np.intp)]
        return out

    @property
    def n_params(self):
        return sum(self.sizes)

    @property
    def n_inputs(self):
        return sum(self.sizes)

    def _blocks(self, raw):
        return torch.split(raw + self.log_prior.to(raw.dtype), self.sizes, dim=-1)

    def fill(self):
        return torch.full((self.n_columns,), -1.0)  # all-zero one-hot, as unseen

    def encoder_input(self, u):
        # One-hot codes of all columns side by side, written in one scatter;
        # an unseen category (-1) writes a 0.
        code = u.long()
        one_hot = u.new_zeros(u.shape[:-1] + (self.n_inputs,))
        return one_hot.scatter_(-1, code.clamp(min=0) + self.offsets, (code >= 0).to(u.dtype))

    def log_prob(self, u, raw):
        # log softmax within each column's block, all columns at once:
        # logit of the observed category minus its column's log-sum-exp,
        # shifted by the column's largest logit (a constant for the gradient).
        logits = raw + self.log_prior.to(raw.dtype)
        top = logits.new_full(raw.shape[:-1] + (self.n_columns,), -torch.inf)
        column = self.column.expand(logits.shape)
        top = top.scatter_reduce(-1, column, logits.detach(), "amax")
        shifted = logits - top.index_select(-1, self.column)
        total = logits.new_zeros(top.shape).index_add(-1, self.column, shifted.exp())
        code = (u.long().clamp(min=0) + self.offsets).expand(top.shape)
        return shifted.gather(-1, code) - total.log()

    @property
    def n_outcomes(self):
        return sum(self.sizes)

    def probabilities(self, raw, weights):
        probs = torch.cat([torch.softmax(logits, dim=-1) for logits in self._blocks(raw)], dim=-1)
        return (weights.unsqueeze(-1) * probs).sum(-2)

    def impute(self, raw, weights):
        # the most probable category under the mixture of K decoder outputs
        blocks = torch.split(self.probabilities(raw, weights), self.sizes, dim=-1)
        return torch.stack([p.argmax(-1) for p in blocks], dim=-1).to(raw.dtype)

    def point(self, raw):
        return torch.stack([b.argmax(-1).to(raw.dtype) for b in self._blocks(raw)], dim=-1)

    def draw(self, raw, rng):
        out = np.empty(raw.shape[:-1] + (self.n_columns,))
        for j, logits in enumerate(self._blocks(raw)):
            cdf = np.cumsum(as_numpy(torch.softmax(logits, dim=-1)), axis=-1)
            u = rng.random(cdf.shape[:-1] + (1,))
            out[..., j] = np.minimum((cdf < u * cdf[..., -1:]).sum(-1), logits.shape[-1] - 1)
        return out
