"""CPU cost of one booking, measured in-process (repeatable on a shared machine, unlike the wall-clock
figures of `bench/booking.py`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/asclepius_bench_booking \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/booking_profile.py \\
        [--n 200] [--sql] [--by-package] [--top 30] [--sort cumulative|tottime] [--callees PATTERN ...]

Uses the data of `bench/booking.py` (same doctors, patients and service; created when missing, and the
bench doctors' calendars are freed first). One bench patient books `--n` distinct free slots through the
full Django stack (`django.test.Client`: WSGI handler, middleware, JWT authentication, DRF view, service,
PostgreSQL), with the settings the bench server runs with (DEBUG off, the connection pool, notices queued
when REDIS_URL is set, eager otherwise). Prints, for the booking and for a trivial authenticated GET
(`/api/specialties/?page_size=1`, the framework's floor):

- CPU ms per request (`time.process_time`, this process only: PostgreSQL's own CPU is not in it; the mean
  of the cheapest of 5 rounds, as other processes inflate it) and wall ms per request of that round, SQL
  statements per request (`CaptureQueriesContext`), Python function calls per booking (cProfile: does not
  depend on the machine's load);
- the statements of one booking (`--sql`); profiled own time per package (`--by-package`); the CPU of
  the PostgreSQL backend per request (`--pg-cpu`: one persistent connection instead of the pool);
- the top functions of a cProfile run over the second half of the bookings (`--top`, sorted by `--sort`)
  and the callees of the functions matching `--callees` (a pstats pattern, e.g. `appointment_book`).

Bounded: 10 warm-up + `--n` bookings and 10 + `--n` / 2 GETs; only the configured database; with REDIS_URL
the queued notices go to a queue of this run's own, deleted at the end.
"""

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("LOG_LEVEL", "ERROR")
# With REDIS_URL the notices are queued as in production, on a queue of this run's own (deleted at the end)
# so that no worker on the shared Redis picks them up.
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"asclepius-bench-profile-{os.getpid()}")

WARMUP = 10
ROUNDS = 5


def _package(path: str) -> str:
    """A short name of the package a profiled function lives in: "django.db", "rest_framework", "hms", ..."""
    if "site-packages/" in path:
        parts = path.split("site-packages/", 1)[1].split("/")
        return ".".join(parts[:2]) if parts[0] == "django" else parts[0]
    if "/hms/" in path:
        return "hms." + path.split("/hms/", 1)[1].split("/")[0]
    return "python stdlib/builtins" if path.startswith(("/", "<", "~")) else path


def _send(client, requests, headers: dict, expect: int) -> None:
    for method, path, body in requests:
        if method == "POST":
            resp = client.post(path, body, content_type="application/json", headers=headers)
        else:
            resp = client.get(path, headers=headers)
        if resp.status_code != expect:
            raise SystemExit(f"{method} {path}: {resp.status_code} {resp.content[:300]!r}")


def _backend_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by the PostgreSQL backend `pid` (same host), 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _measure(client, requests: list[tuple[str, str, dict | None]], headers: dict, expect: int, pg_pid=None):
    """Send `requests` ((method, path, body)): the first half timed (CPU and wall, nothing else
    instrumented), the second half with its SQL captured. Returns (cpu ms/request, wall ms/request,
    queries/request, the captured queries, PostgreSQL backend CPU ms/request over the timed half)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    half = len(requests) // 2
    timed, counted = requests[:half], requests[half:]
    pg0 = _backend_cpu(pg_pid)
    # In ROUNDS rounds; the round with the least CPU per request counts (other processes on a shared
    # machine inflate a process's CPU time too: caches, hyper-threads), wall time of that round.
    size = max(1, len(timed) // ROUNDS)
    rounds = []
    for i in range(0, len(timed), size):
        part = timed[i : i + size]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        _send(client, part, headers, expect)
        rounds.append(((time.process_time() - cpu0) / len(part), (time.perf_counter() - wall0) / len(part)))
    cpu, wall = min(rounds)
    pg = (_backend_cpu(pg_pid) - pg0) / len(timed)
    with CaptureQueriesContext(connection) as ctx:
        _send(client, counted, headers, expect)
    return cpu * 1000, wall * 1000, len(ctx.captured_queries) / len(counted), ctx.captured_queries, pg * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="measured bookings (and GETs)")
    parser.add_argument("--top", type=int, default=30, help="cProfile rows to print (0: none)")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (cumulative, tottime)")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one booking")
    parser.add_argument("--by-package", action="store_true", help="profiled own time per package")
    parser.add_argument(
        "--callees", action="append", default=[], help="also print the callees of functions matching this"
    )
    parser.add_argument(
        "--pg-cpu",
        action="store_true",
        help="also the CPU of the PostgreSQL backend (same host; one persistent connection, no pool)",
    )
    args = parser.parse_args()
    if args.pg_cpu:
        os.environ["DB_POOL"] = "false"
        os.environ["CONN_MAX_AGE"] = "600"

    import django

    django.setup()
    import subprocess

    from django.conf import settings
    from django.test import Client
    from rest_framework_simplejwt.tokens import AccessToken

    from bench.booking import (
        SERVICE_CODE,
        ensure_doctors,
        ensure_patients,
        ensure_service,
        free_bench_calendars,
        free_starts,
        working_days,
    )
    from hms.accounts.models import User

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    service = ensure_service()
    doctors = ensure_doctors("bench-dr", 40)
    [username] = ensure_patients("bench-pt", 1)
    free_bench_calendars(doctors)
    today = dt.date.today()
    first = today + dt.timedelta(days=(7 - today.weekday()) + 7)
    total = WARMUP + args.n
    slots = []
    # One doctor per day, so the one patient never needs two slots at the same time.
    for day, doctor in zip(working_days(first, 60), doctors * 2, strict=False):
        slots += [(doctor.pk, s) for s in free_starts(doctor, service, day)]
        if len(slots) >= total:
            break
    slots = slots[:total]
    if len(slots) < total:
        raise SystemExit(f"only {len(slots)} free slots")

    user = User.objects.get(username=username)
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
    client = Client()

    def bookings(part):
        return [
            (
                "POST",
                "/api/appointments/",
                {"practitioner": pk, "service": SERVICE_CODE, "start": start, "channel": "web"},
            )
            for pk, start in part
        ]

    gets = [("GET", "/api/specialties/?page_size=1", None)] * (WARMUP + args.n)
    _send(client, bookings(slots[:WARMUP]), headers, 201)
    _send(client, gets[:WARMUP], headers, 200)

    pg_pid = None
    if args.pg_cpu:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pg_pid = cursor.fetchone()[0]
    half = args.n // 2  # first half: timed and counted; second half: profiled
    book_cpu, book_wall, book_q, book_sql, book_pg = _measure(
        client, bookings(slots[WARMUP : WARMUP + half]), headers, 201, pg_pid
    )
    get_cpu, get_wall, get_q, _, get_pg = _measure(client, gets[:half], headers, 200, pg_pid)

    profiler = cProfile.Profile()
    profiler.enable()
    _send(client, bookings(slots[WARMUP + half :]), headers, 201)
    profiler.disable()

    db = settings.DATABASES["default"]
    print(
        f"database: {db['ENGINE'].rsplit('.', 1)[-1]}  pool: {'pool' in db.get('OPTIONS', {})}"
        f"  eager tasks: {settings.CELERY_TASK_ALWAYS_EAGER}  DEBUG: {settings.DEBUG}"
    )
    print(
        f"POST /api/appointments/ ({half} bookings): {book_cpu:.2f} ms CPU, {book_wall:.2f} ms wall,"
        f" {book_q:.1f} queries per booking"
    )
    print(
        f"GET /api/specialties/?page_size=1 ({half}): {get_cpu:.2f} ms CPU, {get_wall:.2f} ms wall,"
        f" {get_q:.1f} queries per request"
    )
    if pg_pid is not None:
        print(f"PostgreSQL backend CPU: booking {book_pg:.2f} ms, GET {get_pg:.2f} ms (10 ms clock ticks)")
    stats = pstats.Stats(profiler)
    booked = len(slots) - WARMUP - half
    print(f"Python function calls per booking (cProfile; deterministic): {stats.total_calls / booked:,.0f}")
    if args.by_package:
        by: dict[str, list[float]] = {}
        for (path, _line, _name), (_cc, nc, tt, _ct, _callers) in stats.stats.items():
            key = _package(path)
            by.setdefault(key, [0, 0.0])
            by[key][0] += nc
            by[key][1] += tt
        print("own time by package (profiled ms per booking, calls per booking):")
        for key, (nc, tt) in sorted(by.items(), key=lambda kv: -kv[1][1])[:15]:
            print(f"  {key:<32} {tt / booked * 1000:6.2f} ms  {nc / booked:8,.0f} calls")
    if args.sql:
        per = round(book_q)
        print("\nSQL of one booking:")
        for q in book_sql[-per:]:
            print(f"  {q['time']}s  {q['sql'][:220]}")
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(os.environ["CELERY_TASK_DEFAULT_QUEUE"])
    if args.top or args.callees:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(args.sort).print_stats(args.top)
        for pattern in args.callees:
            stats.print_callees(pattern)
        print(out.getvalue())


if __name__ == "__main__":
    main()
