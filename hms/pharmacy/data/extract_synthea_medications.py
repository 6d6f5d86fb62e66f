"""Developer script: list the RxNorm medications used in the bundled Synthea sample data.

Run from the repository root (writes the list the tests compare with):

    python hms/pharmacy/data/extract_synthea_medications.py ../shared/data/synthea \
        > hms/pharmacy/data/synthea_rxcuis.txt

It prints, for every MedicationRequest and MedicationAdministration (medicationCodeableConcept, or the
referenced Medication resource), the RxNorm code, display and how often it occurs, sorted by display.
`synthea_rxcuis.txt` (its output, codes and names only) is what `hms/pharmacy/tests/test_catalog.py`
checks `medications.csv` against. The application never reads the Synthea files at run time.
Source of the codes: Synthea (https://github.com/synthetichealth/synthea), which codes drugs in RxNorm.
"""

import collections
import glob
import json
import sys

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def extract(folder: str) -> dict[str, tuple[str, int]]:
    seen: dict[str, str] = {}
    counts: collections.Counter = collections.Counter()
    for name in sorted(glob.glob(f"{folder}/*.json")):
        with open(name, encoding="utf-8") as fh:
            bundle = json.load(fh)
        by_url = {e.get("fullUrl"): e["resource"] for e in bundle.get("entry", [])}
        for resource in by_url.values():
            if resource["resourceType"] not in ("MedicationRequest", "MedicationAdministration"):
                continue
            concept = resource.get("medicationCodeableConcept")
            if concept is None:
                ref = (resource.get("medicationReference") or {}).get("reference")
                concept = (by_url.get(ref) or {}).get("code") or {}
            for coding in concept.get("coding", []):
                if coding.get("system") == RXNORM:
                    seen[coding["code"]] = coding.get("display", "")
                    counts[coding["code"]] += 1
    return {code: (display, counts[code]) for code, display in seen.items()}


if __name__ == "__main__":
    rows = extract(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/synthea")
    for code, (display, _count) in sorted(rows.items(), key=lambda kv: kv[1][0].lower()):
        print(f"{code}\t{display}")
