#!/usr/bin/env bash
# The runbook's own diagnosis commands (its psql, redis-cli, curl, top / ps / free / vmstat and netstat
# lines), pointed at the lab: the baseline the Ansible diagnosis is measured against.
# Changes from the runbook, each needed to run unattended here:
#   - hosts, ports, database and users come from the lab (labctl env);
#   - `vmstat 1 5` becomes `vmstat 1 2` (one interval is what a CPU reading needs; the runbook's four
#     extra seconds of sleeping would flatter the ratio);
#   - `redis-cli --latency` ends by itself after one second when its output is not a terminal;
#   - redis-cli logs in as the lab's monitoring user (REDISCLI_AUTH); the runbook's
#     `bull:email-notifications:waiting` is kept as written, though Bull's key is `:wait`;
#   - the external API calls (Resend, SendGrid, Twilio) and doctl are left out: this machine has no
#     network beyond loopback.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
eval "$("$ROOT/.venv/bin/python" "$ROOT/lab/labctl.py" env)"
export PGPASSWORD
PGPASSWORD=$(cat "$PERF_LAB_PG_MONITOR_PASSWORD_FILE")
PSQL=(psql -X -q -h "$PERF_LAB_PG_HOST" -p "$PERF_LAB_PG_PORT" -U "$PERF_LAB_PG_MONITOR_USER" -d "$PERF_LAB_PG_DB")
# The lab's Redis asks for a password: the monitoring user's, through the environment, never argv.
export REDISCLI_AUTH
REDISCLI_AUTH=$(cat "$PERF_LAB_REDIS_MONITOR_PASSWORD_FILE")
REDIS=(redis-cli -h "$PERF_LAB_REDIS_HOST" -p "$PERF_LAB_REDIS_PORT" --user "$PERF_LAB_REDIS_MONITOR_USER" --no-auth-warning)
API="$PERF_LAB_API_URL"
APP_PORT="${PERF_LAB_API_URL##*:}"

# High-level metrics
curl -w "time_total: %{time_total}s\ntime_namelookup: %{time_namelookup}s\ntime_connect: %{time_connect}s\ntime_starttransfer: %{time_starttransfer}s\n" \
  -o /dev/null -s "$API/api/health"
curl -s "$API/api/metrics" | grep http_requests_active
curl -s "$API/api/metrics" | grep http_errors_total

# Application server resources
top -bn1 | head -20
ps aux --sort=-%cpu | head -20
ps aux | grep node | grep -v grep
free -h
ps aux --sort=-%mem | head -20
swapon --show
vmstat 1 2
netstat -an | grep ":$APP_PORT" | wc -l
netstat -an | grep ":$APP_PORT" | awk '{print $6}' | sort | uniq -c
netstat -an | grep TIME_WAIT | wc -l

# Database performance
"${PSQL[@]}" -c "
  SELECT pid, now() - pg_stat_activity.query_start AS duration, query, state
  FROM pg_stat_activity
  WHERE state != 'idle' AND query NOT LIKE '%pg_stat_activity%'
  ORDER BY duration DESC LIMIT 20;"
"${PSQL[@]}" -c "
  SELECT pid, now() - pg_stat_activity.query_start AS duration, query
  FROM pg_stat_activity
  WHERE (now() - pg_stat_activity.query_start) > interval '5 seconds' AND state != 'idle';"
"${PSQL[@]}" -c "
  SELECT blocked_locks.pid AS blocked_pid, blocked_activity.usename AS blocked_user,
         blocking_locks.pid AS blocking_pid, blocking_activity.usename AS blocking_user,
         blocked_activity.query AS blocked_statement, blocking_activity.query AS blocking_statement
  FROM pg_catalog.pg_locks blocked_locks
  JOIN pg_catalog.pg_stat_activity blocked_activity ON blocked_activity.pid = blocked_locks.pid
  JOIN pg_catalog.pg_locks blocking_locks
    ON blocking_locks.locktype = blocked_locks.locktype
    AND blocking_locks.database IS NOT DISTINCT FROM blocked_locks.database
    AND blocking_locks.relation IS NOT DISTINCT FROM blocked_locks.relation
    AND blocking_locks.page IS NOT DISTINCT FROM blocked_locks.page
    AND blocking_locks.tuple IS NOT DISTINCT FROM blocked_locks.tuple
    AND blocking_locks.virtualxid IS NOT DISTINCT FROM blocked_locks.virtualxid
    AND blocking_locks.transactionid IS NOT DISTINCT FROM blocked_locks.transactionid
    AND blocking_locks.classid IS NOT DISTINCT FROM blocked_locks.classid
    AND blocking_locks.objid IS NOT DISTINCT FROM blocked_locks.objid
    AND blocking_locks.objsubid IS NOT DISTINCT FROM blocked_locks.objsubid
    AND blocking_locks.pid != blocked_locks.pid
  JOIN pg_catalog.pg_stat_activity blocking_activity ON blocking_activity.pid = blocking_locks.pid
  WHERE NOT blocked_locks.granted;"
"${PSQL[@]}" -c "
  SELECT count(*) FILTER (WHERE state = 'active') AS active,
         count(*) FILTER (WHERE state = 'idle') AS idle,
         count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_transaction,
         count(*) AS total
  FROM pg_stat_activity WHERE datname = '$PERF_LAB_PG_DB';"
"${PSQL[@]}" -c "SHOW max_connections;"
"${PSQL[@]}" -c "
  SELECT sum(heap_blks_read) AS heap_read, sum(heap_blks_hit) AS heap_hit,
         sum(heap_blks_hit) / nullif(sum(heap_blks_hit) + sum(heap_blks_read), 0) AS cache_hit_ratio
  FROM pg_statio_user_tables;"

# Slow endpoints from the access log (the lab's log has the response time in ms as its last field)
tail -n 1000 "$PERF_LAB_ACCESS_LOG" | awk '{if ($NF > 2000) print $7, $NF}' | sort -k2 -nr | head -20

# Redis and the email queue
"${REDIS[@]}" --latency
"${REDIS[@]}" INFO memory | grep used_memory_human
"${REDIS[@]}" SLOWLOG GET 10
"${REDIS[@]}" --bigkeys
"${REDIS[@]}" LLEN bull:email-notifications:waiting
"${REDIS[@]}" LLEN bull:email-notifications:active
