"""redis_bigkeys against redis-cli --bigkeys on a keyspace of a million keys, in one run.

Both scan the same keyspace (database 9 of the lab's Redis, filled with DEBUG POPULATE plus the
redis-big-keys fault's four big keys copied in); meanwhile a concurrent client PINGs every 5 ms and
records its latency. The figures: wall time of each scan, their ratio, and the concurrent client's
p99 during each scan against its p99 with no scan. Usage: python bench/bigkeys_bench.py [--keys N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))

import ansible.module_utils  # noqa: E402

ansible.module_utils.__path__.append(str(ROOT / "module_utils"))

import labctl  # noqa: E402
from ansible.module_utils.perf_redis import redis_argument_spec  # noqa: E402
from ansible.module_utils.perf_redis_checks import percentile  # noqa: E402
from ansible.module_utils.perf_redis_module import OPTION_SPECS, run_checks  # noqa: E402

BENCH_DB = 9
GOAL_SPEEDUP = 2.0


def _probe_loop(port, password, connection):
    """In its own process (no shared GIL with the scan): PING every 5 ms; on each request from the
    parent, hand over the samples gathered since the last one."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, password=password, protocol=2, db=BENCH_DB)
    samples = []
    while True:
        if connection.poll():
            if connection.recv() == "stop":
                return
            connection.send(samples)
            samples = []
        started = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - started) * 1000.0)
        time.sleep(0.005)


class PingProbe:
    """A concurrent client in another process, round-trip times kept per phase."""

    def __init__(self):
        self.parent, child = multiprocessing.Pipe()
        settings = labctl.settings()
        self.process = multiprocessing.Process(
            target=_probe_loop, args=(settings["redis_port"], labctl.read_secret("redis_app"), child), daemon=True
        )
        self.process.start()

    def _collect(self):
        self.parent.send("collect")
        return self.parent.recv()

    def measure(self, action):
        self._collect()
        started = time.monotonic()
        action()
        elapsed = time.monotonic() - started
        samples = self._collect()
        return round(elapsed, 2), round(percentile(samples, 0.99), 3) if samples else None, len(samples)

    def stop(self):
        self.parent.send("stop")
        self.process.join(timeout=5)


def fill_keyspace(keys):
    client = labctl.redis_connect(timeout=120.0)
    client.execute_command("SELECT", BENCH_DB)
    client.flushdb()
    client.execute_command("DEBUG", "POPULATE", keys, "bench")
    # The four big keys of the lab's redis-big-keys fault, so the answer is known.
    labctl.inject("redis-big-keys")
    for key in ("session:large-key", "log:events", "online:users", "cache:report:monthly"):
        client.execute_command("SELECT", 0)
        dumped = client.dump(key)
        client.execute_command("SELECT", BENCH_DB)
        client.restore(key, 0, dumped, replace=True)
    labctl.clear("redis-big-keys")
    return client


def redis_cli_scan():
    settings = labctl.settings()
    environment = dict(os.environ, REDISCLI_AUTH=labctl.read_secret("redis_monitor"))
    subprocess.run(
        [
            "redis-cli",
            "-h",
            "127.0.0.1",
            "-p",
            str(settings["redis_port"]),
            "--user",
            settings["redis_monitor_user"],
            "--no-auth-warning",
            "-n",
            str(BENCH_DB),
            "--bigkeys",
        ],
        env=environment,
        capture_output=True,
        check=True,
        timeout=600,
    )


def our_scan(result):
    settings = labctl.settings()
    params = {name: spec.get("default") for name, spec in redis_argument_spec().items()}
    params.update({name: spec.get("default") for name, spec in OPTION_SPECS.items()})
    params.update(
        login_port=settings["redis_port"],
        login_user=settings["redis_monitor_user"],
        login_password=labctl.read_secret("redis_monitor"),
        db=BENCH_DB,
        thresholds={},
        socket_timeout=30.0,
    )
    (record,), _ = run_checks(params, ["bigkeys"])
    result.update(record)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1000000)
    args = parser.parse_args()
    labctl.up()
    client = fill_keyspace(args.keys)
    probe = PingProbe()
    try:
        idle = probe.measure(lambda: time.sleep(5))
        theirs = probe.measure(redis_cli_scan)
        record = {}
        ours = probe.measure(lambda: our_scan(record))
    finally:
        probe.stop()
        client.execute_command("SELECT", BENCH_DB)
        client.flushdb()
    result = {
        "keys": args.keys + 4,
        "redis_cli_bigkeys_s": theirs[0],
        "redis_bigkeys_s": ours[0],
        "speedup": round(theirs[0] / ours[0], 2),
        "goal_speedup": GOAL_SPEEDUP,
        "probe_p99_ms": {"no_scan": idle[1], "during_redis_cli": theirs[1], "during_redis_bigkeys": ours[1]},
        "probe_samples": {"no_scan": idle[2], "during_redis_cli": theirs[2], "during_redis_bigkeys": ours[2]},
        "our_top_by_memory": [row["key"] for row in record["evidence"]["top_by_memory"][:4]],
        "our_scanned_keys": record["evidence"]["scanned_keys"],
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "bigkeys.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
