#!/usr/bin/env python3
"""Splits a callgrind profile of scripts/profile into instructions per request.

    split.py callgrind.out.ENGINE REQUESTS

1. By code point (inclusive cost of the named functions, divided by REQUESTS):
   token signature check, principal lookup (user row and session family, minus the token
   check), grants query, list query, serialisation of the answer, middleware (metrics,
   trace); "SQLite worker threads" is the work sqlx-sqlite does on its own threads
   (SQLite itself, statement cache, row copies): the query futures of the request only wait
   for it, so their inclusive cost excludes it; with PostgreSQL the driver runs inside the
   query futures and the database's own work is another process (not counted).
   "axum/hyper/tokio and the rest" is the total minus all of the above.
2. By crate (exclusive cost: the instructions executed in each crate's own code).
"""
import re, subprocess, sys
from collections import defaultdict

path, n = sys.argv[1], int(sys.argv[2])
# "  1,234 ( 5.6%)  FILE:FUNCTION [OBJECT]"; FILE is where the line's code is (after inlining).
LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+?):(.+?)(?:\s+\[([^\]]*)\])?\s*$")


def annotate(inclusive):
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100",
                          f"--inclusive={'yes' if inclusive else 'no'}", path],
                         check=True, capture_output=True, text=True).stdout
    total, rows, started = None, [], False
    for line in out.splitlines():
        if total is None and "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
        elif "file:function" in line:
            started = True
        elif started:
            m = LINE.match(line)
            if m:
                rows.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4)))
    return total, rows


total, inc = annotate(True)


def inclusive(fn_pattern, file_pattern=""):
    """Inclusive cost of a function: callgrind_annotate lists a function once per source
    file its inlined code comes from; the row of its own file carries the whole inclusive
    cost, the others a part of it, so the largest row is the function's cost. Recursive
    activations ('2) are skipped."""
    best = 0
    for cost, file, fn, _obj in inc:
        if re.search(fn_pattern, fn) and re.search(file_pattern, file) and not fn.endswith("'2"):
            best = max(best, cost)
    return best


# Loose patterns (module paths move between versions); a part that matches nothing is
# reported, so a renamed function is noticed rather than silently counted as "the rest".
PATTERNS = {
    "token": r"pecdesk_companion::.*KeyRing::verify$",
    "principal": r"Principal as axum_core::extract::FromRequestParts<.*>>::from_request_parts",
    "grants": r"pecdesk_companion::.*Grants::load",
    "handler": r"pecdesk_companion::.*list_activities::\{\{closure\}\}$",
}
token, principal, grants, handler = (inclusive(PATTERNS[k]) for k in ("token", "principal", "grants", "handler"))
for k, v in (("token", token), ("principal", principal), ("grants", grants), ("handler", handler)):
    if v == 0:
        print(f"note: no instructions under /{PATTERNS[k]}/ ({k}): not called, or renamed", file=sys.stderr)
serialise = inclusive(r"<axum::json::Json<T> as axum_core::response::into_response::IntoResponse>::into_response$")
worker = inclusive(r"__rust_begin_short_backtrace$", r"sqlx-sqlite")

rows = [
    ("token check (KeyRing::verify: HS256, base64, claims JSON)", token),
    ("principal lookup: user row, session family (rest of the Principal extractor)", max(principal - token, 0)),
    ("grants query (Grants::load)", grants),
    ("list query and page (list handler minus grants)", max(handler - grants, 0)),
    ("serialisation of the answer (Json into_response)", serialise),
    ("SQLite worker threads (sqlx-sqlite, SQLite; every query of the request)", worker),
]
accounted = sum(c for _, c in rows)
rows.append(("axum/hyper/tokio, routing, middleware, allocator, the rest", total - accounted))
print(f"{path}: {total:,} instructions for {n} requests = {total / n:,.0f} per request")
print()
print("| part (inclusive) | instructions / request | share |")
print("| --- | ---: | ---: |")
for name, c in rows:
    print(f"| {name} | {c / n:,.0f} | {100 * c / total:.1f} % |")

_, exc = annotate(False)
CRATE = re.compile(r"/registry/src/[^/]+/([A-Za-z0-9_-]+?)-\d+\.\d+[^/]*/")
by = defaultdict(int)
for cost, file, fn, obj in exc:
    m = CRATE.search(file)
    if m:
        key = m.group(1)
    elif file.startswith("/rustc/"):
        key = "Rust std (core, alloc, std)"
    elif "/companion/" in file:
        key = "pecdesk-companion"
    elif "/shared/" in file:
        key = "pecdesk-core"
    else:
        key = "system libraries (" + (obj or "?").rsplit("/", 1)[-1] + ")"
    by[key] += cost
print()
print("| where the instructions run (exclusive, by source crate after inlining) | instructions / request | share |")
print("| --- | ---: | ---: |")
for key, c in sorted(by.items(), key=lambda kv: -kv[1])[:20]:
    print(f"| {key} | {c / n:,.0f} | {100 * c / total:.1f} % |")
