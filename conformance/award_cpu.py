#!/usr/bin/env python3
"""Server CPU per direct award over HTTP, measured with wrk against a real binary.

Starts `accolade serve` (data and keys in a temporary directory, rate limit off),
creates an achievement, warms up, then lets wrk POST direct awards to
/api/v1/awards for a while with many connections. The service's CPU time (user +
system, from /proc/<pid>/stat) over the run is divided by the awards it answered
with 201:

  awards/s over HTTP, server CPU µs per award, awards per server CPU-second

wrk runs on the same machine and takes CPU of its own; its share is not counted.
Every award is durable before its 201 (two grouped flushes: intent, then the signed
badge), as in production.

Usage (release binary; Debian's `wrk` on PATH):
  cargo build --release && python3 conformance/award_cpu.py --binary target/release/accolade
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "award-cpu-admin-token"
HOLDER = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU seconds of a process, all threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def wrk(base, body, seconds, connections, threads, path="/api/v1/awards",
        ok="status == 201", token=TOKEN):
    """POSTs `body` to `path` with wrk; counts answers for which the Lua condition `ok`
    (over `status` and `body`) holds, and the others. -> (ok, others, p50 ms, p99 ms)"""
    work = tempfile.mkdtemp(prefix="award-cpu-lua-")
    script = os.path.join(work, "post.lua")
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    with open(script, "w") as f:
        f.write(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"{auth}"
            "good = 0\n"
            "others = 0\n"
            "response = function(status, headers, body)\n"
            f"  if {ok} then good = good + 1 else others = others + 1 end\n"
            "end\n"
            "threads = {}\n"
            "setup = function(thread) table.insert(threads, thread) end\n"
            "done = function(summary, latency, requests)\n"
            "  local c, o = 0, 0\n"
            "  for _, t in ipairs(threads) do c = c + t:get('good'); o = o + t:get('others') end\n"
            '  io.write(string.format("good=%d others=%d\\n", c, o))\n'
            '  io.write(string.format("p50=%.2f p99=%.2f\\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))\n'
            "end\n")
    try:
        out = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
             "--latency", "-s", script, base + path],
            check=True, capture_output=True, text=True).stdout
    finally:
        shutil.rmtree(work)
    good = int(re.search(r"good=(\d+)", out).group(1))
    others = int(re.search(r"others=(\d+)", out).group(1))
    p50, p99 = (float(x) for x in re.search(r"p50=([\d.]+) p99=([\d.]+)", out).groups())
    return good, others, p50, p99


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/release/accolade")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH (Debian: apt-get install wrk)")
    work = tempfile.mkdtemp(prefix="award-cpu-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, ACCOLADE_ADMIN_TOKEN=TOKEN, ACCOLADE_LOG="warn")
    proc = subprocess.Popen(
        [os.path.abspath(args.binary), "serve", "--listen", f"127.0.0.1:{port}",
         "--data-dir", os.path.join(work, "data"), "--keys-dir", os.path.join(work, "keys"),
         "--rate-limit", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 60
        while True:
            line = proc.stdout.readline().decode()
            if line.startswith("listening on"):
                break
            if proc.poll() is not None or time.time() > deadline:
                sys.exit("the service did not start")
        ach = post(base, "/api/v1/achievements", {
            "name": "Cloud Architect — Proficiency",
            "description": "Designs resilient cloud architectures.",
            "criteria": {"narrative": "Passed the proctored exam."},
            "achievementType": "Certification"})
        body = {"achievement_id": ach["id"], "delivery": "direct",
                "recipient": {"name": "Ada Lovelace", "email": "ada@example.org", "id": HOLDER}}
        wrk(base, body, 2, args.connections, args.threads)  # warm-up
        before = cpu_seconds(proc.pid)
        created, others, p50, p99 = wrk(base, body, args.seconds, args.connections, args.threads)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    if created == 0:
        sys.exit(f"no award was created ({others} other answers)")
    print(f"direct awards over HTTP (wrk, {args.connections} connections, {args.seconds} s, durable before each 201):")
    print(f"  awards           {created / args.seconds:>10.0f} /s   ({created} created, {others} other answers)")
    print(f"  latency          p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"  server CPU       {cpu * 1e6 / created:>10.0f} µs per award   ({cpu:.2f} CPU-s in all)")
    print(f"  per CPU-second   {created / cpu:>10.0f} awards")
    sys.exit(0 if others == 0 else 1)


if __name__ == "__main__":
    main()
