"""skvae: a variational autoencoder that speaks scikit-learn.

>>> from skvae import VAEImputer, VAETransformer
"""

from ._estimator import SkvaeVersionWarning, VAETransformer
from ._imputer import VAEImputer
from ._training import NonFiniteLossError
from ._version import __version__

__all__ = [
    "NonFiniteLossError",
    "SkvaeVersionWarning",
    "VAEImputer",
    "VAETransformer",
    "__version__",
]
