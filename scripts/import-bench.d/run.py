#!/usr/bin/env python3
"""`pecdesk import` throughput against `pecdesk inspect` over the same bytes, on SQLite and
PostgreSQL, and the peak memory of importing one large message (issue 13 item 10).
See scripts/import-bench and docs/BENCHMARKS.md."""
import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
MAILBOX = "protocollo@pec.demo.test"


def seed(binary, db_args):
    """Runs `serve --demo` until it listens (migrations, demo organisation), then stops it."""
    p = subprocess.Popen([binary, "serve", "--demo", "--listen", "127.0.0.1:0", *db_args],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, "NO_COLOR": "1"})
    for line in p.stdout:
        if "listening" in line:
            break
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)


def db_for(engine, work, pg):
    data = tempfile.mkdtemp(prefix=f"bench-{engine}-", dir=work)
    if engine == "sqlite":
        return ["--data-dir", data], None
    name = f"pecdesk_bench_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", pg, "-qAtc", f"CREATE DATABASE {name}"], check=True)
    base = pg.rsplit("/", 1)[0]
    return ["--data-dir", data, "--database-url", f"{base}/{name}"], name


def drop(pg, name):
    if name:
        subprocess.run(["psql", pg, "-qAtc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       check=False)


def timed(cmd, stdout=subprocess.PIPE):
    t = time.monotonic()
    r = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    return time.monotonic() - t, r


def inspect_all(binary, files):
    t = time.monotonic()
    for i in range(0, len(files), 2000):
        subprocess.run([binary, "inspect", "--json", *files[i:i + 2000]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.monotonic() - t


def peak_rss_kb(cmd):
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return int(m.group(1)) if m else -1, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--engines", default="sqlite postgres")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--big-mb", type=float, default=50)
    ap.add_argument("--pg", default=os.environ.get("PECDESK_LOAD_PG")
                    or os.environ.get("PECDESK_TEST_PG") or "")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pecdesk-import-bench-")
    try:
        maildir = os.path.join(work, "Maildir")
        out = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "--out", maildir,
                              "--count", str(a.count)], check=True, stdout=subprocess.PIPE,
                             text=True).stdout.strip()
        files = sorted(os.path.join(maildir, "cur", f) for f in os.listdir(os.path.join(maildir, "cur")))
        print(f"input: {out} (Maildir), batch {a.batch}, CA bundle: "
              f"{os.environ.get('PECDESK_CA_BUNDLE') or 'none'}")
        for engine in a.engines.split():
            if engine == "postgres" and not a.pg:
                print("postgres: skipped (no PECDESK_LOAD_PG / PECDESK_TEST_PG)")
                continue
            db, name = db_for(engine, work, a.pg)
            try:
                seed(a.bin, db)
                imp = [a.bin, "import", "--mailbox", MAILBOX, "--batch", str(a.batch), *db, maildir]
                t_import, r = timed(imp)
                summary = r.stdout.strip().splitlines()[0] if r.stdout else r.stderr.strip()
                t_inspect = inspect_all(a.bin, files)
                t_again, r2 = timed(imp)
                again = r2.stdout.strip().splitlines()[0] if r2.stdout else r2.stderr.strip()
                rate, irate = a.count / t_import, a.count / t_inspect
                print(f"{engine}: import {a.count} in {t_import:.2f} s = {rate:,.0f} msg/s "
                      f"[{summary}]; inspect --json {t_inspect:.2f} s = {irate:,.0f} msg/s; "
                      f"ratio import/inspect {rate / irate:.2f}; rerun {t_again:.2f} s = "
                      f"{a.count / t_again:,.0f} msg/s [{again}]")
            finally:
                drop(a.pg, name)
        # Memory: a tiny message, then one of big-mb MB, each in a fresh database.
        if a.big_mb:
            big = os.path.join(work, "big.eml")
            subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "--out", big,
                            "--big", str(a.big_mb)], check=True)
            size = os.path.getsize(big)
            small = files[0]
            for engine in a.engines.split():
                if engine == "postgres" and not a.pg:
                    continue
                res = {}
                for label, f in (("small", small), ("big", big)):
                    db, name = db_for(engine, work, a.pg)
                    try:
                        seed(a.bin, db)
                        kb, r = peak_rss_kb([a.bin, "import", "--mailbox", MAILBOX, *db, f])
                        res[label] = (kb, r.stdout.strip().splitlines()[0] if r.stdout else r.stderr)
                    finally:
                        drop(a.pg, name)
                delta = (res["big"][0] - res["small"][0]) * 1024
                bound = 4 * size
                print(f"{engine}: peak RSS importing {os.path.getsize(small):,} B: "
                      f"{res['small'][0] / 1024:.1f} MiB; importing {size / 1e6:.1f} MB: "
                      f"{res['big'][0] / 1024:.1f} MiB [{res['big'][1]}]; rise {delta / 1e6:.1f} MB "
                      f"= {delta / size:.2f} x the message ({'ok' if delta <= bound else 'OVER'} "
                      f"the 4 x bound)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
