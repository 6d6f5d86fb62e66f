"""Patient search benchmark: name-prefix search and MRN lookup through the HTTP API.

    .venv/bin/python bench/patient_search.py --n 1000000 [--clients 8] [--requests 2000] [--workers 2]

Fills the configured database (DATABASE_URL; SQLite otherwise) with synthetic patients until it holds at
least N live ones (`hms.core.synthetic`), starts the ASGI server (uvicorn) on a free loopback port, logs in as
a receptionist over the API, then runs `--clients` concurrent keep-alive HTTP clients against
`GET /api/patients/?search=<prefix>` (3-letter family-name prefixes drawn from the data) and
`GET /api/patients/?search=<mrn>` (MRNs drawn from the data), and prints p50/p95/p99 latency (ms) and
throughput (requests/s) for each. Bounded: each phase sends exactly `--requests` requests to 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_util import free_port, request, wait_for  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")


def _setup_django():
    import django

    django.setup()


def ensure_patients(n: int, seed: int) -> int:
    from hms.core.synthetic import synthetic_patients_create
    from hms.patients.models import Patient

    have = Patient.objects.filter(deleted_at__isnull=True).count()
    if have < n:
        print(f"generating {n - have:,} synthetic patients (have {have:,}) ...", flush=True)
        t0 = time.perf_counter()
        synthetic_patients_create(n=n - have, seed=seed + have)
        print(f"  generated in {time.perf_counter() - t0:,.1f} s", flush=True)
        from django.db import connection

        if connection.vendor == "postgresql":  # fresh planner statistics, as autovacuum would give
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE patients_patient")
    return Patient.objects.filter(deleted_at__isnull=True).count()


def ensure_user(password: str) -> str:
    from django.contrib.auth.models import Group

    from hms.accounts.models import User

    user, _ = User.objects.get_or_create(username="bench-receptionist", defaults={"first_name": "Bench"})
    user.set_password(password)
    user.is_active = True
    user.save()
    user.groups.set([Group.objects.get(name="receptionist")])
    return user.username


def sample_terms(k: int, seed: int) -> tuple[list[str], list[str]]:
    from hms.patients.models import Patient

    rng = random.Random(seed)
    live = Patient.objects.filter(deleted_at__isnull=True)
    max_id = live.order_by("-id").values_list("id", flat=True).first() or 0
    min_id = live.order_by("id").values_list("id", flat=True).first() or 0
    rows = []
    for _ in range(k):
        pid = rng.randint(min_id, max_id)
        row = live.filter(id__gte=pid).order_by("id").values_list("family_name", "mrn").first()
        if row:
            rows.append(row)
    prefixes = [name[:3] for name, _ in rows if len(name) >= 3]
    mrns = [mrn for _, mrn in rows]
    return prefixes, mrns


def run_phase(port: int, token: str, paths: list[str], clients: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    chunks = [paths[i::clients] for i in range(clients)]

    def worker(chunk):
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local, bad = [], 0
        for path in chunk:
            t0 = time.perf_counter()
            status, _ = request(conn, "GET", path, token=token)
            local.append((time.perf_counter() - t0) * 1000)
            bad += status != 200
        conn.close()
        with lock:
            latencies.extend(local)
            errors += bad

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "n": len(latencies),
        "errors": errors,
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
        "rps": len(latencies) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="patients the database must hold")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2_000, help="requests per phase")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gunicorn-worker-class", default="sync", help="sync or gthread")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn gthread worker")
    parser.add_argument(
        "--server",
        choices=["uvicorn", "gunicorn"],
        default="uvicorn",
        help="uvicorn (ASGI, what `make run` uses) or gunicorn (WSGI, sync workers)",
    )
    args = parser.parse_args()

    _setup_django()
    from django.conf import settings
    from django.db import connection

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    total = ensure_patients(args.n, args.seed)
    password = "bench-Password-9"
    username = ensure_user(password)
    prefixes, mrns = sample_terms(min(500, args.requests), args.seed)
    connection.close()

    port = free_port()
    # Persistent database connections for the WSGI server (ASGI uses the PostgreSQL pool; see settings).
    env = {
        **os.environ,
        "DEBUG": "false",
        "LOG_LEVEL": "ERROR",
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
    }
    bindir = Path(sys.executable).parent
    if args.server == "gunicorn":
        command = [
            str(bindir / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "error",
            "--worker-class",
            args.gunicorn_worker_class,
            "--threads",
            str(args.threads),
        ]
    else:
        command = [
            str(bindir / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-access-log",
            "--lifespan",
            "off",
        ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(port, server)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, body = request(conn, "POST", "/api/auth/token/", {"username": username, "password": password})
        if status != 200:
            raise SystemExit(f"login failed: {status} {body[:200]!r}")
        token = json.loads(body)["access"]
        rng = random.Random(args.seed)
        warm = [f"/api/patients/?search={rng.choice(prefixes)}" for _ in range(50)]
        run_phase(port, token, warm, args.clients)
        name_paths = [f"/api/patients/?search={rng.choice(prefixes)}" for _ in range(args.requests)]
        mrn_paths = [f"/api/patients/?search={rng.choice(mrns)}" for _ in range(args.requests)]
        by_name = run_phase(port, token, name_paths, args.clients)
        by_mrn = run_phase(port, token, mrn_paths, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=30)

    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"\npatients: {total:,}  database: {vendor}  clients: {args.clients}"
        f"  server: {args.server} x {args.workers}  cores: {os.cpu_count()}"
    )
    print(f"{'query':<22}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}")
    for label, r in (("name prefix (3 chars)", by_name), ("MRN lookup", by_mrn)):
        print(
            f"{label:<22}{r['n']:>9}{r['errors']:>8}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['p99']:>9.1f}"
            f"{r['rps']:>9.0f}"
        )


if __name__ == "__main__":
    main()
