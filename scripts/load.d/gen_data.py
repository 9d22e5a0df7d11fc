#!/usr/bin/env python3
"""Bulk-generates benchmark data straight into a migrated, demo-seeded PecDesk database.

    gen_data.py sqlite DATA_DIR  [--activities N] [--messages N] [--users N]
    gen_data.py postgres URL     [--activities N] [--messages N] [--users N]

Adds N users (Assegnatario on protocollo@ and legale@pec.demo.test), N messages (small
synthetic bodies, one raw blob each) and N activities (each linked to one message, spread
over the users and over protocollo/legale, due dates over a year, mixed statuses), all in
"Studio Demo". For the write scenario it adds, in EACH of the two demo organisations
("Studio Demo" on protocollo@, "Altra Srl" on pec@pec.altra.test), --writers users holding
every policy on that mailbox (they may cycle open → in_progress → done → open), each the
assignee of --writer-activities open standard-flow activities of their own (one message
each). --idle users hold the bulk users' grants but no activity ("my activities" answers
an empty page). Writes `users.txt`, `writers.txt` (organisations interleaved) and
`idle.txt` (one e-mail per line) into --out for the load generator.

Messages arrive four to an instant (the same `received_at`) and activities share their
creation time and, many of them, their due day: the paging scenarios (`first`, `deep`,
`deepact`) page through ties on the sort key, as keyset cursors must.

Deterministic: ids, texts and dates come from one seeded generator and --now (epoch ms),
so two runs with the same arguments write the same rows (the before/after comparison of
two binaries needs the same data set). Generated rows are bulk data, not user actions: no
audit entries.
"""
import argparse, csv, hashlib, io, json, os, random, sqlite3, subprocess, sys, time, uuid

ap = argparse.ArgumentParser()
ap.add_argument("engine", choices=["sqlite", "postgres"])
ap.add_argument("target")
ap.add_argument("--activities", type=int, default=100_000)
ap.add_argument("--messages", type=int, default=500_000)
ap.add_argument("--users", type=int, default=200)
ap.add_argument("--writers", type=int, default=16, help="writer users per organisation")
ap.add_argument("--writer-activities", type=int, default=8)
ap.add_argument("--idle", type=int, default=8)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--now", type=int, default=None, help="epoch ms (default: now)")
ap.add_argument("--out", default=".")
args = ap.parse_args()
rnd = random.Random(args.seed)
now = args.now if args.now is not None else int(time.time() * 1000)


def new_id():
    """A random-looking v4 UUID drawn from the seeded generator."""
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))

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
altra = q("SELECT id FROM orgs WHERE name = 'Altra Srl'")
altra_mb = q("SELECT id FROM mailboxes WHERE address = 'pec@pec.altra.test'")
altra_creator = q("SELECT id FROM users WHERE email = 'altro@altra.test'")

users, grants = [], []
for i in range(args.users):
    uid = str(new_id())
    users.append((uid, org, f"u{i:04d}@load.test", f"Utente {i}", False, False, False, now))
    for p in ("MAIL_ACTIVITY_READER", "MAIL_ACTIVITY_WRITER"):
        grants.append((str(new_id()), org, proto, uid, None, p))
        grants.append((str(new_id()), org, legale, uid, None, p))

blobs, messages = [], []
for i in range(args.messages):
    raw = f"From: <m{i}@esempio.test>\r\nSubject: Pratica {i} {rnd.choice(WORDS)}\r\nMessage-ID: <{i}.load@esempio.test>\r\n\r\nTesto {i}\r\n".encode()
    sha = hashlib.sha256(raw).hexdigest()
    blobs.append((sha, len(raw), raw))
    mb = proto if i % 4 else legale
    subj = f"Pratica {i} {rnd.choice(WORDS)}"
    summary = json.dumps({"kind": "not-pec", "subject": subj})
    messages.append((str(new_id()), org, mb, sha, f"{i}.load@esempio.test", None, "not-pec", "in", subj,
                     f"m{i}@esempio.test", summary, "new", None, None, None, None, now - (i // 4) * 1000,
                     f"{subj} m{i}@esempio.test".lower()))

acts, links = [], []
for i in range(args.activities):
    m = messages[i * (args.messages // max(args.activities, 1)) % args.messages]
    assignee = users[i % len(users)][0]
    title = f"{rnd.choice(WORDS).capitalize()} {i}"
    due = now + rnd.randint(-30, 335) * 86_400_000 if rnd.random() < 0.9 else None
    aid = str(new_id())
    acts.append((aid, org, m[2], title, "", rnd.choice(PRIOS), due, rnd.choice(STATUSES), "standard", assignee, None,
                 None, None, "[]", 1, None, creator, now, now, title.lower()))
    links.append((aid, m[0]))

idle = []
for i in range(args.idle):
    uid = new_id()
    idle.append((uid, org, f"idle{i:02d}@load.test", f"Inattivo {i}", False, False, False, now))
    for p in ("MAIL_ACTIVITY_READER", "MAIL_ACTIVITY_WRITER"):
        grants.append((new_id(), org, proto, uid, None, p))
        grants.append((new_id(), org, legale, uid, None, p))
users_all = users + idle

# Writers: organisations interleaved so that any prefix of writers.txt spans both.
ALL_POLICIES = ("MAIL_ACCOUNT_READER", "MAIL_ACCOUNT_MANAGER", "MAIL_ACTIVITY_READER",
                "MAIL_ACTIVITY_WRITER", "MAIL_ACTIVITY_MANAGER")
writers = []
for i in range(args.writers):
    for tag, o, mb, by in (("demo", org, proto, creator), ("altra", altra, altra_mb, altra_creator)):
        uid = new_id()
        email = f"w{i:02d}@{tag}.load.test"
        writers.append(email)
        users_all.append((uid, o, email, f"Scrivente {tag} {i}", False, False, False, now))
        for p in ALL_POLICIES:
            grants.append((new_id(), o, mb, uid, None, p))
        for k in range(args.writer_activities):
            raw = f"From: <w{i}.{k}@{tag}.esempio.test>\r\nSubject: Scrittura {tag} {i} {k}\r\n" \
                  f"Message-ID: <{i}.{k}.{tag}.write@esempio.test>\r\n\r\nTesto\r\n".encode()
            sha = hashlib.sha256(raw).hexdigest()
            blobs.append((sha, len(raw), raw))
            subj = f"Scrittura {tag} {i} {k}"
            mid = new_id()
            messages.append((mid, o, mb, sha, f"{i}.{k}.{tag}.write@esempio.test", None, "not-pec", "in", subj,
                             f"w{i}.{k}@{tag}.esempio.test", json.dumps({"kind": "not-pec", "subject": subj}),
                             "new", None, None, None, None, now - k * 1000,
                             f"{subj} w{i}.{k}@{tag}.esempio.test".lower()))
            aid = new_id()
            title = f"Scrittura {tag} {i} {k}"
            acts.append((aid, o, mb, title, "", "normal", now + (k + 1) * 86_400_000, "open", "standard", uid,
                         None, None, None, "[]", 1, None, by, now, now, title.lower()))
            links.append((aid, mid))

TABLES = [
    ("users", "id, org_id, email, name, is_admin, is_auditor, disabled, created_at", users_all),
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

for name, emails in (("users.txt", [u[2] for u in users]), ("writers.txt", writers),
                     ("idle.txt", [u[2] for u in idle])):
    with open(os.path.join(args.out, name), "w") as f:
        f.writelines(e + "\n" for e in emails)
print(f"generated {len(users_all)} users, {len(messages)} messages, {len(acts)} activities in {time.time() - t0:.1f}s",
      file=sys.stderr)
