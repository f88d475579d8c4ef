"""How SDMetrics 0.32's QualityReport bins numeric columns, shown on one table.

    python benchmarks/sdmetrics_bins.py --table diamonds

For the numeric-categorical pairs that the report scores (those whose real
association passes its threshold), prints each pair's contingency similarity
as the report computes it (each table binned on its own range) and with shared
bins (the held-out rows' edges widened to -inf and +inf, as bench_synth's
"shared bins" figures), for skvae's samples (defaults, random_state=0), SDV's
Gaussian copula and 2,000 real training rows. Needs the synth extra (see the
README); the split and metadata are bench_synth's.
"""

import argparse

import pandas as pd
from _synth import TABLES, load_split, quality_report, sdv_metadata


def pair_details(split, samples, table, shared):
    report = quality_report(split, samples, table, shared)
    details = report.get_details("Column Pair Trends")
    scored = details[details["Metric"].eq("ContingencySimilarity") & details["Score"].notna()]
    numeric = scored["Column 1"].isin(split.numeric) ^ scored["Column 2"].isin(split.numeric)
    return scored[numeric].set_index(["Column 1", "Column 2"])["Score"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="diamonds", choices=list(TABLES))
    args = parser.parse_args()

    import sdv.single_table

    from skvae import VAETransformer

    split = load_split(args.table, 2000, 5000)
    metadata, _ = sdv_metadata(split)
    table = metadata.to_dict()["tables"][split.name]
    copula = sdv.single_table.GaussianCopulaSynthesizer(metadata)
    copula.fit({split.name: split.train})
    copula_rows = copula.sample(2000)
    samples = {
        "skvae": VAETransformer(random_state=0).fit(split.train).sample(2000, random_state=0),
        "gaussian_copula": copula_rows.get(split.name, copula_rows),
        "training_rows": split.train.sample(2000, random_state=0),
    }
    columns = {}
    for name, rows in samples.items():
        for shared in (False, True):
            label = f"{name}, {'shared bins' if shared else 'as published'}"
            columns[label] = pair_details(split, rows, table, shared)
    frame = pd.DataFrame(columns)
    print(f"## {split.name}: numeric-categorical pairs the report scores\n")
    print("| pair | " + " | ".join(frame.columns) + " |")
    print("|---" * (len(frame.columns) + 1) + "|")
    for (a, b), row in frame.iterrows():
        print(f"| {a} x {b} | " + " | ".join(f"{v:.3f}" for v in row) + " |")


if __name__ == "__main__":
    main()
