"""`manage.py billing_import_claims [--patient ID ...]`: the Synthea Claim/ExplanationOfBenefit history
(kept as `fhir.RawResource` by `import_fhir`) becomes historical `billing.Claim` rows. Idempotent: run it
again after a re-import and it updates in place (`hms.billing.fhir_claims.historical_claims_import`)."""

from django.core.management.base import BaseCommand

from hms.billing.fhir_claims import historical_claims_import


class Command(BaseCommand):
    help = "Import the Synthea ExplanationOfBenefit resources as historical insurance claims."

    def add_arguments(self, parser):
        parser.add_argument("--patient", type=int, action="append", help="Only this patient id (repeatable).")

    def handle(self, *args, **options):
        counts = historical_claims_import(patient_ids=options.get("patient"))
        self.stdout.write(
            f"Historical claims: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['patients']} patient(s)."
        )
