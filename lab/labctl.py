#!/usr/bin/env python3
"""A throwaway stand-in for the production stack (PostgreSQL, Redis, the API), with faults on demand.

Everything lives under one state folder (env PERF_LAB_STATE, default <repo>/.lab) and listens on
127.0.0.1 only, on its own ports, so it never touches a system cluster. Run it with the project's
venv (it re-executes itself there when psycopg2 is missing):

    .venv/bin/python lab/labctl.py up | down | destroy | status | faults | env | reset-stats
    .venv/bin/python lab/labctl.py inject FAULT | clear FAULT|all

Tests import it (lab/ on sys.path): up(), down(), destroy(), status(), inject(name), clear(name),
clear_all(), reset_stats(), settings(), superuser_connect(), redis_connect(), read_secret(name).

Liveness is always asked of the service itself (pg_ctl status, redis PING, HTTP GET): PID 1 here does
not reap orphans, so a dead daemon's pid still answers kill -0.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
REPO_DIR = LAB_DIR.parent
VENV_PYTHON = REPO_DIR / ".venv" / "bin" / "python"

try:
    import psycopg2
    import psycopg2.errors
    import psycopg2.extras
    import redis
    import redis_faults  # lab/ is on sys.path: the script's folder, or put there by the tests
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError:  # the system python has neither; the venv has both
    if __name__ == "__main__" and VENV_PYTHON.exists() and Path(sys.executable) != VENV_PYTHON:
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    raise

LOOPBACK = "127.0.0.1"
PG_BIN = Path(os.environ.get("PERF_LAB_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_SUPERUSER = "postgres"
DB_NAME = "holi_protocol"
APP_USER = "holi_app"
MONITOR_USER = "perf_monitor"
REDIS_MONITOR_USER = "perf_monitor"
PATIENT_ROWS = 500_000
APPOINTMENT_ROWS = 1_000_000
FAULT_APP_PREFIX = "lab-fault:"
# Marks a folder as ours, so destroy never deletes a folder someone pointed PERF_LAB_STATE at by mistake.
STATE_MARKER = ".perf-lab-state"


class LabError(Exception):
    """A failure with a one-line message for the operator."""


# --------------------------------------------------------------------------- settings and secrets


def settings() -> dict:
    """Ports, paths, names: read from the environment each time so tests can point at another lab."""
    state = Path(os.environ.get("PERF_LAB_STATE") or REPO_DIR / ".lab").resolve()
    pg_port = int(os.environ.get("PERF_LAB_PG_PORT", "25432"))
    redis_port = int(os.environ.get("PERF_LAB_REDIS_PORT", "26379"))
    api_port = int(os.environ.get("PERF_LAB_API_PORT", "28080"))
    return {
        "state_dir": str(state),
        "pg_host": LOOPBACK,
        "pg_port": pg_port,
        "pg_db": DB_NAME,
        "pg_superuser": PG_SUPERUSER,
        "pg_app_user": APP_USER,
        "pg_monitor_user": MONITOR_USER,
        "pg_app_password_file": str(state / "secrets" / "app.password"),
        "pg_monitor_password_file": str(state / "secrets" / "monitor.password"),
        "pg_bin": str(PG_BIN),
        "pg_data": str(state / "pg" / "data"),
        "pg_socket_dir": str(state / "pg" / "run"),
        "pg_log_dir": str(state / "pg" / "log"),
        "redis_host": LOOPBACK,
        "redis_port": redis_port,
        "redis_monitor_user": REDIS_MONITOR_USER,
        "redis_app_password_file": str(state / "secrets" / "redis_app.password"),
        "redis_monitor_password_file": str(state / "secrets" / "redis_monitor.password"),
        "redis_acl_file": str(state / "redis" / "users.acl"),
        "redis_dir": str(state / "redis"),
        "redis_pid_file": str(state / "redis" / "redis.pid"),
        "redis_log": str(state / "redis" / "redis.log"),
        "api_host": LOOPBACK,
        "api_port": api_port,
        "api_url": f"http://{LOOPBACK}:{api_port}",
        "api_pid_file": str(state / "logs" / "api.pid"),
        "api_log": str(state / "logs" / "api.log"),
        "access_log": str(state / "logs" / "access.log"),
        "faults_dir": str(state / "faults"),
        "python": str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)),
    }


def read_secret(name: str) -> str:
    """A generated password: 'app' / 'monitor' (PostgreSQL), 'redis_app' / 'redis_monitor' (Redis);
    a trailing '.password' is accepted."""
    name = name.removesuffix(".password")
    path = Path(settings()["state_dir"]) / "secrets" / f"{name}.password"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise LabError(f"secret {name} not found at {path}: run 'labctl up' first") from None


def _ensure_secret(name: str) -> str:
    """Generate a password once; later runs reuse it so clients keep working across up/down."""
    path = Path(settings()["state_dir"]) / "secrets" / f"{name}.password"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


# --------------------------------------------------------------------------- small process helpers


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: hand them to the postgres account."""
    return ["runuser", "-u", PG_SUPERUSER, "--", *command] if _running_as_root() else command


def _run(command: list[str], cwd: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        program = Path(command[4] if command[0] == "runuser" else command[0]).name
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise LabError(f"{program} failed: {detail[-1] if detail else f'exit {result.returncode}'}")
    return result


def _tail(path: str | Path, lines: int = 3) -> str:
    try:
        return " | ".join(Path(path).read_text(errors="replace").strip().splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def _process_alive(pid: int, needle: str) -> bool:
    """Alive = exists, not a zombie, and still the program we started (pids get reused)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and needle in cmdline


def _read_pid(path: str | Path) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


# Children started by this process: reaped when stopped, so a long test session leaves no zombies.
_CHILDREN: dict[int, subprocess.Popen] = {}


def _spawn_detached(command: list[str], log_path: str | Path, pid_path: str | Path, append: bool = True) -> int:
    """Start a daemon in its own session, output to a log, pid to a file."""
    with open(log_path, "ab" if append else "wb") as log:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=str(LAB_DIR),
        )
    _CHILDREN[child.pid] = child
    Path(pid_path).write_text(f"{child.pid}\n")
    return child.pid


def _stop_process(pid_path: str | Path, needle: str, timeout: float = 10.0) -> bool:
    """SIGTERM the process named in a pid file (only if it is still ours), wait, then SIGKILL."""
    pid = _read_pid(pid_path)
    stopped = False
    if pid and _process_alive(pid, needle):
        os.kill(pid, signal.SIGTERM)
        if not _wait_until(lambda: not _process_alive(pid, needle), timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_until(lambda: not _process_alive(pid, needle), 5)
        stopped = True
    if pid in _CHILDREN:
        _CHILDREN.pop(pid).wait(timeout=5)
    Path(pid_path).unlink(missing_ok=True)
    return stopped


def _wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((LOOPBACK, port)) == 0


def _refuse_taken_port(port: int, service: str, variable: str) -> None:
    if _port_answers(port):
        raise LabError(f"port {port} on {LOOPBACK} is taken by something else: set {variable} for the lab's {service}")


# --------------------------------------------------------------------------- state folder


def _prepare_state_dir() -> Path:
    state = Path(settings()["state_dir"])
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)  # postgres must be able to traverse it
    (state / STATE_MARKER).touch()
    for name in ("logs", "faults", "redis"):
        (state / name).mkdir(exist_ok=True)
    return state


def _first_blocked_ancestor(path: Path) -> Path | None:
    """The first folder on the way to path that the postgres account cannot enter."""
    for folder in [*reversed(path.parents), path]:
        if _run(_as_postgres(["test", "-x", str(folder)]), check=False).returncode != 0:
            return folder
    return None


def _prepare_pg_dirs() -> None:
    cfg = settings()
    pg_root = Path(cfg["pg_data"]).parent
    for folder in (pg_root, Path(cfg["pg_socket_dir"]), Path(cfg["pg_log_dir"])):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _running_as_root():
            shutil.chown(folder, PG_SUPERUSER, PG_SUPERUSER)
    if _running_as_root():
        blocked = _first_blocked_ancestor(pg_root)
        if blocked:
            raise LabError(f"the postgres account cannot enter {blocked}: put PERF_LAB_STATE somewhere it can traverse")


# --------------------------------------------------------------------------- PostgreSQL


def _pg_ctl(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    cfg = settings()
    command = _as_postgres([str(PG_BIN / "pg_ctl"), "-D", cfg["pg_data"], *arguments])
    return _run(command, cwd=str(Path(cfg["pg_data"]).parent), check=check)


def postgres_running() -> bool:
    if not (Path(settings()["pg_data"]) / "PG_VERSION").exists():
        return False
    return _pg_ctl("status", check=False).returncode == 0


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_pg_config() -> None:
    """Rewritten on every up so a port change in the environment takes effect."""
    cfg = settings()
    data = Path(cfg["pg_data"])
    lab_conf = f"""# Written by lab/labctl.py on every 'up': edits here are lost.
listen_addresses = '{LOOPBACK}'
port = {cfg["pg_port"]}
unix_socket_directories = {_sql_literal(cfg["pg_socket_dir"])}
max_connections = 100
shared_buffers = 256MB
password_encryption = 'scram-sha-256'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
track_io_timing = on
logging_collector = on
log_directory = {_sql_literal(cfg["pg_log_dir"])}
log_filename = 'postgresql.log'
log_line_prefix = '%m [%p] %q%u@%d app=%a '
# What a production cluster usually logs, so the runbook has something to grep.
log_min_duration_statement = 1000
log_lock_waits = on
"""
    (data / "lab.conf").write_text(lab_conf)
    # The socket folder is private to the lab's owner; peer auth maps root (and us) to the superuser.
    (data / "pg_hba.conf").write_text(
        "# TYPE  DATABASE  USER      ADDRESS         METHOD\n"
        f"local   all       {PG_SUPERUSER}                  peer map=lab\n"
        f"host    all       all       {LOOPBACK}/32    scram-sha-256\n"
    )
    os_users = sorted({"root", PG_SUPERUSER, _current_os_user()})
    (data / "pg_ident.conf").write_text("".join(f"lab  {user}  {PG_SUPERUSER}\n" for user in os_users))
    if _running_as_root():
        for name in ("lab.conf", "pg_hba.conf", "pg_ident.conf"):
            shutil.chown(data / name, PG_SUPERUSER, PG_SUPERUSER)


def _current_os_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _initdb() -> None:
    cfg = settings()
    command = [
        str(PG_BIN / "initdb"),
        "-D",
        cfg["pg_data"],
        "-U",
        PG_SUPERUSER,
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--auth-local=peer",
        "--auth-host=scram-sha-256",
        # A throwaway cluster: skipping fsync at init saves a second or two.
        "--no-sync",
    ]
    _run(_as_postgres(command), cwd=str(Path(cfg["pg_data"]).parent))
    conf = Path(cfg["pg_data"]) / "postgresql.conf"
    with conf.open("a") as handle:
        handle.write("\ninclude = 'lab.conf'\n")


def _start_postgres() -> None:
    cfg = settings()
    _refuse_taken_port(cfg["pg_port"], "PostgreSQL", "PERF_LAB_PG_PORT")
    startup_log = Path(cfg["pg_log_dir"]) / "startup.log"
    result = _pg_ctl("-l", str(startup_log), "-w", "-t", "30", "start", check=False)
    if result.returncode != 0:
        detail = _tail(startup_log) or _tail(Path(cfg["pg_log_dir"]) / "postgresql.log")
        raise LabError(f"PostgreSQL did not start: {detail or result.stderr.strip()}")


def _stop_postgres() -> bool:
    if not postgres_running():
        return False
    _pg_ctl("-m", "fast", "-w", "-t", "30", "stop")
    return True


def superuser_connect(dbname: str = DB_NAME, autocommit: bool = True):
    """A psycopg2 connection as the superuser over the lab's private unix socket."""
    cfg = settings()
    try:
        connection = psycopg2.connect(
            host=cfg["pg_socket_dir"],
            port=cfg["pg_port"],
            user=PG_SUPERUSER,
            dbname=dbname,
            application_name="labctl",
            connect_timeout=5,
            # The lab's own bookkeeping must not show up among the application's statements.
            options="-c pg_stat_statements.track=none",
        )
    except psycopg2.OperationalError as error:
        raise LabError(f"cannot connect to the lab's PostgreSQL as {PG_SUPERUSER}: {_one_line(error)}") from None
    connection.autocommit = autocommit
    return connection


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or error.__class__.__name__


def _query(statement: str, args=None, dbname: str = DB_NAME) -> list[dict]:
    """Run one statement as superuser and return rows as dicts (empty for statements without rows)."""
    connection = superuser_connect(dbname)
    try:
        with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
            cursor.execute(statement, args)
            return [dict(row) for row in cursor.fetchall()] if cursor.description else []
    finally:
        connection.close()


BOOTSTRAP_MARKER = "bootstrap.json"

# Prisma's migration SQL for the two models: quoted camelCase names, named PK and FK constraints.
# The constraints are added after the load (as pg_restore does): building them once is faster than row by row.
SCHEMA_SQL = """
CREATE TABLE "Patient" (
    "id" SERIAL NOT NULL,
    "firstName" TEXT NOT NULL,
    "lastName" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "dateOfBirth" DATE,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL
);
CREATE TABLE "Appointment" (
    "id" SERIAL NOT NULL,
    "patientId" INTEGER NOT NULL,
    "scheduledFor" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'scheduled',
    "notes" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
"""

CONSTRAINTS_SQL = """
ALTER TABLE "Patient" ADD CONSTRAINT "Patient_pkey" PRIMARY KEY ("id");
ALTER TABLE "Appointment" ADD CONSTRAINT "Appointment_pkey" PRIMARY KEY ("id");
ALTER TABLE "Appointment" ADD CONSTRAINT "Appointment_patientId_fkey"
    FOREIGN KEY ("patientId") REFERENCES "Patient"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
"""

# Ids and createdAt grow together, as in production; createdAt spans the last three years.
DATA_SQL = """
SELECT setseed(0.42);
INSERT INTO "Patient" ("id", "firstName", "lastName", "email", "dateOfBirth", "createdAt", "updatedAt")
SELECT i,
       (ARRAY['Ana','Luis','Maria','Jose','Sofia','Diego','Lucia','Carlos','Elena','Pablo','Camila',
              'Mateo','Valentina','Javier','Isabel','Andres','Paula','Miguel','Laura','Tomas'])[1 + mod(i, 20)],
       (ARRAY['Garcia','Rodriguez','Martinez','Lopez','Gonzalez','Perez','Sanchez','Ramirez','Torres','Flores',
              'Rivera','Gomez','Diaz','Cruz','Morales','Reyes','Ortiz','Castillo','Vargas','Romero'])
           [1 + mod(i / 20, 20)],
       'patient' || i || '@example.test',
       date '1940-01-01' + (random() * 29000)::int,
       created,
       created + random() * (now() - created)
FROM (SELECT i, now() - interval '3 years' + (i::float8 / %(patients)s) * interval '3 years'
                - random() * interval '1 hour' AS created
      FROM generate_series(1, %(patients)s) AS i) AS generated;
SELECT setval(pg_get_serial_sequence('"Patient"', 'id'), %(patients)s);

INSERT INTO "Appointment" ("id", "patientId", "scheduledFor", "status", "notes", "createdAt")
SELECT i, patient, scheduled,
       CASE WHEN scheduled > now() THEN 'scheduled'
            ELSE (ARRAY['completed','completed','completed','cancelled','no_show'])[1 + (random() * 4)::int] END,
       CASE WHEN random() < 0.3 THEN 'Follow-up visit ' || i END,
       scheduled - random() * interval '30 days'
-- volatile random() in the subquery keeps it per row (an uncorrelated LATERAL would run once)
FROM (SELECT i, 1 + (random() * (%(patients)s - 1))::int AS patient,
             now() - interval '3 years' + random() * interval '3 years 6 months' AS scheduled
      FROM generate_series(1, %(appointments)s) AS i) AS generated;
SELECT setval(pg_get_serial_sequence('"Appointment"', 'id'), %(appointments)s);
"""

BASELINE_INDEXES = {
    "idx_patient_createdat": 'CREATE INDEX {concurrently} idx_patient_createdat ON "Patient" ("createdAt" DESC)',
    "idx_appointment_patientid": 'CREATE INDEX {concurrently} idx_appointment_patientid ON "Appointment" ("patientId")',
    "idx_appointment_scheduledfor": (
        'CREATE INDEX {concurrently} idx_appointment_scheduledfor ON "Appointment" ("scheduledFor")'
    ),
}


def _bootstrapped() -> bool:
    return (Path(settings()["state_dir"]) / BOOTSTRAP_MARKER).exists()


def _create_roles_and_database() -> None:
    app_password = _ensure_secret("app")
    monitor_password = _ensure_secret("monitor")
    connection = superuser_connect("postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            for role in (APP_USER, MONITOR_USER):
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                if not cursor.fetchone():
                    cursor.execute(f"CREATE ROLE {role} LOGIN")
            cursor.execute(f"ALTER ROLE {APP_USER} LOGIN NOSUPERUSER PASSWORD %s", (app_password,))
            cursor.execute(f"ALTER ROLE {MONITOR_USER} LOGIN NOSUPERUSER PASSWORD %s", (monitor_password,))
            cursor.execute(f"GRANT pg_monitor TO {MONITOR_USER}")
            cursor.execute(f"CREATE DATABASE {DB_NAME} OWNER {APP_USER}")
            cursor.execute(f"REVOKE CONNECT ON DATABASE {DB_NAME} FROM PUBLIC")
            cursor.execute(f"GRANT CONNECT ON DATABASE {DB_NAME} TO {APP_USER}, {MONITOR_USER}")
    finally:
        connection.close()


def _timed(timings: dict, step: str, cursor, statement: str, args=None) -> None:
    started = time.monotonic()
    cursor.execute(statement, args)
    timings[step] = round(time.monotonic() - started, 2)


def _load_schema_and_data() -> dict:
    """Schema, rows, indexes, statistics; returns seconds per step so slow machines show where."""
    timings = {}
    connection = superuser_connect(DB_NAME)
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cursor.execute("SET maintenance_work_mem = '256MB'")
            # The application's role owns what it creates, as after a Prisma migration.
            cursor.execute(f"SET ROLE {APP_USER}")
            cursor.execute(SCHEMA_SQL)
            _timed(timings, "rows_s", cursor, DATA_SQL, {"patients": PATIENT_ROWS, "appointments": APPOINTMENT_ROWS})
            _timed(timings, "constraints_s", cursor, CONSTRAINTS_SQL)
            indexes = "; ".join(statement.format(concurrently="") for statement in BASELINE_INDEXES.values())
            _timed(timings, "indexes_s", cursor, indexes)
            cursor.execute("RESET ROLE")
            _timed(timings, "vacuum_analyze_s", cursor, 'VACUUM (ANALYZE) "Patient", "Appointment"')
    finally:
        connection.close()
    return timings


def _bootstrap() -> dict:
    started = time.monotonic()
    _create_roles_and_database()
    timings = _load_schema_and_data()
    _reset_postgres_stats()
    timings["total_s"] = round(time.monotonic() - started, 2)
    timings["patients"] = PATIENT_ROWS
    timings["appointments"] = APPOINTMENT_ROWS
    marker = Path(settings()["state_dir"]) / BOOTSTRAP_MARKER
    marker.write_text(json.dumps(timings, indent=2) + "\n")
    return timings


def _reset_postgres_stats() -> None:
    """Zero the counters a diagnosis reads. No ANALYZE afterwards: it reads every sampled block from disk
    into the statistics, and a healthy lab would show a cache hit ratio near 0 %. pg_stat_reset() zeroes
    n_live_tup too; row counts stay in pg_class.reltuples, which is what the checks read."""
    _query("SELECT pg_stat_reset(); SELECT pg_stat_statements_reset()")


# --------------------------------------------------------------------------- Redis

# perf_monitor: what a read-only diagnosis needs and nothing that writes data or configuration. All read
# commands but KEYS (it blocks the server on a big keyspace; SCAN does the same job in steps), the
# introspection commands, and SLOWLOG RESET (the diagnosis resets the slow log when asked to).
# %R~* makes its key access read-only as well, whatever a command category may grow to include.
REDIS_MONITOR_RULES = (
    "resetchannels",  # no pub/sub
    "%R~*",
    "-@all",
    "+@read",  # GET, LRANGE, ZRANGE, HGETALL, EXISTS, TTL, DBSIZE, OBJECT ENCODING ... (and KEYS, taken back below)
    "-keys",
    "+ping", "+hello", "+auth", "+info",
    "+scan", "+type", "+strlen", "+hlen", "+llen", "+scard", "+zcard", "+xlen",
    "+memory|usage", "+memory|stats",
    "+slowlog|get", "+slowlog|len", "+slowlog|reset",
    "+latency",  # LATEST, HISTORY, DOCTOR, GRAPH, HISTOGRAM; RESET only clears the latency samples
    "+config|get",
    "+client|list", "+client|setname",
    "+select",  # a site keeps sessions and queues in numbered databases; switching one changes nothing
)  # fmt: skip


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically (a half-written ACL file stops Redis from starting)."""
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    temporary.replace(path)


def _acl_password(password: str) -> str:
    """ACL rule for a password given as its SHA-256: the file never holds the password itself."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def _write_redis_acl_file() -> None:
    """The users live in an ACL file rather than in --requirepass / --user arguments: in place from the
    server's first second all the same, and no password on a command line that ps shows to everyone."""
    app_password = _ensure_secret("redis_app")
    monitor_password = _ensure_secret("redis_monitor")
    lines = [
        f"user default on {_acl_password(app_password)} ~* &* +@all",
        f"user {REDIS_MONITOR_USER} on {_acl_password(monitor_password)} {' '.join(REDIS_MONITOR_RULES)}",
    ]
    _write_private(Path(settings()["redis_acl_file"]), "\n".join(lines) + "\n")


def redis_connect(
    timeout: float = 1.0, client_name: str | None = None, decode_responses: bool = True, authenticate: bool = True
):
    """A redis-py client for the lab's Redis as the default user (the application's password)."""
    cfg = settings()
    # RESP2: redis-py's RESP3 handshake (HELLO 3) can land in the slow log the runbook reads.
    # No retries: redis-py 8 retries a refused connection with backoff for about 3.5 s by default,
    # which would make every "is it down?" check slow.
    # driver_info=None: no CLIENT SETINFO round trip on connect (Redis 7.0 does not know it anyway).
    return redis.Redis(
        host=LOOPBACK,
        port=cfg["redis_port"],
        password=read_secret("redis_app") if authenticate else None,
        protocol=2,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        client_name=client_name,
        decode_responses=decode_responses,
        driver_info=None,
    )


def _serves_our_dir(client) -> bool:
    try:
        client.ping()
        served_dir = client.config_get("dir").get("dir", "")
    finally:
        client.close()
    return Path(served_dir).resolve() == Path(settings()["redis_dir"]).resolve()


def _redis_auth_mode() -> str | None:
    """'password' when our Redis answers to the app password, 'open' when it answers without one (a lab
    started before Redis had users), None when our Redis is not there (another Redis may hold the port)."""
    has_password = Path(settings()["redis_app_password_file"]).exists()
    for mode, authenticate in (("password", True), ("open", False)):
        if authenticate and not has_password:
            continue
        with contextlib.suppress(redis.RedisError):
            if _serves_our_dir(redis_connect(authenticate=authenticate)):
                return mode
    return None


def redis_running() -> bool:
    """Our Redis answers PING on the port and serves from our folder, with or without a password."""
    return _redis_auth_mode() is not None


def _redis_ready() -> bool:
    """Running with the lab's users: what faults, reset-stats and the API need."""
    return _redis_auth_mode() == "password"


def _start_redis() -> None:
    cfg = settings()
    _refuse_taken_port(cfg["redis_port"], "Redis", "PERF_LAB_REDIS_PORT")
    _write_redis_acl_file()
    command = [
        "redis-server",
        "--port", str(cfg["redis_port"]),
        "--bind", LOOPBACK,
        "--save", "",
        "--appendonly", "no",
        "--enable-debug-command", "local",
        "--aclfile", cfg["redis_acl_file"],
        "--daemonize", "yes",
        "--pidfile", cfg["redis_pid_file"],
        "--logfile", cfg["redis_log"],
        "--dir", cfg["redis_dir"],
    ]  # fmt: skip
    _run(command, cwd=cfg["redis_dir"])
    if not _wait_until(_redis_ready, 10):
        raise LabError(f"Redis did not answer PING on port {cfg['redis_port']}: {_tail(cfg['redis_log'])}")
    _forget_redis_data_faults()


def _forget_redis_data_faults() -> None:
    """A fresh Redis holds no data (--save "", no AOF): what the data faults reported before is gone with it."""
    for name, fault in FAULTS.items():
        if fault["service"] == "redis" and not fault["worker"]:
            _fault_paths(name)["info"].unlink(missing_ok=True)


def _reload_redis_acl() -> None:
    """A running Redis gets the users this file defines: rules edited here, or changed at runtime by a test
    (ACL SETUSER), come back to what they should be."""
    _write_redis_acl_file()
    client = redis_connect()
    try:
        client.acl_load()
    finally:
        client.close()


def _stop_redis() -> bool:
    mode = _redis_auth_mode()
    if mode is None:
        return False
    with contextlib.suppress(redis.ConnectionError):  # the server closes the connection as it exits
        redis_connect(authenticate=mode == "password").shutdown(nosave=True)
    if not _wait_until(lambda: not redis_running(), 10):
        raise LabError("Redis still answers PING after SHUTDOWN")
    Path(settings()["redis_pid_file"]).unlink(missing_ok=True)
    return True


# --------------------------------------------------------------------------- demo API


def _api_get(path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(settings()["api_url"] + path, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def api_running() -> bool:
    """Anything that answers /api/health with JSON, healthy (200) or not (503), is a running API."""
    try:
        _status, body = _api_get("/api/health", timeout=2)
        return "checks" in json.loads(body)
    except (OSError, ValueError):
        return False


def _start_api() -> None:
    cfg = settings()
    _refuse_taken_port(cfg["api_port"], "demo API", "PERF_LAB_API_PORT")
    _spawn_detached([cfg["python"], str(LAB_DIR / "demo_api.py")], cfg["api_log"], cfg["api_pid_file"])
    if not _wait_until(api_running, 15):
        raise LabError(f"the demo API did not answer on {cfg['api_url']}: {_tail(cfg['api_log'])}")


def _stop_api() -> bool:
    cfg = settings()
    stopped = _stop_process(cfg["api_pid_file"], "demo_api.py")
    if not _wait_until(lambda: not _port_answers(cfg["api_port"]), 10):
        raise LabError(f"something still listens on the API port {cfg['api_port']} after stopping the demo API")
    return stopped


def _reset_api_metrics() -> bool:
    request = urllib.request.Request(settings()["api_url"] + "/api/metrics/reset", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- lifecycle


def _step(steps: dict, name: str, action) -> None:
    """Run one step of up() and note its seconds, so a slow machine shows where the time goes."""
    started = time.monotonic()
    result = action()
    steps[name] = {"seconds": round(time.monotonic() - started, 2), **result}


def _ensure_cluster() -> dict:
    data = Path(settings()["pg_data"])
    if (data / "PG_VERSION").exists():
        return {"state": "exists"}
    if data.exists():
        shutil.rmtree(data)  # left by an initdb that did not finish: ours, and useless
    _initdb()
    return {"state": "created by initdb"}


def _ensure_postgres() -> dict:
    if postgres_running():
        return {"state": "already running"}
    _write_pg_config()
    _start_postgres()
    return {"state": "started"}


def _ensure_bootstrap() -> dict:
    return {"state": "already loaded"} if _bootstrapped() else {"state": "loaded", **_bootstrap()}


def _ensure_redis() -> dict:
    mode = _redis_auth_mode()
    if mode == "password":
        _reload_redis_acl()
        return {"state": "already running"}
    if mode == "open":
        # Started before Redis had users and passwords. It keeps no data (--save "", no AOF): nothing is lost.
        _stop_redis()
        _start_redis()
        return {"state": "restarted with users and passwords"}
    _start_redis()
    return {"state": "started"}


def _ensure_api(restart: bool = False) -> dict:
    """restart: Redis was just (re)started, and an API started before it may not know its password."""
    if not api_running():
        _start_api()
        return {"state": "started"}
    if not restart:
        return {"state": "already running"}
    _stop_api()
    _start_api()
    return {"state": "restarted after Redis"}


def up() -> dict:
    """Start whatever is not running; the first time also create the cluster, schema and data."""
    started = time.monotonic()
    _prepare_state_dir()
    _prepare_pg_dirs()
    steps = {}
    _step(steps, "cluster", _ensure_cluster)
    _step(steps, "postgres", _ensure_postgres)
    _step(steps, "data", _ensure_bootstrap)
    _step(steps, "redis", _ensure_redis)
    _step(steps, "api", lambda: _ensure_api(restart=steps["redis"]["state"] != "already running"))
    return {"up": True, "seconds": round(time.monotonic() - started, 2), "steps": steps}


def down() -> dict:
    """Stop fault workers, the API, Redis and PostgreSQL; data stays."""
    stopped_faults = _stop_all_fault_workers()
    result = {
        "down": True,
        "fault_workers_stopped": stopped_faults,
        "api": "stopped" if _stop_api() else "not running",
        "redis": "stopped" if _stop_redis() else "not running",
        "postgres": "stopped" if _stop_postgres() else "not running",
    }
    return result


def destroy() -> dict:
    """down, then delete the state folder (only if it carries the lab's marker)."""
    state = Path(settings()["state_dir"])
    if state.exists() and not (state / STATE_MARKER).exists():
        raise LabError(f"{state} has no {STATE_MARKER} marker: refusing to delete a folder the lab did not create")
    if not state.exists():
        return {"destroyed": str(state), "existed": False}
    result = down()
    shutil.rmtree(state)
    return {**result, "destroyed": str(state), "existed": True}


def status() -> dict:
    cfg = settings()
    activity = _fault_activity()
    redis_mode = _redis_auth_mode()
    services = {
        "postgres": {"running": postgres_running(), "port": cfg["pg_port"], "host": LOOPBACK},
        "redis": {"running": redis_mode is not None, "port": cfg["redis_port"], "host": LOOPBACK},
        "api": {"running": api_running(), "port": cfg["api_port"], "url": cfg["api_url"]},
    }
    if redis_mode == "open":
        services["redis"]["needs_restart"] = "runs without passwords: 'labctl up' restarts it with the lab's users"
    return {
        "state_dir": cfg["state_dir"],
        "bootstrapped": _bootstrapped(),
        "all_running": all(service["running"] for service in services.values()),
        "services": services,
        "active_faults": [name for name, active in activity.items() if active] if activity else None,
    }


def reset_stats(truncate_access_log: bool = False) -> dict:
    """A clean baseline for observation: PostgreSQL and pg_stat_statements counters, API metrics, Redis slow log."""
    # The API first: it closes its database connections, whose backends flush pending counters as they
    # exit; resetting PostgreSQL before they are gone would let old sequential scans reappear.
    api_metrics = _reset_api_metrics()
    _wait_until(lambda: not _query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'demo-api'"), 5.0)
    _reset_postgres_stats()
    result = {"postgres": "pg_stat_reset, pg_stat_statements_reset", "api_metrics": api_metrics}
    if _redis_ready():
        client = redis_connect()
        client.slowlog_reset()
        client.config_resetstat()
        client.close()
        result["redis"] = "SLOWLOG RESET, CONFIG RESETSTAT"
    if truncate_access_log:
        # The API appends with O_APPEND, so truncating in place is safe while it runs.
        Path(settings()["access_log"]).write_text("")
        result["access_log"] = "truncated"
    return result


def env_lines() -> list[str]:
    cfg = settings()
    values = {
        "PERF_LAB_PG_HOST": cfg["pg_host"],
        "PERF_LAB_PG_PORT": cfg["pg_port"],
        "PERF_LAB_PG_DB": cfg["pg_db"],
        "PERF_LAB_PG_MONITOR_USER": cfg["pg_monitor_user"],
        "PERF_LAB_PG_MONITOR_PASSWORD_FILE": cfg["pg_monitor_password_file"],
        "PERF_LAB_PG_APP_USER": cfg["pg_app_user"],
        "PERF_LAB_PG_APP_PASSWORD_FILE": cfg["pg_app_password_file"],
        "PERF_LAB_REDIS_HOST": cfg["redis_host"],
        "PERF_LAB_REDIS_PORT": cfg["redis_port"],
        "PERF_LAB_REDIS_MONITOR_USER": cfg["redis_monitor_user"],
        "PERF_LAB_REDIS_MONITOR_PASSWORD_FILE": cfg["redis_monitor_password_file"],
        "PERF_LAB_REDIS_APP_PASSWORD_FILE": cfg["redis_app_password_file"],
        "PERF_LAB_API_URL": cfg["api_url"],
        "PERF_LAB_ACCESS_LOG": cfg["access_log"],
        "PERF_LAB_STATE": cfg["state_dir"],
    }
    return [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]


# --------------------------------------------------------------------------- faults: shared plumbing


def _fault_paths(name: str) -> dict:
    folder = Path(settings()["faults_dir"])
    return {"pid": folder / f"{name}.pid", "info": folder / f"{name}.json", "log": folder / f"{name}.log"}


def _write_info(name: str, info: dict) -> None:
    path = _fault_paths(name)["info"]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(info, indent=2, default=str) + "\n")
    temporary.replace(path)


def _read_info(name: str) -> dict | None:
    try:
        return json.loads(_fault_paths(name)["info"].read_text())
    except (FileNotFoundError, ValueError):
        return None


def _fault_sessions(name: str) -> list[dict]:
    return _query(
        """SELECT pid, state, wait_event_type, wait_event, query, pg_blocking_pids(pid) AS blocked_by
           FROM pg_stat_activity WHERE application_name = %s ORDER BY backend_start""",
        (FAULT_APP_PREFIX + name,),
    )


def _terminate_fault_sessions(name: str) -> int:
    """Leftovers the worker did not close (a backend in pg_sleep does not notice its client left)."""
    rows = _query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (FAULT_APP_PREFIX + name,),
    )
    if not _wait_until(lambda: not _fault_sessions(name), 10):
        raise LabError(f"sessions of fault {name} survived pg_terminate_backend")
    return len(rows)


def _start_worker(name: str, *arguments: str) -> int:
    cfg = settings()
    paths = _fault_paths(name)
    paths["info"].unlink(missing_ok=True)
    command = [cfg["python"], str(LAB_DIR / "fault_worker.py"), name, *arguments]
    # A fresh log per injection, so a failure message is this run's.
    return _spawn_detached(command, paths["log"], paths["pid"], append=False)


def _worker_alive(name: str) -> bool:
    pid = _read_pid(_fault_paths(name)["pid"])
    return bool(pid) and _process_alive(pid, "fault_worker.py")


def _await_fault(name: str, verify, timeout: float = 15.0, undo=None, name_key: str = "application_name") -> dict:
    """Wait until the worker reported its sessions and the service confirms the fault; else undo and fail.
    undo defaults to stopping a PostgreSQL fault's worker and its sessions; name_key labels the
    'lab-fault:<name>' the sessions carry (application_name in PostgreSQL, client name in Redis)."""
    undo = undo or _clear_worker_fault
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker_info = _read_info(name)
        if worker_info is not None:
            verified = verify(worker_info)
            if verified:
                worker_pid = _read_pid(_fault_paths(name)["pid"])
                return {**verified, name_key: FAULT_APP_PREFIX + name, "worker_pid": worker_pid}
        if not _worker_alive(name):
            problem = _tail(_fault_paths(name)["log"]) or "no output"
            undo(name)
            raise LabError(f"fault worker {name} exited before the fault was in place: {problem}")
        time.sleep(0.2)
    undo(name)
    raise LabError(f"fault {name} was not in place after {timeout:.0f} s; undone")


def _clear_worker_fault(name: str) -> dict:
    paths = _fault_paths(name)
    worker_stopped = _stop_process(paths["pid"], "fault_worker.py")
    terminated = _terminate_fault_sessions(name) if postgres_running() else 0
    paths["info"].unlink(missing_ok=True)
    return {"cleared": name, "worker_stopped": worker_stopped, "sessions_terminated": terminated}


def _worker_fault_active(name: str) -> bool:
    return bool(_fault_sessions(name))


def _stop_all_fault_workers() -> list[str]:
    stopped = []
    for name, fault in FAULTS.items():
        if fault.get("worker") and (_worker_alive(name) or _fault_paths(name)["pid"].exists()):
            # A PostgreSQL worker's clear also terminates its sessions, which needs the server.
            if fault["service"] != "postgres" or postgres_running():
                fault["clear"](name)
            else:
                _stop_process(_fault_paths(name)["pid"], "fault_worker.py")
                _fault_paths(name)["info"].unlink(missing_ok=True)
            stopped.append(name)
    return stopped


def _existing_fault(name: str) -> dict | None:
    """Inject is idempotent: a fault already in place returns its info instead of doubling up."""
    info = _read_info(name)
    if info and FAULTS[name]["active"](name):
        return {**info, "already_active": True}
    return None


def _require_running(*services: str) -> None:
    checks = {"postgres": postgres_running, "redis": _redis_ready, "api": api_running}
    missing = [service for service in services if not checks[service]()]
    if "redis" in missing and redis_running():
        raise LabError("Redis runs without the lab's users and passwords: run 'labctl up' to restart it with them")
    if missing:
        raise LabError(f"{', '.join(missing)} not running: run 'labctl up' first")


# --------------------------------------------------------------------------- fault: long-query


LONG_QUERY = 'SELECT count(*) FROM "Appointment" a WHERE a."id" = 1 AND pg_sleep(3600) IS NOT NULL'


def _verify_long_query(worker_info: dict) -> dict | None:
    for session in _fault_sessions("long-query"):
        if session["pid"] == worker_info["pid"] and session["state"] == "active" and session["wait_event"] == "PgSleep":
            return {"fault": "long-query", "pid": session["pid"], "query": session["query"]}
    return None


def _inject_long_query() -> dict:
    _start_worker("long-query", "--query", LONG_QUERY)
    return _await_fault("long-query", _verify_long_query)


# --------------------------------------------------------------------------- fault: blocking-lock


def _verify_blocking_lock(worker_info: dict) -> dict | None:
    sessions = {session["pid"]: session for session in _fault_sessions("blocking-lock")}
    holder = sessions.get(worker_info["blocking_pid"])
    waiters = [sessions.get(pid) for pid in worker_info["blocked_pids"]]
    if not holder or holder["state"] != "idle in transaction" or not all(waiters):
        return None
    if not all(waiter["blocked_by"] for waiter in waiters):
        return None
    return {
        "fault": "blocking-lock",
        "blocking_pid": holder["pid"],
        "blocked_pids": [waiter["pid"] for waiter in waiters],
        "waits_for": {str(waiter["pid"]): waiter["blocked_by"] for waiter in waiters},
        "blocking_query": holder["query"],
        "blocked_query": waiters[0]["query"],
    }


def _inject_blocking_lock() -> dict:
    _start_worker("blocking-lock")
    return _await_fault("blocking-lock", _verify_blocking_lock)


# --------------------------------------------------------------------------- fault: connection-flood


FLOOD_SHARE_OF_MAX = 0.9


def _client_connection_count() -> tuple[int, int]:
    """Client backends other than our own, and max_connections."""
    row = _query(
        """SELECT count(*) FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) AS clients,
                  current_setting('max_connections')::int AS max_connections
           FROM pg_stat_activity"""
    )[0]
    return row["clients"], row["max_connections"]


def _verify_connection_flood(worker_info: dict) -> dict | None:
    sessions = _fault_sessions("connection-flood")
    idle = sum(1 for session in sessions if session["state"] == "idle")
    in_transaction = sum(1 for session in sessions if session["state"] == "idle in transaction")
    if idle != worker_info["idle"] or in_transaction != worker_info["idle_in_transaction"]:
        return None
    clients, max_connections = _client_connection_count()
    return {
        "fault": "connection-flood",
        "connections": len(sessions),
        "idle": idle,
        "idle_in_transaction": in_transaction,
        "max_connections": max_connections,
        "total_client_connections": clients,
        "utilization_percent": round(100 * clients / max_connections, 1),
    }


def _inject_connection_flood() -> dict:
    clients, max_connections = _client_connection_count()
    # Stop at 90 %: superuser_reserved_connections and the rest keep room for a monitoring session.
    to_open = int(max_connections * FLOOD_SHARE_OF_MAX) - clients
    if to_open <= 0:
        raise LabError(f"already {clients} of {max_connections} connections in use: nothing to flood")
    _start_worker("connection-flood", "--connections", str(to_open))
    return _await_fault("connection-flood", _verify_connection_flood, timeout=30)


# --------------------------------------------------------------------------- fault: missing-index


MISSING_INDEX = "idx_patient_createdat"
MISSING_INDEX_REQUESTS = 30
MISSING_INDEX_PATH = "/api/patients?since=2024-01-01&limit=100"


def _index_state(name: str) -> str:
    """'valid', 'invalid' (a failed CREATE INDEX CONCURRENTLY leaves one), or 'missing'."""
    rows = _query(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s", (name,)
    )
    if not rows:
        return "missing"
    return "valid" if rows[0]["indisvalid"] else "invalid"


def _patient_seq_scans() -> int:
    return _query("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'Patient'")[0]["seq_scan"]


def _drive_patient_requests(count: int) -> list[float]:
    """Real requests through the API, so the access log, metrics and pg_stat_statements all see them."""
    durations = []
    for _ in range(count):
        started = time.monotonic()
        status_code, _body = _api_get(MISSING_INDEX_PATH, timeout=60)
        durations.append((time.monotonic() - started) * 1000)
        if status_code != 200:
            raise LabError(f"GET {MISSING_INDEX_PATH} answered {status_code} while driving traffic")
    return durations


def _drop_index_bounded(name: str) -> None:
    """DROP INDEX needs an exclusive lock on the table: behind an open transaction it would queue every
    later query on it, so wait 5 s at most and name the sessions in the way."""
    try:
        _query(f"SET lock_timeout = '5s'; DROP INDEX IF EXISTS {name}")
    except psycopg2.errors.LockNotAvailable:
        raise LabError(
            f"DROP INDEX {name} waited 5 s for a lock held by {', '.join(_patient_lock_holders())}"
        ) from None


def _patient_lock_holders() -> list[str]:
    rows = _query(
        """SELECT DISTINCT a.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
           WHERE l.relation = '"Patient"'::regclass AND l.granted AND a.pid <> pg_backend_pid()"""
    )
    return [f"{row['pid']} ({row['application_name'] or 'no application_name'})" for row in rows]


def _inject_missing_index() -> dict:
    _require_running("api")
    _drop_index_bounded(MISSING_INDEX)
    seq_scans_before = _patient_seq_scans()
    durations = _drive_patient_requests(MISSING_INDEX_REQUESTS)
    return {
        "fault": "missing-index",
        "table": "Patient",
        "column": "createdAt",
        "dropped_index": MISSING_INDEX,
        "requests": len(durations),
        "path": MISSING_INDEX_PATH,
        "p50_ms": round(statistics.median(durations), 1),
        "max_ms": round(max(durations), 1),
        "patient_seq_scans": _patient_seq_scans() - seq_scans_before,
    }


def _faults_in_the_way_of_concurrent_index() -> list[str]:
    return [name for name, fault in FAULTS.items() if fault.get("stalls_concurrent_index") and fault["active"](name)]


def _rebuild_index_concurrently(name: str) -> None:
    connection = superuser_connect()
    try:
        with connection.cursor() as cursor:
            # A bound for sessions outside the lab's faults that hold an old snapshot.
            cursor.execute("SET statement_timeout = '60s'")
            cursor.execute(BASELINE_INDEXES[name].format(concurrently="CONCURRENTLY"))
            cursor.execute('ANALYZE "Patient"')
    except psycopg2.Error as error:
        _drop_index_bounded(name)  # a failed CONCURRENTLY build leaves an invalid index behind
        raise LabError(f"could not rebuild {name}: {_one_line(error)}") from None
    finally:
        connection.close()


def _clear_missing_index(name: str) -> dict:
    state = _index_state(MISSING_INDEX)
    if state != "valid":
        # CREATE INDEX CONCURRENTLY waits for every transaction with an older snapshot in the database
        # and for every lock on the table: with those faults active it would hang, as in production.
        in_the_way = _faults_in_the_way_of_concurrent_index()
        if in_the_way:
            raise LabError(
                f"clear {', '.join(in_the_way)} first: CREATE INDEX CONCURRENTLY would wait for their sessions"
            )
        if state == "invalid":
            _drop_index_bounded(MISSING_INDEX)
        _rebuild_index_concurrently(MISSING_INDEX)
    _fault_paths(name)["info"].unlink(missing_ok=True)
    return {"cleared": name, "index_rebuilt": state != "valid"}


def _missing_index_active(_name: str) -> bool:
    return _index_state(MISSING_INDEX) != "valid"


# --------------------------------------------------------------------------- Redis faults
# The data faults live in redis_faults.py; labctl connects (as the default user) and keeps the registry.

REDIS_FAULT_TIMEOUT_S = 30.0  # MEMORY USAGE of a 200,000-member set and a 300,000-element reply take a while
REDIS_LATENCY_HOLD_MS = 30
REDIS_LATENCY_INTERVAL_MS = 100


def _with_redis(action):
    """Run action(client) on a fresh connection and close it, so a long test session does not pile them up."""
    client = redis_connect(timeout=REDIS_FAULT_TIMEOUT_S)
    try:
        return action(client)
    finally:
        client.close()


def _inject_redis_big_keys() -> dict:
    return _with_redis(redis_faults.inject_big_keys)


def _clear_redis_big_keys(_name: str) -> dict:
    return _with_redis(redis_faults.clear_big_keys)


def _redis_big_keys_active(_name: str) -> bool:
    return _with_redis(redis_faults.big_keys_active)


def _inject_redis_slow_commands() -> dict:
    # The offenders run on their own connection, named like a fault session, as an application's client would.
    offender = redis_connect(
        timeout=REDIS_FAULT_TIMEOUT_S, client_name=redis_faults.SLOW_CLIENT, decode_responses=False
    )
    try:
        return _with_redis(lambda client: redis_faults.inject_slow_commands(client, offender))
    except redis_faults.FaultNotInPlace as error:
        raise LabError(f"redis-slow-commands: {error}") from None
    finally:
        offender.close()


def _clear_redis_slow_commands(_name: str) -> dict:
    return _with_redis(redis_faults.clear_slow_commands)


def _redis_slow_commands_active(_name: str) -> bool:
    return _with_redis(redis_faults.slow_commands_active)


def _inject_queue_backlog() -> dict:
    return _with_redis(redis_faults.inject_queue_backlog)


def _clear_queue_backlog(_name: str) -> dict:
    return _with_redis(redis_faults.clear_queue_backlog)


def _queue_backlog_active(_name: str) -> bool:
    return _with_redis(redis_faults.queue_backlog_active)


def _verify_redis_latency(worker_info: dict) -> dict | None:
    """In place once the worker's connection, carrying the fault's client name, shows in CLIENT LIST."""
    name = FAULT_APP_PREFIX + "redis-latency"
    clients = _with_redis(lambda client: client.client_list())
    if not any(client.get("name") == name for client in clients):
        return None
    return {"fault": "redis-latency", **worker_info}


def _inject_redis_latency() -> dict:
    hold, interval = str(REDIS_LATENCY_HOLD_MS), str(REDIS_LATENCY_INTERVAL_MS)
    _start_worker("redis-latency", "--hold-ms", hold, "--interval-ms", interval)
    return _await_fault("redis-latency", _verify_redis_latency, undo=_clear_redis_latency, name_key="client_name")


def _clear_redis_latency(name: str) -> dict:
    """Stop the worker. Its DEBUG SLEEP entries stay in the slow log: Redis cannot drop single entries
    (clear redis-slow-commands, clear all and reset-stats reset it)."""
    paths = _fault_paths(name)
    stopped = _stop_process(paths["pid"], "fault_worker.py")
    paths["info"].unlink(missing_ok=True)
    return {"cleared": name, "worker_stopped": stopped}


def _redis_latency_active(name: str) -> bool:
    return _worker_alive(name)


# --------------------------------------------------------------------------- fault registry

# One entry per fault: later faults (app host, traffic) are added the same way. "service" is what inject
# and clear need running; "order" sorts clear all; "worker" marks faults held by a fault_worker.py process.
FAULTS = {
    "long-query": {
        "description": "one session runs an application-looking query that sleeps for an hour",
        "inject": _inject_long_query,
        "clear": _clear_worker_fault,
        "active": _worker_fault_active,
        "service": "postgres",
        "worker": True,
        "stalls_concurrent_index": True,  # its snapshot is older than any index build
        "order": 0,
    },
    "blocking-lock": {
        "description": 'an idle-in-transaction session holds a row lock on "Patient" id 1; two UPDATEs wait in a chain',
        "inject": _inject_blocking_lock,
        "clear": _clear_worker_fault,
        "active": _worker_fault_active,
        "service": "postgres",
        "worker": True,
        "stalls_concurrent_index": True,  # its open transaction holds a lock on "Patient"
        "order": 0,
    },
    "connection-flood": {
        "description": "client connections up to 90 % of max_connections, half idle, half idle in transaction",
        "inject": _inject_connection_flood,
        "clear": _clear_worker_fault,
        "active": _worker_fault_active,
        "service": "postgres",
        "worker": True,
        "order": 0,
    },
    "missing-index": {
        "description": 'drops idx_patient_createdat and drives 30 GET /api/patients: sequential scans of "Patient"',
        "inject": _inject_missing_index,
        "clear": _clear_missing_index,
        "active": _missing_index_active,
        "service": "postgres",
        "worker": False,
        # Cleared after the session faults: CREATE INDEX CONCURRENTLY waits for their snapshots and locks.
        "order": 1,
    },
    "redis-latency": {
        "description": (
            f"a worker runs DEBUG SLEEP {REDIS_LATENCY_HOLD_MS / 1000} every {REDIS_LATENCY_INTERVAL_MS} ms: "
            "every client's round trips wait"
        ),
        "inject": _inject_redis_latency,
        "clear": _clear_redis_latency,
        "active": _redis_latency_active,
        "service": "redis",
        "worker": True,
        "order": 0,
    },
    "redis-big-keys": {
        "description": "~20,000 small keys, a 100k-field hash, a 300k-element list, a 200k-member set, an 8 MB string",
        "inject": _inject_redis_big_keys,
        "clear": _clear_redis_big_keys,
        "active": _redis_big_keys_active,
        "service": "redis",
        "worker": False,
        "order": 0,
    },
    "redis-slow-commands": {
        "description": "KEYS, HGETALL, SMEMBERS, LRANGE 0 -1 over big scratch keys (lab:slow:*): in the slow log",
        "inject": _inject_redis_slow_commands,
        "clear": _clear_redis_slow_commands,
        "active": _redis_slow_commands_active,
        "service": "redis",
        "worker": False,
        # After redis-latency: its slow-log reset then also takes the latency worker's DEBUG SLEEP entries.
        "order": 1,
    },
    "queue-backlog": {
        "description": "Bull queue email-notifications: 1200 waiting, 60 active, delayed/failed/completed; sms healthy",
        "inject": _inject_queue_backlog,
        "clear": _clear_queue_backlog,
        "active": _queue_backlog_active,
        "service": "redis",
        "worker": False,
        "order": 0,
    },
}


def _fault(name: str) -> dict:
    if name not in FAULTS:
        raise LabError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return FAULTS[name]


def _services_ready() -> dict:
    """What faults can be asked of: PostgreSQL with the lab's data, Redis with the lab's users."""
    return {"postgres": _bootstrapped() and postgres_running(), "redis": _redis_ready()}


def _fault_activity() -> dict:
    """Which faults are in place, asked of their service; a fault whose service is down is left out (unknown)."""
    ready = _services_ready()
    return {name: bool(fault["active"](name)) for name, fault in FAULTS.items() if ready[fault["service"]]}


def inject(name: str) -> dict:
    """Put a fault in place and return what it consists of (pids, index or key names, sizes, timings)."""
    fault = _fault(name)
    _require_running(fault["service"])
    if fault["service"] == "postgres" and not _bootstrapped():
        raise LabError("the lab has no data yet: run 'labctl up' first")
    existing = _existing_fault(name)
    if existing:
        return existing
    info = fault["inject"]()
    info["injected_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _write_info(name, info)
    return info


def clear(name: str) -> dict:
    """Undo a fault; clearing one that is not there is fine."""
    fault = _fault(name)
    _require_running(fault["service"])
    was_active = bool(fault["active"](name))
    result = fault["clear"](name)
    _fault_paths(name)["info"].unlink(missing_ok=True)  # what inject reported no longer holds
    return {**result, "was_active": was_active}


def clear_all() -> dict:
    """Clear every fault whose service runs, in a safe order; the others are listed as skipped."""
    running = {"postgres": postgres_running(), "redis": _redis_ready()}
    if not any(running.values()):
        raise LabError("neither PostgreSQL nor Redis is running: run 'labctl up' first")
    ordered = sorted(FAULTS, key=lambda name: FAULTS[name]["order"])
    to_clear = [name for name in ordered if running[FAULTS[name]["service"]]]
    result = {"cleared": [clear(name) for name in to_clear]}
    skipped = {name: f"{FAULTS[name]['service']} not running" for name in ordered if name not in to_clear}
    if skipped:
        result["skipped"] = skipped
    return result


def faults() -> dict:
    activity = _fault_activity()
    return {name: {"description": fault["description"], "active": activity.get(name)} for name, fault in FAULTS.items()}


# --------------------------------------------------------------------------- command line

USAGE = """usage: labctl.py COMMAND
  up                  start the lab (first time: initdb, schema, data)
  down                stop everything, keep data
  destroy             down, then delete the state folder
  status              JSON: which services run
  faults              JSON: known faults, one line each, active or not
  inject FAULT        put a fault in place
  clear FAULT|all     undo a fault (or all)
  reset-stats [--access-log]   reset PostgreSQL/pg_stat_statements/API/Redis counters
  env                 export lines for the lab's connection settings"""


def _dispatch(arguments: list[str]):
    command, rest = (arguments[0], arguments[1:]) if arguments else ("", [])
    simple = {"up": up, "down": down, "destroy": destroy, "status": status, "faults": faults}
    if command in simple and not rest:
        return simple[command]()
    if command == "inject" and len(rest) == 1:
        return inject(rest[0])
    if command == "clear" and len(rest) == 1:
        return clear_all() if rest[0] == "all" else clear(rest[0])
    if command == "reset-stats" and rest in ([], ["--access-log"]):
        return reset_stats(truncate_access_log=bool(rest))
    raise LabError(f"unknown command: {' '.join(arguments) or '(none)'} (see --help)")


def main(arguments: list[str]) -> int:
    if arguments in (["-h"], ["--help"], ["help"]):
        print(USAGE)
        return 0
    if arguments == ["env"]:
        print("\n".join(env_lines()))
        return 0
    try:
        result = _dispatch(arguments)
    except LabError as error:
        print(f"labctl: {error}", file=sys.stderr)
        return 2 if str(error).startswith("unknown command") else 1
    except (psycopg2.Error, redis.RedisError, OSError) as error:
        print(f"labctl: {arguments[0]} failed: {_one_line(error)}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
