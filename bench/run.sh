#!/usr/bin/env bash
# bench/run.sh BUILD_DIR - runs quipu-bench (issue 4) with a PostgreSQL 15 of
# its own: initdb in a temp dir, loopback TCP on a free port, fsync=on and
# synchronous_commit=on (PostgreSQL's defaults, stated explicitly), defaults
# otherwise.  As root, PostgreSQL runs as the `postgres` user (it refuses to
# run as root).  The cluster is stopped and removed on exit, whatever happens.
#
# BENCH_QUICK=1: the small run (under 2 minutes).  BENCH_ARGS: extra flags for
# quipu-bench (e.g. "--only inproc,pg").  BENCH_NO_PG=1: skip PostgreSQL.
# Results: stdout (table + RESULT lines) and bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
BIN="$BUILD/bench/quipu-bench"
QUIPU="$BUILD/quipu"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
mkdir -p bench/results

quick_flag=()
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && quick_flag=(--quick)

tmp="$(mktemp -d "${TMPDIR:-/tmp}/quipu-bench-pg-XXXXXX")"
pgdata="$tmp/pgdata"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  chown postgres "$tmp"
  chmod 755 "$tmp"
  as_pg=(runuser -u postgres --)
fi

cleanup() {
  if [ -f "$pgdata/postmaster.pid" ]; then
    "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

pg_args=()
if [ -z "${BENCH_NO_PG:-}" ]; then
  port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "${as_pg[@]}" "$PGBIN/initdb" -D "$pgdata" --auth=trust --username=postgres -E UTF8 --locale=C >"$tmp/initdb.log" 2>&1 \
    || { cat "$tmp/initdb.log" >&2; exit 1; }
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdata" -l "$tmp/pg.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$tmp -c fsync=on -c synchronous_commit=on" \
    >/dev/null || { cat "$tmp/pg.log" >&2; exit 1; }
  echo "postgres: $("$PGBIN/postgres" --version), data $pgdata, port $port, fsync=on, synchronous_commit=on"
  pg_args=(--pg "host=127.0.0.1 port=$port user=postgres dbname=postgres")
fi

# shellcheck disable=SC2086
"$BIN" --quipu "$QUIPU" "${pg_args[@]}" --pg-schema bench/pg_ledger.sql \
  --json bench/results/latest.json --tmp "${TMPDIR:-/tmp}" "${quick_flag[@]}" ${BENCH_ARGS:-}
