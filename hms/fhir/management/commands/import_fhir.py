"""`manage.py import_fhir PATH [PATH ...]`: import FHIR R4 Bundle files or folders of them."""

from django.core.management.base import BaseCommand, CommandError

from hms.fhir.importer import SYNTHEA_SYSTEM, bundle_paths, fhir_import


class Command(BaseCommand):
    help = (
        "Import FHIR R4 Bundles (JSON files, or folders of *.json) such as Synthea exports. Idempotent: "
        "a re-import updates records in place. One transaction per bundle; bad bundles are reported "
        "and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="Bundle files or folders of *.json bundles")
        parser.add_argument(
            "--source-system",
            default=SYNTHEA_SYSTEM,
            help=f"URI of the system the resource ids come from (default: {SYNTHEA_SYSTEM})",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar")

    def handle(self, *args, paths, source_system, no_progress, **options):
        try:
            files = bundle_paths(paths)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from None
        if not files:
            raise CommandError("No *.json bundle files found under the given paths.")
        summary = fhir_import(
            paths=files,
            source_system=source_system,
            progress=not no_progress and options.get("verbosity", 1) > 0,
        )
        self.stdout.write(summary.table())
        if summary.failed:
            self.stdout.write(self.style.WARNING(f"{len(summary.failed)} bundle(s) failed; see above."))
        else:
            self.stdout.write(self.style.SUCCESS("Import finished."))
