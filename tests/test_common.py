"""Every scikit-learn common check, with default parameters and no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEImputer, VAETransformer


@parametrize_with_checks([VAETransformer(), VAEImputer()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
