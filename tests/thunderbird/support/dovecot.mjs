// A real Dovecot for the Thunderbird test, configured as companion/tests/api/dovecot.rs does:
// `dovecot -c CONF -F` on a free loopback port, in a temp folder of its own, a passwd-file of
// test users, messages delivered by writing files into a Maildir's `new/`. Run as root, the
// mail files belong to `nobody` (Dovecot refuses to serve mail as uid 0).
import { spawn } from 'node:child_process';
import {
  chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync,
  rmSync, statSync, writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from '../../addin/support/companion.mjs';

let seq = 0;

function binary() {
  for (const p of ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot']) if (existsSync(p)) return p;
  throw new Error('dovecot is not installed (apt-get install -y dovecot-imapd; scripts/test does it)');
}

/** Starts Dovecot with `users` ([name, password]), each with an INBOX. */
export async function startDovecot(users) {
  const root = mkdtempSync(join(tmpdir(), 'pecdesk-dovecot-'));
  chmodSync(root, 0o755);
  const me = statSync(root);
  const [uid, gid] = me.uid === 0 ? [65534, 65534] : [me.uid, me.gid];
  const port = await freePort();
  const chownUp = (p) => {
    let cur = p;
    while (cur.startsWith(root) && cur !== root) {
      chownSync(cur, uid, gid);
      cur = cur.slice(0, cur.lastIndexOf('/'));
    }
  };
  const inbox = (user) => join(root, 'home', user, 'Maildir');
  writeFileSync(join(root, 'passwd'), users.map(([u, p]) => `${u}:{PLAIN}${p}::::`).join('\n') + '\n');
  for (const [user] of users) {
    for (const sub of ['new', 'cur', 'tmp']) {
      mkdirSync(join(inbox(user), sub), { recursive: true });
      chownUp(join(inbox(user), sub));
    }
  }
  const conf = `base_dir = ${root}/run
state_dir = ${root}/state
log_path = ${root}/dovecot.log
info_log_path = ${root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = ${Math.min(Math.max(uid, 1), 65534)}
first_valid_gid = 1
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
passdb {
  driver = passwd-file
  args = ${root}/passwd
}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${root}/home/%u
}
namespace inbox {
  inbox = yes
  mailbox Sent {
    special_use = \\Sent
  }
}
`;
  writeFileSync(join(root, 'dovecot.conf'), conf);
  const child = spawn(binary(), ['-c', join(root, 'dovecot.conf'), '-F'], {
    stdio: ['ignore', 'ignore', openSync(join(root, 'dovecot.stderr'), 'a')],
  });
  const log = () => ['dovecot.log', 'dovecot.stderr']
    .map((f) => { try { return readFileSync(join(root, f), 'utf8'); } catch { return ''; } }).join('');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const greeted = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('data', (d) => { c.end('a LOGOUT\r\n'); r(d.toString().startsWith('* OK')); });
      c.once('error', () => r(false));
    });
    if (greeted) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`dovecot did not start:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    log,
    /** Delivers `raw` into the user's INBOX (written in tmp/, renamed into new/). */
    deliver(user, raw) {
      const name = `${Math.floor(Date.now() / 1000)}.P${process.pid}Q${seq++}.pecdesk-test`;
      const tmp = join(inbox(user), 'tmp', name);
      writeFileSync(tmp, raw);
      chownSync(tmp, uid, gid);
      renameSync(tmp, join(inbox(user), 'new', name));
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => { child.once('exit', r); setTimeout(r, 10_000); });
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
