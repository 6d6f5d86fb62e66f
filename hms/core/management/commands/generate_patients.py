"""`manage.py generate_patients --n N [--with-records] [--seed S]`: create synthetic patients."""

from django.core.management.base import BaseCommand, CommandError

from hms.core.synthetic import synthetic_patients_create


class Command(BaseCommand):
    help = (
        "Create N synthetic patients (deterministic for a seed; a rerun with the same seed adds nothing). "
        "With --with-records each new patient also gets encounters, vitals, conditions, allergies, "
        "medication requests and immunizations."
    )

    def add_arguments(self, parser):
        parser.add_argument("--n", type=int, required=True, help="How many patients")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0)")
        parser.add_argument("--with-records", action="store_true", help="Also create clinical records")
        parser.add_argument("--batch-size", type=int, default=2000, help="Rows per INSERT batch")

    def handle(self, *args, n, seed, with_records, batch_size, **options):
        from tqdm import tqdm

        if n < 0 or batch_size < 1:
            raise CommandError("--n must be ≥ 0 and --batch-size ≥ 1")
        with tqdm(total=n, unit="patient", disable=options.get("verbosity", 1) == 0, unit_scale=True) as bar:
            try:
                created = synthetic_patients_create(
                    n=n, seed=seed, with_records=with_records, batch_size=batch_size, progress=bar.update
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {created:,} synthetic patient(s) (seed {seed}); {n - created:,} existed already."
            )
        )
