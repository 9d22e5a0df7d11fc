#!/usr/bin/env python3
"""Bulk-generates benchmark data straight into a migrated, demo-seeded PecDesk database.

    gen_data.py sqlite DATA_DIR  [--activities N] [--messages N] [--users N]
    gen_data.py postgres URL     [--activities N] [--messages N] [--users N]

Adds N users (Assegnatario on protocollo@pec.demo.test), N messages (small synthetic
bodies, one raw blob each) and N activities (each linked to one message, spread over the
users and over protocollo/legale, due dates over a year, mixed statuses). Writes
`users.txt` (one generated e-mail per line) next to this script's output dir for the
load generator. Generated rows are bulk data, not user actions: no audit entries.
"""
import argparse, csv, hashlib, io, json, os, random, sqlite3, subprocess, sys, time, uuid

ap = argparse.ArgumentParser()
ap.add_argument("engine", choices=["sqlite", "postgres"])
ap.add_argument("target")
ap.add_argument("--activities", type=int, default=100_000)
ap.add_argument("--messages", type=int, default=500_000)
ap.add_argument("--users", type=int, default=200)
ap.add_argument("--out", default=".")
args = ap.parse_args()
rnd = random.Random(42)
now = int(time.time() * 1000)
STATUSES = ["open"] * 5 + ["in_progress"] * 3 + ["done", "awaiting_approval"]
PRIOS = ["low", "normal", "normal", "high", "urgent"]
WORDS = "ricorso diffida fattura pratica accesso atti sollecito contratto nomina verbale delibera istanza".split()


def q(sql):
    """Runs a scalar query on the target."""
    if args.engine == "sqlite":
        c = sqlite3.connect(os.path.join(args.target, "pecdesk.sqlite3"))
        r = c.execute(sql).fetchone()[0]
        c.close()
        return r
    return subprocess.run(["psql", args.target, "-Atc", sql], check=True, capture_output=True, text=True).stdout.strip()


org = q("SELECT id FROM orgs WHERE name = 'Studio Demo'")
proto = q("SELECT id FROM mailboxes WHERE address = 'protocollo@pec.demo.test'")
legale = q("SELECT id FROM mailboxes WHERE address = 'legale@pec.demo.test'")
creator = q("SELECT id FROM users WHERE email = 'responsabile@demo.test'")

users, grants = [], []
for i in range(args.users):
    uid = str(uuid.uuid4())
    users.append((uid, org, f"u{i:04d}@load.test", f"Utente {i}", False, False, False, now))
    for p in ("MAIL_ACTIVITY_READER", "MAIL_ACTIVITY_WRITER"):
        grants.append((str(uuid.uuid4()), org, proto, uid, None, p))
        grants.append((str(uuid.uuid4()), org, legale, uid, None, p))

blobs, messages = [], []
for i in range(args.messages):
    raw = f"From: <m{i}@esempio.test>\r\nSubject: Pratica {i} {rnd.choice(WORDS)}\r\nMessage-ID: <{i}.load@esempio.test>\r\n\r\nTesto {i}\r\n".encode()
    sha = hashlib.sha256(raw).hexdigest()
    blobs.append((sha, len(raw), raw))
    mb = proto if i % 4 else legale
    subj = f"Pratica {i} {rnd.choice(WORDS)}"
    summary = json.dumps({"kind": "not-pec", "subject": subj})
    messages.append((str(uuid.uuid4()), org, mb, sha, f"{i}.load@esempio.test", None, "not-pec", "in", subj,
                     f"m{i}@esempio.test", summary, "new", None, None, None, None, now - i * 1000,
                     f"{subj} m{i}@esempio.test".lower()))

acts, links = [], []
for i in range(args.activities):
    m = messages[i * (args.messages // max(args.activities, 1)) % args.messages]
    assignee = users[i % len(users)][0]
    title = f"{rnd.choice(WORDS).capitalize()} {i}"
    due = now + rnd.randint(-30, 335) * 86_400_000 if rnd.random() < 0.9 else None
    aid = str(uuid.uuid4())
    acts.append((aid, org, m[2], title, "", rnd.choice(PRIOS), due, rnd.choice(STATUSES), "standard", assignee, None,
                 None, None, "[]", 1, None, creator, now, now, title.lower()))
    links.append((aid, m[0]))

TABLES = [
    ("users", "id, org_id, email, name, is_admin, is_auditor, disabled, created_at", users),
    ("grants", "id, org_id, mailbox_id, user_id, team_id, policy", grants),
    ("raw_blobs", "sha256, size, bytes", blobs),
    ("messages", "id, org_id, mailbox_id, raw_sha256, internet_message_id, identificativo, kind, direction, subject, "
                 "sender, summary, state, taken_by, taken_at, trashed_at, trashed_by, received_at, search_text", messages),
    ("activities", "id, org_id, mailbox_id, title, description, priority, due_at, status, flow, assignee_id, team_id, "
                   "approver_id, category, tags, version, approved_draft_version, created_by, created_at, updated_at, "
                   "search_text", acts),
    ("activity_messages", "activity_id, message_id", links),
]

t0 = time.time()
if args.engine == "sqlite":
    c = sqlite3.connect(os.path.join(args.target, "pecdesk.sqlite3"))
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    with c:
        for table, cols, rows in TABLES:
            ph = ", ".join("?" * len(cols.split(",")))
            c.executemany(f"INSERT INTO {table} ({cols}) VALUES ({ph})", rows)
    c.execute("ANALYZE")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
else:
    def cell(v):
        if v is None:
            return "\\N"
        if isinstance(v, bool):
            return "t" if v else "f"
        if isinstance(v, bytes):
            return "\\x" + v.hex()
        return v
    for table, cols, rows in TABLES:
        buf = io.StringIO()
        w = csv.writer(buf)
        for r in rows:
            w.writerow([cell(v) for v in r])
        subprocess.run(["psql", args.target, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"\\copy {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"],
                       input=buf.getvalue(), text=True, check=True)
    subprocess.run(["psql", args.target, "-q", "-c", "VACUUM ANALYZE"], check=True)

with open(os.path.join(args.out, "users.txt"), "w") as f:
    for u in users:
        f.write(u[2] + "\n")
print(f"generated {len(users)} users, {len(messages)} messages, {len(acts)} activities in {time.time() - t0:.1f}s",
      file=sys.stderr)
