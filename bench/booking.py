"""Booking benchmark: appointments booked through the HTTP API by patients logged in with JWT.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/asclepius_bench_booking \\
        .venv/bin/python bench/booking.py [--bookings 2000] [--clients 8] [--racers 32] [--server uvicorn]

Migrates the configured database (DATABASE_URL; meant for PostgreSQL, where the exclusion constraints
exist), then makes sure it holds what the phases need (idempotent, all names start with "bench-"): a 20-minute
service type, `--doctors` doctors plus 5 "race" doctors with Mon-Fri 09:00-12:00 + 13:00-17:00 New York
schedules, and `--clients` + `--racers` patients with logins. Active appointments left by an earlier run
with these doctors are marked entered-in-error first, so every run starts from free calendars. Then it
starts the server on a free loopback port (gunicorn WSGI sync workers by default, `--server uvicorn` for
ASGI), logs every patient in over `POST /api/auth/token/` and measures `POST /api/appointments/`:

(a) uncontended: `--clients` concurrent clients, each booking `--bookings / clients` distinct free slots
    (taken from `hms.scheduling.selectors.slots_free`) of its own doctors on days no other doctor of that
    client uses, so no two requests ever collide; prints bookings/s and p50/p95/p99 latency (ms). A few
    bookings per client are sent first as warm-up and not counted. On Linux it also prints the CPU time
    per booking of the server workers, this database's PostgreSQL backends and the load generator (from
    /proc): unlike the wall-clock figures it hardly depends on what else runs on the machine.
(b) race: `--racers` clients (one patient each) all try the same 100 slots (5 doctors x the same 20 times
    of one day), each client in its own random order; prints attempts/s, accepted (201), refused (409),
    other client errors (4xx), server errors (5xx or no answer), then counts overlapping active
    appointments of one practitioner (and of one patient) by SQL. Accepted must be 100, overlaps and server
    errors 0.

Bounded: (a) sends `--bookings` (rounded down to a multiple of `--clients`) + warm-up requests,
(b) exactly racers x 100; only 127.0.0.1.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_util import free_port, request, wait_for  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DEBUG", "false")

PASSWORD = "bench-Password-9"
SERVICE_CODE = "bench-consult"
TIME_ZONE = "America/New_York"
RACE_DOCTORS = 5
RACE_TIMES = 20
WARMUP_PER_CLIENT = 5


def _setup_django():
    import django

    django.setup()


# ---------------------------------------------------------------- data


def ensure_service():
    from hms.scheduling.models import ServiceType

    service, _ = ServiceType.objects.get_or_create(
        code=SERVICE_CODE, defaults={"display": "Bench consultation", "default_minutes": 20}
    )
    return service


def ensure_doctors(prefix: str, n: int) -> list:
    """`n` doctors named `<prefix>-NNN`, each with a Mon-Fri 09-12 + 13-17 New York schedule."""
    from django.contrib.auth.models import Group

    from hms.accounts.models import User
    from hms.scheduling.models import Schedule, WorkingHours
    from hms.staff.models import Practitioner, PractitionerRole

    group = Group.objects.get(name="doctor")
    doctors = []
    for i in range(n):
        username = f"{prefix}-{i:03d}"
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": "Bench", "last_name": f"Doctor {prefix[-4:]} {i}"}
        )
        if created:
            user.set_unusable_password()
            user.save()
            user.groups.set([group])
        practitioner, _ = Practitioner.objects.get_or_create(
            user=user,
            defaults={
                "family_name": user.last_name,
                "given_names": "Bench",
                "role": PractitionerRole.DOCTOR,
            },
        )
        schedule, created = Schedule.objects.get_or_create(
            practitioner=practitioner, defaults={"time_zone": TIME_ZONE, "buffer_minutes": 0}
        )
        if created:
            WorkingHours.objects.bulk_create(
                WorkingHours(schedule=schedule, weekday=day, start_time=dt.time(a), end_time=dt.time(b))
                for day in range(1, 6)
                for a, b in ((9, 12), (13, 17))
            )
        doctors.append(practitioner)
    return doctors


def ensure_patients(prefix: str, n: int) -> list[str]:
    """`n` patients with logins `<prefix>-NNN` (password `PASSWORD`); returns the usernames."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from hms.accounts.models import User
    from hms.patients.models import Patient
    from hms.patients.mrn import mrn_allocate

    group = Group.objects.get(name="patient")
    hashed = make_password(PASSWORD)  # one hash (Argon2 is slow on purpose), shared by every bench patient
    names = []
    for i in range(n):
        username = f"{prefix}-{i:03d}"
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": "Bench", "last_name": f"Patient {i}"}
        )
        if created:
            user.password = hashed
            user.save()
            user.groups.set([group])
        if not Patient.objects.filter(user=user).exists():
            Patient.objects.create(
                user=user,
                mrn=mrn_allocate(1)[0],
                family_name=user.last_name,
                given_names="Bench",
                date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=97 * i),
                gender="female" if i % 2 else "male",
            )
        names.append(username)
    return names


def free_bench_calendars(doctors: list) -> int:
    """Mark the active appointments of the bench doctors entered-in-error (earlier runs); returns how many."""
    from hms.scheduling.models import Appointment, AppointmentStatus

    return (
        Appointment.objects.active()
        .filter(practitioner__in=doctors)
        .update(status=AppointmentStatus.ENTERED_IN_ERROR)
    )


def working_days(first: dt.date, count: int) -> list[dt.date]:
    days, day = [], first
    while len(days) < count:
        if day.isoweekday() <= 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def free_starts(practitioner, service, day: dt.date) -> list[str]:
    from hms.scheduling.selectors import slots_free

    return [
        s.isoformat()
        for s, _ in slots_free(practitioner=practitioner, service_type=service, date_from=day, date_to=day)
    ]


def uncontended_plan(doctors: list, service, clients: int, per_client: int, days: list[dt.date]):
    """For each client: a list of (practitioner id, start) it alone books. Client c owns the doctors
    c, c + clients, ...; its m-th doctor is used only on the days with index = m (mod doctors per client),
    so one client's patient never needs two slots at the same time."""
    per = len(doctors) // clients
    plans = []
    for c in range(clients):
        own = [doctors[c + clients * m] for m in range(per)]
        by_doctor = [
            [(d.pk, s) for j, day in enumerate(days) if j % per == m for s in free_starts(d, service, day)]
            for m, d in enumerate(own)
        ]
        interleaved = [slot for group in zip(*by_doctor, strict=False) for slot in group]
        if len(interleaved) < per_client:
            raise SystemExit(f"client {c}: only {len(interleaved)} free slots; use more --doctors or --days")
        plans.append(interleaved[:per_client])
    return plans


# ---------------------------------------------------------------- HTTP


BENCH_QUEUE = f"asclepius-bench-{os.getpid()}"


def purge_bench_queue() -> None:
    """Drop this run's Celery queue (the queued booking notices) from Redis, if a broker was used."""
    url = os.environ.get("REDIS_URL")
    if url:
        import redis

        redis.Redis.from_url(url).delete(BENCH_QUEUE)


def login(port: int, username: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status, body = request(conn, "POST", "/api/auth/token/", {"username": username, "password": PASSWORD})
    conn.close()
    if status != 200:
        raise SystemExit(f"login of {username} failed: {status} {body[:200]!r}")
    return json.loads(body)["access"]


def run_bookings(port: int, jobs: list[tuple[str, list[tuple[int, str]]]]) -> dict:
    """One thread per (token, [(practitioner, start), ...]); each POSTs its bookings in order on one
    keep-alive connection. Returns latencies (ms), status counts and the elapsed wall time (s)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker(token, slots):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local, counts = [], {}
        for practitioner, start in slots:
            body = {"practitioner": practitioner, "service": SERVICE_CODE, "start": start, "channel": "web"}
            t0 = time.perf_counter()
            try:
                status, _ = request(conn, "POST", "/api/appointments/", body, token=token)
            except (OSError, http.client.HTTPException):
                status = 0  # no answer: counted with the server errors
                conn.close()
            local.append((time.perf_counter() - t0) * 1000)
            counts[status] = counts.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(local)
            for k, v in counts.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker, args=job) for job in jobs]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "n": len(latencies),
        "statuses": statuses,
        "elapsed": elapsed,
        "rate": len(latencies) / elapsed,
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
    }


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` so far (Linux /proc); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_snapshot(server_pid: int) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the server's worker processes, of this database's PostgreSQL backends (same
    host) and of this process (the load generator), by pid."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [row[0] for row in cursor.fetchall()]
    return {
        "server": {p: _proc_cpu(p) for p in [server_pid, *_children(server_pid)]},
        "postgres": {p: _proc_cpu(p) for p in backends},
        "client": {os.getpid(): time.process_time()},
    }


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds used between two snapshots, per part (a process new since `before` counts in full)."""
    return {part: sum(after[part][p] - before[part].get(p, 0.0) for p in after[part]) for part in after}


OVERLAP_SQL = """
SELECT count(*) FROM scheduling_appointment a JOIN scheduling_appointment b
  ON a.{who}_id = b.{who}_id AND a.id < b.id
 AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end")
WHERE a.status <> ALL(%s) AND b.status <> ALL(%s)
"""


def count_overlaps(who: str) -> int:
    """Pairs of active appointments of one practitioner (or patient) whose [start, end) ranges overlap."""
    from django.db import connection

    from hms.scheduling.models import INACTIVE_STATUSES

    inactive = [str(s) for s in INACTIVE_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(OVERLAP_SQL.format(who=who), [inactive, inactive])
        return cursor.fetchone()[0]


def server_command(args, port: int) -> list[str]:
    bindir = Path(sys.executable).parent
    if args.server == "gunicorn":
        return [
            str(bindir / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            *(["--worker-class", "gthread", "--threads", str(args.threads)] if args.threads > 1 else []),
            "--log-level",
            "error",
        ]
    return [
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


def _fmt_statuses(statuses: dict[int, int]) -> str:
    return ", ".join(f"{k or 'no answer'}: {v}" for k, v in sorted(statuses.items()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bookings", type=int, default=2_000, help="uncontended bookings, all clients")
    parser.add_argument("--clients", type=int, default=8, help="clients of the uncontended phase")
    parser.add_argument("--doctors", type=int, default=40, help="doctors of the uncontended phase")
    parser.add_argument(
        "--days", type=int, default=30, help="working days the uncontended phase spreads over"
    )
    parser.add_argument("--racers", type=int, default=32, help="clients of the race phase")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--server", choices=["gunicorn", "uvicorn"], default="gunicorn")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="gunicorn threads per worker: 1 = sync workers (default), more = gthread workers (keep-alive)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.doctors < args.clients:
        parser.error("--doctors must be at least --clients")

    _setup_django()
    from django.conf import settings
    from django.db import connection

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    t0 = time.perf_counter()
    service = ensure_service()
    doctors = ensure_doctors("bench-dr", args.doctors)
    race_doctors = ensure_doctors("bench-race-dr", RACE_DOCTORS)
    bookers = ensure_patients("bench-pt", args.clients)
    racers = ensure_patients("bench-racer", args.racers)
    freed = free_bench_calendars(doctors + race_doctors)
    today = dt.date.today()
    first = today + dt.timedelta(days=(7 - today.weekday()) + 7)  # a Monday 8-14 days ahead
    days = working_days(first, args.days)
    per_client = args.bookings // args.clients
    plans = uncontended_plan(doctors, service, args.clients, per_client + WARMUP_PER_CLIENT, days)
    race_day = days[0]
    race_slots = [(d.pk, s) for d in race_doctors for s in free_starts(d, service, race_day)[:RACE_TIMES]]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    connection.close()
    print(
        f"setup in {time.perf_counter() - t0:.1f} s (freed {freed} appointments of earlier runs)", flush=True
    )

    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "LOG_LEVEL": "ERROR",
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
        # With REDIS_URL the booking notices are queued for a worker, as in production; a queue of this
        # run's own (deleted afterwards) so no other worker on the shared Redis picks them up.
        "CELERY_TASK_DEFAULT_QUEUE": BENCH_QUEUE,
    }
    # Server log to a file: Django logs each 409 as a warning, which would fill a pipe and stall the server.
    with tempfile.TemporaryFile() as server_log:
        server = subprocess.Popen(
            server_command(args, port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=server_log
        )
        try:
            wait_for(port, server)
            tokens = {name: login(port, name) for name in bookers + racers}
            warmup = [(tokens[b], plan[:WARMUP_PER_CLIENT]) for b, plan in zip(bookers, plans, strict=True)]
            run_bookings(port, warmup)
            jobs = [(tokens[b], plan[WARMUP_PER_CLIENT:]) for b, plan in zip(bookers, plans, strict=True)]
            cpu0 = cpu_snapshot(server.pid) if sys.platform == "linux" else None
            uncontended = run_bookings(port, jobs)
            cpu = cpu_used(cpu0, cpu_snapshot(server.pid)) if cpu0 else None
            rng = random.Random(args.seed)
            race_jobs = [(tokens[r], rng.sample(race_slots, len(race_slots))) for r in racers]
            race = run_bookings(port, race_jobs)
        finally:
            server.terminate()
            server.wait(timeout=30)
            purge_bench_queue()
        server_log.seek(0)
        errors_logged = [
            line for line in server_log.read().decode(errors="replace").splitlines() if "Error" in line
        ]
    overlaps_practitioner = count_overlaps("practitioner")
    overlaps_patient = count_overlaps("patient")

    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    threads = f" ({args.threads} threads)" if args.server == "gunicorn" and args.threads > 1 else ""
    print(
        f"\ndatabase: {vendor}  server: {args.server} x {args.workers}{threads}  cores: {os.cpu_count()}"
        f"  load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    u = uncontended
    print(
        f"(a) uncontended, {args.clients} clients: {u['n']} bookings in {u['elapsed']:.1f} s = "
        f"{u['rate']:.0f} bookings/s; p50 {u['p50']:.1f} ms, p95 {u['p95']:.1f} ms, p99 {u['p99']:.1f} ms"
        f"  [{_fmt_statuses(u['statuses'])}]"
    )
    if cpu:
        per = {part: seconds / u["n"] * 1000 for part, seconds in cpu.items()}
        total = sum(per.values())
        print(
            f"    CPU per booking: server {per['server']:.1f} ms, PostgreSQL {per['postgres']:.1f} ms,"
            f" load generator {per['client']:.1f} ms = {total:.1f} ms, i.e. at most"
            f" {os.cpu_count() * 1000 / total:.0f} bookings/s on {os.cpu_count()} cores if nothing else ran"
        )
    r = race
    st = r["statuses"]
    client_errors = sum(v for k, v in st.items() if 400 <= k < 500 and k != 409)
    server_errors = sum(v for k, v in st.items() if k == 0 or k >= 500)
    print(
        f"(b) race, {args.racers} clients x {len(race_slots)} slots:"
        f" {r['n']} attempts in {r['elapsed']:.1f} s"
        f" = {r['rate']:.0f} attempts/s; p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms\n"
        f"    accepted {st.get(201, 0)} (expected {len(race_slots)}), refused (409) {st.get(409, 0)},"
        f" other 4xx {client_errors}, server errors {server_errors}"
    )
    print(
        f"    overlapping active appointments by SQL: practitioner {overlaps_practitioner},"
        f" patient {overlaps_patient}"
    )
    for line in errors_logged[:10]:
        print("    server log:", line[:200])
    ok = (
        st.get(201, 0) == len(race_slots)
        and server_errors == 0
        and overlaps_practitioner == 0
        and overlaps_patient == 0
        and set(u["statuses"]) == {201}
    )
    print("checks:", "OK" if ok else "FAILED")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
