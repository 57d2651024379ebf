"""Documentation shared by every redis_* module: the connection options of module_utils/perf_redis.py."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  login_host:
    description: Host name or address of the Redis server.
    type: str
    default: 127.0.0.1
    aliases: [host]
  login_port:
    description: Port of the Redis server.
    type: int
    default: 6379
    aliases: [port]
  login_unix_socket:
    description: Path of the server's Unix socket; takes precedence over O(login_host).
    type: str
    default: ''
    aliases: [unix_socket]
  db:
    description: Database number.
    type: int
    default: 0
  login_user:
    description: ACL user name (Redis 6 and later); empty for the C(default) user.
    type: str
    default: ''
    aliases: [user]
  login_password:
    description: Password of O(login_user) (or of C(requirepass)). Never logged.
    type: str
    default: ''
    aliases: [password]
  tls:
    description: Connect with TLS.
    type: bool
    default: false
  validate_certs:
    description: Verify the server's certificate and host name when O(tls=true).
    type: bool
    default: true
  ca_certs:
    description: CA certificate file for O(tls=true).
    type: path
  client_cert_file:
    description: Client certificate for TLS client authentication.
    type: path
  client_key_file:
    description: Client key for TLS client authentication.
    type: path
  socket_timeout:
    description: Seconds any single command may take; a server that stops answering fails the check, never hangs.
    type: float
    default: 2.0
  connect_timeout:
    description: Seconds to wait for the connection.
    type: float
    default: 2.0
  client_name:
    description: CLIENT SETNAME of our connection, so it can be told apart in CLIENT LIST.
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
  - redis (redis-py)
"""
