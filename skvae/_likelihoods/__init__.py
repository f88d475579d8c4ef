"""One class per distribution of p(x|z); see ``_base.Likelihood`` for the contract.

| name          | file                 | columns                                    |
|---------------|----------------------|--------------------------------------------|
| gaussian      | gaussian.py          | real values                                |
| lognormal     | lognormal.py         | positive, right-skewed amounts             |
| bernoulli     | bernoulli.py         | flags, values in [0, 1]                    |
| categorical   | categorical.py       | strings, categories                        |
| poisson       | poisson.py           | counts, variance = mean                    |
| negbinomial   | negative_binomial.py | over-dispersed counts                      |
| quantile      | quantile.py          | any numeric column, by its own quantiles   |
"""

from ._base import Likelihood, observed_entries
from .bernoulli import Bernoulli
from .categorical import Categorical
from .gaussian import Gaussian
from .lognormal import LogNormal
from .negative_binomial import NegativeBinomial
from .poisson import Poisson
from .quantile import Quantile

LIKELIHOODS: dict[str, type[Likelihood]] = {
    cls.name: cls
    for cls in (Gaussian, LogNormal, Quantile, Bernoulli, Categorical, Poisson, NegativeBinomial)
}

__all__ = ["LIKELIHOODS", "Likelihood", "observed_entries"]
