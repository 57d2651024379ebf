"""Documentation shared by every pg_* module: the connection options of module_utils/perf_postgres.py."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host name or address of the PostgreSQL server. Empty means the local Unix socket.
    type: str
    default: ''
    aliases: [host]
  login_port:
    description: Port of the PostgreSQL server.
    type: int
    default: 5432
    aliases: [port]
  login_unix_socket:
    description: Folder of the server's Unix socket; takes precedence over O(login_host).
    type: str
    default: ''
    aliases: [unix_socket]
  login_user:
    description:
      - Role to connect as. Diagnostics need only a role granted C(pg_monitor); without it other users'
        sessions are invisible and the checks say so in their notes.
    type: str
    default: postgres
    aliases: [user]
  login_password:
    description:
      - Password of O(login_user). Never logged. When empty, libpq's C(PGPASSWORD) or C(~/.pgpass) apply.
    type: str
    default: ''
    aliases: [password]
  login_db:
    description: Database to connect to; per-database checks (cache hit, index candidates, statements) read this one.
    type: str
    default: postgres
    aliases: [db, database]
  ssl_mode:
    description: libpq sslmode.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description: CA certificate file for O(ssl_mode=verify-ca) and O(ssl_mode=verify-full).
    type: path
    aliases: [ssl_rootcert]
  connect_timeout:
    description: Seconds to wait for the connection; a server that does not answer fails the check, it never hangs.
    type: int
    default: 5
  statement_timeout_ms:
    description: statement_timeout of our session, in milliseconds; a diagnosis must never add load of its own.
    type: int
    default: 5000
  lock_timeout_ms:
    description: lock_timeout of our session, in milliseconds.
    type: int
    default: 1000
  application_name:
    description: application_name of our session, so that it can be told apart in pg_stat_activity.
    type: str
    default: perf-runbook
"""

    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: Read-only; check mode runs it as usual.
  diff_mode:
    support: none
requirements:
  - psycopg2
"""
