"""PostgreSQL diagnostic checks: plain functions from a connection to one check record.

Single-purpose modules (pg_long_queries, ...) wrap one check; the pg_diagnose collector runs several
over one connection. Both call these functions, so they cannot drift apart. Every statement here is
read-only, bounded (LIMIT, truncated query text) and runs under the session's statement_timeout.
"""

from __future__ import annotations

from ansible.module_utils.perf_postgres import fetch_all, fetch_one, one_line, psycopg2, quote_ident
from ansible.module_utils.perf_result import STATUS_RANK, classify, failed_record, make_record, worst_status
from ansible.module_utils.perf_sql import columns_used_on

# Sessions that are ours or not clients (replication, autovacuum, background workers) never count.
_CLIENTS_NOT_OURS = "a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"

_SESSION_COLUMNS = """
    a.pid, a.usename AS user, a.datname AS database, a.application_name AS application,
    host(a.client_addr) AS client, a.state, a.wait_event_type, a.wait_event,
    round(extract(epoch FROM now() - a.query_start)::numeric, 3)::float AS query_seconds,
    round(extract(epoch FROM now() - a.xact_start)::numeric, 3)::float AS transaction_seconds,
    round(extract(epoch FROM now() - a.state_change)::numeric, 3)::float AS state_seconds,
    left(a.query, %(query_length)s) AS query
"""


def _visibility_notes(facts):
    if facts and not facts["sees_all_sessions"]:
        return [
            f"role {facts['user_name']} is not a member of pg_monitor / pg_read_all_stats: other users' "
            "sessions show no state or query, so this check may miss them"
        ]
    return []


def _split_total(rows):
    """Rows fetched with ``count(*) OVER () AS total_matching``: (rows without it, how many matched in all).
    The LIMIT bounds what is returned, never what is counted."""
    total = rows[0]["total_matching"] if rows else 0
    for row in rows:
        row.pop("total_matching")
    return rows, total


def _shown(total, rows):
    return f" ({len(rows)} shown)" if total > len(rows) else ""


def check_activity(connection, facts, thresholds, options):
    """Non-idle client sessions, longest first (the runbook's 'active queries and duration')."""
    rows, total = _split_total(
        fetch_all(
            connection,
            f"""
            SELECT {_SESSION_COLUMNS}, count(*) OVER () AS total_matching
            FROM pg_stat_activity a
            WHERE {_CLIENTS_NOT_OURS} AND a.state IS DISTINCT FROM 'idle'
            ORDER BY a.query_start NULLS LAST
            LIMIT %(limit)s
            """,
            {"query_length": options["query_length"], "limit": options["limit"]},
        )
    )
    return make_record(
        "pg_activity",
        "ok",
        value=total,
        unit="sessions",
        evidence={"sessions": rows, "total": total},
        summary=f"{total} non-idle client session(s){_shown(total, rows)}",
        notes=_visibility_notes(facts),
    )


def check_long_queries(connection, facts, thresholds, options):
    """Statements running longer than the warning threshold, longest first."""
    threshold = thresholds["pg_long_query_seconds"]
    minimum = options.get("min_duration_seconds")
    if minimum is None:
        minimum = threshold["warning"]
    rows = fetch_all(
        connection,
        f"""
        SELECT {_SESSION_COLUMNS}, count(*) OVER () AS total_matching
        FROM pg_stat_activity a
        WHERE {_CLIENTS_NOT_OURS}
          AND a.state IN ('active', 'fastpath function call')
          AND now() - a.query_start > make_interval(secs => %(minimum)s)
        ORDER BY a.query_start
        LIMIT %(limit)s
        """,
        {"query_length": options["query_length"], "limit": options["limit"], "minimum": minimum},
    )
    rows, total = _split_total(rows)
    longest = rows[0]["query_seconds"] if rows else 0.0
    status = classify(longest, threshold) if rows else "ok"
    summary = (
        f"{total} statement(s) running over {minimum} s{_shown(total, rows)}; "
        f"longest pid {rows[0]['pid']} for {longest:.1f} s"
        if rows
        else f"no statement running over {minimum} s"
    )
    return make_record(
        "pg_long_queries",
        status,
        value=longest,
        unit="s",
        threshold=threshold,
        evidence={"queries": rows, "total": total, "min_duration_seconds": minimum},
        summary=summary,
        notes=_visibility_notes(facts),
    )


# How many lock waiters the wait-for graph is built from: far beyond any real pile-up, yet bounded.
_LOCK_WAITERS_CAP = 10000


def _lock_waiters(connection):
    """{pid: (pids blocking it, seconds waited)} for every session waiting on a lock.

    The whole graph is read, without statement text: a LIMIT here would cut chains short and make a
    waiting session look like a root. pg_blocking_pids() takes the lock manager's partition locks,
    so it is called only for sessions that wait on a lock."""
    rows = fetch_all(
        connection,
        """
        SELECT a.pid, pg_blocking_pids(a.pid) AS blocked_by,
               round(extract(epoch FROM now() - (
                   SELECT min(l.waitstart) FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted
               ))::numeric, 3)::float AS wait_seconds
        FROM pg_stat_activity a
        WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
        LIMIT %(cap)s
        """,
        {"cap": _LOCK_WAITERS_CAP},
    )
    return {row["pid"]: (list(row["blocked_by"]), row["wait_seconds"]) for row in rows if row["blocked_by"]}


def _sessions_by_pid(connection, pids, options):
    if not pids:
        return {}
    rows = fetch_all(
        connection,
        f"SELECT {_SESSION_COLUMNS} FROM pg_stat_activity a WHERE a.pid = ANY(%(pids)s)",
        {"query_length": options["query_length"], "pids": sorted(pids)},
    )
    return {row["pid"]: row for row in rows}


def blocking_chains(blocked_by):
    """For {pid: [pids blocking it]}, return {pid: (chain, root pids)}.

    The chain is one real path of the wait-for graph, from the pid through whom it waits for to a root
    blocker (a session that blocks and does not wait); the roots are every root the pid waits behind,
    by any path. A cycle (a deadlock not yet detected) stops the walk instead of looping."""
    return {pid: (_one_path(pid, blocked_by), _reachable_roots(pid, blocked_by)) for pid in blocked_by}


def _one_path(pid, blocked_by):
    path, seen = [pid], {pid}
    while blocked_by.get(path[-1]):
        step = next((blocker for blocker in sorted(blocked_by[path[-1]]) if blocker not in seen), None)
        if step is None:
            break
        path.append(step)
        seen.add(step)
    return path


def _reachable_roots(pid, blocked_by):
    roots, seen, frontier = set(), {pid}, list(blocked_by[pid])
    while frontier:
        blocker = frontier.pop()
        if blocker in seen:
            continue
        seen.add(blocker)
        if blocked_by.get(blocker):
            frontier.extend(blocked_by[blocker])
        else:
            roots.add(blocker)
    return sorted(roots)


def check_blocking_locks(connection, facts, thresholds, options):
    """Every blocked session with whom it waits for, through the whole chain to the root blocker."""
    threshold = thresholds["pg_lock_wait_seconds"]
    waiters = _lock_waiters(connection)
    if not waiters:
        return make_record(
            "pg_blocking_locks",
            "ok",
            value=0.0,
            unit="s",
            threshold=threshold,
            evidence={"blocked": [], "root_blockers": [], "total_blocked": 0},
            summary="no session is blocked by a lock",
            notes=_visibility_notes(facts),
        )
    blocked_by = {pid: blockers for pid, (blockers, _) in waiters.items()}
    chains = blocking_chains(blocked_by)
    root_counts = _root_counts(chains)
    shown = sorted(waiters, key=lambda pid: -(waiters[pid][1] or 0))[: options["limit"]]
    sessions = _sessions_by_pid(connection, set(shown) | set(root_counts), options)
    entries = [
        {
            **sessions.get(pid, {"pid": pid}),
            "wait_seconds": waiters[pid][1],
            "blocking_pids": blocked_by[pid],
            "chain": chains[pid][0],
            "root_blocking_pids": chains[pid][1],
        }
        for pid in shown
    ]
    roots = [
        {**sessions.get(pid, {"pid": pid, "state": "unknown", "query": None}), "blocks": count}
        for pid, count in root_counts.items()
    ]
    longest = max((wait or 0.0) for _, wait in waiters.values())
    head = roots[0] if roots else None
    summary = f"{len(waiters)} session(s) blocked{_shown(len(waiters), entries)}; longest wait {longest:.1f} s" + (
        f"; root blocker pid {head['pid']} ({head['state']}) blocks {head['blocks']}" if head else ""
    )
    return make_record(
        "pg_blocking_locks",
        classify(longest, threshold),
        value=longest,
        unit="s",
        threshold=threshold,
        evidence={"blocked": entries, "root_blockers": roots, "total_blocked": len(waiters)},
        summary=summary,
        notes=_visibility_notes(facts),
    )


def _root_counts(chains):
    """{root pid: how many sessions wait behind it}, most first."""
    counts = {}
    for _, roots in chains.values():
        for root in roots:
            counts[root] = counts.get(root, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def check_pool_usage(connection, facts, thresholds, options):
    """Client connections against max_connections, per state and database.

    Every connection holds a slot whatever its state, so utilization counts them all; the runbook's
    narrower rule (active + idle in transaction over 80 %) is reported beside it."""
    threshold = thresholds["pg_pool_utilization_percent"]
    settings = fetch_one(
        connection,
        """
        SELECT current_setting('max_connections')::int AS max_connections,
               current_setting('superuser_reserved_connections')::int AS superuser_reserved
        """,
    )
    per_database = fetch_all(
        connection,
        """
        SELECT coalesce(a.datname, '') AS database,
               count(*) FILTER (WHERE a.state = 'active') AS active,
               count(*) FILTER (WHERE a.state = 'idle') AS idle,
               count(*) FILTER (WHERE a.state LIKE 'idle in transaction%%') AS idle_in_transaction,
               count(*) AS total
        FROM pg_stat_activity a
        WHERE a.backend_type = 'client backend'
        GROUP BY 1 ORDER BY total DESC
        """,
    )
    top_users = _top_connection_holders(connection, options)
    totals = {key: sum(row[key] for row in per_database) for key in ("active", "idle", "idle_in_transaction", "total")}
    limit = settings["max_connections"]
    utilization = round(100.0 * totals["total"] / limit, 1)
    busy = round(100.0 * (totals["active"] + totals["idle_in_transaction"]) / limit, 1)
    summary = (
        f"{totals['total']} of {limit} connections in use ({utilization} %): {totals['active']} active, "
        f"{totals['idle']} idle, {totals['idle_in_transaction']} idle in transaction"
    )
    return make_record(
        "pg_pool_usage",
        classify(utilization, threshold),
        value=utilization,
        unit="%",
        threshold=threshold,
        evidence={
            **totals,
            "max_connections": limit,
            "superuser_reserved_connections": settings["superuser_reserved"],
            "busy_percent": busy,
            "per_database": per_database,
            "top_holders": top_users,
        },
        summary=summary,
        notes=_visibility_notes(facts),
    )


def _top_connection_holders(connection, options):
    return fetch_all(
        connection,
        """
        SELECT a.usename AS user, a.application_name AS application, host(a.client_addr) AS client,
               count(*) AS connections,
               count(*) FILTER (WHERE a.state = 'idle') AS idle,
               count(*) FILTER (WHERE a.state LIKE 'idle in transaction%%') AS idle_in_transaction,
               round(max(extract(epoch FROM now() - a.state_change))::numeric, 1)::float AS oldest_state_seconds
        FROM pg_stat_activity a
        WHERE a.backend_type = 'client backend'
        GROUP BY 1, 2, 3 ORDER BY connections DESC
        LIMIT %(limit)s
        """,
        {"limit": options["limit"]},
    )


def pool_exhausted_record(thresholds, error, target=None):
    """The server refused even our connection: that is the finding (pool exhaustion), not a mere failure."""
    threshold = thresholds["pg_pool_utilization_percent"]
    return make_record(
        "pg_pool_usage",
        "critical",
        value=100.0,
        unit="%",
        threshold=threshold,
        evidence={"connect_error": error},
        summary="the server refused a new connection: every connection slot is taken",
        target=target,
    )


def check_cache_hit(connection, facts, thresholds, options):
    """Heap cache hit ratio of this database's tables (the runbook's query), with the tables read most from disk."""
    threshold = thresholds["pg_cache_hit_percent"]
    totals = fetch_one(
        connection,
        """
        SELECT coalesce(sum(heap_blks_read), 0)::bigint AS heap_read,
               coalesce(sum(heap_blks_hit), 0)::bigint AS heap_hit
        FROM pg_statio_user_tables
        """,
    )
    readers = fetch_all(
        connection,
        """
        SELECT schemaname AS schema, relname AS table, heap_blks_read AS heap_read, heap_blks_hit AS heap_hit
        FROM pg_statio_user_tables
        WHERE heap_blks_read > 0
        ORDER BY heap_blks_read DESC
        LIMIT %(limit)s
        """,
        {"limit": options["limit"]},
    )
    accesses = totals["heap_read"] + totals["heap_hit"]
    if accesses == 0:
        return make_record(
            "pg_cache_hit",
            "ok",
            value=None,
            unit="%",
            threshold=threshold,
            evidence={**totals, "tables": []},
            summary="no table reads recorded yet in this database (statistics just reset or idle)",
        )
    ratio = round(100.0 * totals["heap_hit"] / accesses, 2)
    return make_record(
        "pg_cache_hit",
        classify(ratio, threshold),
        value=ratio,
        unit="%",
        threshold=threshold,
        evidence={**totals, "tables": readers},
        summary=f"heap cache hit ratio {ratio} % over {accesses} block reads",
    )


def _seq_scan_heavy_tables(connection, options):
    # Size from pg_class.reltuples (kept by ANALYZE) as well as n_live_tup, which pg_stat_reset() zeroes.
    return fetch_all(
        connection,
        """
        SELECT t.relid, t.schemaname AS schema, t.relname AS table, t.seq_scan, t.seq_tup_read,
               coalesce(t.idx_scan, 0) AS idx_scan, coalesce(t.idx_tup_fetch, 0) AS idx_tup_fetch,
               greatest(t.n_live_tup, c.reltuples::bigint) AS live_rows,
               (t.seq_tup_read / greatest(t.seq_scan, 1))::bigint AS rows_per_seq_scan,
               round((t.seq_tup_read / greatest(t.n_live_tup, c.reltuples, 1))::numeric, 1)::float AS full_scans
        FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
        WHERE t.seq_scan > 0 AND greatest(t.n_live_tup, c.reltuples::bigint) >= %(min_rows)s
          AND t.seq_tup_read::float / greatest(t.seq_tup_read + coalesce(t.idx_tup_fetch, 0), 1) >= %(min_share)s
          -- Read in full at least this many times over: cheap scans that stop early (LIMIT without ORDER
          -- BY) neither qualify a table nor dilute one that is also read in full.
          AND t.seq_tup_read >= %(min_full_scans)s * greatest(t.n_live_tup, c.reltuples, 1)
        ORDER BY t.seq_tup_read DESC
        LIMIT %(limit)s
        """,
        {
            "min_rows": options["min_table_rows"],
            "min_share": options["min_seq_read_share"],
            "min_full_scans": options["min_full_scans"],
            "limit": options["limit"],
        },
    )


def _table_columns_and_leading_index_columns(connection, relid):
    columns = fetch_all(
        connection,
        "SELECT attname AS name FROM pg_attribute WHERE attrelid = %(relid)s AND attnum > 0 AND NOT attisdropped",
        {"relid": relid},
    )
    leading = fetch_all(
        connection,
        """
        SELECT a.attname AS name
        FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = %(relid)s AND i.indisvalid
        """,
        {"relid": relid},
    )
    return {row["name"] for row in columns}, {row["name"] for row in leading}


def _has_pg_stat_statements(connection):
    return bool(fetch_one(connection, "SELECT 1 AS present FROM pg_extension WHERE extname = 'pg_stat_statements'"))


def _statements_touching(connection, table, options):
    """Heaviest pg_stat_statements texts that name the table (LIKE's wildcards only widen the net:
    the statements are then read exactly)."""
    return fetch_all(
        connection,
        """
        SELECT s.queryid::text AS queryid, s.calls, round(s.total_exec_time::numeric, 1)::float AS total_ms,
               round(s.mean_exec_time::numeric, 1)::float AS mean_ms, left(s.query, 2000) AS query
        FROM pg_stat_statements s
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND s.query ILIKE %(pattern)s
        ORDER BY s.total_exec_time DESC
        LIMIT %(limit)s
        """,
        {"pattern": f"%{table}%", "limit": options["statements_per_table"]},
    )


def _column_candidates(schema, table, statements, columns, indexed_first):
    """Rank the table's unindexed columns by the time of the statements that filter or sort on them."""
    scores = {}
    for statement in statements:
        for column, usage in columns_used_on(statement["query"], table, columns, schema=schema).items():
            if column in indexed_first:
                continue
            entry = scores.setdefault(
                column,
                {
                    "column": column,
                    "total_ms": 0.0,
                    "filter": False,
                    "sort": False,
                    "descending": False,
                    "statements": [],
                },
            )
            entry["total_ms"] = round(entry["total_ms"] + statement["total_ms"], 1)
            for key in ("filter", "sort", "descending"):
                entry[key] |= usage[key]
            entry["statements"].append({k: statement[k] for k in ("queryid", "calls", "mean_ms", "total_ms", "query")})
    # A column that is filtered on beats one only sorted on; then the time at stake decides.
    return sorted(scores.values(), key=lambda entry: (not entry["filter"], -entry["total_ms"]))


def _suggested_index(connection, schema, table, candidate):
    """The index the top column asks for, as data and as the statement create_index_concurrently would run."""
    order = "DESC" if candidate["sort"] and candidate["descending"] else "ASC"
    statement = "CREATE INDEX CONCURRENTLY ON {}.{} ({}{})".format(
        quote_ident(connection, schema),
        quote_ident(connection, table),
        quote_ident(connection, candidate["column"]),
        " DESC" if order == "DESC" else "",
    )
    return {"schema": schema, "table": table, "columns": [candidate["column"]], "order": order, "statement": statement}


def check_index_candidates(connection, facts, thresholds, options):
    """Tables read mostly by sequential scans, with the columns their heaviest statements filter and sort on."""
    threshold = thresholds["pg_seq_scan_rows"]
    tables = _seq_scan_heavy_tables(connection, options)
    candidates, notes = [], []
    with_statements = bool(tables) and _has_pg_stat_statements(connection)
    if tables and not with_statements:
        notes.append("pg_stat_statements is not installed in this database: columns cannot be attributed")
    for table in tables:
        columns, indexed_first = _table_columns_and_leading_index_columns(connection, table["relid"])
        statements = _statements_touching(connection, table["table"], options) if with_statements else []
        ranked = _column_candidates(table["schema"], table["table"], statements, columns, indexed_first)
        table.pop("relid")
        table["status"] = classify(table["live_rows"], threshold)
        table["columns"] = ranked
        if ranked:
            table["suggested_index"] = _suggested_index(connection, table["schema"], table["table"], ranked[0])
        candidates.append(table)
    # Worst first, then most rows read: the summary and the value speak of the same table as the status.
    candidates.sort(key=lambda t: (-STATUS_RANK[t["status"]], -t["seq_tup_read"]))
    status = worst_status(t["status"] for t in candidates) if candidates else "ok"
    top = candidates[0] if candidates else None
    value = top["live_rows"] if top else 0
    summary = "no large table is read mostly by sequential scans"
    if top:
        column = f'."{top["columns"][0]["column"]}"' if top["columns"] else ""
        summary = (
            f'"{top["table"]}"{column}: {top["live_rows"]}-row table read by sequential scans, '
            f"{top['full_scans']} times over since statistics were reset"
        )
    return make_record(
        "pg_index_candidates",
        status,
        value=value,
        unit="rows",
        threshold=threshold,
        evidence={"tables": candidates},
        summary=summary,
        notes=notes,
    )


def _abridged(statement, length=100):
    text = " ".join((statement or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


_TOP_QUERY_ORDER = {"total_time": "s.total_exec_time", "mean_time": "s.mean_exec_time", "calls": "s.calls"}


def check_top_queries(connection, facts, thresholds, options):
    """The heaviest statements from pg_stat_statements, graded by mean time."""
    threshold = thresholds["pg_statement_mean_ms"]
    if not _has_pg_stat_statements(connection):
        return failed_record(
            "pg_top_queries",
            "pg_stat_statements is not installed in this database (needs shared_preload_libraries and "
            "CREATE EXTENSION pg_stat_statements)",
            threshold=threshold,
        )
    order = _TOP_QUERY_ORDER[options["order_by"]]
    rows = fetch_all(
        connection,
        f"""
        SELECT s.queryid::text AS queryid, r.rolname AS user, s.calls,
               round(s.total_exec_time::numeric, 1)::float AS total_ms,
               round(s.mean_exec_time::numeric, 2)::float AS mean_ms,
               round(s.max_exec_time::numeric, 2)::float AS max_ms,
               round((s.rows::numeric / greatest(s.calls, 1)), 1)::float AS rows_per_call,
               s.shared_blks_hit, s.shared_blks_read,
               left(s.query, %(query_length)s) AS query
        FROM pg_stat_statements s
        LEFT JOIN pg_roles r ON r.oid = s.userid
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND s.calls >= %(min_calls)s
          AND (NOT %(exclude_own)s OR s.userid <> (SELECT oid FROM pg_roles WHERE rolname = current_user))
        ORDER BY {order} DESC
        LIMIT %(limit)s
        """,
        {
            "query_length": options["query_length"],
            "limit": options["limit"],
            "min_calls": options["min_calls"],
            "exclude_own": options["exclude_own_statements"],
        },
    )
    slowest = max(rows, key=lambda row: row["mean_ms"]) if rows else None
    value = slowest["mean_ms"] if slowest else 0.0
    summary = (
        f"slowest statement mean {value} ms over {slowest['calls']} call(s): {_abridged(slowest['query'])}"
        if slowest
        else "pg_stat_statements holds no statement yet"
    )
    return make_record(
        "pg_top_queries",
        classify(value, threshold),
        value=value,
        unit="ms",
        threshold=threshold,
        evidence={"statements": rows, "order_by": options["order_by"]},
        summary=summary,
    )


_CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError) if psycopg2 else ()

# name -> (function, thresholds it reads); the collector and the single modules share this table.
PG_CHECKS = {
    "activity": (check_activity, ()),
    "long_queries": (check_long_queries, ("pg_long_query_seconds",)),
    "blocking_locks": (check_blocking_locks, ("pg_lock_wait_seconds",)),
    "pool_usage": (check_pool_usage, ("pg_pool_utilization_percent",)),
    "cache_hit": (check_cache_hit, ("pg_cache_hit_percent",)),
    "index_candidates": (check_index_candidates, ("pg_seq_scan_rows",)),
    "top_queries": (check_top_queries, ("pg_statement_mean_ms",)),
}

DEFAULT_OPTIONS = {
    "query_length": 500,
    "limit": 20,
    "min_duration_seconds": None,
    "min_table_rows": 10000,
    "min_seq_read_share": 0.5,
    "min_full_scans": 1.0,
    "statements_per_table": 20,
    "order_by": "total_time",
    "min_calls": 1,
    "exclude_own_statements": True,
}


def run_check(name, connection, facts, thresholds, options, target):
    """Run one check; an SQL error becomes a failed record so the other checks go on."""
    function, _ = PG_CHECKS[name]
    try:
        record = function(connection, facts, thresholds, options)
    except Exception as error:  # noqa: BLE001 - any failure of one check must not end the run
        threshold_names = PG_CHECKS[name][1]
        record = failed_record(
            f"pg_{name}", one_line(error), threshold=thresholds.get(threshold_names[0]) if threshold_names else None
        )
        # A lost or silent server ends the connection's usefulness; the caller stops asking. Errors the
        # server reported (a statement or lock timeout, a permission) carry an SQLSTATE and are per check.
        client_side = isinstance(error, _CONNECTION_ERRORS) and not getattr(error, "pgcode", None)
        record["connection_lost"] = connection.closed != 0 or client_side
    record["target"] = target
    return record
