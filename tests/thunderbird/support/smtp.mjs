// A minimal SMTP sink on a free loopback port: records every connection and every message
// (envelope and data), accepts all. The Thunderbird test checks a refused send never
// reached it, and an allowed one did.
import net from 'node:net';

export async function startSmtpSink() {
  const connections = [];
  const messages = [];
  const server = net.createServer((socket) => {
    connections.push(Date.now());
    let buf = '';
    let data = null;
    let env = { from: null, to: [] };
    const say = (line) => socket.write(`${line}\r\n`);
    say('220 sink.test ESMTP');
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (data !== null) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          messages.push({ ...env, data: data + buf.slice(0, end) });
          buf = buf.slice(end + 5);
          data = null;
          env = { from: null, to: [] };
          say('250 queued');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') say('250 sink.test');
        else if (verb === 'MAIL') { env.from = line.slice(10); say('250 ok'); }
        else if (verb === 'RCPT') { env.to.push(line.slice(8)); say('250 ok'); }
        else if (verb === 'DATA') { data = ''; say('354 go on'); }
        else if (verb === 'QUIT') { say('221 bye'); socket.end(); return; }
        else say('250 ok');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    connections,
    messages,
    stop: () => new Promise((r) => server.close(r)),
  };
}
