"""Wall time of playbooks/diagnose.yml against the runbook's own shell commands, in one run.

Both run alternately on the same lab, several times; the figure is the ratio of the medians, so the
machine's speed cancels out. Usage: python bench/diagnose_bench.py [--runs N] [--fault NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))

import labctl  # noqa: E402  (the lab lives beside the benchmark, not in an installed package)

GOAL_RATIO = 3.0


def timed(command, env):
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fault", default="missing-index", help="fault present during the runs ('' for none)")
    args = parser.parse_args()

    labctl.up()
    labctl.clear_all()
    labctl.reset_stats()
    if args.fault:
        labctl.inject(args.fault)
    store = tempfile.mkdtemp(prefix="perf-bench-")
    env = dict(
        os.environ,
        PERF_INCIDENT_STORE=store,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}",
    )
    playbook = ["ansible-playbook", "-i", "inventories/lab/hosts.yml", "playbooks/diagnose.yml"]
    script = ["bash", "bench/runbook_diagnosis.sh"]
    ours, baseline = [], []
    try:
        for _ in range(args.runs):
            baseline.append(timed(script, env))
            ours.append(timed(playbook, env))
    finally:
        labctl.clear_all()
    result = {
        "runs": args.runs,
        "fault": args.fault,
        "baseline_script_median_s": round(statistics.median(baseline), 2),
        "diagnose_playbook_median_s": round(statistics.median(ours), 2),
        "ratio": round(statistics.median(ours) / statistics.median(baseline), 2),
        "goal_ratio": GOAL_RATIO,
        "baseline_s": [round(x, 2) for x in baseline],
        "playbook_s": [round(x, 2) for x in ours],
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
