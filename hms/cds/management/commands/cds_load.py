"""`manage.py cds_load --interactions file.csv [--replace] [--skip-unknown]`: load a (licensed) interaction
knowledge base into `hms.cds.models.LoadedInteraction`; the checker uses its rows in addition to the
bundled `hms/cds/data/interactions.csv`.

Format (docs/cds.md): UTF-8 CSV with the header `a,b,severity,effect,management,source`; `a`/`b` an RxNorm
ingredient name of the catalogue or `class:<key>`; severity contraindicated | major | moderate | minor;
`effect` and `source` required. Every row is validated first; on any error the command lists every bad
line (with its number) and loads nothing (exit status 1). `--skip-unknown` skips (and counts) rows naming
an ingredient or class the catalogue does not know instead of refusing them. `--replace` marks the
previously loaded rows inactive (kept, never deleted) in the same transaction.
"""

import csv
import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from hms.cds.checker import INTERACTION_COLUMNS, validate_interaction_row
from hms.cds.models import LoadedInteraction

MAX_ROWS = 200_000


def read_interactions(path: Path, *, skip_unknown: bool = False) -> tuple[list, int, list[str]]:
    """([(line, InteractionRule)], skipped count, errors) of an interaction CSV file."""
    errors: list[str] = []
    rules: list = []
    skipped = 0
    expected = ",".join(INTERACTION_COLUMNS)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = ",".join(h.strip() for h in (reader.fieldnames or ()))
            if header != expected:
                return [], 0, [f"line 1: the header must be {expected} (found {header or 'nothing'})"]
            for row in reader:
                line = reader.line_num
                if len(rules) + skipped >= MAX_ROWS:
                    errors.append(f"line {line}: more than {MAX_ROWS} rows")
                    break
                if None in row:
                    errors.append(f"line {line}: too many columns")
                    continue
                if any(v is None for v in row.values()):
                    errors.append(f"line {line}: too few columns")
                    continue
                rule, row_errors = validate_interaction_row(row, allow_unknown=skip_unknown)
                if row_errors:
                    errors.extend(f"line {line}: {e}" for e in row_errors)
                elif rule is None:
                    skipped += 1
                else:
                    rules.append((line, rule))
    except UnicodeDecodeError:
        return [], 0, ["the file is not UTF-8 text"]
    except csv.Error as exc:
        return [], 0, [f"not a readable CSV file: {exc}"]
    if not rules and not errors:
        errors.append("no interaction rows")
    return rules, skipped, errors


class Command(BaseCommand):
    help = "Validate and load a drug-interaction knowledge base (CSV, see docs/cds.md)."

    def add_arguments(self, parser):
        parser.add_argument("--interactions", required=True, help="path of the CSV file")
        parser.add_argument("--replace", action="store_true", help="retire the previously loaded rows")
        parser.add_argument(
            "--skip-unknown", action="store_true", help="skip rows naming drugs not in the catalogue"
        )

    def handle(self, *args, **options):
        path = Path(options["interactions"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        rules, skipped, errors = read_interactions(path, skip_unknown=options["skip_unknown"])
        if errors:
            shown = errors[:200]
            more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
            raise CommandError(f"{path}: nothing loaded, {len(errors)} error(s):\n" + "\n".join(shown) + more)
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # pragma: no cover - no user database entry
            who = ""
        with transaction.atomic():
            retired = 0
            if options["replace"]:
                retired = LoadedInteraction.objects.filter(active=True).update(
                    active=False, replaced_at=timezone.now()
                )
            LoadedInteraction.objects.bulk_create(
                [
                    LoadedInteraction(
                        a=r.a,
                        b=r.b,
                        severity=r.severity,
                        effect=r.effect,
                        management=r.management,
                        source=r.source,
                        file_name=path.name[:255],
                        line=line,
                        loaded_by=who[:150],
                    )
                    for line, r in rules
                ],
                batch_size=1000,
            )
        self.stdout.write(
            f"Loaded {len(rules)} interaction rows from {path.name}"
            + (f", skipped {skipped} naming drugs not in the catalogue" if skipped else "")
            + (f", retired {retired} earlier rows" if options["replace"] else "")
            + "."
        )
