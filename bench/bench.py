#!/usr/bin/env python3
"""Benchmark driver (bench/README.md). Called by bench/run.sh; stdlib only.

Runs, on the same databases and the same SQL, side by side:
  floor          bench_floor: the queries over plain ODBC, one thread + connection per datasource
  ours-custom    dameng_exporter, the queries as a custom metrics file, built-ins off
  ours-nocursor  ours-custom with `;UseDeclareFetch=0` in every connection string: psqlODBC's
                 declare/fetch cursor mode (which our pool turns on for PostgreSQL) off, as on DM
  ours-builtin   dameng_exporter, the built-in collectors alone
  sql_exporter   Debian prometheus-sql-exporter 0.4.5 (timer-driven: per-cycle cost)
  query-exporter query-exporter 5.2 (queries without interval run on every scrape)
and measures latency per scrape (median, p90), CPU per scrape (/proc/<pid>/stat utime+stime
delta over the measured scrapes), RSS (VmHWM, VmRSS after) and open PostgreSQL connections
(pg_stat_activity, sampled every 0.2 s while the run lasts). Settings: pg-cpu, pg-lat,
sqlite-cpu, and pg-cpu-100 (floor and ours at maxOpenConns = 1 on a second cluster left at
max_connections = 100). Writes results.csv, failed.csv (+ soak.csv, and with --profile a perf
profile per ours-custom/ours-nocursor run in profile/) into --out; bench/targets.py reads them.
"""

import argparse
import csv
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
HZ = os.sysconf("SC_CLK_TCK")

# The workload: six queries over the DM8 catalog emulation, ~99 series per datasource.
# (name, sql, label columns, value columns). Column aliases are the metric names that
# query-exporter needs; the same text runs on every system.
QUERIES = [
    ("sessions", "SELECT STATE AS state, COUNT(*) AS sessions FROM V$SESSIONS GROUP BY STATE",
     ["state"], ["sessions"]),
    ("sysstat", "SELECT NAME AS stat_name, STAT_VAL AS stat_value FROM V$SYSSTAT",
     ["stat_name"], ["stat_value"]),
    ("tablespace", "SELECT NAME AS tablespace, TOTAL_SIZE AS ts_total_pages, "
     "USED_SIZE AS ts_used_pages FROM V$TABLESPACE", ["tablespace"],
     ["ts_total_pages", "ts_used_pages"]),
    ("datafile", "SELECT PATH AS path, TOTAL_SIZE AS df_total_pages, "
     "FREE_SIZE AS df_free_pages FROM V$DATAFILE", ["path"], ["df_total_pages", "df_free_pages"]),
    ("event", "SELECT EVENT AS event, TOTAL_WAITS AS event_waits, "
     "TIME_WAITED_MICRO AS event_wait_micro FROM V$SYSTEM_EVENT", ["event"],
     ["event_waits", "event_wait_micro"]),
    ("bufferpool", "SELECT CAST(ID AS VARCHAR(10)) AS pool_id, NAME AS pool, "
     "N_LOGIC_READS AS bp_logic_reads, N_PHY_READS64 AS bp_phy_reads FROM V$BUFFERPOOL",
     ["pool_id", "pool"], ["bp_logic_reads", "bp_phy_reads"]),
]

# pg-cpu-100 runs only these (our exporter at maxOpenConns = 1 against the floor).
PG100_SYSTEMS = ("floor", "ours-custom", "ours-nocursor")

FIELDS = ["setting", "system", "n", "scrapes", "lat_median_ms", "lat_p90_ms", "lat_min_ms",
          "lat_max_ms", "cpu_ms_per_scrape", "rss_max_mib", "rss_after_mib", "conns_max",
          "series", "errors", "incomplete", "max_open_conns", "pg_max_connections",
          "scrape_timeout_s", "load1", "note"]
# failed.csv: one row per (run, kind, datasource, collector) that failed at least once.
# kind: run-failed (the run itself raised), http-status (a scrape answered non-200),
# datasource-down (dmdb_up 0), collector-failed (dameng_exporter_collector_success 0),
# floor-error, query-failed (a peer reported a failed query).
FAILED_FIELDS = ["setting", "system", "n", "kind", "datasource", "collector", "count", "of",
                 "first_scrape", "detail"]


def default_max_open_conns():
    """maxOpenConns our exporter uses when the config does not set it (config/default.toml
    documents the defaults; read there so the bench does not pin a stale value)."""
    try:
        m = re.search(r"^maxOpenConns\s*=\s*(\d+)", (ROOT / "config" / "default.toml").read_text(),
                      re.M)
        if m:
            return int(m.group(1))
    except OSError:
        pass
    return 10


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def load1():
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


# ---------------------------------------------------------------- /proc sampling

def cpu_ticks(pid):
    """utime+stime of a process (all threads), clock ticks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    f = stat.rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def status_kib(pid, key):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- PostgreSQL

class Pg:
    def __init__(self, host, port, user):
        self.host, self.port, self.user = host, port, user

    def psql(self, db, *args, capture=False):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port),
               "-U", self.user, "-d", db, *args]
        env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql {' '.join(args)[:200]} failed: {r.stderr.strip()[:2000]}")
        return r.stdout if capture else None

    def scalar(self, db, sql):
        return self.psql(db, "-At", "-c", sql, capture=True).strip()

    def databases(self):
        out = self.scalar("postgres", "SELECT string_agg(datname, ' ') FROM pg_database")
        return set(out.split())

    def conns(self, prefix="bench_"):
        try:
            return int(self.scalar(
                "postgres",
                f"SELECT count(*) FROM pg_stat_activity WHERE datname LIKE '{prefix}%' "
                "AND pid <> pg_backend_pid()"))
        except (RuntimeError, ValueError):
            return -1

    def reachable(self):
        try:
            self.scalar("postgres", "SELECT 1")
            return True
        except RuntimeError:
            return False

    def max_connections(self):
        if not hasattr(self, "_max_conns"):
            try:
                self._max_conns = int(self.scalar("postgres", "SHOW max_connections"))
            except (RuntimeError, ValueError):
                self._max_conns = ""
        return self._max_conns

    def odbc(self, db):
        return (f"Driver={{PostgreSQL Unicode}};Server={self.host};Port={self.port};"
                f"Database={db};UID={self.user};PWD=bench")

    def url(self, db, scheme):
        return f"{scheme}://{self.user}:bench@{self.host}:{self.port}/{db}"


CONNS_SQL = ("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'bench\\_%' "
             "AND pid <> pg_backend_pid();\n")


class ConnSampler:
    """Counts sessions on the benchmark databases every `every` s in a background thread
    while a run lasts, over one persistent psql session (on `postgres`, so not counted
    itself): the maximum includes sessions opened and closed inside a scrape, which two
    samples between scrapes would miss. `with ConnSampler(pg) as s: ...; s.max`"""

    def __init__(self, pg, every=0.2):
        self.pg, self.every, self.samples = pg, every, []
        self.p = self.thread = None
        self.stop_ev = threading.Event()

    def sample(self):
        try:
            self.p.stdin.write(CONNS_SQL)
            self.p.stdin.flush()
            line = self.p.stdout.readline()
            self.samples.append(int(line))
        except (OSError, ValueError):
            pass

    def loop(self):
        while not self.stop_ev.wait(self.every):
            self.sample()

    def __enter__(self):
        if self.pg is None:
            return self
        self.p = subprocess.Popen(
            ["psql", "-X", "-At", "-q", "-h", self.pg.host, "-p", str(self.pg.port), "-U",
             self.pg.user, "-d", "postgres"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.sample()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.p is None:
            return False
        self.stop_ev.set()
        self.thread.join(5)
        self.sample()
        try:
            self.p.stdin.close()
            self.p.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
        return False

    @property
    def max(self):
        return max(self.samples) if self.samples else -1


SLOW_SQL = """
CREATE SCHEMA bench_base;
CREATE SCHEMA bench_base_sysjob;
CREATE FUNCTION public.bench_slow(t anyelement) RETURNS SETOF anyelement
LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM pg_sleep(%(sleep)s);
    RETURN QUERY EXECUTE format('SELECT * FROM %%s', pg_typeof(t));
END
$f$;
DO $d$
DECLARE r record; base text;
BEGIN
    FOR r IN SELECT schemaname, tablename FROM pg_tables
             WHERE schemaname IN ('public', 'sysjob') AND tablename <> 'dmexp_fixture_meta'
    LOOP
        base := CASE r.schemaname WHEN 'public' THEN 'bench_base' ELSE 'bench_base_sysjob' END;
        EXECUTE format('ALTER TABLE %%I.%%I SET SCHEMA %%I', r.schemaname, r.tablename, base);
        EXECUTE format('CREATE VIEW %%I.%%I AS SELECT * FROM public.bench_slow(NULL::%%I.%%I)',
                       r.schemaname, r.tablename, base, r.tablename);
    END LOOP;
END
$d$;
"""


def fixture_sum(extra=""):
    h = hashlib.sha256()
    for f in ["schema.sql", "data/primary.sql", "catalog_pg.sql", "sysjob_schema.sql",
              "data/primary_sysjob.sql"]:
        h.update((FIX / f).read_bytes())
    h.update(SLOW_SQL.encode())
    h.update(extra.encode())
    return h.hexdigest()[:16]


def ensure_pg_databases(pg, n_cpu, n_slow, sleep_s):
    """bench_template (primary fixture), bench_slow_template (every table behind a view
    that sleeps `sleep_s` per query), bench_ds_1..n_cpu and bench_slow_1..n_slow."""
    want = fixture_sum(str(sleep_s))
    have = pg.databases()
    current = None
    if "bench_template" in have:
        try:
            current = pg.scalar("bench_template", "SELECT fixture_sum FROM bench_meta")
        except RuntimeError:
            current = None
    if current != want:
        log("building PostgreSQL template databases (fixture changed or missing)")
        for db in sorted(have):
            if db.startswith("bench_"):
                pg.psql("postgres", "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        pg.psql("postgres", "-c",
                "CREATE DATABASE bench_template ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                "TEMPLATE template0",
                "-c", "ALTER DATABASE bench_template SET timezone TO 'UTC'")
        pg.psql("bench_template", "--single-transaction",
                "-f", str(FIX / "schema.sql"), "-f", str(FIX / "data/primary.sql"),
                "-f", str(FIX / "catalog_pg.sql"),
                "-c", "CREATE SCHEMA SYSJOB", "-c", "SET search_path TO sysjob",
                "-f", str(FIX / "sysjob_schema.sql"), "-f", str(FIX / "data/primary_sysjob.sql"),
                "-c", "RESET search_path",
                "-c", "CREATE TABLE dmexp_fixture_meta (fixture_sum VARCHAR(64))",
                "-c", "INSERT INTO dmexp_fixture_meta VALUES ('bench')")
        pg.psql("postgres", "-c", "CREATE DATABASE bench_slow_template TEMPLATE bench_template")
        pg.psql("bench_slow_template", "--single-transaction", "-c",
                SLOW_SQL % {"sleep": sleep_s})
        # Written last: a half-built template is rebuilt next time.
        pg.psql("bench_template", "-c", "CREATE TABLE bench_meta (fixture_sum VARCHAR(64))",
                "-c", f"INSERT INTO bench_meta VALUES ('{want}')")
        have = pg.databases()
    made = 0
    for prefix, tmpl, n in (("bench_ds_", "bench_template", n_cpu),
                            ("bench_slow_", "bench_slow_template", n_slow)):
        for i in range(1, n + 1):
            db = f"{prefix}{i}"
            if db not in have:
                pg.psql("postgres", "-c",
                        f"CREATE DATABASE {db} TEMPLATE {tmpl} STRATEGY FILE_COPY")
                made += 1
    if made:
        log(f"created {made} database(s)")


def ensure_sqlite(dirpath, n):
    """N copies of the SQLite primary fixture (+ its SYSJOB file)."""
    src = dirpath / "src"
    if not (src / "primary.db").exists():
        subprocess.run(["bash", str(FIX / "build.sh"), "sqlite", str(src)], check=True)
    for i in range(1, n + 1):
        for suffix in ("", "_sysjob"):
            dst = dirpath / f"ds_{i}{suffix}.db"
            if not dst.exists():
                shutil.copyfile(src / f"primary{suffix}.db", dst)


# ---------------------------------------------------------------- configs

def custom_metrics_toml():
    out = ["# Generated by bench/bench.py: the benchmark workload as custom metrics.\n"]
    for name, sql, labels, values in QUERIES:
        out.append("[[metric]]\n")
        out.append(f'context = "bench_{name}"\n')
        if labels:
            out.append("labels = [" + ", ".join(f'"{l}"' for l in labels) + "]\n")
        out.append(f'request = "{sql}"\n')
        out.append("metricsdesc = { " + ", ".join(f'{v} = "{v}"' for v in values) + " }\n\n")
    return "".join(out)


def ours_config(port, workdir, sources, mode, extra_global="", extra_ds=""):
    """sources: list of (name, odbc connection string, init sql list)."""
    lines = [f'listenAddress = "127.0.0.1:{port}"', f'logDir = "{workdir / "logs"}"',
             'logLevel = "warn"', extra_global]
    for name, cs, init in sources:
        lines.append("[[datasource]]")
        lines.append(f'name = "{name}"')
        lines.append(f'odbcConnectionString = "{cs}"')
        if init:
            lines.append("connectionInitSql = [" + ", ".join(json.dumps(s) for s in init) + "]")
        if mode == "custom":
            lines.append("registerDatabaseMetrics = false")
            lines.append(f'customMetricsFile = "{workdir / "custom.toml"}"')
        lines.append(extra_ds)
    return "\n".join(lines) + "\n"


def sql_exporter_yaml(pg, dbs, interval):
    conns = "\n".join(f"      - '{pg.url(db, 'postgres')}?sslmode=disable'" for db in dbs)
    qs = []
    for name, sql, labels, values in QUERIES:
        qs.append(f"      - name: \"bench_{name}\"\n        help: \"{name}\"\n"
                  f"        labels: {json.dumps(labels)}\n        values: {json.dumps(values)}\n"
                  f"        query: |\n          {sql}\n")
    return (f"---\njobs:\n  - name: bench\n    interval: '{interval}'\n    connections:\n{conns}\n"
            f"    queries:\n" + "".join(qs))


def query_exporter_yaml(pg, dbs):
    out = ["databases:\n"]
    for db in dbs:
        out.append(f"  {db}:\n    dsn: {pg.url(db, 'postgresql')}\n")
    out.append("metrics:\n")
    for name, _sql, labels, values in QUERIES:
        for v in values:
            out.append(f"  {v}:\n    type: gauge\n    description: {v}\n")
            if labels:
                out.append(f"    labels: {json.dumps(labels)}\n")
    out.append("queries:\n")
    for name, sql, _labels, values in QUERIES:
        out.append(f"  {name}:\n    databases: {json.dumps(dbs)}\n    metrics: {json.dumps(values)}\n"
                   f"    sql: \"{sql}\"\n")
    return "".join(out)


# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, cmd, workdir, env=None, name="proc"):
        self.log_path = workdir / f"{name}.log"
        self.logf = open(self.log_path, "wb")
        self.p = subprocess.Popen(cmd, cwd=workdir, stdout=self.logf, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, **(env or {})), start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.logf.close()

    def tail(self, n=20):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Http:
    def __init__(self, port, timeout=60):
        self.port, self.timeout = port, timeout
        self.c = None

    def get(self, path, headers=None):
        for attempt in (0, 1):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self.c.request("GET", path, headers=headers or {})
                r = self.c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                if self.c is not None:
                    self.c.close()
                self.c = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def wait_http(proc, port, path, timeout=120):
    h = Http(port, timeout=5)
    t0 = time.time()
    while time.time() - t0 < timeout:
        if not proc.alive():
            raise RuntimeError(f"process exited early:\n{proc.tail()}")
        try:
            st, _ = h.get(path)
            if st == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready after {timeout}s:\n{proc.tail()}")


# ---------------------------------------------------------------- measurements

class Failures:
    """What failed in one run, aggregated per (kind, datasource, collector): how many scrapes,
    the first one (1-based, warm-up scrapes included) and one detail. Rows of failed.csv."""

    def __init__(self):
        self.items = {}
        self.scrapes = 0

    def add(self, kind, datasource="", collector="", scrape=None, detail="", count=1):
        key = (kind, datasource, collector)
        it = self.items.setdefault(key, {"count": 0, "first_scrape": scrape, "detail": detail})
        it["count"] += count
        if it["first_scrape"] is None:
            it["first_scrape"] = scrape

    def __len__(self):
        return len(self.items)

    def rows(self, setting, system, n):
        return [{"setting": setting, "system": system, "n": n, "kind": k, "datasource": ds,
                 "collector": c, "count": it["count"], "of": self.scrapes or "",
                 "first_scrape": "" if it["first_scrape"] is None else it["first_scrape"],
                 "detail": it["detail"]}
                for (k, ds, c), it in sorted(self.items.items())]


def row(setting, system, n, lats, cpu_ms, hwm_kib, rss_kib, conns, series, errors,
        incomplete=0, note="", failures=None):
    return {
        "setting": setting, "system": system, "n": n, "scrapes": len(lats),
        "lat_median_ms": round(statistics.median(lats), 3) if lats else "",
        "lat_p90_ms": round(pct(lats, 90), 3) if lats else "",
        "lat_min_ms": round(min(lats), 3) if lats else "",
        "lat_max_ms": round(max(lats), 3) if lats else "",
        "cpu_ms_per_scrape": round(cpu_ms, 3) if cpu_ms is not None else "",
        "rss_max_mib": round(hwm_kib / 1024, 2) if hwm_kib else "",
        "rss_after_mib": round(rss_kib / 1024, 2) if rss_kib else "",
        "conns_max": conns, "series": series, "errors": errors, "incomplete": incomplete,
        "load1": load1(), "note": note, "_failures": failures,
    }


def count_series(body):
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


class Profiler:
    """perf record -F 999 -g -e cpu-clock on a running process (software clock: hardware
    counters are not available on every machine), stopped with SIGINT; then a
    `perf report --stdio` summary next to perf.data. Does nothing when `path` is None."""

    def __init__(self, pid, path):
        self.pid, self.path, self.p = pid, path, None

    def __enter__(self):
        if self.path is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.logf = open(self.path.with_suffix(".perf.log"), "wb")
        self.p = subprocess.Popen(
            ["perf", "record", "-F", "999", "-g", "-e", "cpu-clock", "-p", str(self.pid),
             "-o", str(self.path.with_suffix(".perf.data"))],
            stdout=self.logf, stderr=subprocess.STDOUT)
        time.sleep(0.3)  # perf attaches to every thread before the measured scrapes begin
        return self

    def __exit__(self, *exc):
        if self.p is None:
            return False
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
        self.logf.close()
        data, txt = self.path.with_suffix(".perf.data"), self.path.with_suffix(".perf.txt")
        with open(txt, "w") as out:
            for title, extra in (("self time by symbol", ["-F", "overhead,dso,sym"]),
                                 ("self time by shared object", ["-F", "overhead,dso"]),
                                 ("with callers (children)", ["--children", "--sort", "symbol",
                                                              "-g", "caller,0.5,callee",
                                                              "--percent-limit", "2"])):
                args = ["perf", "report", "-i", str(data), "--stdio"]
                if "--children" not in extra:
                    args += ["--no-children", "-g", "none", "--percent-limit", "0.3"]
                rep = subprocess.run(args + extra, capture_output=True, text=True,
                                     errors="replace")
                out.write(f"######## {title}: {' '.join(args[1:] + extra)}\n")
                out.writelines(line.rstrip() + "\n"
                               for line in (rep.stdout + rep.stderr).splitlines())
        log(f"profile: {data} and {txt}")
        return False


def scrape_loop(proc, port, path, opts, pg, check=None, headers=None, profile=None):
    """Warm-up scrapes, then scrapes until the time budget or the scrape cap is reached.
    `check(body)` returns the failures in one answer as (kind, datasource, collector).
    `errors` counts non-200 answers in all scrapes, `incomplete` the measured scrapes with a
    failure, the Failures every scrape (warm-up included)."""
    h = Http(port, timeout=120)
    errors = 0
    fails = Failures()
    scrape = 0

    def one():
        nonlocal scrape, errors
        scrape += 1
        st, body = h.get(path, headers)
        if st != 200:
            errors += 1
            fails.add("http-status", scrape=scrape, detail=f"HTTP {st}")
        bad = check(body) if check else []
        for kind, ds, coll in bad:
            fails.add(kind, ds, coll, scrape)
        return body, bad

    lats = []
    incomplete = 0
    series = 0
    with ConnSampler(pg) as sampler:
        for _ in range(opts.warmup):
            one()
        with Profiler(proc.pid, profile):
            c0 = cpu_ticks(proc.pid)
            t_start = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                body, bad = one()
                lats.append((time.perf_counter() - t0) * 1000)
                incomplete += 1 if bad else 0
                series = count_series(body)
                done = time.perf_counter() - t_start
                if len(lats) >= opts.max_scrapes or (len(lats) >= opts.min_scrapes
                                                     and done >= opts.budget):
                    break
            cpu_ms = (cpu_ticks(proc.pid) - c0) * 1000 / HZ / len(lats)
    fails.scrapes = scrape
    return lats, cpu_ms, sampler.max if pg else -1, series, errors, incomplete, fails


LABEL_RE = re.compile(rb'(\w+)="((?:[^"\\]|\\.)*)"')
FAILED_RE = re.compile(rb'^(dmdb_up|dameng_exporter_collector_success)\{([^}]*)\} 0$', re.M)


def ours_failures(body):
    """The datasources down (dmdb_up 0) and collectors failed or timed out
    (dameng_exporter_collector_success 0) in one answer."""
    out = []
    for m in FAILED_RE.finditer(body):
        labels = {k.decode(): v.decode(errors="replace") for k, v in LABEL_RE.findall(m.group(2))}
        kind = "datasource-down" if m.group(1) == b"dmdb_up" else "collector-failed"
        out.append((kind, labels.get("datasource", ""), labels.get("collector", "")))
    return out


# Appended to each PostgreSQL connection string of ours-nocursor. Our read-only pool adds
# `UseDeclareFetch=1;Fetch=128` to PostgreSQL connection strings that do not name
# UseDeclareFetch (core/src/pool/mod.rs, declare_fetch_for_postgres: bounded memory on huge
# results); psqlODBC then runs each statement as BEGIN; DECLARE … CURSOR WITH HOLD; FETCH 128
# and later CLOSE; COMMIT, two round trips where the floor makes one. A user's own
# UseDeclareFetch wins, so this turns the mode off; DM connections never have it.
NOCURSOR = ";UseDeclareFetch=0"


def nocursor_sources(sources):
    """ours-nocursor's datasources: ours-custom's with NOCURSOR appended."""
    return [(name, cs + NOCURSOR, init) for name, cs, init in sources]


def run_ours(setting, mode, n, sources, opts, pg, extra_global="", extra_ds="", system=None):
    system = system or f"ours-{mode}"
    workdir = opts.work / f"{setting}-{system}-{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "custom.toml").write_text(custom_metrics_toml())
    port = free_port()
    cfg = workdir / "dameng_exporter.toml"
    cfg.write_text(ours_config(port, workdir, sources, mode, extra_global, extra_ds))
    profile = None
    if opts.profile and system in ("ours-custom", "ours-nocursor") and (
            "all" in opts.profile or setting in opts.profile):
        profile = opts.out / "profile" / f"{setting}-{system}-{n}"
    proc = Proc([str(opts.exporter), "--config", str(cfg)], workdir, name="exporter")
    try:
        wait_http(proc, port, "/-/ready")
        lats, cpu_ms, conns, series, errors, inc, fails = scrape_loop(
            proc, port, "/metrics", opts, pg, ours_failures,
            {"X-Prometheus-Scrape-Timeout-Seconds": str(opts.scrape_timeout)}, profile)
        hwm, rss = status_kib(proc.pid, "VmHWM:"), status_kib(proc.pid, "VmRSS:")
        r = row(setting, system, n, lats, cpu_ms, hwm, rss, conns, series, errors, inc,
                note="profiled: perf record -F 999 (costs CPU and latency)" if profile else "",
                failures=fails)
        r["scrape_timeout_s"] = opts.scrape_timeout
        return r
    finally:
        proc.stop()


def run_floor(setting, n, conn_strings, opts, pg):
    workdir = opts.work / f"{setting}-floor-{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "conns.txt").write_text("\n".join(conn_strings) + "\n")
    (workdir / "queries.sql").write_text("\n".join(q[1] for q in QUERIES) + "\n")
    cmd = [str(opts.floor), "--conns", str(workdir / "conns.txt"), "--queries",
           str(workdir / "queries.sql"), "--warmup", str(opts.warmup),
           "--min-rounds", str(opts.min_scrapes), "--max-rounds", str(opts.max_scrapes),
           "--budget-ms", str(int(opts.budget * 1000))]
    proc = Proc(cmd, workdir, name="floor")
    conns = []
    with ConnSampler(pg) as sampler:
        while proc.alive():
            time.sleep(0.05)
            if not conns and '"ready"' in proc.log_path.read_text(errors="replace"):
                # The floor holds still for 0.8 s after connecting: count its connections then.
                conns.append(pg.conns() if pg else -1)
    proc.stop()
    if pg:
        conns.append(sampler.max)
    out = proc.log_path.read_text().strip().splitlines()
    js = json.loads(out[-1])
    fails = Failures()
    fails.scrapes = len(js["lat_ms"]) + opts.warmup
    if js["errors"]:
        log(f"floor errors: {js['first_error']}")
        fails.add("floor-error", detail=str(js.get("first_error", ""))[:300],
                  count=js["errors"])
    return row(setting, "floor", n, js["lat_ms"], js["cpu_ms_per_round"], js["vmhwm_kib"],
               js["vmrss_kib"], max(conns) if conns else -1, js["rows"], js["errors"],
               note=f"cells={js['cells']}", failures=fails)


def run_query_exporter(setting, n, dbs, opts, pg):
    workdir = opts.work / f"{setting}-query-exporter-{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(query_exporter_yaml(pg, dbs))
    port = free_port()
    proc = Proc([str(opts.query_exporter), "--config", str(workdir / "config.yaml"),
                 "-H", "127.0.0.1", "-p", str(port), "-L", "warning"], workdir,
                name="query-exporter")
    try:
        wait_http(proc, port, "/metrics")
        lats, cpu_ms, conns, series, errors, _, fails = scrape_loop(
            proc, port, "/metrics", opts, pg)
        hwm, rss = status_kib(proc.pid, "VmHWM:"), status_kib(proc.pid, "VmRSS:")
        body = Http(port).get("/metrics")[1]
        bad = re.findall(rb'^queries_total\{([^}]*status="error"[^}]*)\} ([1-9][0-9.e+]*)',
                         body, re.M)
        for labels, count in bad:
            fails.add("query-failed", detail=labels.decode(errors="replace"),
                      count=int(float(count)))
        return row(setting, "query-exporter", n, lats, cpu_ms, hwm, rss, conns, series, errors,
                   len(bad), failures=fails)
    finally:
        proc.stop()


TS_RE = re.compile(r'"ts":"([^"]+)"')


def parse_ts(s):
    # go-kit RFC3339Nano UTC: 2026-11-24T17:00:00.123456789Z
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z", s)
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac = m.groups()
    import calendar
    t = calendar.timegm((int(y), int(mo), int(d), int(hh), int(mm), int(ss)))
    return t + (float("0." + frac) if frac else 0.0)


def run_sql_exporter(setting, n, dbs, opts, pg):
    """Timer-driven: one cycle runs every query on every connection (a goroutine per
    connection). Two processes, one after the other:
    1. LOGLEVEL=debug: cycle wall time from its log (first "Running Query" of a cycle to
       "Sleeping until next run");
    2. LOGLEVEL=warn (its default; no log line per query): CPU per cycle = utime+stime over a
       window ÷ cycles in it, cycles counted as committed transactions on its databases
       (pg_stat_database.xact_commit: each query is one transaction) ÷ (6 × N); RSS and
       connections."""
    workdir = opts.work / f"{setting}-sql_exporter-{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    interval = "200ms"
    (workdir / "config.yml").write_text(sql_exporter_yaml(pg, dbs, interval))

    def start(level):
        port = free_port()
        proc = Proc([opts.sql_exporter, "-config.file", str(workdir / "config.yml"),
                     "-web.listen-address", f"127.0.0.1:{port}"], workdir,
                    env={"LOGLEVEL": level}, name=f"sql_exporter-{level}")
        wait_http(proc, port, "/metrics")
        return proc, port

    def cycles(proc):
        """Completed cycles so far: list of (start, end) from the log."""
        out, start_ts = [], None
        try:
            text = proc.log_path.read_text(errors="replace")
        except OSError:
            return out
        for line in text.splitlines():
            m = TS_RE.search(line)
            if not m:
                continue
            if "Running Query" in line and start_ts is None:
                start_ts = parse_ts(m.group(1))
            elif "Sleeping until next run" in line and start_ts is not None:
                out.append((start_ts, parse_ts(m.group(1))))
                start_ts = None
        return out

    # 1. wall time per cycle
    proc, _ = start("debug")
    try:
        t0 = time.time()
        while len(cycles(proc)) < opts.warmup + 1:
            if time.time() - t0 > 300 or not proc.alive():
                raise RuntimeError(f"sql_exporter made no cycle:\n{proc.tail()}")
            time.sleep(0.05)
        k0 = len(cycles(proc))
        t_start = time.time()
        while True:
            time.sleep(0.05)
            k = len(cycles(proc)) - k0
            if k >= opts.max_scrapes or (k >= opts.min_scrapes and time.time() - t_start >= opts.budget):
                break
            if time.time() - t_start > opts.budget * 6 + 60:
                break
        all_cycles = cycles(proc)
        lats = [(e - s) * 1000 for s, e in all_cycles[k0:]]
    finally:
        proc.stop()
    # 2. CPU per cycle, RSS, connections, without per-query logging
    in_list = ",".join(f"'{d}'" for d in dbs)
    xacts = f"SELECT sum(xact_commit) FROM pg_stat_database WHERE datname IN ({in_list})"
    proc, port = start("warn")
    try:
        # Warm-up: the same number of cycles as measured above have a chance to pass.
        time.sleep(max(1.0, min(10.0, (statistics.median(lats) / 1000 + 0.2) * opts.warmup)))
        conns = [pg.conns()]
        x0, c0, t_start = int(pg.scalar("postgres", xacts)), cpu_ticks(proc.pid), time.time()
        time.sleep(max(opts.budget, (statistics.median(lats) / 1000 + 0.2) * opts.min_scrapes))
        # pg_stat_database is flushed by each backend at most once a second: wait for it.
        c1, t1 = cpu_ticks(proc.pid), time.time()
        conns.append(pg.conns())
        hwm, rss = status_kib(proc.pid, "VmHWM:"), status_kib(proc.pid, "VmRSS:")
        st, body = Http(port).get("/metrics")
    finally:
        proc.stop()
    time.sleep(1.5)
    x1 = int(pg.scalar("postgres", xacts))
    # The stats lag at both ends by up to a second; the window is long enough for that.
    k = (x1 - x0) / (6 * n)
    bad = re.findall(rb"^sql_exporter_last_scrape_failed\{([^}]*)\} 1", body, re.M)
    failed = len(bad)
    fails = Failures()
    for labels in bad:
        fails.add("query-failed", detail=labels.decode(errors="replace"))
    series = sum(1 for line in body.splitlines() if line.startswith(b"sql_bench_"))
    return row(setting, "sql_exporter", n, lats, (c1 - c0) * 1000 / HZ / max(k, 1),
               hwm, rss, max(conns), series, 0, failed, failures=fails,
               note=f"interval={interval}; wall per cycle from the debug log; CPU per cycle "
                    f"at LOGLEVEL=warn over {k:.1f} cycles in {t1 - t_start:.1f} s")


def run_soak(n, opts, pg):
    """opts.soak scrapes of ours-custom against n datasources; samples RSS and connections."""
    setting, system = "soak", "ours-custom"
    workdir = opts.work / f"soak-{n}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "custom.toml").write_text(custom_metrics_toml())
    port = free_port()
    sources = [(f"ds{i}", pg.odbc(f"bench_ds_{i}"), []) for i in range(1, n + 1)]
    cfg = workdir / "dameng_exporter.toml"
    cfg.write_text(ours_config(port, workdir, sources, "custom"))
    proc = Proc([str(opts.exporter), "--config", str(cfg)], workdir, name="exporter")
    samples = []
    try:
        wait_http(proc, port, "/-/ready")
        h = Http(port)
        c0 = cpu_ticks(proc.pid)
        t0 = time.perf_counter()
        lats, errors, incomplete = [], 0, 0
        fails = Failures()
        fails.scrapes = opts.soak
        every = max(1, opts.soak // 100)
        for i in range(1, opts.soak + 1):
            s0 = time.perf_counter()
            st, body = h.get("/metrics", {"X-Prometheus-Scrape-Timeout-Seconds":
                                          str(opts.scrape_timeout)})
            lats.append((time.perf_counter() - s0) * 1000)
            errors += st != 200
            if st != 200:
                fails.add("http-status", scrape=i, detail=f"HTTP {st}")
            bad = ours_failures(body)
            incomplete += 1 if bad else 0
            for kind, ds, coll in bad:
                fails.add(kind, ds, coll, i)
            if i == 1 or i % every == 0:
                samples.append({
                    "scrape": i, "elapsed_s": round(time.perf_counter() - t0, 2),
                    "rss_mib": round(status_kib(proc.pid, "VmRSS:") / 1024, 2),
                    "hwm_mib": round(status_kib(proc.pid, "VmHWM:") / 1024, 2),
                    "conns": pg.conns(),
                    "threads": status_kib(proc.pid, "Threads:"),
                    "lat_ms_median_window": round(statistics.median(lats[-every:]), 3),
                    "cpu_ms_per_scrape_cum": round((cpu_ticks(proc.pid) - c0) * 1000 / HZ / i, 3),
                })
        with open(opts.out / "soak.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(samples[0].keys()))
            w.writeheader()
            w.writerows(samples)
        cpu_ms = (cpu_ticks(proc.pid) - c0) * 1000 / HZ / opts.soak
        hwm, rss = status_kib(proc.pid, "VmHWM:"), status_kib(proc.pid, "VmRSS:")
        r = row(setting, system, n, lats, cpu_ms, hwm, rss, max(s["conns"] for s in samples),
                count_series(body), errors, incomplete, failures=fails,
                note=f"rss first/last sample {samples[0]['rss_mib']}/{samples[-1]['rss_mib']} MiB")
        r["scrape_timeout_s"] = opts.scrape_timeout
        return r
    finally:
        proc.stop()


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="1,3,10,50,200")
    ap.add_argument("--lat-n", default="1,3,10,50", help="N for the latency-bound setting")
    ap.add_argument("--sqlite-n", default="1,3,10", help="N for the SQLite fixture")
    ap.add_argument("--systems", default="floor,ours-custom,ours-nocursor,ours-builtin,"
                                          "sql_exporter,query-exporter")
    ap.add_argument("--settings", default="pg-cpu,pg-cpu-100,pg-lat,sqlite-cpu")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--soak", type=int, default=0, help="scrapes in the soak (0: none)")
    ap.add_argument("--soak-n", type=int, default=10)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds measured per run")
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=55432)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument("--sleep", type=float, default=0.02)
    ap.add_argument("--scrape-timeout", type=float, default=10.0)
    ap.add_argument("--many-max-open", type=int, default=3,
                    help="maxOpenConns for ours at N >= 100 (default settings below)")
    ap.add_argument("--pg100-port", type=int, default=55433,
                    help="the second cluster (max_connections = 100) for pg-cpu-100")
    ap.add_argument("--pg100-n", default="50", help="N for pg-cpu-100")
    ap.add_argument("--pg100-max-open", type=int, default=1,
                    help="maxOpenConns for ours in pg-cpu-100")
    ap.add_argument("--profile", nargs="?", const="all", default="",
                    help="perf-record ours-custom and ours-nocursor in these settings "
                         "(comma list; no value: "
                         "every setting) into OUT/profile/")
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--sql-exporter", default="")
    ap.add_argument("--query-exporter", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    opts = ap.parse_args()
    opts.out, opts.work = Path(opts.out).resolve(), Path(opts.work).resolve()
    opts.out.mkdir(parents=True, exist_ok=True)
    opts.work.mkdir(parents=True, exist_ok=True)
    if opts.quick:
        opts.warmup, opts.min_scrapes, opts.max_scrapes = 1, 3, 10
        opts.budget = min(opts.budget, 1.0)
    else:
        opts.warmup, opts.min_scrapes, opts.max_scrapes = 3, 15, 3000
    opts.exporter, opts.floor = Path(opts.exporter).resolve(), Path(opts.floor).resolve()

    opts.profile = [x for x in opts.profile.split(",") if x]
    if opts.profile and not shutil.which("perf"):
        log("SKIP --profile: perf is not installed (Debian package linux-perf)")
        opts.profile = []
    ns = [int(x) for x in opts.n.split(",") if x]
    pg100_ns = [int(x) for x in opts.pg100_n.split(",") if x]
    lat_ns = [x for x in (int(y) for y in opts.lat_n.split(",") if y)]
    sqlite_ns = [x for x in (int(y) for y in opts.sqlite_n.split(",") if y)]
    systems = opts.systems.split(",")
    settings = opts.settings.split(",")
    if opts.quick:
        lat_ns = [x for x in lat_ns if x in ns] or ns[:1]
        sqlite_ns = [x for x in sqlite_ns if x in ns] or ns[:1]
        pg100_ns = [x for x in pg100_ns if x in ns] or ns[:1]
    if not opts.sql_exporter and "sql_exporter" in systems:
        log("SKIP sql_exporter: prometheus-sql-exporter is not installed")
        systems.remove("sql_exporter")
    if not opts.query_exporter and "query-exporter" in systems:
        log("SKIP query-exporter: no Python >= 3.12 venv with query-exporter 5.2")
        systems.remove("query-exporter")

    pg = Pg(opts.pg_host, opts.pg_port, opts.pg_user)
    need_cpu = max(ns + ([opts.soak_n] if opts.soak else [])) if "pg-cpu" in settings or opts.soak else 0
    need_slow = max(lat_ns) if "pg-lat" in settings and lat_ns else 0
    ensure_pg_databases(pg, need_cpu, need_slow, opts.sleep)

    results, failed = [], []
    csv_path, failed_path = opts.out / "results.csv", opts.out / "failed.csv"

    def write_csvs():
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(results)
        with open(failed_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FAILED_FIELDS)
            w.writeheader()
            w.writerows(failed)

    def emit(r, meta):
        for k, v in meta.items():
            r.setdefault(k, v)
        fails = r.pop("_failures", None)
        if fails:
            failed.extend(fails.rows(r["setting"], r["system"], r["n"]))
        results.append(r)
        log(f"{r['setting']:<10} {r['system']:<15} N={r['n']:<4} scrapes={r['scrapes']:<5} "
            f"lat med {r['lat_median_ms']} p90 {r['lat_p90_ms']} ms  cpu {r['cpu_ms_per_scrape']} ms"
            f"  rss {r['rss_max_mib']}/{r['rss_after_mib']} MiB  conns {r['conns_max']}"
            f"  series {r['series']}  err {r['errors']} inc {r['incomplete']}"
            f"  failed {len(fails) if fails else 0}  load {r['load1']}")
        write_csvs()

    def run_failed(setting, system, n, detail):
        log(f"FAILED {setting} {system} N={n}: {detail}")
        failed.append({"setting": setting, "system": system, "n": n, "kind": "run-failed",
                       "datasource": "", "collector": "", "count": 1, "of": "",
                       "first_scrape": "", "detail": " ".join(str(detail).split())[:500]})
        write_csvs()

    def attempt(meta, fn, *a):
        """meta: setting, system, n and the columns every row of this run carries."""
        try:
            emit(fn(*a), meta)
        except Exception as e:  # one failing system must not stop the others
            run_failed(meta["setting"], meta["system"], meta["n"], e)

    write_csvs()
    # The directory describes one run: a soak file of an earlier run must not be read as
    # this run's (bench/targets.py judges soak.csv).
    for stale in ("soak.csv", "soak.png"):
        (opts.out / stale).unlink(missing_ok=True)
    if opts.profile:
        shutil.rmtree(opts.out / "profile", ignore_errors=True)
    default_max_open = default_max_open_conns()
    plan = []
    if "pg-cpu" in settings:
        plan += [("pg-cpu", n, "bench_ds_", pg, None) for n in ns]
    if "pg-cpu-100" in settings and pg100_ns:
        pg100 = Pg(opts.pg_host, opts.pg100_port, opts.pg_user)
        if pg100.reachable():
            ensure_pg_databases(pg100, max(pg100_ns), 0, opts.sleep)
            plan += [("pg-cpu-100", n, "bench_ds_", pg100, opts.pg100_max_open)
                     for n in pg100_ns]
        else:
            for n in pg100_ns:
                for system in [s for s in PG100_SYSTEMS if s in systems]:
                    run_failed("pg-cpu-100", system, n,
                               f"no PostgreSQL on {opts.pg_host}:{opts.pg100_port} "
                               "(bench/run.sh starts it)")
    if "pg-lat" in settings:
        plan += [("pg-lat", n, "bench_slow_", pg, None) for n in lat_ns]
    for setting, n, prefix, spg, max_open in plan:
        dbs = [f"{prefix}{i}" for i in range(1, n + 1)]
        conn_strings = [spg.odbc(db) for db in dbs]
        sources = [(f"ds{i}", cs, []) for i, cs in enumerate(conn_strings, 1)]
        if max_open is None and n >= 100:
            # Many datasources: a smaller pool per datasource keeps the total bounded
            # (N × (maxOpenConns + 1) connections at most) under max_connections.
            max_open = opts.many_max_open
        extra_ds = f"maxOpenConns = {max_open}" if max_open is not None else ""
        ours_max_open = max_open if max_open is not None else default_max_open
        pg_max = spg.max_connections()
        for system in systems:
            if setting == "pg-cpu-100" and system not in PG100_SYSTEMS:
                continue
            meta = {"setting": setting, "system": system, "n": n, "pg_max_connections": pg_max,
                    # the floor holds one connection per datasource by construction; the
                    # peers have no such setting here
                    "max_open_conns": {"floor": 1, "ours-custom": ours_max_open,
                                       "ours-nocursor": ours_max_open,
                                       "ours-builtin": ours_max_open}.get(system, "")}
            if system == "floor":
                attempt(meta, run_floor, setting, n, conn_strings, opts, spg)
            elif system == "ours-custom":
                attempt(meta, run_ours, setting, "custom", n, sources, opts, spg, "", extra_ds)
            elif system == "ours-nocursor":
                attempt(meta, run_ours, setting, "custom", n, nocursor_sources(sources), opts,
                        spg, "", extra_ds, "ours-nocursor")
            elif system == "ours-builtin":
                attempt(meta, run_ours, setting, "builtin", n, sources, opts, spg, "", extra_ds)
            elif system == "sql_exporter":
                attempt(meta, run_sql_exporter, setting, n, dbs, opts, spg)
            elif system == "query-exporter":
                attempt(meta, run_query_exporter, setting, n, dbs, opts, spg)
    if "sqlite-cpu" in settings and sqlite_ns:
        sq = opts.work / "sqlite"
        sq.mkdir(parents=True, exist_ok=True)
        ensure_sqlite(sq, max(sqlite_ns))
        for n in sqlite_ns:
            conn_strings = [f"Driver=SQLite3;Database={sq / f'ds_{i}.db'};NoCreat=1"
                            for i in range(1, n + 1)]
            sources = [(f"ds{i}", cs, [f"ATTACH DATABASE '{sq / f'ds_{i}_sysjob.db'}' AS SYSJOB"])
                       for i, cs in enumerate(conn_strings, 1)]
            # No ours-nocursor here: UseDeclareFetch is a psqlODBC option, SQLite has none.
            for system in systems:
                meta = {"setting": "sqlite-cpu", "system": system, "n": n,
                        "pg_max_connections": "",
                        "max_open_conns": {"floor": 1, "ours-custom": default_max_open,
                                           "ours-builtin": default_max_open}.get(system, "")}
                if system == "floor":
                    attempt(meta, run_floor, "sqlite-cpu", n, conn_strings, opts, None)
                elif system == "ours-custom":
                    attempt(meta, run_ours, "sqlite-cpu", "custom", n, sources, opts, None)
                elif system == "ours-builtin":
                    attempt(meta, run_ours, "sqlite-cpu", "builtin", n, sources, opts, None)
    if opts.soak:
        attempt({"setting": "soak", "system": "ours-custom", "n": opts.soak_n,
                 "pg_max_connections": pg.max_connections(), "max_open_conns": default_max_open},
                run_soak, opts.soak_n, opts, pg)
    log(f"wrote {csv_path} and {failed_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
