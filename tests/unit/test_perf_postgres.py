import pytest
from ansible.module_utils.perf_pg_checks import blocking_chains
from ansible.module_utils.perf_postgres import classify_connect_error, connect_kwargs, postgres_argument_spec


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (
            'connection to server at "127.0.0.1", port 25432 failed: FATAL:  sorry, too many clients already',
            "too_many_connections",
        ),
        (
            "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute",
            "too_many_connections",
        ),
        ('FATAL:  password authentication failed for user "perf_monitor"', "auth"),
        ('server at "127.0.0.1", port 1 failed: Connection refused\n\tIs the server running', "unreachable"),
        ("timeout expired", "timeout"),
        ('FATAL:  database "nope" does not exist', "database_missing"),
    ],
)
def test_names_the_kind_of_connection_failure(message, kind):
    assert classify_connect_error(message)[0] == kind


def test_a_connection_error_becomes_one_line():
    kind, line = classify_connect_error("connection to server failed: Connection refused\n\tIs the server running?\n")
    assert "\n" not in line and "Connection refused" in line


def test_password_is_declared_no_log():
    assert postgres_argument_spec()["login_password"]["no_log"] is True


def test_diagnostic_sessions_are_read_only_and_bounded():
    params = {name: spec.get("default") for name, spec in postgres_argument_spec().items()}
    options = connect_kwargs(params)["options"]
    assert "statement_timeout=5000" in options
    assert "lock_timeout=1000" in options
    assert "default_transaction_read_only=on" in options
    assert connect_kwargs(params)["connect_timeout"] == 5


def test_blocking_chains_walk_to_the_root_blocker():
    chains = blocking_chains({30: [20], 20: [10]})
    assert chains[30] == ([30, 20, 10], [10])
    assert chains[20] == ([20, 10], [10])


def test_blocking_chains_stop_on_a_cycle():
    chains = blocking_chains({1: [2], 2: [1]})
    assert chains[1][0] == [1, 2]
    assert chains[1][1] == []


def test_a_chain_is_one_real_path_and_every_root_is_named():
    # 1 waits for 2 and 3; 2 waits for 4. 3 and 4 are roots; 1 -> 3 -> 4 is no real path.
    chains = blocking_chains({1: [2, 3], 2: [4]})
    assert chains[1] == ([1, 2, 4], [3, 4])
    assert chains[2] == ([2, 4], [4])
