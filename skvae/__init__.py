"""skvae: a variational autoencoder that speaks scikit-learn.

>>> from skvae import VAETransformer
"""

from ._estimator import SkvaeVersionWarning, VAETransformer
from ._training import NonFiniteLossError
from ._version import __version__

__all__ = ["NonFiniteLossError", "SkvaeVersionWarning", "VAETransformer", "__version__"]
