"""The real lab for integration tests: started if it is not running, stopped again after if we started it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="session")
def lab():
    import labctl

    was_running = labctl.status().get("all_running", False)
    labctl.up()
    yield labctl
    labctl.clear_all()
    if not was_running:
        labctl.down()


@pytest.fixture
def clean_lab(lab):
    """No fault and fresh statistics before and after each test: every test starts from a healthy lab."""
    lab.clear_all()
    lab.reset_stats()
    yield lab
    lab.clear_all()


@pytest.fixture(scope="session")
def pg_login(lab):
    """How the diagnosis connects: perf_monitor (pg_monitor, not a superuser) with its password over TCP."""
    settings = lab.settings()
    return {
        "login_host": settings["pg_host"],
        "login_port": settings["pg_port"],
        "login_user": settings["pg_monitor_user"],
        "login_password": lab.read_secret("monitor"),
        "login_db": settings["pg_db"],
        "ssl_mode": "disable",
    }


def run_playbook(playbook, store, *extra_args, env=None, check=True, inventory=None):
    """Run a playbook as the on-call engineer would, against the lab inventory."""
    environment = dict(
        os.environ,
        PERF_INCIDENT_STORE=str(store),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        **(env or {}),
    )
    inventory = inventory or ROOT / "inventories/lab/hosts.yml"
    command = ["ansible-playbook", "-i", str(inventory), str(ROOT / playbook), *extra_args]
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def latest_report(store):
    incidents = sorted(store.glob("INC-*"), key=lambda path: path.stat().st_mtime)
    assert incidents, f"no incident in {store}"
    report = json.loads((incidents[-1] / "report.json").read_text())
    return report, incidents[-1]


def db_checks(report):
    """{check name: record} of the lab's database host."""
    (db,) = [host for host in report["hosts"] if host["role"] == "db"]
    return {record["check"]: record for record in db["checks"]}
