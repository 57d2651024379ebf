#!/usr/bin/env python3
"""The lab's stand-in for the production API: a few routes over the lab's PostgreSQL and Redis.

Started detached by ``labctl.py up``; settings come from the same environment (labctl.settings()).
Binds 127.0.0.1 only.

Routes:
    GET  /api/health                      200 {"status": "healthy", "checks": {...}} or 503 when a check fails
    GET  /api/metrics                     Prometheus text exposition, hand-written
    POST /api/metrics/reset               zero the metrics (labctl reset-stats)
    GET  /api/patients?since=DATE&limit=N the runbook's slow query (fast with idx_patient_createdat)
    GET  /api/patients/<id>/appointments  one patient's appointments (idx_appointment_patientid)

Access log (<state>/logs/access.log): nginx "combined" plus the response time in milliseconds as the
last field, one line per request:

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
        "$http_referer" "$http_user_agent" $request_time_ms            (all on one line)
    127.0.0.1 - - [03/Dec/2026:16:50:54 +0000] "GET /api/patients HTTP/1.1" 200 5123 "-" "curl/7.88" 12.345

With awk's default splitting $7 is the path and $NF the time in ms (the user agent may contain spaces,
so count from the end; in this format $10 is the body size).
"""

from __future__ import annotations

import bisect
import datetime
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import labctl
import psycopg2
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

POOL_SIZE = 5  # small, like a per-instance Prisma pool: leaves room under the connection-flood fault
POOL_WAIT_S = 5.0
REDIS_TIMEOUT_S = 2.0
DEFAULT_SINCE = "2024-01-01"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RESET_ROUTE = "/api/metrics/reset"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

PATIENTS_SQL = (
    'SELECT id, "firstName", "lastName", "createdAt" FROM "Patient" '
    'WHERE "createdAt" > %s ORDER BY "createdAt" DESC LIMIT %s'
)
APPOINTMENTS_SQL = (
    'SELECT id, "patientId", "scheduledFor", status, notes FROM "Appointment" '
    'WHERE "patientId" = %s ORDER BY "scheduledFor" DESC'
)


class PoolExhausted(Exception):
    """No database connection became free in time: the API answers 503, as a saturated pool would."""


class ConnectionPool:
    """A blocking, thread-safe pool: at most `size` connections, callers wait up to `wait_s` for one."""

    def __init__(self, connect, size: int, wait_s: float):
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._wait_s = wait_s
        self._idle: list = []
        self._lock = threading.Lock()

    def _take_idle(self):
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed:
                    return connection
        return None

    @contextmanager
    def connection(self):
        if not self._slots.acquire(timeout=self._wait_s):
            raise PoolExhausted(f"no database connection free within {self._wait_s:.0f} s")
        connection, broken = None, False
        try:
            connection = self._take_idle() or self._connect()
            yield connection
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True  # terminated backend, restarted server: never hand this one out again
            raise
        finally:
            self._give_back(connection, broken)
            self._slots.release()

    def _give_back(self, connection, broken: bool) -> None:
        if connection is None:
            return
        if broken or connection.closed:
            connection.close()
            return
        with self._lock:
            self._idle.append(connection)

    def close_all(self) -> None:
        with self._lock:
            for connection in self._idle:
                connection.close()
            self._idle.clear()


class Metrics:
    """Counters, a gauge and a histogram, rendered in Prometheus text format."""

    def __init__(self):
        self._lock = threading.Lock()
        self.active = 0
        self.reset()

    def reset(self) -> None:
        """Zero the counters; the active gauge stays, it counts requests still in flight."""
        with self._lock:
            self.requests: dict[tuple[str, str, str], int] = {}
            self.errors: dict[str, int] = {}
            self.bucket_counts: dict[str, list[int]] = {}
            self.duration_sum: dict[str, float] = {}

    def started(self) -> None:
        with self._lock:
            self.active += 1

    def finished(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.active -= 1
            if route == RESET_ROUTE:
                return  # a reset that counted itself would never read as zero
            key = (method, route, str(status))
            self.requests[key] = self.requests.get(key, 0) + 1
            if status >= 500:
                self.errors[route] = self.errors.get(route, 0) + 1
            counts = self.bucket_counts.setdefault(route, [0] * (len(DURATION_BUCKETS) + 1))
            counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1  # le is inclusive
            self.duration_sum[route] = self.duration_sum.get(route, 0.0) + seconds

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP http_requests_total HTTP requests handled, by method, route and status.",
                "# TYPE http_requests_total counter",
            ]
            for (method, route, status), value in sorted(self.requests.items()):
                lines.append(f'http_requests_total{{method="{method}",route="{route}",status="{status}"}} {value}')
            lines += [
                "# HELP http_requests_active HTTP requests being handled right now.",
                "# TYPE http_requests_active gauge",
                f"http_requests_active {self.active}",
                "# HELP http_errors_total HTTP requests answered with a 5xx status, by route.",
                "# TYPE http_errors_total counter",
            ]
            lines += [f'http_errors_total{{route="{route}"}} {value}' for route, value in sorted(self.errors.items())]
            lines += [
                "# HELP http_request_duration_seconds Time to answer an HTTP request, by route.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            for route in sorted(self.bucket_counts):
                lines += self._histogram_lines(route)
            return "\n".join(lines) + "\n"

    def _histogram_lines(self, route: str) -> list[str]:
        counts, cumulative, lines = self.bucket_counts[route], 0, []
        for bound, count in zip((*DURATION_BUCKETS, "+Inf"), counts, strict=True):
            cumulative += count
            lines.append(f'http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {cumulative}')
        lines.append(f'http_request_duration_seconds_sum{{route="{route}"}} {self.duration_sum[route]:.6f}')
        lines.append(f'http_request_duration_seconds_count{{route="{route}"}} {cumulative}')
        return lines


class AccessLog:
    """Appends one combined-format line per request (format in the module docstring)."""

    def __init__(self, path: str):
        # Open for the server's lifetime: one line-buffered append per request.
        self._handle = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()

    def write(self, handler: BaseHTTPRequestHandler, status: int, size: int, milliseconds: float) -> None:
        now = datetime.datetime.now(datetime.UTC)
        stamp = f"{now.day:02d}/{MONTHS[now.month - 1]}/{now.year}:{now.strftime('%H:%M:%S')} +0000"
        line = '{} - - [{}] "{}" {} {} "{}" "{}" {:.3f}\n'.format(
            handler.client_address[0],
            stamp,
            _quoted(handler.requestline),
            status,
            size,
            _quoted(handler.headers.get("Referer", "-")),
            _quoted(handler.headers.get("User-Agent", "-")),
            milliseconds,
        )
        with self._lock:
            self._handle.write(line)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Api:
    """Route handlers; each returns (status, body bytes, content type)."""

    def __init__(self):
        cfg = labctl.settings()
        self.pool = ConnectionPool(self._connect, POOL_SIZE, POOL_WAIT_S)
        self.redis = redis.Redis(
            host=cfg["redis_host"],
            port=cfg["redis_port"],
            password=labctl.read_secret("redis_app"),  # the default user, as the application connects
            protocol=2,  # RESP3's HELLO would show up in the slow log the runbook reads
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),  # redis-py 8 otherwise retries ~3.5 s before failing open
        )
        self.metrics = Metrics()

    @staticmethod
    def _connect():
        cfg = labctl.settings()
        connection = psycopg2.connect(
            host=cfg["pg_host"],
            port=cfg["pg_port"],
            dbname=cfg["pg_db"],
            user=cfg["pg_app_user"],
            password=labctl.read_secret("app"),
            application_name="demo-api",
            connect_timeout=3,
        )
        connection.autocommit = True
        return connection

    def rows(self, statement: str, args) -> list[dict]:
        with self.pool.connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, args)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count_request(self, client: str) -> None:
        """A per-minute request counter, as the app's rate limiter keeps in Redis; fails open."""
        key = f"ratelimit:{client}:{int(time.time() // 60)}"
        try:
            self.redis.pipeline(transaction=False).incr(key).expire(key, 120).execute()
        except redis.RedisError as error:
            print(f"rate limiter unavailable: {error}", file=sys.stderr, flush=True)

    def health(self, _query, _match):
        checks = {"database": self._check(lambda: self.rows("SELECT 1", None)), "redis": self._check(self.redis.ping)}
        healthy = all(check["status"] == "up" for check in checks.values())
        body = {"status": "healthy" if healthy else "unhealthy", "checks": checks}
        return (200 if healthy else 503), _json(body), "application/json"

    @staticmethod
    def _check(probe) -> dict:
        started = time.monotonic()
        try:
            probe()
        except (psycopg2.Error, redis.RedisError, PoolExhausted, labctl.LabError) as error:
            return {"status": "down", "error": " ".join(str(error).split())}
        return {"status": "up", "latency_ms": round((time.monotonic() - started) * 1000, 3)}

    def metrics_text(self, _query, _match):
        return 200, self.metrics.render().encode(), "text/plain; version=0.0.4; charset=utf-8"

    def metrics_reset(self, _query, _match):
        self.metrics.reset()
        # PostgreSQL backends flush their table counters lazily (up to seconds later); closing our idle
        # connections makes them flush now, so a statistics reset that follows starts truly clean.
        self.pool.close_all()
        return 200, _json({"reset": True}), "application/json"

    def patients(self, query, _match):
        since = query.get("since", [DEFAULT_SINCE])[0]
        limit = query.get("limit", [str(DEFAULT_LIMIT)])[0]
        try:
            since_date = datetime.date.fromisoformat(since)
            limit_rows = int(limit)
        except ValueError:
            return 400, _json({"error": "since must be YYYY-MM-DD and limit an integer"}), "application/json"
        if not 1 <= limit_rows <= MAX_LIMIT:
            return 400, _json({"error": f"limit must be between 1 and {MAX_LIMIT}"}), "application/json"
        patients = self.rows(PATIENTS_SQL, (since_date, limit_rows))
        return 200, _json({"count": len(patients), "patients": patients}), "application/json"

    def appointments(self, _query, match):
        patient_id = int(match.group(1))
        appointments = self.rows(APPOINTMENTS_SQL, (patient_id,))
        body = {"patientId": patient_id, "count": len(appointments), "appointments": appointments}
        return 200, _json(body), "application/json"


def _json(body) -> bytes:
    return json.dumps(body, default=_json_default).encode()


def build_routes(api: Api):
    """(method, pattern, route label for metrics, handler); the label keeps metric cardinality bounded."""
    return [
        ("GET", re.compile(r"^/api/health$"), "/api/health", api.health),
        ("GET", re.compile(r"^/api/metrics$"), "/api/metrics", api.metrics_text),
        ("POST", re.compile(r"^/api/metrics/reset$"), RESET_ROUTE, api.metrics_reset),
        ("GET", re.compile(r"^/api/patients$"), "/api/patients", api.patients),
        ("GET", re.compile(r"^/api/patients/(\d+)/appointments$"), "/api/patients/:id/appointments", api.appointments),
    ]


def make_handler(api: Api, routes, access_log: AccessLog):
    class Handler(BaseHTTPRequestHandler):
        server_version = "holi-demo-api/1.0"

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def log_request(self, code="-", size="-"):
            pass  # the access log below replaces the default stderr line

        def _resolve(self, method: str, path: str):
            for route_method, pattern, label, handler in routes:
                match = pattern.match(path)
                if match and route_method == method:
                    return label, handler, match
            return "unmatched", None, None

        def _serve(self, method: str):
            started = time.monotonic()
            api.metrics.started()
            url = urllib.parse.urlsplit(self.path)
            label, handler, match = self._resolve(method, url.path)
            if handler in (api.patients, api.appointments):
                api.count_request(self.client_address[0])
            status, body, content_type = self._answer(handler, url, match)
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            finally:
                seconds = time.monotonic() - started
                api.metrics.finished(method, label, status, seconds)
                access_log.write(self, status, len(body), seconds * 1000)

        def _answer(self, handler, url, match):
            if handler is None:
                return 404, _json({"error": "not found"}), "application/json"
            try:
                return handler(urllib.parse.parse_qs(url.query), match)
            except PoolExhausted as error:
                return 503, _json({"error": str(error)}), "application/json"
            except (psycopg2.Error, redis.RedisError, labctl.LabError) as error:
                print(f"{self.requestline}: {error}", file=sys.stderr, flush=True)
                return 500, _json({"error": " ".join(str(error).split())}), "application/json"
            except Exception as error:  # a bug must still give a 500, a metric and a log line, not a dropped socket
                print(f"{self.requestline}: unexpected {error!r}", file=sys.stderr, flush=True)
                return 500, _json({"error": "internal error"}), "application/json"

    return Handler


def main() -> int:
    cfg = labctl.settings()
    api = Api()
    access_log = AccessLog(cfg["access_log"])
    try:
        server = ThreadingHTTPServer(
            (cfg["api_host"], cfg["api_port"]), make_handler(api, build_routes(api), access_log)
        )
    except OSError as error:
        print(f"cannot listen on {cfg['api_host']}:{cfg['api_port']}: {error}", file=sys.stderr, flush=True)
        return 1
    server.daemon_threads = True
    # shutdown() must come from another thread than the one in serve_forever().
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"demo API listening on {cfg['api_url']}", flush=True)
    server.serve_forever()
    server.server_close()
    api.pool.close_all()
    print("demo API stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
