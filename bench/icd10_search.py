"""ICD-10-CM search-as-you-type benchmark (in-process, the index of `hms.terminology.icd10`).

    .venv/bin/python bench/icd10_search.py [--repeat 200]

Builds the index once (prints the build time), then runs each query of a fixed mix (code prefixes, word
prefixes, one-letter worst cases) `--repeat` times and prints p50/p99 latency in ms per query and overall.
The target stated in `hms/terminology/icd10.py` is < 20 ms per query.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

QUERIES = ["E11", "E119", "type 2 diabetes", "a", "s", "left s", "fracture femur", "pain", "1 2", "hypert"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    import django

    django.setup()
    from hms.terminology.icd10 import icd10_index

    start = time.perf_counter()
    index = icd10_index()
    print(f"index built in {time.perf_counter() - start:.2f} s")
    every = []
    print(f"{'query':<18} {'p50 ms':>8} {'p99 ms':>8}")
    for q in QUERIES:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            index.search(q, 20)
            times.append((time.perf_counter() - t0) * 1000)
        every += times
        print(f"{q!r:<18} {statistics.median(times):8.3f} {percentile(times, 99):8.3f}")
    print(f"{'all':<18} {statistics.median(every):8.3f} {percentile(every, 99):8.3f}")


if __name__ == "__main__":
    main()
