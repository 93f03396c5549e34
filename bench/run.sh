#!/usr/bin/env bash
# Benchmark harness: this exporter vs. the ODBC floor and two peer exporters, on the same
# PostgreSQL databases and the same SQL (bench/README.md, BENCHMARKS.md).
#
#   bench/run.sh [--quick] [--n 1,3,10,50,200] [--soak [SCRAPES]] [--no-soak] [--no-peers]
#                [--no-install] [--profile] [--out DIR] [--] [bench.py options...]
#
#   --quick      a smoke run: few scrapes, short budgets, no soak; numbers are not meaningful
#   --n LIST     datasource counts for the CPU-bound setting (default 1,3,10,50,200; the
#                latency-bound setting uses 1,3,10,50 ∩ LIST, SQLite 1,3,10 ∩ LIST)
#   --soak [K]   K scrapes (default 10000) against 10 datasources, sampling RSS and
#                connections (on by default in a full run, off with --quick)
#   --no-peers   skip prometheus-sql-exporter and query-exporter
#   --no-install do not apt-get/pip anything; peers missing are skipped
#   --release / --debug  which build to measure (default: release; --quick uses the debug
#                build that `cargo test --all-targets` already made, unless --release)
#   --profile    perf record (-F 999 -g, cpu-clock) our exporter during each ours-custom and
#                ours-nocursor scrape loop: OUT/profile/*.perf.data + *.perf.txt (a release
#                build then keeps its symbols: cargo profile bench-prof = release, not stripped)
#   --out DIR    results (results.csv, failed.csv, soak.csv, targets.md/csv, *.png);
#                default bench/results
#   --stop-pg-after  stop the private clusters at the end if this run started them (CI)
#
# Everything runs on loopback. PostgreSQL: a private cluster on 127.0.0.1:$BENCH_PG_PORT
# (default 55432; data in /var/tmp/dmexp-bench-pg, trust authentication, fsync off,
# max_connections 2000), so the benchmark neither disturbs nor is limited by the test
# cluster on 5432. Its databases: bench_template (tests/fixtures primary), bench_ds_<i>
# (copies), bench_slow_template / bench_slow_<i> (every table behind a view that sleeps
# 20 ms per query). A second one, for the pg-cpu-100 setting, on $BENCH_PG100_PORT (default
# 55433; /var/tmp/dmexp-bench-pg100) is the same but left at PostgreSQL's default
# max_connections = 100. At the end bench/targets.py writes and prints OUT/targets.md.
# Stop both with: bench/run.sh --stop-pg
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

QUICK=0 NS=1,3,10,50,200 SOAK=default PEERS=1 INSTALL=1 OUT=$ROOT/bench/results STOP_PG=0
PROFILE=default STOP_PG_AFTER=0 STARTED_PG=0 STARTED_PG100=0 PERF=0
EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) QUICK=1 ;;
        --n) NS=$2; shift ;;
        --soak)
            if [[ ${2:-} =~ ^[0-9]+$ ]]; then SOAK=$2; shift; else SOAK=10000; fi ;;
        --no-soak) SOAK=0 ;;
        --no-peers) PEERS=0 ;;
        --no-install) INSTALL=0 ;;
        --out) OUT=$2; shift ;;
        --stop-pg) STOP_PG=1 ;;
        --stop-pg-after) STOP_PG_AFTER=1 ;;
        --profile) PERF=1 ;;
        --release) PROFILE=release ;;
        --debug) PROFILE=debug ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,32p' "$ROOT/bench/run.sh" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ $PROFILE == default ]]; then
    if [[ $QUICK == 1 ]]; then PROFILE=debug; else PROFILE=release; fi
fi
if [[ $SOAK == default ]]; then
    if [[ $QUICK == 1 ]]; then SOAK=0; else SOAK=10000; fi
fi

PG_PORT=${BENCH_PG_PORT:-55432}
PG_DATA=${BENCH_PG_DATA:-/var/tmp/dmexp-bench-pg}
PG100_PORT=${BENCH_PG100_PORT:-55433}
PG100_DATA=${BENCH_PG100_DATA:-/var/tmp/dmexp-bench-pg100}
WORK=$ROOT/target/bench
mkdir -p "$WORK" "$OUT"

say() { echo "bench: $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
as_postgres() {
    (cd / && if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else sudo -n -u postgres "$@"; fi)
}

pg_bin() {
    local v
    # shellcheck disable=SC2012  # directory names are PostgreSQL versions
    v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
    [[ -n $v ]] || { say "PostgreSQL server binaries not found (Debian package postgresql)"; exit 1; }
    echo "/usr/lib/postgresql/$v/bin"
}

stop_cluster() {  # DATA
    if [[ -f $1/postmaster.pid ]]; then
        as_postgres "$(pg_bin)/pg_ctl" -D "$1" -m fast stop >/dev/null || true
    fi
}

if [[ $STOP_PG == 1 ]]; then
    stop_cluster "$PG_DATA"
    stop_cluster "$PG100_DATA"
    exit 0
fi

# ---- 1. what the harness needs (idempotent; a peer that cannot be installed is skipped)
if [[ $INSTALL == 1 ]]; then
    apt_need=()
    command -v psql >/dev/null 2>&1 || apt_need+=(postgresql postgresql-client)
    odbcinst -q -d -n 'PostgreSQL Unicode' >/dev/null 2>&1 || apt_need+=(odbc-postgresql unixodbc)
    odbcinst -q -d -n SQLite3 >/dev/null 2>&1 || apt_need+=(libsqliteodbc sqlite3)
    if [[ $PEERS == 1 ]] && [[ ! -x /usr/bin/prometheus-sql-exporter ]]; then
        apt_need+=(prometheus-sql-exporter)
    fi
    if [[ $QUICK == 0 ]] && ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
        apt_need+=(python3-matplotlib)
    fi
    if [[ ${#apt_need[@]} -gt 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "apt-get install ${apt_need[*]}"
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_need[@]}" \
            >"$WORK/apt.log" 2>&1; then
            as_root apt-get update -q >>"$WORK/apt.log" 2>&1 || true
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_need[@]}" \
                >>"$WORK/apt.log" 2>&1 || say "apt-get failed (see $WORK/apt.log); continuing"
        fi
    fi
fi

SQL_EXPORTER=""
if [[ $PEERS == 1 && -x /usr/bin/prometheus-sql-exporter ]]; then
    SQL_EXPORTER=/usr/bin/prometheus-sql-exporter
elif [[ $PEERS == 1 ]]; then
    say "SKIP prometheus-sql-exporter: not installed (Debian package prometheus-sql-exporter)"
fi

QE=""
QE_VENV=$WORK/venv-query-exporter
if [[ $PEERS == 1 ]]; then
    py312=""
    for cand in "${BENCH_PYTHON:-}" "$HOME/.pyenv/versions/3.12.1/bin/python3" python3.13 python3.12 python3; do
        [[ -n $cand ]] || continue
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            py312=$(command -v "$cand"); break
        fi
    done
    if [[ -x $QE_VENV/bin/query-exporter ]] && "$QE_VENV/bin/python" -c "import psycopg" 2>/dev/null; then
        QE=$QE_VENV/bin/query-exporter
    elif [[ -z $py312 ]]; then
        say "SKIP query-exporter: it needs Python >= 3.12 and none was found (set BENCH_PYTHON)"
    elif [[ $INSTALL == 1 ]]; then
        say "creating $QE_VENV with $py312 (pip install query-exporter==5.2.* psycopg[binary])"
        if "$py312" -m venv "$QE_VENV" >"$WORK/pip.log" 2>&1 &&
            "$QE_VENV/bin/pip" install -q 'query-exporter==5.2.*' 'psycopg[binary]' >>"$WORK/pip.log" 2>&1; then
            QE=$QE_VENV/bin/query-exporter
        else
            say "SKIP query-exporter: pip install failed (see $WORK/pip.log)"
            rm -rf "$QE_VENV"
        fi
    fi
fi

# ---- 2. the private PostgreSQL clusters
BIN=$(pg_bin)
# start_cluster PORT DATA MAX_CONNECTIONS: initdb if needed and start, unless something
# already answers on PORT; returns 0 when it started the cluster, 1 when it was running.
start_cluster() {
    local port=$1 data=$2 maxconn=$3
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        return 1
    fi
    if [[ ! -f $data/PG_VERSION ]]; then
        say "initdb $data"
        as_root mkdir -p "$data"
        as_root chown postgres: "$data"
        as_postgres "$BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    fi
    # A cluster killed without a clean shutdown leaves its pid file behind: pg_ctl start
    # copes with a stale one; a live postmaster on another port is stopped first.
    if [[ -f $data/postmaster.pid ]] && as_postgres "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        say "PostgreSQL in $data runs but not on 127.0.0.1:$port: restarting it"
        as_postgres "$BIN/pg_ctl" -D "$data" -m fast stop >/dev/null
    fi
    say "starting PostgreSQL on 127.0.0.1:$port (max_connections $maxconn)"
    as_postgres "$BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data \
         -c max_connections=$maxconn -c shared_buffers=256MB -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_locks_per_transaction=128 -c log_min_messages=warning" \
        >/dev/null
    return 0
}
if start_cluster "$PG_PORT" "$PG_DATA" 2000; then STARTED_PG=1; fi
# pg-cpu-100: PostgreSQL's default max_connections (100), given explicitly so that initdb's
# probing on a small machine cannot pick less; everything else as the first cluster.
if start_cluster "$PG100_PORT" "$PG100_DATA" 100; then STARTED_PG100=1; fi

# ---- 3. binaries
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH=$HOME/.cargo/bin:$PATH
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [[ $PROFILE == release && $PERF == 1 ]]; then
    # perf needs symbols: the release profile strips them (Cargo.toml). bench-prof is release
    # with symbols and line tables (same code), built into its own directory.
    prof=(--profile bench-prof --config 'profile.bench-prof.inherits="release"'
          --config 'profile.bench-prof.strip=false'
          --config 'profile.bench-prof.debug="line-tables-only"')
    say "cargo build --profile bench-prof (release with symbols: exporter, bench_floor)"
    cargo build "${prof[@]}" --quiet -p dameng_exporter --bin dameng_exporter
    cargo build "${prof[@]}" --quiet -p dmexp-core --example bench_floor
    BUILD=$TARGET/bench-prof
elif [[ $PROFILE == release ]]; then
    say "cargo build --release (exporter, bench_floor)"
    cargo build --release --quiet -p dameng_exporter --bin dameng_exporter
    cargo build --release --quiet -p dmexp-core --example bench_floor
    BUILD=$TARGET/release
else
    BUILD=$TARGET/debug
    if [[ -x $BUILD/dameng_exporter && -x $BUILD/examples/bench_floor ]]; then
        # Right after `cargo test --workspace --all-targets` (CI) both are fresh; building
        # them with `cargo build` would recompile much of the tree with other features.
        say "using the debug builds in $BUILD (numbers from a debug build mean nothing)"
    else
        say "cargo build (debug: exporter, bench_floor; numbers from a debug build mean nothing)"
        cargo build --quiet -p dameng_exporter --bin dameng_exporter
        cargo build --quiet -p dmexp-core --example bench_floor
    fi
fi

# ---- 4. measure
say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
args=(--exporter "$BUILD/dameng_exporter" --floor "$BUILD/examples/bench_floor"
      --sql-exporter "$SQL_EXPORTER" --query-exporter "$QE" --pg-port "$PG_PORT"
      --pg100-port "$PG100_PORT" --n "$NS" --soak "$SOAK" --out "$OUT" --work "$WORK/runs")
[[ $QUICK == 1 ]] && args+=(--quick)
if [[ $PERF == 1 ]]; then
    if command -v perf >/dev/null 2>&1; then
        args+=(--profile)
    else
        say "SKIP --profile: perf is not installed (Debian package linux-perf)"
    fi
fi
{
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "load before: $(cat /proc/loadavg)"
    echo "exporter: $("$BUILD/dameng_exporter" --version 2>&1 | head -n1) ($PROFILE build), rustc $(rustc --version | cut -d' ' -f2)"
    echo "postgresql: $("$BIN/postgres" --version | cut -d' ' -f3), psqlODBC $(dpkg-query -W -f='${Version}' odbc-postgresql 2>/dev/null || echo '?'), unixODBC $(dpkg-query -W -f='${Version}' unixodbc 2>/dev/null || echo '?')"
    [[ -n $SQL_EXPORTER ]] && echo "prometheus-sql-exporter: $(dpkg-query -W -f='${Version}' prometheus-sql-exporter)"
    [[ -n $QE ]] && echo "query-exporter: $("$QE" --version 2>&1 | head -n1), $("$QE_VENV/bin/python" --version)"
    echo "args: ${args[*]} ${EXTRA[*]}"
} >"$OUT/environment.txt"
python3 "$ROOT/bench/bench.py" "${args[@]}" "${EXTRA[@]}"
echo "load after: $(cat /proc/loadavg)" >>"$OUT/environment.txt"

# ---- 5. plots
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    /usr/bin/python3 "$ROOT/bench/plot.py" "$OUT" || say "plotting failed"
else
    say "no matplotlib for /usr/bin/python3: no plots (apt-get install python3-matplotlib)"
fi
# ---- 6. issue 14's targets
TARGETS_RC=0
python3 "$ROOT/bench/targets.py" --quiet "$OUT" || TARGETS_RC=$?
say "results in $OUT"
if [[ $STOP_PG_AFTER == 1 ]]; then
    if [[ $STARTED_PG == 1 ]]; then stop_cluster "$PG_DATA"; fi
    if [[ $STARTED_PG100 == 1 ]]; then stop_cluster "$PG100_DATA"; fi
fi
if [[ $TARGETS_RC != 0 ]]; then
    say "bench/targets.py failed (exit $TARGETS_RC)"
    exit "$TARGETS_RC"
fi
echo
cat "$OUT/targets.md"
