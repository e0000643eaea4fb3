#!/usr/bin/env python3
"""Render the side-by-side benchmark report (Markdown) for tests/bench/run.sh.

Each run produces one section (`## Single member` or `## 3-member cluster`);
with --append the section is added to an existing report, so several runs
(tests/bench/all.sh: the single suite, then the cluster suite) end up in one
file under one document header.

Inputs (written by run.sh into its scratch directory):
  meta.json      {"date":..., "machine":{...}, "versions":{...}, "mode":..., "suite":"single"|"cluster",
                  "members":1|3, "invocation":..., "loads":[...],
                  "servers":[{"key":"etcd","label":"etcd"}, {"key":"etcd-rs",...}]}
  results.jsonl  one line per (server, load): {"server":..., "load":..., "ok":bool,
                  "error":str|None, "result":<bench tool JSON object or null>}
  rss.jsonl      one line per (server, member, phase): {"server":..., "member":...,
                  "phase":"idle"|"after", "VmRSS_kB":int|None, "VmHWM_kB":int|None,
                  "data_dir_kB":int|None}
  cluster.jsonl  (clusters only) one line per (server, phase "start"|"after"):
                  {"answered":int, "leaders":[member id...], "raft_terms":[int...]}

Standard library only (CI machines are fresh Debian installs).
"""

import argparse
import json
import os
import sys
import tempfile

DOC_TITLE = "# Benchmarks: etcd-rs vs. etcd 3.4"

# Written once at the top of the file (not per section): the frame every
# number in the file has to be read in.
DOC_INTRO = (
    "Every figure in this file compares etcd-rs with **etcd 3.4 measured in the same run "
    "on the same machine**: each section below comes from one run of `tests/bench/run.sh`, "
    "which benchmarks real etcd 3.4 and then etcd-rs, one after the other, with identical "
    "flags and the same loads from the same load tool. Ratios are etcd-rs / etcd (for "
    "throughput higher is better, for latency and memory lower is better). Absolute numbers "
    "depend on the machine and on what else it was doing; only the ratios within one section "
    "are meant to be compared, and the targets are judged from those ratios alone."
)


def load_jsonl(path):
    rows = []
    if not path or not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def fmt_num(v, digits=1):
    if v is None:
        return "n/a"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def ratio_value(a, b):
    """a/b, or None if either side is missing/zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def ratio(a, b):
    """a/b formatted, or n/a if either side is missing/zero."""
    r = ratio_value(a, b)
    return "n/a" if r is None else f"{r:.2f}×"


def fmt_mib(kb):
    if kb is None:
        return "n/a"
    return f"{kb / 1024:.1f} MiB"


def get_metric(result, path):
    cur = result
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur if isinstance(cur, (int, float)) and not isinstance(cur, bool) else None


def err_mark(*results):
    """' ⚠' if any of the results reports request errors."""
    return " ⚠" if any(get_metric(r, ["errors"]) for r in results) else ""


# ---- CPU -----------------------------------------------------------------------


# Loads whose CPU window includes more than their requests: put-64-w's includes opening
# and closing its 100,000 watchers (and what the server still spends on watch-idle's).
CPU_NOT_PER_OP = {"put-64-w"}


def cpu_per_op(row, who):
    """Microseconds of CPU per operation of the load in results row ROW, spent by WHO
    ("servers": every member together, or "load_tool"); None without a measurement, for
    a load without throughput (watch-idle) or one in CPU_NOT_PER_OP."""
    if not row or not row.get("ok") or row.get("load") in CPU_NOT_PER_OP:
        return None
    result = row.get("result")
    total = get_metric(result, ["total"])
    cpu = get_metric(row, ["cpu_s", who])
    if not total or cpu is None or not get_metric(result, TPUT):
        return None
    return cpu / total * 1e6


def render_cpu(w, by, ref, sut, loads):
    w("### CPU per operation")
    w("")
    w("CPU time (user + system) spent during each load, per request (per event for the "
      "watch fan-out, per grant + put + revoke for the lease cycle): by the server, every "
      "member together, from `/proc/PID/stat` before and after the load; and by the load "
      "tool, which shares the machine's CPUs with the server, so that the less CPU a server "
      "needs per request, the larger the share of the machine the load tool takes from it. "
      "Lower is better; the ratio is etcd-rs / etcd. put-64-w is left out: its window "
      "includes opening and closing its 100,000 watchers.")
    w("")
    w(f"| Load | {ref['label']} server µs | {sut['label']} server µs | ratio | "
      f"load tool µs ({ref['label']}) | load tool µs ({sut['label']}) |")
    w("|---|---:|---:|---:|---:|---:|")
    for load in loads:
        ra, rb = by.get((ref["key"], load["name"])), by.get((sut["key"], load["name"]))
        sa, sb = cpu_per_op(ra, "servers"), cpu_per_op(rb, "servers")
        if sa is None and sb is None:
            continue
        ta, tb = cpu_per_op(ra, "load_tool"), cpu_per_op(rb, "load_tool")
        w(f"| {load['name']} | {fmt_num(sa)} | {fmt_num(sb)} | {ratio(sb, sa)} | "
          f"{fmt_num(ta)} | {fmt_num(tb)} |")
    w("")


# ---- memory ------------------------------------------------------------------


def mem_stat(rss_rows, server, phase, field, agg):
    """Aggregate FIELD over the members of SERVER in PHASE: 'avg' or 'max' per
    member. None if no member has a value."""
    vals = [r.get(field) for r in rss_rows
            if r.get("server") == server and r.get("phase") == phase]
    vals = [v for v in vals if isinstance(v, (int, float))]
    if not vals:
        return None
    return sum(vals) / len(vals) if agg == "avg" else max(vals)


# ---- targets -----------------------------------------------------------------
# A target is a list of checks; each check compares one etcd-rs/etcd ratio
# with a bound. A load check uses the bench tool's result for one load, a
# memory check the per-member aggregate of one /proc/PID/status field.


def load_check(load, path, label, op, bound):
    return {"kind": "load", "load": load, "path": path, "label": label, "op": op, "bound": bound}


def mem_check(field, agg, label, op, bound):
    return {"kind": "mem", "field": field, "agg": agg, "label": label, "op": op, "bound": bound}


TPUT = ["throughput"]
P50 = ["latency_ms", "p50"]
P99 = ["latency_ms", "p99"]
PER_WATCHER = ["bytes_per_watcher"]

# Targets of the coordination and v2 issues, in both suites (their loads run in both).
COMMON_TARGETS = [
    ("v2 set (64 clients) ≥ 2× etcd's throughput", [load_check("v2-set-64", TPUT, "v2-set-64 throughput", ">=", 2)]),
    ("v2 get (64 clients) ≥ 2× etcd's throughput", [load_check("v2-get-64", TPUT, "v2-get-64 throughput", ">=", 2)]),
    ("v2 quorum get (64 clients) ≥ 2× etcd's throughput",
     [load_check("v2-get-q-64", TPUT, "v2-get-q-64 throughput", ">=", 2)]),
    ("Watch fan-out ≥ 2× etcd's events per second", [load_check("watch-fanout", TPUT, "events/s", ">=", 2)]),
    ("Lease grant+put+revoke (64 clients) ≥ 2× etcd", [load_check("lease-cycle-64", TPUT, "cycles/s", ">=", 2)]),
    ("Lease keep-alives (64 clients) ≥ 2× etcd", [load_check("lease-keepalive-64", TPUT, "keep-alives/s", ">=", 2)]),
    ("Memory per idle watcher no higher than etcd's",
     [load_check("watch-idle", PER_WATCHER, "bytes per watcher", "<=", 1)]),
]


# Loads measured for what they show, without a target of their own: put-64-w is put-64
# on a server that also holds 100,000 idle watchers.
UNTARGETED = {"put-64-w"}


def suite_targets(meta):
    """The targets of the run's suite, as (description, [checks])."""
    names = [ld["name"] for ld in meta["loads"]]
    if meta.get("suite") == "cluster":
        return [
            ("Put throughput ≥ 2× etcd at 64 clients, with p99 no higher",
             [load_check("put-64", TPUT, "put-64 throughput", ">=", 2),
              load_check("put-64", P99, "p99", "<=", 1)]),
            ("Put throughput ≥ 2× etcd at 256 clients, with p99 no higher",
             [load_check("put-256", TPUT, "put-256 throughput", ">=", 2),
              load_check("put-256", P99, "p99", "<=", 1)]),
            ("Single-client put p50 below etcd's",
             [load_check("put-1", P50, "put-1 p50", "<", 1)]),
            ("Linearizable reads (64 clients) ≥ 2× etcd's throughput",
             [load_check("range-l-64", TPUT, "range-l-64 throughput", ">=", 2)]),
            ("Serializable reads (64 clients) ≥ 2× etcd's throughput",
             [load_check("range-s-64", TPUT, "range-s-64 throughput", ">=", 2)]),
            ("Resident memory per member under half of etcd's (VmRSS after the loads)",
             [mem_check("VmRSS_kB", "avg", "average", "<", 0.5),
              mem_check("VmRSS_kB", "max", "max", "<", 0.5)]),
            ("Peak resident memory per member under half of etcd's (VmHWM)",
             [mem_check("VmHWM_kB", "avg", "average", "<", 0.5),
              mem_check("VmHWM_kB", "max", "max", "<", 0.5)]),
        ] + [t for t in COMMON_TARGETS if t[1][0]["load"] in names]
    common = {t[1][0]["load"] for t in COMMON_TARGETS}
    targets = [
        (f"{name}: throughput ≥ 2× etcd, at equal or lower p99",
         [load_check(name, TPUT, "throughput", ">=", 2),
          load_check(name, P99, "p99", "<=", 1)])
        for name in names if name not in common and name not in UNTARGETED
    ]
    targets += [t for t in COMMON_TARGETS if t[1][0]["load"] in names]
    targets += [
        ("Smaller resident memory than etcd (VmRSS after the loads)",
         [mem_check("VmRSS_kB", "max", "VmRSS", "<", 1)]),
        ("Smaller peak resident memory than etcd (VmHWM)",
         [mem_check("VmHWM_kB", "max", "VmHWM", "<", 1)]),
    ]
    return targets


OP_SHOWN = {">=": "≥", "<=": "≤", "<": "<"}


def compare(r, op, bound):
    return {">=": r >= bound, "<=": r <= bound, "<": r < bound}[op]


def eval_check(check, ctx):
    """(True|False|None, text). None = cannot be judged (no valid etcd figure).
    A load etcd-rs failed or answered with errors counts as not met."""
    ref, sut = ctx["ref"]["key"], ctx["sut"]["key"]
    if check["kind"] == "load":
        ra = ctx["by"].get((ref, check["load"]))
        rb = ctx["by"].get((sut, check["load"]))
        if not rb or not rb.get("ok") or get_metric(rb.get("result"), ["errors"]):
            return False, f"{check['load']}: etcd-rs failed or had request errors"
        if not ra or not ra.get("ok") or get_metric(ra.get("result"), ["errors"]):
            return None, f"{check['load']}: no valid etcd result"
        r = ratio_value(get_metric(rb["result"], check["path"]),
                        get_metric(ra["result"], check["path"]))
    else:
        rb = mem_stat(ctx["rss"], sut, "after", check["field"], check["agg"])
        ra = mem_stat(ctx["rss"], ref, "after", check["field"], check["agg"])
        if rb is None:
            return False, "no etcd-rs sample after the loads (a member died or did not start)"
        r = ratio_value(rb, ra)
    if r is None:
        return None, f"{check['label']}: n/a"
    return compare(r, check["op"], check["bound"]), f"{check['label']} {r:.2f}×"


def render_targets(w, ctx, meta):
    w("### Targets")
    w("")
    w("Judged only from the ratios to etcd 3.4 measured in this same run on the same machine "
      "(etcd-rs / etcd; the bound follows each target). “not met” includes loads that "
      "etcd-rs failed or answered with request errors; “n/a” means the etcd figure is missing.")
    w("")
    w("| Target | Bound | Measured (etcd-rs / etcd) | Status |")
    w("|---|---|---|---|")
    counts = {"met": 0, "not met": 0, "n/a": 0}
    for desc, checks in suite_targets(meta):
        verdicts, texts = [], []
        for c in checks:
            ok, text = eval_check(c, ctx)
            verdicts.append(ok)
            if text not in texts:  # one failed load fails all its checks alike
                texts.append(text)
        if any(v is False for v in verdicts):
            status = "not met"
        elif all(v is True for v in verdicts):
            status = "met"
        else:
            status = "n/a"
        counts[status] += 1
        bounds = ", ".join(f"{c['label']} {OP_SHOWN[c['op']]} {c['bound']:g}×" for c in checks)
        shown = {"met": "✅ met", "not met": "❌ not met", "n/a": "n/a"}[status]
        w(f"| {desc} | {bounds} | {'; '.join(texts)} | {shown} |")
    w("")
    w(f"{counts['met']} of {sum(counts.values())} targets met"
      + (f", {counts['n/a']} not judged" if counts["n/a"] else "") + ".")
    w("")


# ---- sections ----------------------------------------------------------------


def setup_text(meta):
    members = meta.get("members", 1)
    nproc = meta["machine"].get("nproc", "?")
    common = ("one after the other on the same machine (never concurrently: the first is "
              "stopped before the second starts), driven by the same load tool (`etcd-rs-bench`) "
              "over gRPC after an unrecorded warm-up; the load tool runs on the same machine and "
              "competes for its CPUs.")
    if members == 1:
        return ("Both servers ran as a single member on 127.0.0.1 with fresh data directories "
                "and identical flags, " + common)
    return (f"Both servers ran as a {members}-member cluster on 127.0.0.1: {members} processes "
            "each, with their own client and peer ports and fresh data directories, bootstrapped "
            f"with identical flags (names member-1..member-{members}, `--initial-cluster` listing "
            "all members, `--initial-cluster-state new`, `--initial-cluster-token "
            f"{meta.get('cluster_token')}`); loads started once `etcdctl endpoint health --cluster` "
            f"reported every member healthy. All members of a cluster share this machine's {nproc} "
            "CPUs and talk over loopback, so replication costs CPU but no network latency. The "
            "two clusters ran " + common + " The load tool got the client URLs of all members and "
            "balances the requests of each of its connections over them, so each member receives "
            "about a third of them and most requests reach a follower.")


def render_section(meta, results, rss, status_rows):
    servers = meta["servers"]  # [{"key":"etcd","label":...}, {"key":"etcd-rs",...}]
    ref, sut = servers[0], servers[1]
    by = {(r["server"], r["load"]): r for r in results}
    members = meta.get("members", 1)
    ctx = {"ref": ref, "sut": sut, "by": by, "rss": rss}

    out = []
    w = out.append
    title = "Single member" if members == 1 else f"{members}-member cluster"
    w(f"## {title} (suite `{meta.get('suite', 'single')}`)")
    w("")
    w(f"Generated by `{meta.get('invocation', 'tests/bench/run.sh')}` on {meta['date']} "
      f"({meta['mode']} mode). " + setup_text(meta) + " Ratios are etcd-rs / etcd, both "
      "measured in this run.")
    w("")

    render_targets(w, ctx, meta)

    # Summary: one row per load.
    w("### Summary")
    w("")
    w(f"| Load | {ref['label']} ops/s | {sut['label']} ops/s | ratio | "
      f"{ref['label']} p50 ms | {sut['label']} p50 ms | ratio | "
      f"{ref['label']} p99 ms | {sut['label']} p99 ms | ratio |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for load in meta["loads"]:
        a = by.get((ref["key"], load["name"]), {}).get("result")
        b = by.get((sut["key"], load["name"]), {}).get("result")
        cells = []
        for path, f in ((TPUT, fmt_num), (P50, fmt_ms), (P99, fmt_ms)):
            va, vb = get_metric(a, path), get_metric(b, path)
            cells += [f(va), f(vb), ratio(vb, va)]
        w(f"| {load['name']}{err_mark(a, b)} | " + " | ".join(cells) + " |")
    w("")
    if any(err_mark(r.get("result")) for r in results):
        w("Loads marked ⚠ had request errors (see the per-load tables); their numbers "
          "are not comparable.")
        w("")
    failed = [r for r in results if not r.get("ok")]
    if failed:
        w("**Failed loads:** " + "; ".join(
            f"{r['server']} {r['load']} ({r.get('error') or 'no result'})" for r in failed))
        w("")
    render_cpu(w, by, ref, sut, meta["loads"])

    w("### Environment")
    w("")
    m = meta["machine"]
    w("| | |")
    w("|---|---|")
    w(f"| CPU | {m.get('cpu_model', 'unknown')} |")
    w(f"| CPUs (nproc) | {m.get('nproc', 'unknown')} |")
    w(f"| Memory | {m.get('memory', 'unknown')} |")
    w(f"| Kernel | {m.get('kernel', 'unknown')} |")
    for k, v in meta["versions"].items():
        w(f"| {k} | {v} |")
    w("")

    # One table per load.
    w("### Loads")
    for load in meta["loads"]:
        w("")
        w(f"#### {load['name']}: {load['description']}")
        w("")
        w(f"`etcd-rs-bench {load['command']}`")
        w("")
        ra = by.get((ref["key"], load["name"]), {})
        rb = by.get((sut["key"], load["name"]), {})
        a, b = ra.get("result"), rb.get("result")
        w(f"| Metric | {ref['label']} | {sut['label']} | etcd-rs / etcd |")
        w("|---|---:|---:|---:|")
        rows = [
            ("Throughput (ops/s)", TPUT, fmt_num),
            ("Latency p50 (ms)", P50, fmt_ms),
            ("Latency p99 (ms)", P99, fmt_ms),
            ("Latency mean (ms)", ["latency_ms", "mean"], fmt_ms),
            ("Latency p99.9 (ms)", ["latency_ms", "p99_9"], fmt_ms),
            ("Latency max (ms)", ["latency_ms", "max"], fmt_ms),
            ("Elapsed (s)", ["elapsed_s"], lambda v: fmt_num(v, 2)),
        ]
        for label, path, f in rows:
            va, vb = get_metric(a, path), get_metric(b, path)
            w(f"| {label} | {f(va)} | {f(vb)} | {ratio(vb, va)} |")
        for label, who in (("Server CPU per op (µs)", "servers"), ("Load tool CPU per op (µs)", "load_tool")):
            va, vb = cpu_per_op(ra, who), cpu_per_op(rb, who)
            if va is not None or vb is not None:
                w(f"| {label} | {fmt_num(va)} | {fmt_num(vb)} | {ratio(vb, va)} |")
        ea, eb = get_metric(a, ["errors"]), get_metric(b, ["errors"])
        w(f"| Errors | {fmt_num(ea)} | {fmt_num(eb)} | |")
        for who, r in ((ref, ra), (sut, rb)):
            errs = get_metric(r.get("result"), ["errors"])
            total = get_metric(r.get("result"), ["total"])
            if errs:
                w("")
                w(f"**⚠ {who['label']}: {fmt_num(errs)} of {fmt_num(total)} requests failed.**")
            if not r.get("ok", False):
                w("")
                w(f"**{who['label']}: load failed**: {r.get('error') or 'no result'}")
    w("")

    # Memory.
    w("### Memory (resident set size" + (" per member)" if members > 1 else ")"))
    w("")
    w("Sampled from `/proc/PID/status` of each server process: idle = right after startup, "
      "after = after the loads but before the idle watchers of watch-idle, which measure "
      "their own memory; VmHWM = peak RSS over the process lifetime until then. "
      "Data dir = `du -sk` of the data directory at the same time (includes preallocated "
      "WAL/db files, so it mostly reflects allocation policy, not live data)."
      + (f" With {members} members, “average” is the mean over the members of one server "
         "and “max” its largest member; every member holds a full replica." if members > 1 else ""))
    w("")
    w(f"| | {ref['label']} | {sut['label']} | etcd-rs / etcd |")
    w("|---|---:|---:|---:|")
    if members == 1:
        mem_rows = [
            ("VmRSS idle", "idle", "VmRSS_kB", "max"),
            ("VmRSS after loads", "after", "VmRSS_kB", "max"),
            ("VmHWM (peak)", "after", "VmHWM_kB", "max"),
            ("Data dir on disk", "after", "data_dir_kB", "max"),
        ]
    else:
        mem_rows = [
            ("VmRSS idle, average", "idle", "VmRSS_kB", "avg"),
            ("VmRSS after loads, average", "after", "VmRSS_kB", "avg"),
            ("VmRSS after loads, max", "after", "VmRSS_kB", "max"),
            ("VmHWM (peak), average", "after", "VmHWM_kB", "avg"),
            ("VmHWM (peak), max", "after", "VmHWM_kB", "max"),
            ("Data dir on disk, average", "after", "data_dir_kB", "avg"),
        ]
    for label, phase, field, agg in mem_rows:
        va = mem_stat(rss, ref["key"], phase, field, agg)
        vb = mem_stat(rss, sut["key"], phase, field, agg)
        w(f"| {label} | {fmt_mib(va)} | {fmt_mib(vb)} | {ratio(vb, va)} |")
    w("")

    if members > 1:
        render_cluster_status(w, ref, sut, members, status_rows)

    # Raw data.
    w("### Details")
    w("")
    w("<details>")
    w("<summary>Raw load-tool output (one JSON object per server and load)</summary>")
    w("")
    w("```json")
    for r in results:
        w(json.dumps({"server": r["server"], "load": r["load"], "ok": r["ok"],
                      "error": r.get("error"), "result": r.get("result"), "cpu_s": r.get("cpu_s")},
                     sort_keys=False))
    w("```")
    samples = [("Memory samples:", rss)]
    if status_rows:
        samples.append(("Cluster status samples (`etcdctl endpoint status`, "
                        "one entry per answering member):", status_rows))
    for caption, rows in samples:
        w("")
        w(caption)
        w("")
        w("```json")
        for r in rows:
            w(json.dumps(r))
        w("```")
    w("")
    w("</details>")
    w("")
    return out


def render_cluster_status(w, ref, sut, members, status_rows):
    """Leader and raft term before and after the loads: a term change means an
    election happened during the loads (writes stall until it completes)."""
    st = {(r["server"], r["phase"]): r for r in status_rows}

    def describe(server):
        a, b = st.get((server, "start")), st.get((server, "after"))
        if not a or not b or not a.get("answered") or not b.get("answered"):
            return "n/a (no status after the loads)"
        ta = max((t for t in a["raft_terms"] if t is not None), default=None)
        tb = max((t for t in b["raft_terms"] if t is not None), default=None)
        la = {x for x in a["leaders"] if x}
        lb = {x for x in b["leaders"] if x}
        same = "same leader" if la == lb and len(la) == 1 else "leader changed"
        note = "" if ta == tb else " — an election happened during the loads"
        return (f"term {ta} → {tb}, {same}{note}; {b['answered']}/{members} members "
                "answered after the loads")

    w("### Cluster")
    w("")
    w("Leader and raft term as reported by every member (`etcdctl endpoint status`) after "
      "startup and after the loads.")
    w("")
    w("| Server | Leadership during the loads |")
    w("|---|---|")
    for who in (ref, sut):
        w(f"| {who['label']} | {describe(who['key'])} |")
    w("")


def write_report(path, section, append):
    """Write the document header and SECTION to PATH, or with APPEND add
    SECTION to an existing non-empty report (header already there). Written
    to a temporary file and renamed, so an interrupted run never leaves a
    truncated report behind."""
    existing = ""
    if append and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            existing = f.read()
    if existing.strip():
        text = existing.rstrip("\n") + "\n\n" + "\n".join(section)
    else:
        text = "\n".join([DOC_TITLE, "", DOC_INTRO, ""] + section)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".bench-report.", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--rss", required=True)
    ap.add_argument("--cluster-status", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--append", action="store_true",
                    help="add this run's section to an existing report")
    args = ap.parse_args()

    with open(args.meta, encoding="utf-8") as f:
        meta = json.load(f)
    section = render_section(meta, load_jsonl(args.results), load_jsonl(args.rss),
                             load_jsonl(args.cluster_status))
    write_report(args.out, section, args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
