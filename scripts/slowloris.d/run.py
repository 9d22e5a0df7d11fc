#!/usr/bin/env python3
"""What slow clients do to the others (issue 12 item 7), on loopback, bounded in time.

Starts `pecdesk serve --demo` with given [http] limits and a file-descriptor limit like a
default service's (1024), opens ATTACK slowloris connections (each sends half a request
head, then one more header line every 5 s, and reconnects at once when the server closes
it: the attacker never lets go), and meanwhile a well-behaved client asks GET /readyz one
request after the other, each on a new connection, for DURATION seconds. Prints the
well-behaved client's latency (p50, p99, max), how many requests got no answer within
20 s, and how many connections the attacker held at the end.
"""
import argparse, asyncio, os, resource, statistics, subprocess, sys, tempfile, time

HEAD = b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\n"


async def attacker(port, stop, held):
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        held[0] += 1
        try:
            w.write(HEAD)
            await w.drain()
            while not stop.is_set():
                try:
                    # The server closing the connection shows up as EOF here.
                    data = await asyncio.wait_for(r.read(1), timeout=5)
                except asyncio.TimeoutError:
                    w.write(b"X-Slow: 1\r\n")
                    await w.drain()
                    continue
                if not data:
                    break
        except (OSError, ConnectionError):
            pass
        finally:
            held[0] -= 1
            w.close()


async def one_request(port):
    start = time.monotonic()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await w.drain()
    line = await r.readline()
    w.close()
    if not line.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(line)
    return time.monotonic() - start


async def client(port, duration, lat, failed):
    end = time.monotonic() + duration
    while time.monotonic() < end:
        try:
            lat.append(await asyncio.wait_for(one_request(port), timeout=20))
        except Exception:
            failed[0] += 1
        await asyncio.sleep(0.05)


async def scenario(port, attack, duration, warm):
    stop = asyncio.Event()
    held = [0]
    tasks = [asyncio.create_task(attacker(port, stop, held)) for _ in range(attack)]
    await asyncio.sleep(warm)
    lat, failed = [], [0]
    await client(port, duration, lat, failed)
    holding = held[0]
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return lat, failed[0], holding


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--attack", type=int, default=1100)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--warm", type=float, default=5)
    ap.add_argument("--port", type=int, default=18280)
    ap.add_argument("--nofile", type=int, default=1024)
    ap.add_argument("--env", nargs="*", default=[], help="KEY=VALUE settings for the server")
    a = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    data = tempfile.mkdtemp(prefix="pecdesk-slow-")
    env = dict(os.environ, PECDESK_LOG="error")
    env.update(kv.split("=", 1) for kv in a.env)

    def limit_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (a.nofile, a.nofile))

    proc = subprocess.Popen([a.bin, "serve", "--demo", "--listen", f"127.0.0.1:{a.port}",
                             "--data-dir", data], env=env, preexec_fn=limit_fds,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                asyncio.run(one_request(a.port))
                break
            except Exception:
                time.sleep(0.1)
        else:
            sys.exit("the companion did not start")
        lat, failed, holding = asyncio.run(scenario(a.port, a.attack, a.duration, a.warm))
    finally:
        proc.terminate()
        proc.wait()
    lat.sort()
    if lat:
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        mx = lat[-1] * 1000
        print(f"{a.label:<34} attack={a.attack:<5} answered={len(lat):<5} no-answer-20s={failed:<3} "
              f"p50={p50:8.1f} ms  p99={p99:8.1f} ms  max={mx:8.1f} ms  attacker-held={holding}", flush=True)
    else:
        print(f"{a.label:<34} attack={a.attack:<5} answered=0     no-answer-20s={failed:<3} "
              f"(every request of the well-behaved client went unanswered)  attacker-held={holding}", flush=True)


if __name__ == "__main__":
    main()
