#!/usr/bin/env python3
"""Summarises several reports of tests/bench/all.sh: per suite and load, the
throughput, p50 and p99 ratios (etcd-rs / etcd) of every run and their medians, and
the server CPU per operation and the memory ratios likewise. Reads the `### Summary`,
`### CPU per operation` and `### Memory` tables that report.py writes; prints
Markdown on stdout.

Usage: median.py REPORT.md...
"""

import re
import statistics
import sys

SECTION = re.compile(r"^## (.*?) \(suite `(\w+)`\)")
RATIO = re.compile(r"^([0-9.]+)×$")


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def ratio(text):
    m = RATIO.match(text)
    return float(m.group(1)) if m else None


def parse(path):
    """{suite: {"title": str, "loads": {load: (tput, p50, p99)}, "cpu": {load: ratio},
    "memory": {row: ratio}}}"""
    suites, suite, table = {}, None, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = SECTION.match(line)
            if m:
                suite = suites.setdefault(m.group(2), {"title": m.group(1), "loads": {}, "cpu": {}, "memory": {}})
                table = None
            elif line.startswith("### "):
                table = line[4:].split(" ")[0].strip()
            elif suite is not None and line.startswith("|") and not line.startswith("|---"):
                c = cells(line)
                if table == "Summary" and len(c) == 10 and c[0] != "Load":
                    suite["loads"][c[0]] = (ratio(c[3]), ratio(c[6]), ratio(c[9]))
                elif table == "CPU" and len(c) == 6 and c[0] != "Load":
                    suite["cpu"][c[0]] = ratio(c[3])
                elif table == "Memory" and len(c) == 4 and c[0]:
                    suite["memory"][c[0]] = ratio(c[3])
    return suites


def fmt(values):
    shown = ["n/a" if v is None else f"{v:.2f}×" for v in values]
    known = [v for v in values if v is not None]
    median = f"**{statistics.median(known):.2f}×**" if known else "n/a"
    return shown, median


def table(metric, heads, n, rows, values):
    """Prints one table: for each name in ROWS, VALUES(name) (one ratio per run) and
    their median. Rows without any value are left out: watch-idle has no throughput or
    latency (its figure, bytes per watcher, is in each run's targets)."""
    print(f"| {metric} | {heads} | median |")
    print("|---|" + "---:|" * (n + 1))
    for row in rows:
        got = values(row)
        if all(v is None for v in got):
            continue
        shown, med = fmt(got)
        print(f"| {row} | {' | '.join(shown)} | {med} |")
    print()


def main(paths):
    runs = [parse(p) for p in paths]
    n = len(runs)
    heads = " | ".join(f"run {k}" for k in range(1, n + 1))
    print(f"Ratios are etcd-rs / etcd, each measured in the same run; {n} runs of `tests/bench/all.sh` in a row.\n")
    for suite, first in runs[0].items():
        print(f"### {first['title']} (suite `{suite}`)\n")

        def of(part, i=None):
            def values(name):
                got = [r.get(suite, {}).get(part, {}).get(name) for r in runs]
                return got if i is None else [None if v is None else v[i] for v in got]
            return values

        for i, metric in enumerate(["Throughput", "Latency p50", "Latency p99"]):
            table(metric, heads, n, first["loads"], of("loads", i))
        if first["cpu"]:
            table("Server CPU per op", heads, n, first["cpu"], of("cpu"))
        table("Memory", heads, n, first["memory"], of("memory"))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
