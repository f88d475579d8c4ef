"""VAETransformer as a one-line swap for PCA in a scikit-learn pipeline.

Cross-validates Pipeline([reducer, LogisticRegression]) on the digits data
shipped with scikit-learn, with GridSearchCV choosing the latent size, and
prints the accuracy of the VAE beside PCA's for every size.

    python examples/pipeline_digits.py
"""

import time

from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skvae import VAETransformer

SIZES = [2, 4, 8, 16]


def main():
    X, y = load_digits(return_X_y=True)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    results = {}
    for name, reducer in [("VAE", VAETransformer(random_state=0)), ("PCA", PCA(random_state=0))]:
        pipe = Pipeline([("reduce", reducer), ("clf", LogisticRegression(max_iter=1000))])
        search = GridSearchCV(pipe, {"reduce__n_components": SIZES}, cv=cv)
        start = time.perf_counter()
        search.fit(X, y)
        results[name] = (search, time.perf_counter() - start)

    print(
        f"5-fold CV accuracy of Pipeline([reducer, LogisticRegression]) on load_digits {X.shape}\n"
    )
    print("| n_components | VAE | PCA |")
    print("|---|---|---|")
    for i, size in enumerate(SIZES):
        vae, pca = (results[k][0].cv_results_ for k in ("VAE", "PCA"))
        print(
            f"| {size} | {vae['mean_test_score'][i]:.3f} ± {vae['std_test_score'][i]:.3f} "
            f"| {pca['mean_test_score'][i]:.3f} ± {pca['std_test_score'][i]:.3f} |"
        )
    for name, (search, seconds) in results.items():
        print(
            f"\n{name}: best n_components = {search.best_params_['reduce__n_components']}, "
            f"accuracy {search.best_score_:.3f} ({seconds:.0f} s for the whole search)"
        )


if __name__ == "__main__":
    main()
