#!/usr/bin/env python3
"""Holds the sessions of one lab fault until SIGTERM: started detached by labctl.py, never by hand.

    fault_worker.py long-query --query SQL
    fault_worker.py blocking-lock
    fault_worker.py connection-flood --connections N
    fault_worker.py redis-latency --hold-ms 30 --interval-ms 100

Sessions connect as the application's user over TCP, like the real app, with
application_name 'lab-fault:<name>' (Redis: client name) so the lab (and a diagnosis) can tell them
apart. Once the sessions are in place the worker writes <state>/faults/<name>.json with their backend
pids (or the Redis fault's timing); labctl confirms the fault from pg_stat_activity (CLIENT LIST)
before reporting it. The Redis worker exits by itself when Redis goes away.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path

import labctl
import psycopg2
import redis

BLOCKING_UPDATE = 'UPDATE "Patient" SET "updatedAt" = now() WHERE "id" = 1'
SETUP_TIMEOUT_S = 10


class Worker:
    """The sessions one fault holds, and the threads blocked in them."""

    def __init__(self, fault: str):
        self.fault = fault
        self.connections: list = []
        self.blocked_connections: list = []
        self.stop = threading.Event()
        self.failure: str | None = None  # set by a background loop that had to give up

    def connect(self, autocommit: bool = True):
        cfg = labctl.settings()
        connection = psycopg2.connect(
            host=cfg["pg_host"],
            port=cfg["pg_port"],
            dbname=cfg["pg_db"],
            user=cfg["pg_app_user"],
            password=labctl.read_secret("app"),
            application_name=labctl.FAULT_APP_PREFIX + self.fault,
            connect_timeout=5,
        )
        connection.autocommit = autocommit
        self.connections.append(connection)
        return connection

    def run_blocked(self, connection, statement: str) -> None:
        """Run a statement that will not return (sleep, lock wait) in a thread; SIGTERM cancels it."""

        def execute():
            try:
                with connection.cursor() as cursor:
                    cursor.execute(statement)
            except psycopg2.Error:
                pass  # cancelled or terminated on clear: the expected end

        self.blocked_connections.append(connection)
        threading.Thread(target=execute, daemon=True).start()

    def release(self) -> None:
        """Cancel waiting statements first, then close everything (closing rolls back open transactions)."""
        for connection in self.blocked_connections:
            with contextlib.suppress(psycopg2.Error):
                connection.cancel()
        for connection in reversed(self.connections):
            with contextlib.suppress(psycopg2.Error):
                connection.close()


def wait_until_blocked(observer, pid: int) -> None:
    """Sequence the lock chain: the next waiter starts only once this one really waits."""
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    with observer.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", (pid,))
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise RuntimeError(f"backend {pid} never started waiting for its lock")


def long_query(worker: Worker, arguments) -> dict:
    session = worker.connect()
    pid = session.get_backend_pid()  # read before the statement occupies the connection
    worker.run_blocked(session, arguments.query)
    return {"pid": pid, "query": arguments.query}


def blocking_lock(worker: Worker, arguments) -> dict:
    holder = worker.connect(autocommit=False)
    with holder.cursor() as cursor:
        cursor.execute(BLOCKING_UPDATE)  # no COMMIT: the row lock stays, the session sits idle in transaction
    observer = worker.connect()
    blocked_pids = []
    for _ in range(2):
        waiter = worker.connect(autocommit=False)
        waiter_pid = waiter.get_backend_pid()
        worker.run_blocked(waiter, BLOCKING_UPDATE)
        wait_until_blocked(observer, waiter_pid)
        blocked_pids.append(waiter_pid)
    observer.close()
    worker.connections.remove(observer)
    return {"blocking_pid": holder.get_backend_pid(), "blocked_pids": blocked_pids}


def connection_flood(worker: Worker, arguments) -> dict:
    idle = arguments.connections // 2
    in_transaction = arguments.connections - idle
    for _ in range(idle):
        with worker.connect().cursor() as cursor:
            cursor.execute("SELECT 1")  # a used, then idle, pool connection
    for _ in range(in_transaction):
        with worker.connect(autocommit=False).cursor() as cursor:
            cursor.execute("SELECT 1")  # BEGIN is implicit: left idle in transaction
    return {"connections": len(worker.connections), "idle": idle, "idle_in_transaction": in_transaction}


def hold_redis_periodically(worker: Worker, client, hold_s: float, interval_s: float) -> None:
    """DEBUG SLEEP blocks the whole server (Redis runs commands one at a time): every client's command
    arriving meanwhile waits. One hold per interval, start to start, until SIGTERM or Redis goes away."""
    try:
        while not worker.stop.is_set():
            started = time.monotonic()
            client.execute_command("DEBUG", "SLEEP", hold_s)
            worker.stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    except redis.RedisError as error:
        worker.failure = " ".join(str(error).split())
        worker.stop.set()
    finally:
        client.close()


def redis_latency(worker: Worker, arguments) -> dict:
    hold_s, interval_s = arguments.hold_ms / 1000, arguments.interval_ms / 1000
    client = labctl.redis_connect(timeout=5, client_name=labctl.FAULT_APP_PREFIX + worker.fault)
    client.execute_command("DEBUG", "SLEEP", 0)  # refused unless --enable-debug-command: fail before reporting
    threading.Thread(target=hold_redis_periodically, args=(worker, client, hold_s, interval_s), daemon=True).start()
    return {
        "hold_ms": arguments.hold_ms,
        "interval_ms": arguments.interval_ms,
        "command": f"DEBUG SLEEP {hold_s:g}",
    }


SETUPS = {
    "long-query": long_query,
    "blocking-lock": blocking_lock,
    "connection-flood": connection_flood,
    "redis-latency": redis_latency,
}


def parse_arguments(argv: list[str]):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fault", choices=sorted(SETUPS))
    parser.add_argument("--query", default="SELECT pg_sleep(3600)")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--hold-ms", type=int, default=30)
    parser.add_argument("--interval-ms", type=int, default=100)
    return parser.parse_args(argv)


def write_info(fault: str, info: dict) -> None:
    path = Path(labctl.settings()["faults_dir"]) / f"{fault}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(info) + "\n")
    temporary.replace(path)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    worker = Worker(arguments.fault)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    try:
        info = SETUPS[arguments.fault](worker, arguments)
        write_info(arguments.fault, info)
        print(f"{arguments.fault}: in place {info}", flush=True)
        while not worker.stop.wait(1):
            pass
    except (psycopg2.Error, redis.RedisError, RuntimeError, labctl.LabError) as error:
        print(f"{arguments.fault}: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
        worker.release()
        return 1
    worker.release()
    if worker.failure:
        print(f"{arguments.fault}: gave up: {worker.failure}", file=sys.stderr, flush=True)
        return 1
    print(f"{arguments.fault}: released", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
