#!/usr/bin/env python3
"""Memory of concurrent large imports (issue 12 item 6), driven from outside the companion.

For each engine and each concurrency level: a fresh `pecdesk serve --demo` (its own data
directory, or its own PostgreSQL database), C imports at once of distinct SIZE_MB messages
(the demo's signed PEC envelope with a large attachment added, so the signature check hashes
the whole body), the companion's RSS sampled every 10 ms from /proc (peak) and read again
after IDLE seconds of rest (memory given back). Prints one line per run.
"""
import argparse, base64, http.client, json, os, pathlib, random, subprocess, sys, tempfile, threading, time, uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = ROOT / "companion/demo/01-posta-certificata-comune.eml"
CLOSE = b"------=_demo_mixed_01-posta-certificata-comune.eml--"


def big_message(size_mb, rng):
    """The demo envelope with an attachment making it about size_mb MB (distinct bytes)."""
    raw = DEMO.read_bytes()
    target = size_mb * 1024 * 1024 - len(raw)
    payload = rng.randbytes(target * 3 // 4)
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    part = (b"------=_demo_mixed_01-posta-certificata-comune.eml\r\n"
            b"Content-Type: application/pdf; name=\"allegato.pdf\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"allegato.pdf\"\r\n\r\n" + b64)
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    i = raw.index(CLOSE)
    return raw[:i] + part + raw[i:]


def rss_kib(pid, field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def request(port, method, path, body=None, headers=None, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def run(binary, engine, conc, size_mb, idle, port, pg_server):
    data = tempfile.mkdtemp(prefix="pecdesk-mem-")
    args = [binary, "serve", "--demo", "--listen", f"127.0.0.1:{port}", "--data-dir", data]
    dbname = None
    if engine == "postgres":
        dbname = "pecdesk_mem_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", pg_server, "-qc", f"CREATE DATABASE {dbname}"], check=True)
        args += ["--database-url", pg_server.rsplit("/", 1)[0] + "/" + dbname]
    env = dict(os.environ, RUST_LOG="warn", PECDESK_LOG="warn")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if request(port, "GET", "/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            sys.exit("the companion did not start")
        st, body = request(port, "POST", "/api/v1/auth/dev-login",
                           json.dumps({"email": "responsabile@demo.test"}),
                           {"content-type": "application/json"})
        token = json.loads(body)["token"]
        auth = {"authorization": f"Bearer {token}"}
        st, body = request(port, "GET", "/api/v1/mailboxes", headers=auth)
        boxes = json.loads(body)
        boxes = boxes.get("items", boxes) if isinstance(boxes, dict) else boxes
        mailbox = next(b["id"] for b in boxes if b["address"].startswith("protocollo@"))
        rng = random.Random(conc * 1000 + size_mb)
        msgs = [big_message(size_mb, rng) for _ in range(conc)]
        time.sleep(1)
        base = rss_kib(proc.pid)
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(proc.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        statuses = [None] * conc

        def one(i):
            statuses[i] = request(port, "POST", f"/api/v1/messages/import?mailbox={mailbox}",
                                  msgs[i], dict(auth, **{"content-type": "message/rfc822"}))[0]

        start = time.time()
        ts = [threading.Thread(target=one, args=(i,)) for i in range(conc)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.time() - start
        done.set()
        sampler.join()
        hwm = rss_kib(proc.pid, "VmHWM")
        time.sleep(idle)
        after = rss_kib(proc.pid)
        largest = max(len(m) for m in msgs) / 2**20
        return dict(engine=engine, conc=conc, size_mb=round(largest, 1), base_mb=base / 1024,
                    peak_mb=max(peak[0], hwm) / 1024, after_mb=after / 1024,
                    bound_mb=4 * largest + 100, wall_s=wall,
                    statuses=",".join(sorted({str(s) for s in statuses})))
    finally:
        proc.terminate()
        proc.wait()
        if dbname:
            subprocess.run(["psql", pg_server, "-qc", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--engines", default="sqlite postgres")
    ap.add_argument("--conc", default="1 8")
    ap.add_argument("--size-mb", type=int, default=29)
    ap.add_argument("--idle", type=float, default=15)
    ap.add_argument("--port", type=int, default=18180)
    ap.add_argument("--pg", default=os.environ.get("PECDESK_LOAD_PG", "postgres://postgres@127.0.0.1:5432/postgres"))
    a = ap.parse_args()
    for engine in a.engines.split():
        for conc in map(int, a.conc.split()):
            r = run(a.bin, engine, conc, a.size_mb, a.idle, a.port, a.pg)
            ok = "ok" if r["peak_mb"] <= r["bound_mb"] else "OVER"
            print(f"{a.label:<8} {r['engine']:<8} conc={r['conc']:<2} msg={r['size_mb']:>5.1f} MB  "
                  f"idle-before={r['base_mb']:6.1f}  peak={r['peak_mb']:6.1f}  after-{a.idle:.0f}s={r['after_mb']:6.1f} MB  "
                  f"bound={r['bound_mb']:6.1f} ({ok})  wall={r['wall_s']:5.1f}s  http={r['statuses']}", flush=True)


if __name__ == "__main__":
    main()
