"""Fit a VAE to a mixed table, look at what it chose, and sample new rows.

    python examples/tables.py

The table is made up here (no download): ages, counts of children, skewed
incomes, a yes/no flag, a city and the date each person joined, related to
one another. VAETransformer
takes the DataFrame as it is, picks a likelihood per column, and gives rows
back in the table's own types.
"""

import numpy as np
import pandas as pd

from skvae import VAETransformer


def make_table(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 80, n).round()
    city = rng.choice(["paris", "lyon", "nice"], n, p=[0.5, 0.3, 0.2])
    income = np.exp(rng.normal(9.8 + 0.012 * age + 0.3 * (city == "paris"), 0.5))
    table = pd.DataFrame(
        {
            "age": age.astype(np.int64),
            "kids": rng.poisson(np.clip(age - 20, 0, None) / 20).astype(np.int64),
            "income": income.round(2),
            "owner": rng.uniform(size=n) < np.clip((age - 18) / 60, 0, 1),
            "city": pd.Categorical(city),
        }
    )
    # older people joined earlier: days before 2024-01-01, up to about 12 years
    days = rng.gamma(2.0, 12 * age, n).clip(max=4500).astype(np.int64)
    table["joined"] = pd.Timestamp("2024-01-01") - pd.to_timedelta(days, unit="D")
    return table


def main():
    table = make_table()
    vae = VAETransformer(n_components=2, random_state=0).fit(table)
    print("likelihood chosen per column:", vae.likelihoods_)
    print("\nfive real rows:")
    print(table.head().to_string())
    print("\nfive sampled rows (draws from the model, in the table's own dtypes):")
    samples = vae.sample(2000, random_state=0)
    print(samples.head().to_string())
    print("\ndtypes kept:", (samples.dtypes == table.dtypes).all())
    print("\nreal vs sampled, column by column:")
    for column in ["age", "kids", "income"]:
        real, fake = table[column], samples[column]
        print(
            f"  {column:7s} mean {real.mean():9.1f} vs {fake.mean():9.1f}   "
            f"median {real.median():9.1f} vs {fake.median():9.1f}   "
            f"min {real.min():7.1f} vs {fake.min():7.1f}"
        )
    print("  owner   share  ", f"{table['owner'].mean():.3f} vs {samples['owner'].mean():.3f}")
    real, fake = table["joined"], samples["joined"]
    print(
        f"  joined  median {real.median():%Y-%m-%d} vs {fake.median():%Y-%m-%d}   "
        f"first {real.min():%Y-%m-%d} vs {fake.min():%Y-%m-%d}   "
        f"whole days: {(fake == fake.dt.normalize()).all()}"
    )
    shares = pd.concat(
        [table["city"].value_counts(normalize=True), samples["city"].value_counts(normalize=True)],
        axis=1,
        keys=["real", "sampled"],
    )
    print(shares.round(3).to_string())
    codes = vae.transform(table)
    print("\ncodes:", codes.shape, "score (nats per row):", round(vae.score(table), 2))


if __name__ == "__main__":
    main()
