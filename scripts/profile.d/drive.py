#!/usr/bin/env python3
"""Drives scripts/profile: signs one user in, sends WARMUP then N requests of "my
activities" one after the other on one keep-alive connection, running ON before the
counted requests and OFF after them (callgrind_control commands).

    drive.py BASE EMAIL WARMUP N ON_COMMAND OFF_COMMAND

Fails unless every answer is 200 with an empty page: the profile is of the fixed cost.
"""
import http.client, json, shlex, subprocess, sys
from urllib.parse import urlsplit

base, email, warmup, n, on, off = sys.argv[1:7]
full = len(sys.argv) > 7 and sys.argv[7] == "full"
u = urlsplit(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
conn.request("POST", "/api/v1/auth/dev-login", json.dumps({"email": email}),
             {"content-type": "application/json"})
r = conn.getresponse()
token = json.loads(r.read())["token"]
PATH = "/api/v1/activities?assignee=me&status=open,in_progress&sort=due_at&limit=50"
HEADERS = {"authorization": f"Bearer {token}"}


def ask(count):
    for _ in range(count):
        conn.request("GET", PATH, headers=HEADERS)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200 or bool(json.loads(body)["items"]) != full:
            sys.exit(f"unexpected answer {r.status}: {body[:200]!r}")


ask(int(warmup))
subprocess.run(shlex.split(on), check=True, capture_output=True)
ask(int(n))
subprocess.run(shlex.split(off), check=True, capture_output=True)
print(f"{n} requests counted", file=sys.stderr)
