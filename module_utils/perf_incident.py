"""The incident store: one folder per incident, an incident.json and an append-only timeline.

Every phase, run by hand, by AWX or hours later, names the incident by its id and finds it here.
Layout: <store>/<incident id>/incident.json, timeline.jsonl (one JSON event a line), report.json, report.md.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import re
import secrets

INCIDENT_ID = re.compile(r"INC-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}")


def utc_now():
    return datetime.datetime.now(datetime.UTC)


def iso(moment):
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def new_incident_id(moment=None):
    moment = moment or utc_now()
    return f"INC-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def valid_incident_id(incident_id):
    return isinstance(incident_id, str) and INCIDENT_ID.fullmatch(incident_id) is not None


def who_am_i(explicit=None):
    """Who acts: the operator named by the caller (AWX passes its user), else the login behind sudo."""
    if explicit:
        return explicit
    for variable in ("SUDO_USER", "USER", "LOGNAME"):
        if os.environ.get(variable):
            return os.environ[variable]
    return getpass.getuser()


def incident_dir(store, incident_id):
    if not valid_incident_id(incident_id):
        raise ValueError(f"incident id {incident_id!r} is not of the form INC-YYYYMMDD-HHMMSS-xxxx")
    return os.path.join(store, incident_id)


def load_incident(store, incident_id):
    path = os.path.join(incident_dir(store, incident_id), "incident.json")
    if not os.path.isfile(path):
        raise LookupError(f"no incident {incident_id} in the incident store {store}")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def incident_record(incident_id, started_at, alert, operator, store):
    return {
        "id": incident_id,
        "started_at": iso(started_at),
        "alert": alert,
        "opened_by": operator,
        "store": store,
        "path": incident_dir(store, incident_id),
    }


def write_new_incident(record):
    """Create the incident's folder and incident.json; refuses to overwrite an existing incident."""
    os.makedirs(record["path"], mode=0o750, exist_ok=True)
    path = os.path.join(record["path"], "incident.json")
    with open(path, "x", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)


def timeline_event(operator, phase, what, details=None, moment=None):
    return {"at": iso(moment or utc_now()), "who": operator, "phase": phase, "what": what, "details": details or {}}


def append_event(store, incident_id, event):
    """Append one event to the timeline. O_APPEND keeps concurrent writers' lines whole."""
    path = os.path.join(incident_dir(store, incident_id), "timeline.jsonl")
    line = json.dumps(event, sort_keys=True, default=str) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, line.encode("utf-8"))
    finally:
        os.close(descriptor)


def report_history_path(folder, report, extension):
    """Where a report is kept for good: reports are rewritten as an incident goes on, evidence is not lost."""
    stamp = report["generated_at"].replace(":", "").replace("-", "")
    return os.path.join(folder, "history", f"{stamp}-{report['phase']}.{extension}")


def read_timeline(store, incident_id):
    path = os.path.join(incident_dir(store, incident_id), "timeline.jsonl")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_file_atomically(path, text):
    """Write via a temporary file and rename, so a reader never sees half a report."""
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
