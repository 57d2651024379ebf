#!/usr/bin/python
"""Ansible module: tables read by large sequential scans, with the columns worth indexing."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_index_candidates
short_description: Tables where sequential scans dominate, and the columns worth indexing
description:
  - The runbook's "Check for missing indexes", made precise. A table is a candidate when it holds at least
    O(min_table_rows) rows, sequential scans read at least O(min_seq_read_share) of the rows read from it
    (C(pg_stat_user_tables)), and sequential scans have read the whole table at least O(min_full_scans) times
    over (cheap scans that stop early neither qualify a table nor hide one that is also read in full).
  - For each candidate, the statements of C(pg_stat_statements) that name the table are read for the
    columns they filter (WHERE, JOIN ... ON) and sort (ORDER BY) on. Columns that already lead a valid index
    are dropped; the rest are ranked, filtered columns first, by the execution time of those statements. So
    the answer is the column the slow query needs, not every column with many distinct values.
  - Each candidate carries a suggested index (columns, order, and the C(CREATE INDEX CONCURRENTLY) statement
    with quoted identifiers) for the create_index_concurrently fix.
  - Grades the size (rows) of the candidate tables against C(pg_seq_scan_rows), and says how many times over
    the table was read (C(full_scans)) since statistics were reset.
version_added: "1.0.0"
author: perf-runbook engineers
options:
  min_table_rows:
    description: Smallest table (live rows) worth an index; smaller tables are cheap to scan.
    type: int
    default: 10000
  min_seq_read_share:
    description: Share (0 to 1) of the table's rows read by sequential rather than index scans.
    type: float
    default: 0.5
  min_full_scans:
    description: How many times over sequential scans must have read the whole table.
    type: float
    default: 1.0
  statements_per_table:
    description: Heaviest statements per table to read for column usage.
    type: int
    default: 20
  limit:
    description: Most tables to return.
    type: int
    default: 20
extends_documentation_fragment:
  - perf_postgres
  - perf_thresholds
  - perf_postgres.read_only
notes:
  - Without C(pg_stat_statements) in O(login_db), tables are still found but columns cannot be attributed;
    the record's notes say so.
"""

EXAMPLES = r"""
- name: diagnose | Missing indexes
  pg_index_candidates:
    login_host: 127.0.0.1
    login_user: perf_monitor
    login_password: "{{ vault_pg_monitor_password }}"
    login_db: holi_protocol
  register: index_candidates

- name: diagnose | The index to build
  ansible.builtin.debug:
    msg: "{{ index_candidates.tables[0].suggested_index.statement }}"
  when: index_candidates.tables | length > 0
"""

RETURN = r"""
check:
  description: The check record (see docs/report-schema.json).
  returned: success
  type: dict
  sample:
    check: pg_index_candidates
    status: critical
    value: 500000
    unit: rows
    summary: >-
      "Patient"."createdAt": 500000-row table read by sequential scans, 30.0 times over since statistics
      were reset
tables:
  description: Candidate tables, most rows read sequentially first.
  returned: success
  type: list
  elements: dict
  sample:
    - schema: public
      table: Patient
      seq_scan: 30
      seq_tup_read: 15000000
      idx_scan: 2
      live_rows: 500000
      rows_per_seq_scan: 166666
      full_scans: 30.0
      columns:
        - column: createdAt
          filter: true
          sort: true
          descending: true
          total_ms: 4100.5
      suggested_index:
        schema: public
        table: Patient
        columns: [createdAt]
        order: DESC
        statement: CREATE INDEX CONCURRENTLY ON "public"."Patient" ("createdAt" DESC)
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.perf_pg_module import module_argument_spec, run_single_check_module


def main():
    options = ["min_table_rows", "min_seq_read_share", "min_full_scans", "statements_per_table", "limit"]
    module = AnsibleModule(argument_spec=module_argument_spec(options), supports_check_mode=True)
    record = run_single_check_module(module, "index_candidates")
    module.exit_json(changed=False, check=record, tables=record["evidence"]["tables"])


if __name__ == "__main__":
    main()
