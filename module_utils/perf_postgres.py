"""PostgreSQL connection handling shared by every pg_* module: one argument spec, one connect().

Diagnostic sessions are cheap and harmless by construction: a connect timeout, a statement timeout,
a lock timeout, read-only transactions, and an application_name so our own sessions can be told apart
(and excluded) in pg_stat_activity.
"""

from __future__ import annotations

import re
import select
import time
import traceback

try:
    import psycopg2
    import psycopg2.extensions
    import psycopg2.extras
    import psycopg2.sql

    PSYCOPG2_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only where the library is missing
    psycopg2 = None
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


def postgres_argument_spec():
    """Connection options every pg_* module takes. The password may also come from PGPASSWORD."""
    return dict(
        login_host=dict(type="str", default="", aliases=["host"]),
        login_port=dict(type="int", default=5432, aliases=["port"]),
        login_unix_socket=dict(type="str", default="", aliases=["unix_socket"]),
        login_user=dict(type="str", default="postgres", aliases=["user"]),
        login_password=dict(type="str", default="", no_log=True, aliases=["password"]),
        login_db=dict(type="str", default="postgres", aliases=["db", "database"]),
        ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES),
        ca_cert=dict(type="path", aliases=["ssl_rootcert"]),
        connect_timeout=dict(type="int", default=5),
        statement_timeout_ms=dict(type="int", default=5000),
        lock_timeout_ms=dict(type="int", default=1000),
        application_name=dict(type="str", default="perf-runbook"),
    )


class PgConnectError(Exception):
    """A connection that failed, with a kind the caller can act on and a one-line message."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


# (option, smallest, largest): a diagnosis is bounded whatever it is asked.
_TIMEOUT_BOUNDS = (("connect_timeout", 1, 300), ("statement_timeout_ms", 1, 3600000), ("lock_timeout_ms", 1, 3600000))


def connection_problems(params):
    """One-line problems with connection parameters, found before anything is sent."""
    problems = []
    if not 0 < params["login_port"] < 65536:
        problems.append(f"login_port must be between 1 and 65535, got {params['login_port']}")
    for name, lowest, highest in _TIMEOUT_BOUNDS:
        if not lowest <= params[name] <= highest:
            problems.append(f"{name} must be between {lowest} and {highest}, got {params[name]}")
    for name, value in params.items():
        # libpq takes C strings: a NUL would cut the value short or crash the driver.
        if isinstance(value, str) and "\x00" in value:
            problems.append(f"{name} must not contain a NUL character")
    return problems


def describe_target(params):
    """Where we connect, for reports: never the password."""
    where = params["login_unix_socket"] or params["login_host"] or "local socket"
    return f"postgresql://{params['login_user']}@{where}:{params['login_port']}/{params['login_db']}"


def _session_options(params, read_only):
    options = [
        f"statement_timeout={int(params['statement_timeout_ms'])}",
        f"lock_timeout={int(params['lock_timeout_ms'])}",
        # A diagnosis that dies mid-transaction must not keep locks or a snapshot.
        "idle_in_transaction_session_timeout=60000",
    ]
    if read_only:
        options.append("default_transaction_read_only=on")
    return " ".join(f"-c {option}" for option in options)


def connect_kwargs(params, read_only=True):
    """libpq keyword arguments for psycopg2.connect(). The password is passed in memory, never on argv."""
    kwargs = {
        "dbname": params["login_db"],
        "user": params["login_user"],
        "port": params["login_port"],
        "connect_timeout": params["connect_timeout"],
        "application_name": params["application_name"],
        "sslmode": params["ssl_mode"],
        "options": _session_options(params, read_only),
    }
    host = params["login_unix_socket"] or params["login_host"]
    if host:
        kwargs["host"] = host
    if params["login_password"]:
        kwargs["password"] = params["login_password"]
    if params.get("ca_cert"):
        kwargs["sslrootcert"] = params["ca_cert"]
    return kwargs


# libpq's messages, mapped to kinds: pool exhaustion is a finding, not a generic failure.
_ERROR_KINDS = (
    (
        "too_many_connections",
        re.compile(
            r"too many clients|remaining connection slots are reserved|too many connections for (database|role)", re.I
        ),
    ),
    ("auth", re.compile(r"password authentication failed|no password supplied|authentication failed", re.I)),
    ("database_missing", re.compile(r"database \".*\" does not exist", re.I)),
    ("role_missing", re.compile(r"role \".*\" does not exist", re.I)),
    ("timeout", re.compile(r"timeout expired|timed out", re.I)),
    ("unreachable", re.compile(r"connection refused|could not connect|could not translate host|No such file", re.I)),
)


def classify_connect_error(text):
    """Turn libpq's multi-line error into (kind, one line)."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    # libpq repeats 'connection to server at ... failed:' before the reason; keep the reason.
    reasons = [line for line in lines if not line.startswith(("DETAIL", "HINT"))]
    message = "; ".join(reasons) or "unknown connection error"
    message = re.sub(r"\s+", " ", message)
    for kind, pattern in _ERROR_KINDS:
        if pattern.search(message):
            return kind, message
    return "other", message


class _Deadline:
    """A client-side bound on every wait for the server.

    statement_timeout is enforced by the server; a server (or network) that stops answering after
    the connection is made would leave a blocking driver waiting forever. psycopg2's wait callback
    lets us poll the socket with our own deadline instead."""

    seconds = 10.0

    @classmethod
    def wait(cls, connection):
        deadline = time.monotonic() + cls.seconds
        while True:
            state = connection.poll()
            if state == psycopg2.extensions.POLL_OK:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise psycopg2.OperationalError(f"the server did not answer within {cls.seconds:g} s")
            if state == psycopg2.extensions.POLL_READ:
                select.select([connection.fileno()], [], [], remaining)
            elif state == psycopg2.extensions.POLL_WRITE:
                select.select([], [connection.fileno()], [], remaining)


def answer_deadline_seconds(params):
    """How long any single wait may last: the statement timeout plus the time to connect, and a margin."""
    return params["statement_timeout_ms"] / 1000.0 + params["connect_timeout"] + 2


def connect(params, read_only=True):
    """Open a connection in autocommit mode (no transaction is ever left open), or raise PgConnectError."""
    if psycopg2 is None:
        raise PgConnectError("library_missing", "the Python library psycopg2 is not installed on the target host")
    _Deadline.seconds = answer_deadline_seconds(params)
    psycopg2.extensions.set_wait_callback(_Deadline.wait)
    try:
        connection = psycopg2.connect(**connect_kwargs(params, read_only))
    except psycopg2.Error as error:
        kind, message = classify_connect_error(error)
        raise PgConnectError(kind, f"cannot connect to {describe_target(params)}: {message}") from None
    connection.autocommit = True
    return connection


def fetch_all(connection, statement, args=None):
    """Run a statement and return its rows as dicts."""
    with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
        cursor.execute(statement, args)
        return [dict(row) for row in cursor.fetchall()]


def fetch_one(connection, statement, args=None):
    rows = fetch_all(connection, statement, args)
    return rows[0] if rows else None


def quote_ident(connection, name):
    """An identifier quoted by psycopg2.sql, never by string formatting."""
    return psycopg2.sql.Identifier(name).as_string(connection)


def one_line(error):
    """A psycopg2 error as one line, for a failed check or fail_json."""
    text = getattr(error, "pgerror", None) or str(error)
    return re.sub(r"\s+", " ", text.strip()) or error.__class__.__name__


def server_facts(connection):
    """What every PostgreSQL check wants to know once: our pid, the server version, whether we see all sessions."""
    return fetch_one(
        connection,
        """
        SELECT pg_backend_pid() AS own_pid,
               current_setting('server_version_num')::int AS version_num,
               current_user AS user_name,
               current_database() AS database,
               pg_has_role(current_user, 'pg_read_all_stats', 'member') AS sees_all_sessions
        """,
    )
