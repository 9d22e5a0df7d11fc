#!/usr/bin/env python3
"""Prints the table of a `scripts/load` sitting from its RESULT lines.

    table.py results.txt

One line per engine, binary and scenario: requests/s, p50 and p99 of the companion,
non-2xx answers and 409s (write scenario), and, when the limit server ran in the same
sitting, its requests/s, p50 and p99 and the ratios companion/limit (req/s: higher is
better, 1.0 is the limit; latencies: lower is better, 1.0 is the limit). The limit's p99 at
saturation is mostly scheduling on the shared cores: the req/s ratio is the steady one. Then the RSS of each binary.
"""
import sys
from collections import OrderedDict

runs, rss = OrderedDict(), []
for line in open(sys.argv[1]):
    if not line.startswith("RESULT "):
        continue
    kv = dict(w.split("=", 1) for w in line.split()[1:])
    if "idle_rss_mb" in kv:
        rss.append(kv)
        continue
    runs.setdefault((kv["engine"], kv["bin"], kv["scenario"], kv.get("round", "1")), {})[kv["target"]] = kv

print()
print("| engine | binary | scenario | req/s | p50 ms | p99 ms | non-2xx | 409 | limit req/s | limit p50 ms | limit p99 ms | req/s ÷ limit | p50 ÷ limit | p99 ÷ limit |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
several_rounds = len({k[3] for k in runs}) > 1
# Scenario by scenario, the binaries next to each other (the order they were measured in).
for (engine, binary, scenario, rnd), t in sorted(runs.items(), key=lambda kv: list(runs).index(kv[0])):
    if several_rounds:
        scenario = f"{scenario} (round {rnd})"
    p, lim = t.get("pecdesk"), t.get("limit")
    if p is None:
        continue
    row = [engine, binary, scenario, f"{float(p['rps']):,.0f}", p["p50_ms"], p["p99_ms"],
           str(int(p["non2xx"]) + int(p["socket_errors"])), p["conflicts"]]
    if lim:
        row += [f"{float(lim['rps']):,.0f}", lim["p50_ms"], lim["p99_ms"],
                f"{float(p['rps']) / float(lim['rps']):.3f}",
                f"{float(p['p50_ms']) / float(lim['p50_ms']):.1f}",
                f"{float(p['p99_ms']) / float(lim['p99_ms']):.1f}"]
    else:
        row += [""] * 6
    print("| " + " | ".join(row) + " |")
if rss:
    print()
    print("| engine | binary | idle RSS MB | peak RSS MB |")
    print("| --- | --- | ---: | ---: |")
    for kv in rss:
        print(f"| {kv['engine']} | {kv['bin']} | {kv['idle_rss_mb']} | {kv['peak_rss_mb']} |")
