"""A server that stops answering must not hang the diagnosis: real sockets on loopback, no mocks."""

from __future__ import annotations

import contextlib
import importlib
import socket
import threading
import time

import pytest


class LoopbackListener:
    """A TCP listener on 127.0.0.1 with an accept loop in a thread; subclasses say what to do per client."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            self.handle(client)

    def handle(self, client):
        raise NotImplementedError

    def close(self):
        self.listener.close()
        for sock in self.sockets:
            # shutdown() sends the FIN and wakes the relay threads blocked in recv(); close() alone does neither.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class SilentServer(LoopbackListener):
    """Accepts TCP connections and never says a word."""

    def handle(self, client):
        pass


class FreezingProxy(LoopbackListener):
    """Relays to PostgreSQL until the client sends a statement containing ``trigger``; from then on the
    server's answers are swallowed, as when a server or a network path freezes mid-diagnosis."""

    def __init__(self, upstream_port, trigger):
        self.upstream_port = upstream_port
        self.trigger = trigger
        self.frozen = threading.Event()
        super().__init__()

    def handle(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        self.sockets.append(upstream)
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, target, from_client):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if from_client and self.trigger in data:
                self.frozen.set()
            if not from_client and self.frozen.is_set():
                continue
            try:
                target.sendall(data)
            except OSError:
                return


def wait_until_our_sessions_are_gone(lab, timeout=10):
    """The frozen path kept our server session open; once the proxy is closed the server drops it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not lab._query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'perf-runbook'"):
            return
        time.sleep(0.1)
    raise AssertionError("a perf-runbook session outlived the proxy")


@pytest.fixture
def pg_diagnose():
    return importlib.import_module("pg_diagnose")


def test_a_server_that_never_answers_fails_every_check_within_the_bound(pg_login, module_runner, pg_diagnose):
    server = SilentServer()
    try:
        started = time.monotonic()
        result = module_runner(
            pg_diagnose, {**pg_login, "login_port": server.port, "connect_timeout": 2, "statement_timeout_ms": 1000}
        )
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert not result.failed
    assert {record["status"] for record in result["checks"]} == {"failed"}
    assert "did not answer within 5 s" in result["checks"][0]["error"]
    assert elapsed < 15


def test_a_server_that_freezes_midway_fails_the_check_it_froze_in_and_the_rest_at_once(
    clean_lab, pg_login, module_runner, pg_diagnose
):
    proxy = FreezingProxy(pg_login["login_port"], trigger=b"pg_blocking_pids")
    try:
        started = time.monotonic()
        result = module_runner(
            pg_diagnose, {**pg_login, "login_port": proxy.port, "connect_timeout": 2, "statement_timeout_ms": 1000}
        )
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
        wait_until_our_sessions_are_gone(clean_lab)
    statuses = {record["check"]: record["status"] for record in result["checks"]}
    assert statuses["pg_activity"] == "ok" and statuses["pg_long_queries"] == "ok"
    assert statuses["pg_blocking_locks"] == "failed"
    errors = {record["check"]: record["error"] for record in result["checks"]}
    assert "did not answer within 5 s" in errors["pg_blocking_locks"]
    for later in ("pg_pool_usage", "pg_cache_hit", "pg_index_candidates", "pg_top_queries"):
        assert statuses[later] == "failed"
        assert "connection lost during blocking_locks" in errors[later]
    assert elapsed < 15
