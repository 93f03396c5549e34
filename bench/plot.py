#!/usr/bin/env python3
"""Plots for BENCHMARKS.md from bench/run.sh's results.csv (and soak.csv).

    plot.py DIR  ->  DIR/latency_vs_n.png, DIR/cpu_vs_n.png, DIR/rss_vs_n.png,
                     DIR/latency_bound.png, DIR/soak.png
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "floor": dict(color="black", marker="s", linestyle="--"),
    "ours-custom": dict(color="tab:red", marker="o"),
    "ours-nocursor": dict(color="tab:purple", marker="x", linestyle=":"),
    "ours-builtin": dict(color="tab:orange", marker="^"),
    "sql_exporter": dict(color="tab:blue", marker="D"),
    "query-exporter": dict(color="tab:green", marker="v"),
}
LABEL = {
    "floor": "ODBC floor (bench_floor)",
    "ours-custom": "dameng_exporter, same 6 queries",
    "ours-nocursor": "dameng_exporter, same 6 queries, UseDeclareFetch=0",
    "ours-builtin": "dameng_exporter, built-in collectors",
    "sql_exporter": "prometheus-sql-exporter 0.4.5 (per cycle)",
    "query-exporter": "query-exporter 5.2",
}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def series(rows, setting, key):
    out = {}
    for r in rows:
        if r["setting"] != setting or num(r[key]) is None:
            continue
        out.setdefault(r["system"], []).append((int(r["n"]), num(r[key])))
    return {k: sorted(v) for k, v in out.items()}


def plot(rows, setting, key, ylabel, title, path, logy=True):
    data = series(rows, setting, key)
    if not data:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for system, pts in data.items():
        xs, ys = zip(*pts)
        ax.plot(xs, ys, label=LABEL.get(system, system), **STYLE.get(system, {}))
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("datasources (N)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    d = Path(sys.argv[1])
    with open(d / "results.csv") as f:
        rows = list(csv.DictReader(f))
    q = "6 queries per datasource, local PostgreSQL (CPU-bound)"
    plot(rows, "pg-cpu", "lat_median_ms", "scrape latency, median (ms)",
         f"Latency vs N — {q}", d / "latency_vs_n.png")
    plot(rows, "pg-cpu", "cpu_ms_per_scrape", "CPU time per scrape / cycle (ms)",
         f"CPU per scrape vs N — {q}", d / "cpu_vs_n.png")
    plot(rows, "pg-cpu", "rss_max_mib", "peak RSS (MiB)", f"RSS vs N — {q}",
         d / "rss_vs_n.png")
    plot(rows, "pg-lat", "lat_median_ms", "scrape latency, median (ms)",
         "Latency vs N — every query ≥ 20 ms (sleeping views)", d / "latency_bound.png")
    soak = d / "soak.csv"
    if soak.exists():
        with open(soak) as f:
            s = list(csv.DictReader(f))
        x = [int(r["scrape"]) for r in s]
        fig, ax1 = plt.subplots(figsize=(7.5, 4.2), dpi=110)
        ax1.plot(x, [float(r["rss_mib"]) for r in s], color="tab:red", label="RSS (MiB)")
        ax1.set_xlabel("scrape")
        ax1.set_ylabel("RSS (MiB)", color="tab:red")
        ax1.set_ylim(bottom=0)
        ax2 = ax1.twinx()
        ax2.plot(x, [int(r["conns"]) for r in s], color="tab:blue", label="open connections")
        ax2.set_ylabel("PostgreSQL connections", color="tab:blue")
        ax2.set_ylim(bottom=0)
        ax1.set_title(f"Soak: {x[-1]} scrapes, 10 datasources × 6 queries")
        ax1.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(d / "soak.png")
        plt.close(fig)


if __name__ == "__main__":
    main()
