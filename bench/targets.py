#!/usr/bin/env python3
"""Issue 14's targets (item 3) from one bench/run.sh results directory; stdlib only.

    targets.py DIR        reads DIR/results.csv (+ soak.csv, failed.csv), writes
                          DIR/targets.md and DIR/targets.csv, prints targets.md
    targets.py --self-test  checks the verdicts on synthetic CSVs; exits 1 on a wrong one

"ours" is each variant of VARIANTS in turn, every target judged once per variant (the
`system` column of targets.csv, one group of tables each in targets.md), always against the
same `floor` row of the same setting and N in the same run:
  ours-custom    the six queries as a custom metrics file, the variant issue 14 measured
  ours-nocursor  the same with `;UseDeclareFetch=0` (psqlODBC's declare/fetch cursor mode off,
                 as on DM); it has no soak, so it has no soak target
A variant with no row and no failure in the run (a run before it existed) is left out.
Verdicts: `met`, `MISSED by X` (or `MISSED: why` when the number is in range but the run did
not do the whole work), `not measured (why)`.
"""

import argparse
import csv
import math
import sys
import tempfile
from pathlib import Path

OURS = "ours-custom"
NOCURSOR = "ours-nocursor"
VARIANTS = (OURS, NOCURSOR)
FLOOR = "floor"
DEFAULT_TIMEOUT_S = 10.0  # Prometheus' default scrape_timeout; bench.py sends it as a header
EPS = 1e-9


# ---------------------------------------------------------------- reading

def read_csv(path):
    if not path.exists():
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


class Run:
    def __init__(self, d):
        self.dir = Path(d)
        self.rows = read_csv(self.dir / "results.csv")
        if self.rows is None:
            raise SystemExit(f"targets: no results.csv in {self.dir}")
        self.soak = read_csv(self.dir / "soak.csv")
        self.failed = read_csv(self.dir / "failed.csv")  # None: a run before failed.csv

    def has_system(self, system):
        """Whether the run has a row or a failure of `system`."""
        return any(r["system"] == system for r in self.rows + (self.failed or []))

    def row(self, setting, system, n):
        hit = [r for r in self.rows
               if r["setting"] == setting and r["system"] == system and num(r["n"]) == n]
        return hit[-1] if hit else None

    def ns(self, setting, system):
        return sorted({int(num(r["n"])) for r in self.rows
                       if r["setting"] == setting and r["system"] == system
                       and num(r["n"]) is not None})

    def failures(self, setting, system, n):
        return [f for f in (self.failed or [])
                if f["setting"] == setting and f["system"] == system and num(f["n"]) == n]

    def run_failed(self, setting, system, n):
        for f in self.failures(setting, system, n):
            if f["kind"] == "run-failed":
                return f["detail"] or "no detail"
        return None


# ---------------------------------------------------------------- verdicts

def fmt_over(over):
    if float(over).is_integer():
        return f"{over:.0f}"
    return f"{over:.2f}" if abs(over) >= 0.01 else f"{over:.3g}"


def judge(value, limit, unit="", rel=True):
    """met when value <= limit (a tolerance of 1e-9 for float noise), else MISSED by how much."""
    if value <= limit + EPS:
        return "met"
    over = value - limit
    rel = f", {over / limit * 100:.0f} % over" if rel and limit > 0 else ""
    return f"MISSED by {fmt_over(over)}{unit}{rel}"


def not_measured(why):
    return f"not measured ({why})"


def incomplete_of(r, fails):
    """Scrapes that did not do the whole work: non-200 answers, incomplete scrapes, and the
    failures failed.csv holds for this run (warm-up scrapes included)."""
    errors = int(num(r.get("errors")) or 0)
    inc = int(num(r.get("incomplete")) or 0)
    kinds = sorted({f["kind"] for f in fails})
    worst = max((int(num(f["count"]) or 0) for f in fails), default=0)
    parts = []
    if errors:
        parts.append(f"{errors} non-200 answers")
    if inc:
        parts.append(f"{inc} of {r.get('scrapes', '?')} measured scrapes incomplete")
    if fails:
        parts.append(f"failed.csv: {len(fails)} failing {'entry' if len(fails) == 1 else 'entries'}"
                     f" ({', '.join(kinds)}), up to {worst} scrapes each")
    return parts


def with_failures(verdict, parts):
    if not parts:
        return verdict
    why = "; ".join(parts)
    return f"MISSED: {why}" if verdict == "met" else f"{verdict}; {why}"


class Targets:
    """The targets for one variant of ours (`ours`, a system of results.csv)."""

    def __init__(self, run, ours=OURS):
        self.run, self.ours = run, ours
        self.items = []

    def add(self, key, target, setting, n, measured, limit, verdict, detail="", value=None,
            limit_value=None, extra=False):
        self.items.append({"system": self.ours, "key": key, "target": target, "setting": setting,
                           "n": "" if n is None else n, "measured": measured, "limit": limit,
                           "verdict": verdict, "detail": detail,
                           "value": "" if value is None else round(value, 6),
                           "limit_value": "" if limit_value is None else limit_value,
                           "extra": "yes" if extra else ""})

    # -- ours vs the floor, same setting, same N
    def vs_floor(self, setting, n, extra=False, want=None):
        for metric, col, limit, name in (("lat", "lat_median_ms", 1.15, "latency (median)"),
                                         ("cpu", "cpu_ms_per_scrape", 1.25, "CPU per scrape")):
            key = f"{metric}-vs-floor-{setting}-{n}"
            target = f"CPU-bound {name} ≤ {limit} × floor, N = {n} ({setting})"
            lim = f"≤ {limit} × floor"
            me = self.ours
            ours, floor = self.run.row(setting, me, n), self.run.row(setting, FLOOR, n)
            why = None
            for system, r in ((me, ours), (FLOOR, floor)):
                if r is None:
                    failed = self.run.run_failed(setting, system, n)
                    why = f"{system} run failed: {failed}" if failed else f"no {system} row"
                    break
                if num(r.get(col)) is None or (num(r.get(col)) <= 0 and system == FLOOR):
                    why = f"{system} has no {col}"
                    break
            if why is None and want:
                have = {k: ours.get(k, "") for k in want}
                wrong = [f"{k} = {have[k] or '?'} (want {v})" for k, v in want.items()
                         if num(have[k]) != v]
                if wrong:
                    why = "not the target's setup: " + ", ".join(wrong)
            if why:
                self.add(key, target, setting, n, "", lim, not_measured(why), extra=extra)
                continue
            o, f = num(ours[col]), num(floor[col])
            ratio = o / f
            verdict = judge(ratio, limit, " ×")
            parts = incomplete_of(ours, self.run.failures(setting, me, n))
            fparts = incomplete_of(floor, self.run.failures(setting, FLOOR, n))
            detail = f"ours {o:g} ms, floor {f:g} ms"
            if want:
                detail += (f"; ours maxOpenConns {ours.get('max_open_conns')}, "
                           f"max_connections {ours.get('pg_max_connections')}")
            if fparts:
                detail += "; floor: " + "; ".join(fparts)
            if "profiled" in (ours.get("note") or ""):
                detail += "; ours ran under perf (--profile): its numbers include perf's cost"
            self.add(key, target, setting, n, f"{ratio:.2f} ×", lim,
                     with_failures(verdict, parts), detail, ratio, limit, extra)

    def latency_bound(self, n, limit):
        key = f"lat-bound-{n}-over-1"
        target = f"latency-bound latency({n}) ÷ latency(1) ≤ {limit} (pg-lat)"
        me = self.ours
        r1, rn = self.run.row("pg-lat", me, 1), self.run.row("pg-lat", me, n)
        miss = [m for m, r in ((1, r1), (n, rn)) if r is None or num(r["lat_median_ms"]) is None]
        if miss:
            why = "; ".join(
                f"N = {m}: " + (f"run failed: {self.run.run_failed('pg-lat', me, m)}"
                                if self.run.run_failed("pg-lat", me, m) else f"no {me} row")
                for m in miss)
            self.add(key, target, "pg-lat", n, "", f"≤ {limit}", not_measured(why))
            return
        a, b = num(r1["lat_median_ms"]), num(rn["lat_median_ms"])
        ratio = b / a
        parts = []
        for m, r in ((1, r1), (n, rn)):
            p = incomplete_of(r, self.run.failures("pg-lat", me, m))
            parts += [f"N = {m}: {x}" for x in p]
        self.add(key, target, "pg-lat", n, f"{ratio:.2f}", f"≤ {limit}",
                 with_failures(judge(ratio, limit), parts),
                 f"ours {b:g} ms at N = {n}, {a:g} ms at N = 1", ratio, limit)

    def rss_one(self):
        key, target, lim = "rss-n1", "RSS ≤ 16 MiB at N = 1 on PostgreSQL (pg-cpu)", "≤ 16 MiB"
        me = self.ours
        r = self.run.row("pg-cpu", me, 1)
        if r is None or num(r.get("rss_max_mib")) is None:
            failed = self.run.run_failed("pg-cpu", me, 1)
            why = f"run failed: {failed}" if failed else f"no {me} row at N = 1"
            self.add(key, target, "pg-cpu", 1, "", lim, not_measured(why))
            return
        v = num(r["rss_max_mib"])
        self.add(key, target, "pg-cpu", 1, f"{v:.2f} MiB", lim, judge(v, 16.0, " MiB"),
                 f"VmHWM (peak); VmRSS after {r.get('rss_after_mib')} MiB", v, 16.0)

    def rss_slope(self):
        key = "rss-slope"
        target = "RSS ≤ 0.5 MiB per additional datasource (pg-cpu, least-squares slope)"
        lim = "≤ 0.5 MiB"
        me = self.ours
        pts = []
        for n in self.run.ns("pg-cpu", me):
            r = self.run.row("pg-cpu", me, n)
            if num(r.get("rss_max_mib")) is not None:
                pts.append((n, num(r["rss_max_mib"]), r.get("max_open_conns", "")))
        if len({p[0] for p in pts}) < 2:
            self.add(key, target, "pg-cpu", None, "", lim,
                     not_measured(f"needs two N, have {[p[0] for p in pts] or 'none'}"))
            return
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
                 / sum((x - mx) ** 2 for x in xs))
        segs = ", ".join(f"{a[0]}→{b[0]}: {(b[1] - a[1]) / (b[0] - a[0]):.2f}"
                         for a, b in zip(pts, pts[1:]))
        pts_s = ", ".join(f"N={n}: {y:g} MiB" + (f" (maxOpenConns {m})" if m else "")
                          for n, y, m in pts)
        self.add(key, target, "pg-cpu", ",".join(map(str, xs)), f"{slope:.3f} MiB", lim,
                 judge(slope, 0.5, " MiB"), f"VmHWM {pts_s}; per segment {segs}", slope, 0.5)

    def soak_flat(self, first=1000, last=10000, band=2.0):
        key = "soak-flat"
        target = f"soak RSS flat ± {band:g} % from scrape {first:,} to {last:,}"
        lim = f"± {band:g} %"
        s = self.run.soak
        soak_row = next((r for r in self.run.rows if r["setting"] == "soak"), None)
        if s and soak_row is None:
            self.add(key, target, "soak", None, "", lim, not_measured(
                "soak.csv has no soak row in results.csv: it is from another run"))
            return
        if not s:
            failed = next((f["detail"] for f in (self.run.failed or [])
                           if f["setting"] == "soak" and f["kind"] == "run-failed"), None)
            why = f"soak failed: {failed}" if failed else "no soak.csv (no soak in this run)"
            self.add(key, target, "soak", None, "", lim, not_measured(why))
            return
        pts = [(int(num(r["scrape"])), num(r["rss_mib"])) for r in s
               if num(r.get("scrape")) is not None and num(r.get("rss_mib")) is not None]
        top = max(p[0] for p in pts)
        base = next(((k, v) for k, v in pts if k >= first), None)
        if top < last or base is None:
            self.add(key, target, "soak", None, "", lim,
                     not_measured(f"the soak made {top:,} scrapes, needs {last:,}"))
            return
        window = [(k, v) for k, v in pts if base[0] <= k <= last]
        dev = [(v / base[1] - 1) * 100 for _, v in window]
        worst = max(dev, key=abs)
        end = dev[-1]
        parts = incomplete_of(soak_row, self.run.failures("soak", OURS, num(soak_row["n"]))) \
            if soak_row else []
        self.add(key, target, "soak", soak_row["n"] if soak_row else None,
                 f"{worst:+.2f} %", lim,
                 with_failures(judge(abs(worst), band, " %-points", rel=False), parts),
                 f"VmRSS {base[1]:g} MiB at scrape {base[0]:,}, {window[-1][1]:g} MiB at "
                 f"{window[-1][0]:,} ({end:+.2f} %); largest deviation {worst:+.2f} % over "
                 f"{len(window)} samples", abs(worst), band)

    def complete(self, setting, n, extra=False):
        key = f"complete-{setting}-{n}"
        target = f"{n} datasources: every scrape complete within the default timeout ({setting})"
        me = self.ours
        r = self.run.row(setting, me, n)
        if r is None:
            failed = self.run.run_failed(setting, me, n)
            why = f"run failed: {failed}" if failed else f"no {me} row at N = {n}"
            self.add(key, target, setting, n, "", "0 failed", not_measured(why), extra=extra)
            return
        timeout = num(r.get("scrape_timeout_s")) or DEFAULT_TIMEOUT_S
        parts = incomplete_of(r, self.run.failures(setting, me, n))
        if self.run.failed is None:
            parts.append("no failed.csv: warm-up scrapes not checked")
        worst = num(r.get("lat_max_ms"))
        if worst is not None and worst > timeout * 1000 + EPS:
            parts.append(f"slowest scrape {worst:g} ms > {timeout:g} s")
        lim = f"0 failed, each ≤ {timeout:g} s"
        problems = len(parts) - (self.run.failed is None)
        measured = f"{problems} kind(s) of failure, slowest {worst:g} ms" if problems \
            else f"0 failed, slowest {worst:g} ms"
        verdict = "met" if not parts else "MISSED: " + "; ".join(parts)
        if self.run.failed is None and not problems:
            verdict = not_measured(parts[0])
        self.add(key, target, setting, n, measured, lim, verdict,
                 f"{r.get('scrapes')} measured scrapes; timeout = X-Prometheus-Scrape-Timeout-"
                 f"Seconds sent ({timeout:g} s, Prometheus' default)", worst, timeout * 1000,
                 extra)

    def sessions(self, setting, n, extra=False):
        key = f"sessions-{setting}-{n}"
        target = f"{n} datasources: sessions ≤ {n} × maxOpenConns ({setting})"
        me = self.ours
        r = self.run.row(setting, me, n)
        if r is None or num(r.get("conns_max")) is None or num(r["conns_max"]) < 0:
            failed = self.run.run_failed(setting, me, n)
            why = (f"run failed: {failed}" if failed else
                   f"no {me} row at N = {n}" if r is None else "sessions not counted")
            self.add(key, target, setting, n, "", f"≤ {n} × maxOpenConns", not_measured(why),
                     extra=extra)
            return
        mo = num(r.get("max_open_conns"))
        if mo is None:
            self.add(key, target, setting, n, f"{num(r['conns_max']):g} sessions",
                     f"≤ {n} × maxOpenConns",
                     not_measured("no max_open_conns column (a run before it was recorded)"),
                     extra=extra)
            return
        limit = n * mo
        c = num(r["conns_max"])
        self.add(key, target, setting, n, f"{c:g} sessions", f"≤ {limit:g} ({n} × {mo:g})",
                 judge(c, limit, " sessions"),
                 "max of pg_stat_activity samples (every 0.2 s while the run lasted) on the "
                 f"bench databases; max_connections {r.get('pg_max_connections') or '?'}",
                 c, limit, extra)

    def evaluate(self):
        run, me = self.run, self.ours
        for n in (1, 10):
            self.vs_floor("pg-cpu", n)
        self.vs_floor("pg-cpu-100", 50, want={"max_open_conns": 1, "pg_max_connections": 100})
        self.latency_bound(50, 1.5)
        self.latency_bound(3, 1.1)
        self.rss_one()
        self.rss_slope()
        if me == OURS:  # the soak runs ours-custom only
            self.soak_flat()
        self.complete("pg-cpu", 200)
        self.sessions("pg-cpu", 200)
        # Also measured in this run, not in the list of issue 14: every other N against the
        # floor, and pg-cpu-100's sessions and completeness (where issue 14 saw failures).
        for n in run.ns("pg-cpu", me):
            if n not in (1, 10):
                self.vs_floor("pg-cpu", n, extra=True)
        for n in run.ns("pg-cpu-100", me):
            if n != 50:
                self.vs_floor("pg-cpu-100", n, extra=True)
        for n in sorted(set(run.ns("pg-cpu-100", me)) | {50}):
            if n == 50 and run.row("pg-cpu-100", me, 50) is None and \
                    run.run_failed("pg-cpu-100", me, 50) is None:
                continue
            self.complete("pg-cpu-100", n, extra=True)
            self.sessions("pg-cpu-100", n, extra=True)
        return self.items


def variants(run):
    """The variants to judge: ours-custom always, the others when the run has them."""
    return [v for v in VARIANTS if v == OURS or run.has_system(v)]


def evaluate_all(run):
    """Every variant's targets, ours-custom's first."""
    return [i for v in variants(run) for i in Targets(run, v).evaluate()]


# ---------------------------------------------------------------- output

ABOUT = {OURS: "the six queries as custom metrics, the variant issue 14 measured",
         NOCURSOR: "the same with `;UseDeclareFetch=0`: psqlODBC's declare/fetch cursor mode "
                   "off, as on DM; no soak, so no soak target"}

CSV_FIELDS = ["system", "key", "target", "setting", "n", "measured", "limit", "verdict", "value",
              "limit_value", "extra", "detail"]


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def comparison(items):
    """ours-custom and ours-nocursor side by side: their ratios to the same floor rows (the
    setting/N pairs where at least one was measured)."""
    val = {(i["system"], i["key"]): i for i in items}
    keys = []  # vs-floor-SETTING-N, in ours-custom's order
    for i in items:
        if i["system"] == OURS and i["key"].startswith(("lat-vs-floor-", "cpu-vs-floor-")) \
                and i["key"][4:] not in keys:
            keys.append(i["key"][4:])
    out = []
    for k in keys:
        cells = []
        for metric in ("lat", "cpu"):
            for v in (OURS, NOCURSOR):
                it = val.get((v, f"{metric}-{k}"))
                cells.append(it["measured"] if it and it["measured"] else "–")
        if all(c == "–" for c in cells):
            continue
        it = val[(OURS, f"lat-{k}")]
        out.append(f"| {it['setting']} | {it['n']} | " + " | ".join(cells) + " |")
    if not out:
        return []
    return ["## ours-custom against ours-nocursor", "",
            "Both ÷ the same floor row (– : not measured).", "",
            "| setting | N | latency, custom | latency, nocursor | CPU, custom | CPU, nocursor |",
            "|---|---|---|---|---|---|", *out, ""]


def markdown(run, items):
    def count(system, pred):
        return sum(1 for i in items
                   if i["system"] == system and not i["extra"] and pred(i["verdict"]))
    env = run.dir / "environment.txt"
    out = ["# Issue 14 targets", ""]
    if env.exists():
        lines = env.read_text().splitlines()
        pick = [ln for ln in lines if ln.split(":")[0] in ("date", "exporter", "load before",
                                                          "load after")]
        out += ["```text", *pick, "```", ""]
    have = [v for v in VARIANTS if any(i["system"] == v for i in items)]
    out.append(f"From `{run.dir}`: each variant of ours against `{FLOOR}` in the same run. "
               "Issue 14's targets:")
    out.append("")
    for v in VARIANTS:
        if v in have:
            out.append(f"- `{v}` ({ABOUT[v]}): {count(v, lambda x: x == 'met')} met, "
                       f"{count(v, lambda x: x.startswith('MISSED'))} missed, "
                       f"{count(v, lambda x: x.startswith('not measured'))} not measured.")
        else:
            out.append(f"- `{v}`: not in this run (no row, no failure).")
    out.append("")
    if NOCURSOR in have:
        out += comparison(items)
    for v in have:
        for title, sel in (("issue 14, item 3", lambda i: not i["extra"]),
                           ("also measured in this run", lambda i: i["extra"])):
            part = [i for i in items if i["system"] == v and sel(i)]
            if not part:
                continue
            out += [f"## {v}: {title}", "", "| target | measured | limit | verdict | detail |",
                    "|---|---|---|---|---|"]
            for i in part:
                out.append(f"| {cell(i['target'])} | {cell(i['measured'])} | "
                           f"{cell(i['limit'])} | {cell(i['verdict'])} | {cell(i['detail'])} |")
            out.append("")
    if run.failed is None:
        out += ["No failed.csv in this directory (a run before bench.py wrote it).", ""]
    elif run.failed:
        out += ["## failed.csv", "", "| setting | system | N | kind | datasource | collector | "
                "scrapes | first | detail |", "|---|---|---|---|---|---|---|---|---|"]
        for f in run.failed[:50]:
            out.append("| " + " | ".join(cell(f.get(k, "")) for k in (
                "setting", "system", "n", "kind", "datasource", "collector")) +
                f" | {cell(f['count'])} of {cell(f['of'] or '?')} | {cell(f['first_scrape'])} "
                f"| {cell(f['detail'])} |")
        if len(run.failed) > 50:
            out.append(f"| … {len(run.failed) - 50} more in failed.csv | | | | | | | | |")
        out.append("")
    else:
        out += ["failed.csv: no failed run, scrape or collector.", ""]
    return "\n".join(out)


def write(run, items, outdir):
    outdir = Path(outdir)
    with open(outdir / "targets.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(items)
    md = markdown(run, items)
    (outdir / "targets.md").write_text(md + "\n")
    return md


# ---------------------------------------------------------------- self-test

RES_FIELDS = ["setting", "system", "n", "scrapes", "lat_median_ms", "lat_max_ms",
              "cpu_ms_per_scrape", "rss_max_mib", "rss_after_mib", "conns_max", "errors",
              "incomplete", "max_open_conns", "pg_max_connections", "scrape_timeout_s"]


def synth(d, rows, soak=None, failed=()):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RES_FIELDS, restval="")
        w.writeheader()
        for r in rows:
            w.writerow({"scrapes": 20, "errors": 0, "incomplete": 0, "lat_max_ms": 50,
                        "scrape_timeout_s": 10, **r})
    if soak is not None:
        with open(d / "soak.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["scrape", "rss_mib"])
            w.writerows(soak)
    if failed is not None:
        keys = ["setting", "system", "n", "kind", "datasource", "collector", "count", "of",
                "first_scrape", "detail"]
        with open(d / "failed.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, restval="")
            w.writeheader()
            w.writerows(failed)
    return d


def r(setting, system, n, lat=None, cpu=None, rss=None, conns=None, mo=None, pgmax=None, **kw):
    return {"setting": setting, "system": system, "n": n, "lat_median_ms": lat,
            "cpu_ms_per_scrape": cpu, "rss_max_mib": rss, "conns_max": conns,
            "max_open_conns": mo, "pg_max_connections": pgmax, **kw}


def self_test():
    bad = []

    def expect(items, key, want, report=True, system=OURS):
        """`met` must match exactly, anything else as the verdict's beginning; want None: the
        variant must have no such target."""
        got = next((i["verdict"] for i in items if i["key"] == key and i["system"] == system),
                   None)
        ok = got is None if want is None else (
            got is not None and (got == want if want in ("met",) else got.startswith(want)))
        name = key if system == OURS else f"{system} {key}"
        if report:
            print(f"{'ok ' if ok else 'BAD'} {name}: {got!r}" + ("" if ok else f" (want {want!r})"))
        if not ok:
            bad.append(name)

    def nc(items, key, want):
        expect(items, key, want, system=NOCURSOR)

    def md_has(md, text, what):
        if text not in md:
            print(f"BAD targets.md: {what}")
            bad.append("markdown")

    with tempfile.TemporaryDirectory() as tmp:
        # A: every target has data; values on and around the limits.
        soak_a = [(1, 25.0)] + [(k, 30.0 + (0.5 if k == 5000 else 0.0))
                                for k in range(100, 10001, 100)]
        a = synth(Path(tmp) / "a", [
            r("pg-cpu", "floor", 1, lat=1.0, cpu=0.4, mo=1, pgmax=2000),
            r("pg-cpu", OURS, 1, lat=1.15, cpu=0.5, rss=15.5, conns=10, mo=10, pgmax=2000),
            r("pg-cpu", "floor", 10, lat=2.0, cpu=4.0, mo=1, pgmax=2000),
            r("pg-cpu", OURS, 10, lat=3.0, cpu=4.4, rss=20.0, conns=70, mo=10, pgmax=2000),
            r("pg-cpu", OURS, 50, lat=30.0, cpu=30.0, rss=40.0, mo=10, pgmax=2000),
            r("pg-cpu", "floor", 50, lat=20.0, cpu=20.0, mo=1, pgmax=2000),
            r("pg-cpu", OURS, 200, lat=150, cpu=150, rss=115.0, conns=600, mo=3, pgmax=2000,
              lat_max_ms=300),
            r("pg-cpu-100", "floor", 50, lat=20.0, cpu=20.0, conns=50, mo=1, pgmax=100),
            r("pg-cpu-100", OURS, 50, lat=22.0, cpu=26.0, conns=50, mo=1, pgmax=100),
            r("pg-lat", OURS, 1, lat=100.0), r("pg-lat", OURS, 3, lat=105.0),
            r("pg-lat", OURS, 50, lat=200.0),
            r("soak", OURS, 10, lat=5, cpu=5, rss=33, scrapes=10000),
            # ours-nocursor: judged against the same floor rows as ours-custom
            r("pg-cpu", NOCURSOR, 1, lat=1.0, cpu=0.6, rss=15.0, conns=10, mo=10, pgmax=2000),
            r("pg-cpu", NOCURSOR, 10, lat=2.2, cpu=4.0, rss=21.0, conns=70, mo=10, pgmax=2000),
            r("pg-cpu", NOCURSOR, 200, lat=140, cpu=140, rss=200.0, conns=601, mo=3,
              pgmax=2000),
            r("pg-cpu-100", NOCURSOR, 50, lat=24.0, cpu=25.0, conns=50, mo=1, pgmax=100),
            r("pg-lat", NOCURSOR, 1, lat=100.0), r("pg-lat", NOCURSOR, 3, lat=115.0),
        ], soak=soak_a)
        items = evaluate_all(Run(a))
        expect(items, "lat-vs-floor-pg-cpu-1", "met")              # 1.15 = limit
        expect(items, "cpu-vs-floor-pg-cpu-1", "met")              # 0.5 / 0.4 = 1.25 = limit
        expect(items, "lat-vs-floor-pg-cpu-10", "MISSED by 0.35 ×, 30 % over")  # 1.50
        expect(items, "cpu-vs-floor-pg-cpu-10", "met")             # 1.10
        expect(items, "lat-vs-floor-pg-cpu-100-50", "met")         # 1.10
        expect(items, "cpu-vs-floor-pg-cpu-100-50", "MISSED by 0.05 ×")  # 1.30
        expect(items, "lat-vs-floor-pg-cpu-50", "MISSED by 0.35 ×")      # extra N
        expect(items, "lat-bound-3-over-1", "met")                 # 1.05
        expect(items, "lat-bound-50-over-1", "MISSED by 0.50")     # 2.00
        expect(items, "rss-n1", "met")                             # 15.5
        # (1, 15.5) (10, 20) (50, 40) (200, 115) = 15 + 0.5 N: the slope is the limit
        expect(items, "rss-slope", "met")
        expect(items, "soak-flat", "met")                          # +1.67 % at 5000
        expect(items, "complete-pg-cpu-200", "met")
        expect(items, "sessions-pg-cpu-200", "met")                # 600 = 200 × 3
        expect(items, "sessions-pg-cpu-100-50", "met")             # 50 = 50 × 1
        expect(items, "complete-pg-cpu-100-50", "met")
        nc(items, "lat-vs-floor-pg-cpu-1", "met")                  # 1.0 / 1.0
        nc(items, "cpu-vs-floor-pg-cpu-1", "MISSED by 0.25 ×, 20 % over")  # 0.6 / 0.4 = 1.5
        nc(items, "lat-vs-floor-pg-cpu-10", "met")                 # 2.2 / 2.0 = 1.10
        nc(items, "cpu-vs-floor-pg-cpu-10", "met")                 # 1.00
        nc(items, "lat-vs-floor-pg-cpu-100-50", "MISSED by 0.05 ×")  # 1.20
        nc(items, "cpu-vs-floor-pg-cpu-100-50", "met")             # 1.25 = limit
        nc(items, "lat-bound-3-over-1", "MISSED by 0.05")          # 1.15
        nc(items, "lat-bound-50-over-1", "not measured (N = 50: no ours-nocursor row)")
        nc(items, "rss-n1", "met")
        # (1, 15) (10, 21) (200, 200): slope 0.935
        nc(items, "rss-slope", "MISSED by 0.44 MiB")
        nc(items, "soak-flat", None)                               # no soak for nocursor
        nc(items, "complete-pg-cpu-200", "met")
        nc(items, "sessions-pg-cpu-200", "MISSED by 1 sessions")   # 601 > 200 × 3
        nc(items, "lat-vs-floor-pg-cpu-50", None)                  # no nocursor row at 50
        md = write(Run(a), items, a)
        md_has(md, "| CPU-bound latency (median) ≤ 1.15 × floor, N = 1 (pg-cpu) | 1.15 × |",
               "the N = 1 latency row is missing or different")
        md_has(md, "## ours-nocursor: issue 14, item 3", "no ours-nocursor group")
        md_has(md, "- `ours-nocursor` (", "no ours-nocursor summary line")
        md_has(md, "| pg-cpu | 1 | 1.15 × | 1.00 × | 1.25 × | 1.50 × |",
               "the comparison row for pg-cpu N = 1 is missing or different")
        md_has(md, "| pg-cpu | 50 | 1.50 × | – | 1.50 × | – |",
               "the comparison row for pg-cpu N = 50 is missing or different")
        with open(a / "targets.csv", newline="") as f:
            systems = {row["system"] for row in csv.DictReader(f)}
        if systems != {OURS, NOCURSOR}:
            print(f"BAD targets.csv: system column holds {systems}")
            bad.append("csv")

        # B: misses, failures, a setup that is not the target's, missing data.
        soak_b = [(k, 30.0 + 1.5 * k / 10000) for k in range(100, 10001, 100)]
        b = synth(Path(tmp) / "b", [
            r("pg-cpu", "floor", 1, lat=1.0, cpu=0.4),
            r("pg-cpu", OURS, 1, lat=1.0, cpu=1.0, rss=19.7, conns=7, mo=10, pgmax=2000,
              incomplete=2),
            r("pg-cpu", OURS, 10, lat=3.0, cpu=4.4, rss=30.5, mo=10),
            r("pg-cpu", OURS, 200, lat=150, cpu=150, rss=259.7, conns=800, mo=3,
              lat_max_ms=12000),
            r("pg-cpu-100", "floor", 50, lat=20.0, cpu=20.0, conns=50, mo=1, pgmax=100),
            r("pg-cpu-100", OURS, 50, lat=22.0, cpu=22.0, conns=150, mo=2, pgmax=100),
            r("pg-lat", OURS, 3, lat=105.0),
            r("soak", OURS, 10, lat=5, cpu=5, rss=33, scrapes=10000),
            r("pg-cpu-100", NOCURSOR, 50, lat=21.0, cpu=21.0, conns=50, mo=1, pgmax=100),
        ], soak=soak_b, failed=[
            {"setting": "pg-cpu", "system": OURS, "n": 200, "kind": "collector-failed",
             "datasource": "ds7", "collector": "bench_sysstat", "count": 1, "of": 23,
             "first_scrape": 1},
            {"setting": "pg-cpu", "system": "floor", "n": 10, "kind": "run-failed",
             "detail": "floor crashed"},
            {"setting": "pg-cpu", "system": NOCURSOR, "n": 1, "kind": "run-failed",
             "detail": "nocursor crashed"},
            {"setting": "pg-cpu-100", "system": NOCURSOR, "n": 50, "kind": "collector-failed",
             "datasource": "ds3", "collector": "bench_event", "count": 2, "of": 23,
             "first_scrape": 4},
        ])
        items = evaluate_all(Run(b))
        expect(items, "lat-vs-floor-pg-cpu-1", "MISSED: 2 of 20 measured scrapes incomplete")
        expect(items, "cpu-vs-floor-pg-cpu-1", "MISSED by 1.25 ×, 100 % over; 2 of 20")
        expect(items, "lat-vs-floor-pg-cpu-10", "not measured (floor run failed: floor crashed)")
        expect(items, "lat-vs-floor-pg-cpu-100-50",
               "not measured (not the target's setup: max_open_conns = 2 (want 1))")
        expect(items, "lat-bound-50-over-1", "not measured (N = 1: no ours-custom row; N = 50")
        expect(items, "lat-bound-3-over-1", "not measured (N = 1: no ours-custom row)")
        expect(items, "rss-n1", "MISSED by 3.70 MiB")
        # (1, 19.7) (10, 30.5) (200, 259.7): slope 1.2064
        expect(items, "rss-slope", "MISSED by 0.71 MiB")
        # base 30.15 at 1000, 31.5 at 10000: +4.48 %
        expect(items, "soak-flat", "MISSED by 2.48 %-points")
        expect(items, "complete-pg-cpu-200", "MISSED: failed.csv: 1 failing entry (collector-failed)")
        expect(items, "sessions-pg-cpu-200", "MISSED by 200 sessions, 33 % over")
        # the limit follows the maxOpenConns the run used: 50 × 2
        expect(items, "sessions-pg-cpu-100-50", "MISSED by 50 sessions, 50 % over")
        # ours-nocursor's failures are its own, ours-custom's stay ours-custom's
        nc(items, "lat-vs-floor-pg-cpu-1",
           "not measured (ours-nocursor run failed: nocursor crashed)")
        nc(items, "rss-n1", "not measured (run failed: nocursor crashed)")
        nc(items, "cpu-vs-floor-pg-cpu-100-50",
           "MISSED: failed.csv: 1 failing entry (collector-failed)")
        nc(items, "complete-pg-cpu-100-50", "MISSED: failed.csv: 1 failing entry")
        nc(items, "sessions-pg-cpu-100-50", "met")                 # its own mo = 1
        nc(items, "complete-pg-cpu-200", "not measured (no ours-nocursor row at N = 200)")
        expect(items, "complete-pg-cpu-100-50", "met")             # not nocursor's failure
        md = write(Run(b), items, b)
        if "| pg-cpu | 10 |" in md:  # neither variant measured against a failed floor
            print("BAD targets.md: a comparison row with nothing measured")
            bad.append("markdown")
        md_has(md, "| pg-cpu-100 | 50 | – | 1.05 × | – | 1.05 × |",
               "the comparison row for pg-cpu-100 N = 50 (ours-custom not the setup)")

        # C: a quick run (N = 2, no soak) and an old CSV without the new columns/failed.csv.
        c = synth(Path(tmp) / "c", [
            r("pg-cpu", "floor", 2, lat=1.0, cpu=1.0),
            r("pg-cpu", OURS, 2, lat=1.2, cpu=1.2, rss=21.0, conns=14),
            r("soak", OURS, 10, lat=5, cpu=5, rss=33, scrapes=10),
        ], soak=[(k, 30.0) for k in (1, 5, 10)], failed=None)
        items = evaluate_all(Run(c))
        expect(items, "lat-vs-floor-pg-cpu-1", "not measured (no ours-custom row)")
        expect(items, "lat-vs-floor-pg-cpu-2", "MISSED by 0.05 ×")
        expect(items, "cpu-vs-floor-pg-cpu-2", "met")
        expect(items, "rss-slope", "not measured (needs two N")
        expect(items, "soak-flat", "not measured (the soak made 10 scrapes, needs 10,000)")
        expect(items, "sessions-pg-cpu-200", "not measured (no ours-custom row at N = 200)")
        expect(items, "lat-vs-floor-pg-cpu-100-50", "not measured (no ours-custom row)")
        # a run without ours-nocursor (before it existed): the variant is left out
        nc(items, "lat-vs-floor-pg-cpu-2", None)
        md = write(Run(c), items, c)
        md_has(md, "- `ours-nocursor`: not in this run", "a run without ours-nocursor")
        if "## ours-nocursor" in md:
            print("BAD targets.md: an ours-nocursor group in a run without it")
            bad.append("markdown")

        # D: a soak.csv left from another run (no soak row in results.csv) is not judged.
        d = synth(Path(tmp) / "d", [r("pg-cpu", OURS, 1, lat=1, cpu=1, rss=15)], soak=soak_a)
        items = evaluate_all(Run(d))
        expect(items, "soak-flat", "not measured (soak.csv has no soak row")

        # The checker itself: a wrong expectation must be reported as BAD.
        before = len(bad)
        expect(items, "cpu-vs-floor-pg-cpu-2", "MISSED", report=False)
        if len(bad) != before + 1:
            print("BAD the self-test accepted a wrong verdict (negative control)")
            return 1
        bad.pop()
        print("ok  negative control: a wrong expected verdict is reported")
    if bad:
        print(f"self-test FAILED: {len(bad)} wrong verdict(s): {', '.join(bad)}")
        return 1
    print("self-test passed")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?", help="a results directory (results.csv, soak.csv, …)")
    ap.add_argument("--out", help="where targets.md/targets.csv go (default: DIR)")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--quiet", action="store_true", help="do not print targets.md")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.dir:
        ap.error("DIR or --self-test")
    run = Run(a.dir)
    items = evaluate_all(run)
    md = write(run, items, a.out or a.dir)
    if not a.quiet:
        print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
