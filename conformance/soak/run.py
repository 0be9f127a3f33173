#!/usr/bin/env python3
"""Soak run: genuine public traffic measured while hostile clients press on the service.

  1. start `accolade serve --listen 127.0.0.1:0` with a temporary data dir and keys
     dir and the default rate limit (`--rate-limit` is not turned off);
  2. set up through the admin API: an issuer name, an achievement, three badges
     awarded directly (signed JWTs), one offered award (its claim page), two
     presentation requests; and, for the hostile clients, badges signed by a did:key
     of our own (pure-Python Ed25519) whose eight credentialStatus entries point at a
     private address (https://10.255.255.1/...) and at host names that do not resolve;
  3. for --duration seconds (default 600) run, in one process, a GENUINE workload from
     127.0.0.1 at a steady modest rate (--rate, default 60 requests/s from --workers
     keep-alive connections): POST /api/v1/verify with a badge, GET the status list,
     GET /.well-known/did.json, GET the claim page, GET presentation requests, and
     POST /api/v1/presentation-requests at --pr-rate (0.1/s, under the anonymous
     limit of 1/s). Each worker opens a new connection every --fresh-every (30)
     requests, as new visitors do. Latency is counted from the moment a request was
     due, so a worker held up by a slow answer charges the wait to the requests
     behind it;
  4. at the same time run, in another process, HOSTILE clients from other loopback
     addresses (127.0.0.2 ... , --hostile-addresses), each pattern counted by outcome:
       loris-trickle  connections sending partial headers, one byte every few seconds
       loris-idle     connections that send nothing
       slow-body      POST /api/v1/verify, Content-Length 4 MiB, one byte a second
       expect-1g      Expect: 100-continue with a 1 GB Content-Length
       big-body       verify bodies just under the 4 MiB limit, in a loop
       status-hosts   signed badges naming 8 status lists on refused or unknown hosts
       didweb-nx      badges of did:web issuers on host names that do not resolve
       pr-flood       POST /api/v1/presentation-requests at --flood-rate (200/s)
       nonce-flood    POST /oid4vci/nonce (OpenID4VCI nonce endpoint)
       batch-100      POST /api/v1/verify/batch with 100 badges each
     (outcomes: an HTTP status, `timeout`, `closed` (connection closed without an
     answer), `reset`, `dropped` (a slow socket closed within 0.5 s of opening, as a
     connection limit does), `connect-*`, `held` (still open when the run ended));
  5. every 30 s print one line: elapsed time, the service's resident memory (VmRSS),
     open file descriptors, CPU (the service's, and the whole machine's: other work on
     it skews latency), the genuine requests of the window (count, errors, p50, p99)
     and each hostile pattern's outcomes in the window;
  6. at the end stop the hostile clients, wait --cooldown seconds, sample the service
     again (memory and descriptors should fall back), print a summary and exit 1 if
     genuine p99 of any window exceeded --p99-ms (50), VmRSS ever exceeded --rss-mb
     (512), any genuine request failed, or the service died or took 30 s to stop.
     Exit 2 on a setup error.

Python 3 standard library only; Linux (/proc).

    python3 conformance/soak/run.py --binary target/debug/accolade --duration 60
    python3 conformance/soak/run.py --binary target/release/accolade      # 600 s
"""

import argparse
import asyncio
import base64
import collections
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import queue
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WINDOW = 30.0
HOSTILE_GRACE = 10.0             # how long hostile requests may run past the end
DROPPED_WITHIN = 0.5             # a socket closed this soon without an answer was refused
MIB = 1024 * 1024
VERIFY_LIMIT = 4 * MIB          # the service's body limit on /api/v1/verify
NONCE_PATH = "/oid4vci/nonce"   # paths::NONCE in src/oid4vci/metadata.rs
HOLDER_DID = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
OB_CONTEXT = ["https://www.w3.org/ns/credentials/v2",
              "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
HOSTILE_ORDER = ["loris-trickle", "loris-idle", "slow-body", "expect-1g", "big-body",
                 "status-hosts", "didweb-nx", "pr-flood", "nonce-flood", "batch-100"]


# ---------------------------------------------------------------- small utilities

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_payload(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def path_of(url, base):
    if not url.startswith(base):
        raise RuntimeError(f"{url} is not under {base}")
    return url[len(base):] or "/"


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fmt_ms(v):
    return "-" if v is None else (f"{v:.1f}ms" if v < 100 else f"{v:.0f}ms")


def fmt_counts(counter):
    return " ".join(f"{k}={v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


def machine_busy_seconds():
    """CPU time every process on the machine has used since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- Ed25519 (RFC 8032 §6)
# Enough to sign a few badges as a did:key issuer: the service verifies did:key
# signatures offline and only then fetches the status lists a badge names.

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_I = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _I % _P
    if x & 1 != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    ea, eb = (y1 - x1) * (y2 - x2) % _P, (y1 + x1) * (y2 + x2) % _P
    ec, ed = t1 * 2 * _D * t2 % _P, z1 * 2 * z2 % _P
    e, f, g, h = eb - ea, ed - ec, ed + ec, eb + ea
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s, pt):
    acc = (0, 1, 1, 0)
    while s:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


def _compress(pt):
    x, y, z, _ = pt
    zi = pow(z, _P - 2, _P)
    x, y = x * zi % _P, y * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _secret_scalar(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(seed):
    return _compress(_mul(_secret_scalar(seed)[0], _G))


def ed25519_sign(seed, msg):
    a, prefix = _secret_scalar(seed)
    pub = _compress(_mul(a, _G))
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % _L
    big_r = _compress(_mul(r, _G))
    k = int.from_bytes(hashlib.sha512(big_r + pub + msg).digest(), "little") % _L
    return big_r + ((r + k * a) % _L).to_bytes(32, "little")


def base58btc(data):
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = alphabet[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


# ---------------------------------------------------------------- badges for the hostile clients

def ob3_credential(issuer, name, description="Issued by the soak run's own did:key."):
    return {
        "@context": OB_CONTEXT,
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer, "type": ["Profile"], "name": "Soak Issuer"},
        "validFrom": "2024-01-01T00:00:00Z",
        "name": name,
        "credentialSubject": {
            "id": HOLDER_DID, "type": ["AchievementSubject"],
            "achievement": {"id": f"urn:uuid:{uuid.uuid4()}", "type": ["Achievement"],
                            "name": name, "description": description,
                            "criteria": {"narrative": "None: a load test."}},
        },
    }


def jwt_claims(cred):
    return dict(cred, iss=cred["issuer"]["id"], sub=cred["credentialSubject"]["id"],
                nbf=1704067200, jti=cred["id"])


def status_host_badge(seed, hosts):
    """A badge signed by did:key(seed) whose status entries name `hosts`' lists."""
    pub = ed25519_public(seed)
    fragment = "z" + base58btc(b"\xed\x01" + pub)
    did = f"did:key:{fragment}"
    cred = ob3_credential(did, "Status list hosts")
    cred["credentialStatus"] = [
        {"id": f"https://{h}/status/{i}#{1000 + i}", "type": "BitstringStatusListEntry",
         "statusPurpose": "revocation", "statusListIndex": str(1000 + i),
         "statusListCredential": f"https://{h}/status/{i}"}
        for i, h in enumerate(hosts)]
    header = {"alg": "EdDSA", "typ": "JWT", "kid": f"{did}#{fragment}"}
    signing_input = (b64url(json.dumps(header).encode()) + "."
                     + b64url(json.dumps(jwt_claims(cred)).encode()))
    return signing_input + "." + b64url(ed25519_sign(seed, signing_input.encode()))


def status_host_badges(count):
    """`count` badges, each naming 4 lists on 10.255.255.1 and 4 on unknown hosts."""
    seed = secrets.token_bytes(32)
    badges = []
    for _ in range(count):
        hosts = ["10.255.255.1"] * 4 + [f"{secrets.token_hex(6)}.invalid" for _ in range(4)]
        badges.append(status_host_badge(seed, hosts))
    return badges


def didweb_badge():
    """A badge of a did:web issuer on a fresh host name that does not resolve; its
    signature is junk, but the issuer's DID document must be fetched to tell."""
    did = f"did:web:{secrets.token_hex(6)}.invalid"
    header = {"alg": "ES256", "typ": "JWT", "kid": f"{did}#key-1"}
    cred = ob3_credential(did, "Unresolvable issuer")
    return (b64url(json.dumps(header).encode()) + "."
            + b64url(json.dumps(jwt_claims(cred)).encode()) + "." + b64url(os.urandom(64)))


def big_verify_body(size):
    """A JSON verify body of exactly `size` bytes: a credential with a huge description."""
    cred = ob3_credential("did:example:big", "Big body", description="")
    shell = json.dumps({"credential": cred}).encode()
    marker = b'"description": ""'
    pad = size - len(shell)
    return shell.replace(marker, b'"description": "' + b"A" * pad + b'"', 1)


# ---------------------------------------------------------------- the service

def clean_env(**extra):
    """The environment without ACCOLADE_* settings (but the log filter), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ACCOLADE_") or k == "ACCOLADE_LOG"}
    env.update(extra)
    return env


class Service:
    """`accolade serve` on 127.0.0.1:0 in a temporary directory, with a known admin token."""

    def __init__(self, binary, workdir, extra_args):
        self.binary, self.workdir, self.extra_args = binary, workdir, list(extra_args)
        self.token = secrets.token_urlsafe(24)
        self.log_path = os.path.join(workdir, "serve.log")
        self.proc = None
        self.base = None

    def start(self):
        env = clean_env(ACCOLADE_ADMIN_TOKEN=self.token)
        env.setdefault("ACCOLADE_LOG", "warn")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", "127.0.0.1:0",
                 "--data-dir", os.path.join(self.workdir, "data"),
                 "--keys-dir", os.path.join(self.workdir, "keys"), *self.extra_args],
                stdout=subprocess.PIPE, stderr=log, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("listening on "):
                self.base = line.split()[-1].rstrip("/")
                return
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError(f"the service did not start; see {self.log_path}")

    @property
    def port(self):
        return int(self.base.rsplit(":", 1)[1])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after `timeout`; returns the seconds it took."""
        if not self.alive():
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic() - started

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def fd_limit(self):
        with open(f"/proc/{self.proc.pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return line.split()[3]
        return "?"

    def log_lines(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def call(self, method, path, body=None, admin=True, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if admin:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode("utf-8", "replace")


def expect(svc, want, method, path, body=None, admin=True):
    status, answer = svc.call(method, path, body, admin=admin)
    if status != want:
        raise RuntimeError(f"{method} {path}: HTTP {status} (wanted {want}): {str(answer)[:300]}")
    return answer


def check_outcome(report, name):
    for c in (report or {}).get("checks", []):
        if c.get("check") == name:
            return c.get("outcome"), c.get("message") or c.get("detail") or ""
    return None, ""


def set_up(svc, args):
    """The issuer's data and every target the clients need."""
    expect(svc, 200, "PUT", "/api/v1/issuer",
           {"name": "Soak Academy", "url": "https://academy.example.com"})
    ach = expect(svc, 201, "POST", "/api/v1/achievements", {
        "name": "Soak Practitioner", "description": "Holds steady under load.",
        "criteria": {"narrative": "Passed the soak run."}, "achievementType": "Certification"})
    badges = []
    for n in range(3):
        award = expect(svc, 201, "POST", "/api/v1/awards", {
            "achievement_id": ach["id"], "delivery": "direct",
            "recipient": {"name": f"Earner {n}", "email": f"earner{n}@example.org",
                          "id": HOLDER_DID}})
        badges.append(award["credential"])
    offered = expect(svc, 201, "POST", "/api/v1/awards", {
        "achievement_id": ach["id"],
        "recipient": {"name": "Claimant", "email": "claimant@example.org"}})
    if not offered.get("claim_url"):
        raise RuntimeError(f"the offered award has no claim_url: {offered}")
    status_url = jwt_payload(badges[0])["credentialStatus"]
    status_url = (status_url[0] if isinstance(status_url, list) else status_url)
    requests_made = [
        expect(svc, 201, "POST", "/api/v1/presentation-requests", {}, admin=False)["id"]
        for _ in range(2)]
    targets = {
        "badges": badges,
        "status": path_of(status_url["statusListCredential"], svc.base),
        "did": "/.well-known/did.json",
        "claim": path_of(offered["claim_url"], svc.base),
        "presentation_requests": requests_made,
    }
    report = expect(svc, 200, "POST", "/api/v1/verify", {"credential": badges[0]}, admin=False)
    if report.get("verified") is not True:
        raise RuntimeError(f"a fresh badge does not verify: {json.dumps(report)[:400]}")
    for key in ("status", "did", "claim"):
        status, _ = svc.call("GET", targets[key], admin=False)
        if status != 200:
            raise RuntimeError(f"GET {targets[key]}: HTTP {status}")
    targets["status_badges"] = status_host_badges(args.status_badges)
    return targets


def probe_hostile_badges(svc, targets):
    """One verification of each hostile badge kind, to show it does what it should."""
    lines = []
    for name, jwt, check in (("status-hosts", targets["status_badges"][0], "status"),
                             ("didweb-nx", didweb_badge(), "signature")):
        started = time.monotonic()
        status, report = svc.call("POST", "/api/v1/verify", {"credential": jwt}, admin=False)
        took = (time.monotonic() - started) * 1000
        sig, _ = check_outcome(report if isinstance(report, dict) else {}, "signature")
        outcome, message = check_outcome(report if isinstance(report, dict) else {}, check)
        lines.append(f"  probe {name}: HTTP {status} in {took:.0f} ms, signature={sig}, "
                     f"{check}={outcome} {str(message)[:140]!r}")
    return lines


# ---------------------------------------------------------------- a small HTTP/1.1 client

class Closed(Exception):
    """The server closed the connection without a complete answer."""


async def read_head(reader):
    """Status and headers of the next final answer (1xx answers skipped unless asked)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        raise Closed(len(e.partial)) from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        raise Closed(-1) from None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


async def read_body(reader, status, headers):
    try:
        if status in (204, 304) or 100 <= status < 200:
            return b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        return await reader.read()
    except asyncio.IncompleteReadError:
        raise Closed(1) from None


class Conn:
    """One keep-alive connection, opened on first use and again after the server closes it.
    A request that finds a reused connection closed before any answer byte is sent
    once more on a new one, as HTTP clients do."""

    def __init__(self, host, port, source=None):
        self.host, self.port, self.source = host, port, source
        self.reader = self.writer = None
        self.reconnects = 0

    async def _open(self):
        local = (self.source, 0) if self.source else None
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, local_addr=local, limit=1 << 20)

    def close(self):
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def request(self, method, path, body=None, headers=()):
        raw = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n" \
              "Accept: */*\r\n"
        raw += "".join(f"{k}: {v}\r\n" for k, v in headers)
        if body is not None:
            raw += f"Content-Length: {len(body)}\r\n"
        raw = raw.encode() + b"\r\n" + (body or b"")
        for attempt in (0, 1):
            reused = self.writer is not None
            if not reused:
                await self._open()
            try:
                self.writer.write(raw)
                await self.writer.drain()
                status, hdrs = await read_head(self.reader)
                data = await read_body(self.reader, status, hdrs)
            except (Closed, ConnectionError) as e:
                self.close()
                fresh = isinstance(e, ConnectionError) or e.args[0] == 0
                if reused and fresh and attempt == 0:
                    self.reconnects += 1
                    continue
                raise
            except BaseException:
                self.close()
                raise
            if hdrs.get("connection", "").lower() == "close":
                self.close()
            return status, hdrs, data
        raise Closed(0)


def outcome_of(exc):
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, Closed):
        return "closed"
    if isinstance(exc, ConnectionRefusedError):
        return "connect-refused"
    if isinstance(exc, ConnectionError):
        return "reset"
    if isinstance(exc, OSError):
        return f"oserror-{exc.errno}"
    return type(exc).__name__


async def sleep_until(t):
    delay = t - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


# ---------------------------------------------------------------- genuine traffic (own process)

GENUINE_MIX = (("verify", 30), ("status", 20), ("did", 20), ("claim", 15), ("pr-get", 15))


def genuine_request(kind, targets, rng):
    """(method, path, body, headers, check) for one genuine request of `kind`."""
    if kind == "verify":
        body = json.dumps({"credential": rng.choice(targets["badges"])}).encode()
        return ("POST", "/api/v1/verify", body, [("Content-Type", "application/json")],
                lambda s, b: s == 200 and json.loads(b).get("verified") is True)
    if kind == "pr-create":
        return ("POST", "/api/v1/presentation-requests", b"{}",
                [("Content-Type", "application/json")], lambda s, b: s == 201)
    if kind == "pr-get":
        pid = rng.choice(targets["presentation_requests"])
        return ("GET", f"/api/v1/presentation-requests/{pid}", None, [],
                lambda s, b: s == 200)
    if kind == "claim":
        return ("GET", targets["claim"], None, [("Accept", "text/html")],
                lambda s, b: s == 200)
    return ("GET", targets[kind], None, [], lambda s, b: s == 200)


async def genuine_worker(cfg, targets, samples, kinds, interval, offset, seed):
    """Sends one request every `interval` s; latency counts from when it was due. Every
    --fresh-every requests it starts over on a new connection, as new visitors do."""
    rng = random.Random(seed)
    conn = Conn("127.0.0.1", cfg["port"])
    names = [k for k, _ in kinds]
    weights = [w for _, w in kinds]
    due = time.monotonic() + offset
    for sent in itertools.count():
        if due >= cfg["stop_at"]:
            break
        await sleep_until(due)
        if cfg["fresh_every"] and sent % cfg["fresh_every"] == 0:
            conn.close()
        kind = rng.choices(names, weights)[0]
        method, path, body, headers, check = genuine_request(kind, targets, rng)
        try:
            status, _, data = await asyncio.wait_for(
                conn.request(method, path, body, headers), cfg["timeout"])
            ok = check(status, data)
            outcome = str(status) if ok or status != 200 else "200-wrong-answer"
            if ok and kind == "pr-create":
                targets["presentation_requests"].append(json.loads(data)["id"])
        except Exception as e:  # noqa: BLE001 - every failure is counted, none is fatal
            ok, outcome = False, outcome_of(e)
        done = time.monotonic()
        samples.append((done, kind, (done - due) * 1000, outcome, ok))
        due += interval
    conn.close()
    return conn.reconnects


async def genuine_main(cfg, targets, out):
    samples = []

    async def ship():
        while True:
            await asyncio.sleep(0.5)
            if samples:
                out.put(("genuine", samples[:]))
                samples.clear()

    shipper = asyncio.create_task(ship())
    n = cfg["workers"]
    interval = n / cfg["rate"]
    tasks = [genuine_worker(cfg, targets, samples, GENUINE_MIX, interval,
                            i * interval / n, cfg["seed"] + i) for i in range(n)]
    tasks.append(genuine_worker(cfg, targets, samples, (("pr-create", 1),),
                                1 / cfg["pr_rate"], 0.3, cfg["seed"] + 99))
    reconnects = await asyncio.gather(*tasks)
    shipper.cancel()
    if samples:
        out.put(("genuine", samples[:]))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    out.put(("genuine-done", {"reconnects": sum(reconnects),
                              "cpu": cpu.ru_utime + cpu.ru_stime}))


def genuine_process(cfg, targets, out):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(genuine_main(cfg, targets, out))


# ---------------------------------------------------------------- hostile traffic (own process)

class Hostile:
    """Shared state of the hostile clients: counters, open-connection gauges, and the
    lifetimes of connections the server hung up on."""

    def __init__(self, cfg, targets):
        self.cfg, self.targets = cfg, targets
        self.host, self.port = "127.0.0.1", cfg["port"]
        self.counts = collections.defaultdict(collections.Counter)
        self.open = collections.Counter()
        self.lifetimes = collections.defaultdict(list)
        self._sources = itertools.cycle(cfg["sources"])

    def source(self):
        return next(self._sources)

    def add(self, pattern, outcome):
        self.counts[pattern][outcome] += 1

    def enabled(self, pattern):
        return pattern in self.cfg["patterns"]

    def stopping(self):
        return time.monotonic() >= self.cfg["stop_at"]

    def snapshot(self):
        lifetimes = {p: (len(v), percentile(v, 50)) for p, v in self.lifetimes.items()}
        return {"counts": {p: dict(c) for p, c in self.counts.items()},
                "open": dict(self.open), "lifetimes": lifetimes}

    async def connect(self, pattern):
        try:
            return await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, local_addr=(self.source(), 0)), 10)
        except asyncio.TimeoutError:
            self.add(pattern, "connect-timeout")
        except OSError as e:
            self.add(pattern, "connect-refused" if isinstance(e, ConnectionRefusedError)
                     else f"connect-errno{e.errno}")
        await asyncio.sleep(1)
        return None


async def hold_open(h, reader, writer, drip, interval):
    """Keeps a connection, writing one byte of `drip` every `interval` s (nothing when
    `drip` is None), until the server answers and closes, or the run ends."""
    answered = None
    while not h.stopping():
        wait = min(interval, max(0.05, h.cfg["stop_at"] - time.monotonic()))
        try:
            data = await asyncio.wait_for(reader.read(4096), wait)
        except asyncio.TimeoutError:
            if drip is not None and not h.stopping():
                try:
                    writer.write(bytes([next(drip)]))
                    await writer.drain()
                except (ConnectionError, OSError):
                    return "reset"
            continue
        except (ConnectionError, OSError):
            return "reset"
        if not data:
            return answered or "closed"
        if answered is None:
            answered = data.split(b" ", 2)[1].decode("latin-1", "replace") \
                if data.startswith(b"HTTP/") else "data"
    return "held"


async def lingering(h, pattern, first, make_drip, interval, start_delay):
    """One slow connection, opened again each time the server drops it; `make_drip()`
    gives the bytes it trickles (None: it sends nothing after `first`)."""
    if not h.enabled(pattern):
        return
    await asyncio.sleep(start_delay)
    while not h.stopping():
        conn = await h.connect(pattern)
        if conn is None:
            continue
        reader, writer = conn
        opened = time.monotonic()
        h.open[pattern] += 1
        try:
            if first:
                writer.write(first)
                await writer.drain()
            outcome = await hold_open(h, reader, writer, make_drip(), interval)
        except (ConnectionError, OSError):
            outcome = "reset"
        finally:
            h.open[pattern] -= 1
            writer.transport.abort()
        lifetime = time.monotonic() - opened
        if outcome in ("closed", "reset") and lifetime < DROPPED_WITHIN:
            outcome = "dropped"
        h.add(pattern, outcome)
        if outcome != "held":
            h.lifetimes[pattern].append(lifetime)
            await asyncio.sleep(1)


def loris_tasks(h, n_trickle, n_idle, ramp):
    """Half the slowloris sockets trickle a header byte every few seconds; half are idle."""
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    every = h.cfg["trickle_interval"]
    tasks = [lingering(h, "loris-trickle", head,
                       lambda: itertools.cycle(b"X-Soak-Padding: aaaaaaaaaaaaaaaa\r\n"),
                       every, i / ramp)
             for i in range(n_trickle)]
    tasks += [lingering(h, "loris-idle", b"", lambda: None, every, (n_trickle + i) / ramp)
              for i in range(n_idle)]
    return tasks


def slow_body_tasks(h, n):
    head = (f"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {VERIFY_LIMIT}\r\n\r\n"
            '{"credential": "').encode()
    return [lingering(h, "slow-body", head, lambda: itertools.cycle(b"a"), 1.0, i * 0.05)
            for i in range(n)]


async def expect_once(h, upload_cap=16 * MIB):
    """Expect: 100-continue with a 1 GB body: the answer should be a 413 before any
    upload; after a 100 the server should stop us at its limit, not read on."""
    pattern = "expect-1g"
    conn = await h.connect(pattern)
    if conn is None:
        return
    reader, writer = conn
    prefix = ""
    try:
        writer.write(b"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        await writer.drain()
        status, _ = await asyncio.wait_for(read_head(reader), 10)
        if status != 100:
            h.add(pattern, str(status))
            return
        prefix = "100>"
        answer = asyncio.ensure_future(read_head(reader))
        chunk, sent = b" " * 65536, 0
        try:
            while sent < upload_cap and not answer.done():
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 10)
                sent += len(chunk)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            pass  # the server stopped reading: its answer (or silence) tells why
        try:
            status, _ = await asyncio.wait_for(answer, 10)
            h.add(pattern, f"100>{status}")
        except asyncio.TimeoutError:
            h.add(pattern, f"100>no-answer-after-{sent // MIB}MiB")
        finally:
            answer.cancel()
    except Exception as e:  # noqa: BLE001
        h.add(pattern, prefix + outcome_of(e))
    finally:
        writer.transport.abort()


async def paced(h, pattern, rate, concurrency, make):
    """Starts `make()` `rate` times a second, at most `concurrency` at once (beyond
    that a start is skipped and counted as `client-cap`)."""
    if rate <= 0 or not h.enabled(pattern):
        return
    interval, running = 1 / rate, set()
    due = time.monotonic()
    while due < h.cfg["stop_at"]:
        await sleep_until(due)
        if len(running) >= concurrency:
            h.add(pattern, "client-cap")
        else:
            task = asyncio.ensure_future(make())
            running.add(task)
            task.add_done_callback(running.discard)
        due = max(due + interval, time.monotonic() - 1)
    if running:
        await asyncio.wait(list(running))


async def keepalive_flood(h, pattern, rate, workers, request):
    """`workers` keep-alive connections sending `request()` at `rate` per second in
    total; each answer (or failure) is counted by status."""
    if rate <= 0 or not h.enabled(pattern):
        return

    async def worker(i):
        conn = Conn(h.host, h.port, h.source())
        interval = workers / rate
        due = time.monotonic() + i * interval / workers
        while due < h.cfg["stop_at"]:
            await sleep_until(due)
            method, path, body, headers = request()
            try:
                status, _, _ = await asyncio.wait_for(
                    conn.request(method, path, body, headers), h.cfg["hostile_timeout"])
                h.add(pattern, str(status))
            except Exception as e:  # noqa: BLE001
                h.add(pattern, outcome_of(e))
            due = max(due + interval, time.monotonic() - interval)
        conn.close()

    await asyncio.gather(*(worker(i) for i in range(workers)))


def flood_tasks(h):
    cfg, t = h.cfg, h.targets
    json_ct = [("Content-Type", "application/json")]
    big = big_verify_body(VERIFY_LIMIT - 1024)
    status_bodies = itertools.cycle(
        [json.dumps({"credential": b}).encode() for b in t["status_badges"]])
    batch = json.dumps({"credentials": [t["badges"][i % len(t["badges"])]
                                        for i in range(100)]}).encode()
    return [
        keepalive_flood(h, "big-body", cfg["big_rate"], 2,
                        lambda: ("POST", "/api/v1/verify", big, json_ct)),
        keepalive_flood(h, "status-hosts", cfg["status_rate"], 4,
                        lambda: ("POST", "/api/v1/verify", next(status_bodies), json_ct)),
        keepalive_flood(h, "didweb-nx", cfg["status_rate"], 4,
                        lambda: ("POST", "/api/v1/verify",
                                 json.dumps({"credential": didweb_badge()}).encode(), json_ct)),
        keepalive_flood(h, "pr-flood", cfg["flood_rate"], 8,
                        lambda: ("POST", "/api/v1/presentation-requests", b"{}", json_ct)),
        keepalive_flood(h, "nonce-flood", cfg["flood_rate"], 8,
                        lambda: ("POST", NONCE_PATH, b"", [])),
        keepalive_flood(h, "batch-100", cfg["batch_rate"], 2,
                        lambda: ("POST", "/api/v1/verify/batch", batch, json_ct)),
        paced(h, "expect-1g", cfg["expect_rate"], 20, lambda: expect_once(h)),
    ]


async def hostile_main(cfg, targets, out):
    h = Hostile(cfg, targets)

    async def ship():
        while True:
            await asyncio.sleep(1)
            out.put(("hostile", h.snapshot()))

    shipper = asyncio.create_task(ship())
    n_loris = cfg["slowloris"]
    tasks = loris_tasks(h, n_loris - n_loris // 2, n_loris // 2, cfg["loris_ramp"])
    tasks += slow_body_tasks(h, cfg["slow_bodies"])
    tasks = [asyncio.ensure_future(t) for t in tasks + flood_tasks(h)]
    # Requests still waiting HOSTILE_GRACE s after the end are abandoned uncounted.
    _, late = await asyncio.wait(tasks, timeout=cfg["stop_at"] + HOSTILE_GRACE - time.monotonic())
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    shipper.cancel()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    out.put(("hostile", h.snapshot()))
    out.put(("hostile-done", {"cpu": cpu.ru_utime + cpu.ru_stime}))


def hostile_process(cfg, targets, out):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_fd_limit()
    asyncio.run(hostile_main(cfg, targets, out))


# ---------------------------------------------------------------- measuring and reporting

class Monitor:
    """Collects what the client processes report and samples the service every second."""

    def __init__(self, svc, started, samples_path=None):
        self.svc, self.started = svc, started
        self.samples_file = open(samples_path, "w") if samples_path else None
        if self.samples_file:
            self.samples_file.write("seconds,kind,latency_ms,outcome\n")
        self.window = []                      # genuine samples of the current window
        self.all_latencies = collections.defaultdict(list)
        self.genuine_outcomes = collections.defaultdict(collections.Counter)
        self.failures = collections.Counter()
        self.hostile = {"counts": {}, "open": {}, "lifetimes": {}}
        self.hostile_printed = {}
        self.windows = []                     # (end s, n, errors, p50, p99, rss, fds)
        self.rss_samples, self.fd_samples = [], []
        self.done = {}
        self.last_cpu = (started, svc.cpu_seconds(), machine_busy_seconds())
        self.first_cpu = self.last_cpu

    def drain(self, q):
        while True:
            try:
                kind, payload = q.get_nowait()
            except queue.Empty:
                return
            if kind == "genuine":
                self.add_genuine(payload)
            elif kind == "hostile":
                self.hostile = payload
            else:
                self.done[kind] = payload

    def add_genuine(self, samples):
        if self.samples_file:
            for done, kind, ms, outcome, _ in samples:
                self.samples_file.write(f"{done - self.started:.3f},{kind},{ms:.2f},{outcome}\n")
        for _, kind, ms, outcome, ok in samples:
            self.window.append((ms, ok))
            self.all_latencies[kind].append(ms)
            self.genuine_outcomes[kind][outcome] += 1
            if not ok:
                self.failures[f"{kind}:{outcome}"] += 1

    def sample(self):
        if not self.svc.alive():
            return
        try:
            self.rss_samples.append((time.monotonic() - self.started, self.svc.rss_mib()))
            self.fd_samples.append((time.monotonic() - self.started, self.svc.fds()))
        except OSError:
            pass

    def cpu_percent(self):
        """The service's CPU and the whole machine's since the last call, in % of one CPU."""
        now, cpu, busy = time.monotonic(), self.svc.cpu_seconds(), machine_busy_seconds()
        (then, before, busy_before), self.last_cpu = self.last_cpu, (now, cpu, busy)
        span = max(now - then, 1e-6)
        return 100 * (cpu - before) / span, 100 * (busy - busy_before) / span

    def hostile_delta(self):
        out = {}
        for p in HOSTILE_ORDER:
            now = collections.Counter(self.hostile["counts"].get(p, {}))
            before = collections.Counter(self.hostile_printed.get(p, {}))
            out[p] = now - before
        self.hostile_printed = {p: dict(c) for p, c in self.hostile["counts"].items()}
        return out

    def report_window(self, at=None):
        """Prints the window's line; memory and descriptors as sampled last before `at`
        seconds into the run (default now): the last window is printed after the
        clients have finished, but describes the service while they ran."""
        elapsed = time.monotonic() - self.started
        at = elapsed if at is None else at
        lat = [ms for ms, _ in self.window]
        errors = sum(1 for _, ok in self.window if not ok)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        rss = next((v for t, v in reversed(self.rss_samples) if t <= at), 0.0)
        fds = next((v for t, v in reversed(self.fd_samples) if t <= at), 0)
        cpu, machine = self.cpu_percent() if self.svc.alive() else (0.0, 0.0)
        self.windows.append((min(elapsed, at), len(lat), errors, p50, p99, rss, fds))
        hostile = []
        for p, counts in self.hostile_delta().items():
            gauge = self.hostile["open"].get(p)
            if gauge is None and p not in self.hostile["counts"]:
                continue
            text = (f"open={gauge} " if gauge is not None else "") + fmt_counts(counts)
            hostile.append(f"{p}[{text.strip() or '-'}]")
        print(f"[{min(elapsed, at):5.0f}s] rss={rss:.1f}MiB fds={fds} cpu={cpu:.0f}% "
              f"machine={machine:.0f}%/{100 * os.cpu_count()}% | genuine "
              f"n={len(lat)} err={errors} p50={fmt_ms(p50)} p99={fmt_ms(p99)}"
              + (" | hostile " + " ".join(hostile) if hostile else ""), flush=True)
        self.window = []


def run_clients(svc, targets, args, sources):
    """Runs both client processes for --duration s, printing a line every 30 s."""
    started = time.monotonic()
    cfg = {
        "port": svc.port, "stop_at": started + args.duration, "seed": args.seed,
        "workers": args.workers, "rate": args.rate, "pr_rate": args.pr_rate,
        "fresh_every": args.fresh_every,
        "timeout": args.timeout, "hostile_timeout": args.hostile_timeout,
        "sources": sources, "slowloris": args.slowloris, "loris_ramp": args.loris_ramp,
        "trickle_interval": args.trickle_interval, "slow_bodies": args.slow_bodies,
        "expect_rate": args.expect_rate, "big_rate": args.big_rate,
        "status_rate": args.status_rate, "flood_rate": args.flood_rate,
        "batch_rate": args.batch_rate, "patterns": set(args.patterns),
    }
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=genuine_process, args=(cfg, targets, out), daemon=True)]
    if args.patterns:
        procs.append(ctx.Process(target=hostile_process, args=(cfg, targets, out), daemon=True))
    mon = Monitor(svc, started, args.samples)
    mon.sample()
    for p in procs:
        p.start()
    # The last window is reported once the clients have finished, so that it holds
    # the answers still in flight when the run ended.
    next_report, next_sample = started + WINDOW, started + 1
    last_report = started + args.duration - 1
    deadline = started + args.duration + max(args.timeout, HOSTILE_GRACE) + 15
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        time.sleep(0.25)
        mon.drain(out)
        now = time.monotonic()
        if now >= next_sample:
            mon.sample()
            next_sample += 1
        if not svc.alive():
            print(f"the service exited with {svc.proc.returncode}", flush=True)
            break
        if now >= next_report and next_report < last_report:
            mon.report_window()
            next_report += WINDOW
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
    mon.drain(out)
    if mon.window:
        mon.report_window(at=args.duration)
    if mon.samples_file:
        mon.samples_file.close()
    return mon


def cooldown(svc, seconds):
    """The service's memory and descriptors once every hostile client has gone."""
    time.sleep(seconds)
    if not svc.alive():
        return None
    return svc.rss_mib(), svc.fds()


def summarise(mon, svc, args, baseline, after, sources):
    lines, failed = [], []
    print("\nsummary", flush=True)
    rss_max = max((v for _, v in mon.rss_samples), default=0.0)
    fd_max = max((v for _, v in mon.fd_samples), default=0)
    rss_end = mon.rss_samples[-1][1] if mon.rss_samples else 0.0
    lines.append(f"  service: VmRSS start {baseline[0]:.1f} MiB, max {rss_max:.1f} MiB, "
                 f"at the end {rss_end:.1f} MiB; fds start {baseline[1]}, max {fd_max}")
    if after:
        lines.append(f"  {args.cooldown:.0f} s after the clients left: VmRSS {after[0]:.1f} MiB, "
                     f"fds {after[1]}")
    every = [ms for v in mon.all_latencies.values() for ms in v]
    n_fail = sum(mon.failures.values())
    reconnects = mon.done.get("genuine-done", {}).get("reconnects", "?")
    lines.append(f"  genuine: {len(every)} requests, {n_fail} failed; "
                 f"p50 {fmt_ms(percentile(every, 50))} p99 {fmt_ms(percentile(every, 99))} "
                 f"max {fmt_ms(max(every, default=None))}; "
                 f"stale keep-alive reconnects {reconnects}")
    for kind in sorted(mon.all_latencies):
        v = mon.all_latencies[kind]
        lines.append(f"    {kind:10s} n={len(v):6d} p50={fmt_ms(percentile(v, 50)):>8s} "
                     f"p99={fmt_ms(percentile(v, 99)):>8s} max={fmt_ms(max(v)):>8s} "
                     f"outcomes: {fmt_counts(mon.genuine_outcomes[kind])}")
    lines.append("  hostile, whole run (from " + f"{sources[0]}..{sources[-1]}):")
    for p in HOSTILE_ORDER:
        counts = mon.hostile["counts"].get(p)
        if not counts:
            continue
        life = mon.hostile["lifetimes"].get(p)
        hung = f"; the server hung up {life[0]} times, median after {life[1]:.1f} s" \
            if life and life[0] else ""
        lines.append(f"    {p:13s} {fmt_counts(counts)}{hung}")
    cpu_g = mon.done.get("genuine-done", {}).get("cpu") or 0.0
    cpu_h = mon.done.get("hostile-done", {}).get("cpu") or 0.0
    span, cpu_s, busy = (b - a for a, b in zip(mon.first_cpu, mon.last_cpu))
    others = max(0.0, busy - cpu_s - cpu_g - cpu_h)
    lines.append(f"  CPU seconds: service {cpu_s:.1f}, genuine clients {cpu_g:.1f}, hostile "
                 f"clients {cpu_h:.1f}, other processes {others:.1f}; {os.cpu_count()} CPUs "
                 f"for {span:.0f} s")
    if others > 0.1 * span * os.cpu_count():
        lines.append(f"  warning: other processes used {100 * others / span:.0f}% of a CPU "
                     "during the run; latencies include that contention")
    for line in lines:
        print(line)

    worst = max(mon.windows, key=lambda w: w[4] or 0, default=None)
    over = [w for w in mon.windows if w[4] is not None and w[4] > args.p99_ms]
    if over:
        failed.append(f"genuine p99 over {args.p99_ms:g} ms in {len(over)} of {len(mon.windows)} "
                      f"windows (worst {fmt_ms(worst[4])} at {worst[0]:.0f} s)")
    if rss_max > args.rss_mb:
        failed.append(f"VmRSS reached {rss_max:.1f} MiB (bound {args.rss_mb:g} MiB)")
    if n_fail:
        failed.append(f"{n_fail} genuine requests failed: {fmt_counts(mon.failures)}")
    if not every:
        failed.append("no genuine request completed")
    return failed


def log_findings(svc):
    lines = svc.log_lines()
    noisy = [l for l in lines if any(w in l for w in ("ERROR", "WARN", "panick", "error"))]
    if not noisy:
        return [f"  service log: {len(lines)} lines, no warnings or errors ({svc.log_path})"]
    kinds = collections.Counter()
    for l in noisy:
        kinds[" ".join(l.split()[1:6])[:90]] += 1
    out = [f"  service log: {len(noisy)} warning/error lines of {len(lines)} "
           f"({svc.log_path}); most common:"]
    out += [f"    {n:6d}  {k}" for k, n in kinds.most_common(5)]
    return out


# ---------------------------------------------------------------- main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a = ap.add_argument
    a("--binary", default=os.path.join(ROOT, "target", "debug", "accolade"))
    a("--duration", type=float, default=600, help="seconds of load (default 600)")
    a("--p99-ms", type=float, default=50, help="bound on genuine p99 per 30 s window")
    a("--rss-mb", type=float, default=512, help="bound on the service's VmRSS, MiB")
    a("--rate", type=float, default=60, help="genuine requests/s (besides --pr-rate)")
    a("--pr-rate", type=float, default=0.1, help="genuine presentation requests created/s")
    a("--workers", type=int, default=4, help="genuine keep-alive connections")
    a("--timeout", type=float, default=10, help="genuine request timeout, s")
    a("--fresh-every", type=int, default=30, metavar="N",
      help="each genuine worker opens a new connection every N requests (0: never)")
    a("--rate-limit", default=None, help="passed to serve; default: the service's default")
    a("--hostile-addresses", type=int, default=8,
      help="hostile clients come from 127.0.0.2 and the next N-1 addresses")
    a("--slowloris", type=int, default=2000, help="slowloris sockets (half trickle, half idle)")
    a("--loris-ramp", type=float, default=200, help="slowloris sockets opened per second")
    a("--trickle-interval", type=float, default=5, help="seconds between trickled bytes")
    a("--slow-bodies", type=int, default=50, help="4 MiB verify bodies sent at 1 byte/s")
    a("--expect-rate", type=float, default=5, help="Expect: 100-continue 1 GB requests/s")
    a("--big-rate", type=float, default=2, help="4 MiB verify bodies/s")
    a("--status-rate", type=float, default=5, help="status-hosts and didweb-nx badges/s each")
    a("--status-badges", type=int, default=16, help="distinct status-hosts badges signed")
    a("--flood-rate", type=float, default=200,
      help="presentation-request and nonce floods, /s each")
    a("--batch-rate", type=float, default=2, help="verify batches of 100 per second")
    a("--hostile-timeout", type=float, default=30, help="hostile request timeout, s")
    a("--patterns", type=lambda v: [p for p in v.split(",") if p], default=HOSTILE_ORDER,
      metavar="LIST", help="hostile patterns to run, comma-separated (default: all)")
    a("--no-hostile", action="store_true", help="genuine traffic only (a baseline)")
    a("--cooldown", type=float, default=5, help="seconds to wait before the last sample")
    a("--samples", metavar="CSV", help="write every genuine request (seconds, kind, ms, outcome)")
    a("--seed", type=int, default=1)
    a("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    # Genuine traffic stays under every limit that applies to it, so a 429 on it is a
    # failure: the anonymous presentation-request limit is 1/s per address.
    if args.pr_rate * 3600 > 600:
        ap.error("--pr-rate above 600 an hour exceeds the anonymous presentation-request quota")
    if args.rate_limit not in (None, "off") and args.rate + args.pr_rate >= float(args.rate_limit):
        ap.error("the genuine rate must stay under --rate-limit")
    unknown = set(args.patterns) - set(HOSTILE_ORDER)
    if unknown:
        ap.error(f"unknown patterns {sorted(unknown)}; known: {','.join(HOSTILE_ORDER)}")
    if args.no_hostile:
        args.patterns = []
    return args


def hostile_sources(n):
    """Loopback addresses for the hostile clients, apart from the genuine 127.0.0.1.
    Linux routes all of 127/8 to lo; when binding fails, 127.0.0.1 is shared."""
    sources = []
    for i in range(2, 2 + max(1, n)):
        addr = f"127.0.0.{i}"
        try:
            with socket.socket() as s:
                s.bind((addr, 0))
            sources.append(addr)
        except OSError:
            break
    if not sources:
        print("warning: cannot bind 127.0.0.2; the hostile clients share 127.0.0.1 "
              "with the genuine ones (and its rate limits)", flush=True)
        sources = ["127.0.0.1"]
    return sources


def main():
    args = parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {binary}; build it first (cargo build)")
    workdir = tempfile.mkdtemp(prefix="accolade-soak-")
    extra = [] if args.rate_limit is None else ["--rate-limit", args.rate_limit]
    svc = Service(binary, workdir, extra)
    try:
        svc.start()
        nofile = raise_fd_limit()
        if args.slowloris + args.slow_bodies + 200 > nofile:
            args.slowloris = max(0, nofile - args.slow_bodies - 200)
            print(f"note: the fd limit ({nofile}) allows {args.slowloris} slowloris sockets")
        sources = hostile_sources(args.hostile_addresses)
        targets = set_up(svc, args)
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print(f"setup failed: {e}", file=sys.stderr)
        for line in svc.log_lines()[-30:]:
            print("  | " + line, file=sys.stderr)
        svc.stop()
        print(f"kept {workdir}", file=sys.stderr)
        return 2
    try:
        failed = soak(svc, targets, args, binary, workdir, nofile, sources)
    finally:
        svc.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        print("\nFAIL: " + "\n      ".join(failed))
        return 1
    print("\nPASS: every bound held")
    return 0


def hostile_amount(args, pattern):
    """How much of `pattern` the run sends, in words."""
    half = args.slowloris // 2
    return {"loris-trickle": f"{args.slowloris - half} sockets",
            "loris-idle": f"{half} sockets",
            "slow-body": f"{args.slow_bodies} sockets",
            "expect-1g": f"{args.expect_rate:g}/s", "big-body": f"{args.big_rate:g}/s",
            "status-hosts": f"{args.status_rate:g}/s", "didweb-nx": f"{args.status_rate:g}/s",
            "pr-flood": f"{args.flood_rate:g}/s", "nonce-flood": f"{args.flood_rate:g}/s",
            "batch-100": f"{args.batch_rate:g}/s"}[pattern]


def soak(svc, targets, args, binary, workdir, nofile, sources):
    """The run itself, after the setup; returns the bounds that did not hold."""
    print(f"accolade soak: {binary}\n  service pid {svc.proc.pid} at {svc.base}, "
          f"rate limit {args.rate_limit or 'default'}, its open-files limit {svc.fd_limit()}; "
          f"ours {nofile}; workdir {workdir}")
    print(f"  genuine: {args.rate:g} req/s from 127.0.0.1 over {args.workers} keep-alive "
          f"connections (a new one every {args.fresh_every} requests) + {args.pr_rate:g} "
          "presentation requests/s; mix "
          + ", ".join(f"{k} {w}%" for k, w in GENUINE_MIX))
    if args.patterns:
        print(f"  hostile from {sources[0]}..{sources[-1]}: " + ", ".join(
            f"{p} {hostile_amount(args, p)}" for p in HOSTILE_ORDER if p in args.patterns))
        for line in probe_hostile_badges(svc, targets):
            print(line)
    print(f"  bounds: genuine p99 <= {args.p99_ms:g} ms per {WINDOW:.0f} s window, "
          f"VmRSS <= {args.rss_mb:g} MiB, no genuine failure; {args.duration:g} s\n", flush=True)
    baseline = (svc.rss_mib(), svc.fds())
    mon = run_clients(svc, targets, args, sources)
    after = cooldown(svc, args.cooldown)
    failed = summarise(mon, svc, args, baseline, after, sources)
    if not svc.alive():
        failed.append(f"the service died (exit {svc.proc.returncode})")
    for line in log_findings(svc):
        print(line)
    took = svc.stop()
    print(f"  service stopped in {took:.1f} s (exit {svc.proc.returncode})")
    if took >= 29:
        failed.append(f"the service took {took:.0f} s to stop on SIGTERM")
    return failed

if __name__ == "__main__":
    sys.exit(main())
