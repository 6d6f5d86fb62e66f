r"""Import-rate benchmark: FHIR resources per second for importing the Synthea DEV set.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/asclepius_bench_import \
        .venv/bin/python bench/import_rate.py [--path FOLDER] [--passes 2]

Imports every bundle under `settings.SYNTHEA_DIR` (or `--path`) into the configured database
(DATABASE_URL; SQLite otherwise; migrated first if needed) through the same service as
`manage.py import_fhir`, twice: the first pass creates (or, on a database that already holds the set,
updates) the rows, the second is the idempotent re-import. Prints resources/second for each pass;
the figure counts every entry read and validated, including the Claim/ExplanationOfBenefit kept raw
and the skipped types. Target on PostgreSQL: >= 1,000 resources/s.
"""

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")


def main(argv: list[str] | None = None) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from hms.fhir.importer import bundle_paths, fhir_import

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default=settings.SYNTHEA_DIR, help="Folder or file of bundles")
    parser.add_argument("--passes", type=int, default=2, help="Import passes (default 2: import + re-import)")
    args = parser.parse_args(argv)
    if not Path(args.path).exists():
        print(f"{args.path} does not exist: nothing to import", file=sys.stderr)
        return 2
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)  # a fresh database works too
    files = bundle_paths([args.path])
    print(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}")
    print(f"machine:  {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"bundles:  {len(files)} from {args.path}")
    worst = None
    for n in range(1, args.passes + 1):
        summary = fhir_import(paths=files)
        totals = summary.totals()
        created = sum(c["created"] for c in totals.values())
        updated = sum(c["updated"] for c in totals.values())
        label = "import" if n == 1 else "re-import"
        print(
            f"pass {n} ({label}): {summary.resources:,} resources in {summary.seconds:.2f} s = "
            f"{summary.rate:,.0f} resources/s  (created {created:,}, updated {updated:,}, "
            f"failed bundles {len(summary.failed)})"
        )
        worst = summary.rate if worst is None else min(worst, summary.rate)
    print(f"slowest pass: {worst:,.0f} resources/s (target >= 1,000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
