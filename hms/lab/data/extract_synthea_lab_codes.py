"""Developer script: list the laboratory LOINC codes used in the bundled Synthea sample data.

Run from the repository root: `python hms/lab/data/extract_synthea_lab_codes.py ../shared/data/synthea`.
It prints, for every Observation with category `laboratory` and every DiagnosticReport, the LOINC code,
display, units seen and (for reports) the member codes. The output was used to make sure
`lab_tests.json` holds every such code (DiagnosticReport 69409-1, the death certificate, is not a lab
test and is left out). The application never reads the Synthea files at run time.
"""

import collections
import glob
import json
import sys

LOINC = "http://loinc.org"


def extract(folder: str) -> tuple[dict, dict]:
    observations: dict[str, dict] = {}
    reports: dict[str, dict] = {}
    for name in sorted(glob.glob(f"{folder}/*.json")):
        with open(name, encoding="utf-8") as fh:
            bundle = json.load(fh)
        by_url = {e.get("fullUrl"): e["resource"] for e in bundle.get("entry", [])}
        for resource in by_url.values():
            kind = resource["resourceType"]
            if kind not in ("Observation", "DiagnosticReport"):
                continue
            categories = {c.get("code") for cc in resource.get("category", []) for c in cc.get("coding", [])}
            codings = [c for c in resource.get("code", {}).get("coding", []) if c.get("system") == LOINC]
            if kind == "Observation" and "laboratory" in categories:
                for c in codings:
                    row = observations.setdefault(c["code"], {"display": c["display"], "units": set()})
                    quantity = resource.get("valueQuantity") or {}
                    row["units"].add(quantity.get("code") or quantity.get("unit") or "")
            elif kind == "DiagnosticReport":
                for c in codings:
                    row = reports.setdefault(c["code"], {"display": c["display"], "members": set()})
                    for ref in resource.get("result", []):
                        member = by_url.get(ref.get("reference"))
                        for mc in (member or {}).get("code", {}).get("coding", []):
                            row["members"].add(mc["code"])
    return observations, reports


if __name__ == "__main__":
    obs, reps = extract(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/synthea")
    for code, row in sorted(obs.items()):
        print("observation", code, row["display"], sorted(row["units"]), sep="\t")
    for code, row in sorted(reps.items()):
        print("report", code, row["display"], sorted(row["members"]), sep="\t")
    print(collections.Counter({"observations": len(obs), "reports": len(reps)}), file=sys.stderr)
