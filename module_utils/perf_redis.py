"""Redis connection handling shared by every redis_* module: one argument spec, one client factory.

The client is the one seam for network access (tests and modules both go through it): RESP2 (RESP3's
HELLO would land in the slow log the diagnosis reads), no retries (redis-py otherwise retries a refused
connection for seconds), socket and connect timeouts on every call, and a client name so our own
connection can be told apart in CLIENT LIST.
"""

from __future__ import annotations

import re
import traceback

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    REDIS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only where the library is missing
    redis = None
    REDIS_IMPORT_ERROR = traceback.format_exc()


def redis_argument_spec():
    """Connection options every redis_* module takes."""
    return {
        "login_host": {"type": "str", "default": "127.0.0.1", "aliases": ["host"]},
        "login_port": {"type": "int", "default": 6379, "aliases": ["port"]},
        "login_unix_socket": {"type": "str", "default": "", "aliases": ["unix_socket"]},
        "db": {"type": "int", "default": 0},
        "login_user": {"type": "str", "default": "", "aliases": ["user"]},
        "login_password": {"type": "str", "default": "", "no_log": True, "aliases": ["password"]},
        "tls": {"type": "bool", "default": False},
        "validate_certs": {"type": "bool", "default": True},
        "ca_certs": {"type": "path"},
        "client_cert_file": {"type": "path"},
        "client_key_file": {"type": "path"},
        "socket_timeout": {"type": "float", "default": 2.0},
        "connect_timeout": {"type": "float", "default": 2.0},
        "client_name": {"type": "str", "default": "perf-runbook"},
    }


class RedisConnectError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def connection_problems(params):
    problems = []
    if not 0 < params["login_port"] < 65536:
        problems.append(f"login_port must be between 1 and 65535, got {params['login_port']}")
    if not 0 <= params["db"] <= 1000:
        problems.append(f"db must be between 0 and 1000, got {params['db']}")
    for name in ("socket_timeout", "connect_timeout"):
        if not 0 < params[name] <= 300:
            problems.append(f"{name} must be more than 0 and at most 300 seconds, got {params[name]}")
    for name, value in params.items():
        if isinstance(value, str) and "\x00" in value:
            problems.append(f"{name} must not contain a NUL character")
    return problems


def describe_target(params):
    """Where we connect, for reports: never the password."""
    where = params["login_unix_socket"] or f"{params['login_host']}:{params['login_port']}"
    user = f"{params['login_user']}@" if params["login_user"] else ""
    scheme = "rediss" if params["tls"] else "redis"
    return f"{scheme}://{user}{where}/{params['db']}"


def redis_client(params):
    """The one factory for a Redis client; it connects lazily, on the first command."""
    options = {
        "db": params["db"],
        "username": params["login_user"] or None,
        "password": params["login_password"] or None,
        "socket_timeout": params["socket_timeout"],
        "socket_connect_timeout": params["connect_timeout"],
        "client_name": params["client_name"] or None,
        "protocol": 2,
        "retry": Retry(NoBackoff(), 0),
        # CLIENT SETINFO needs a permission a read-only monitoring user need not have; None disables it.
        "driver_info": None,
    }
    if params["login_unix_socket"]:
        options["unix_socket_path"] = params["login_unix_socket"]
    else:
        options.update(host=params["login_host"], port=params["login_port"])
    if params["tls"]:
        options.update(
            ssl=True,
            ssl_cert_reqs="required" if params["validate_certs"] else "none",
            ssl_ca_certs=params.get("ca_certs"),
            ssl_certfile=params.get("client_cert_file"),
            ssl_keyfile=params.get("client_key_file"),
            ssl_check_hostname=params["validate_certs"],
        )
    return redis.Redis(**options)


_ERROR_KINDS = (
    ("auth", re.compile(r"WRONGPASS|invalid username-password|NOAUTH|Authentication required|AUTH", re.I)),
    ("permission", re.compile(r"NOPERM", re.I)),
    ("timeout", re.compile(r"timed? ?out", re.I)),
    ("unreachable", re.compile(r"refused|No such file|not known|unreachable|Error \d+ connecting", re.I)),
)


def classify_error(error):
    """(kind, one line) for a redis-py error."""
    message = " ".join(str(error).split()) or error.__class__.__name__
    for kind, pattern in _ERROR_KINDS:
        if pattern.search(message):
            return kind, message
    return "other", message


def connect(params):
    """A client that has answered PING, or RedisConnectError with a one-line reason."""
    if redis is None:
        raise RedisConnectError("library_missing", "the Python library redis is not installed on the target host")
    client = redis_client(params)
    try:
        client.ping()
    except redis.RedisError as error:
        kind, message = classify_error(error)
        client.close()
        raise RedisConnectError(kind, f"cannot connect to {describe_target(params)}: {message}") from None
    return client


def text(value):
    """A key or argument as text: Redis keys are bytes and need not be UTF-8."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return str(value)
