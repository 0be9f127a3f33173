#!/usr/bin/env python3
"""Fleet run: two `accolade serve` processes on one PostgreSQL database, driven
together as a load balancer would, from the outside (HTTP only).

Both nodes get the same `--database-url`, `--public-url` and
ACCOLADE_KEY_ENCRYPTION_KEY (the signing keys are kept in the database, sealed), their
own `--data-dir`, `--keys-dir` and port, no ACCOLADE_ADMIN_TOKEN (the fleet's token
is kept in the database and printed by `accolade admin-token`), and one SMTP sink;
they start at the same moment on the empty database. Cases:

  0. one signing key between them: both DID documents publish the same one key, and
     neither keys directory holds a private key;
  1. one admin token for the fleet: both nodes accept the printed token, and refuse
     another;
  2. awards split across both: 200 direct awards from 8 threads, alternating nodes;
     every one 201, no status index given out twice, each visible on the other node;
  3. a claim across nodes: the offer made on A, the token bought on B, the nonce taken
     on A, the credential fetched from B; the badge verifies on A;
  4. 50 concurrent token requests for one pre-authorized code, alternating nodes:
     exactly one wins;
  5. a revocation on B shows in A's published list within a second (the delay is
     printed), with the same bytes and ETag on both (and A's ETag answers 304 at B);
  6. an e-mail award made on A is sent exactly once by the fleet (one sender holds
     the mail lease), and is still once 3 s later;
  7. kill -9 of node A while both award: every award either node acknowledged is
     stored and issued; no index given out twice; A restarted awards again without
     reusing an index;
  8. `accolade keys rotate --database-url`: both nodes publish the new key and sign
     with it within a minute, without a restart (the time is printed); badges signed
     before still verify;
  9. `accolade export --database-url` while both nodes serve, `accolade import` into a
     new data dir: the same record count, and an export of the data dir holds the same
     records.

Every case prints `ok   <what>` or `FAIL <what>: <why>`; the run exits 1 if any
failed. Python 3 standard library plus aiosmtpd (Debian: python3-aiosmtpd, which
serves /usr/bin/python3), and the `openssl` command for the wallet's proofs.

    /usr/bin/python3 conformance/fleet/run.py --binary target/debug/accolade \\
        --database-url postgres://accolade:PASSWORD@127.0.0.1:5432/accolade_fleet
"""

import argparse
import base64
import concurrent.futures
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crash = load("crash_harness", os.path.join(ROOT, "conformance", "crash_harness.py"))
mailrun = load("mail_run", os.path.join(ROOT, "conformance", "mail", "run.py"))
http, clean_env, poll, short = mailrun.http, mailrun.clean_env, mailrun.poll, mailrun.short
PRE_AUTH = crash.PRE_AUTH
HOLDER = crash.HOLDER


class Node:
    """One `accolade serve` of the fleet on a fixed port (kept across restarts)."""

    def __init__(self, name, binary, workdir, port, public_url, database_url, smtp_port, kek):
        self.name, self.binary, self.workdir = name, binary, workdir
        self.keys_dir = os.path.join(workdir, "keys")
        self.port, self.public_url, self.kek = port, public_url, kek
        self.database_url, self.smtp_port = database_url, smtp_port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = os.path.join(workdir, "serve.log")
        self.token = None
        self.proc = None

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        env = clean_env(ACCOLADE_DATABASE_URL=self.database_url,
                        ACCOLADE_KEY_ENCRYPTION_KEY=self.kek)
        env.setdefault("ACCOLADE_LOG", "warn")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}",
                 "--public-url", self.public_url,
                 "--data-dir", os.path.join(self.workdir, "data"),
                 "--keys-dir", self.keys_dir, "--rate-limit", "off",
                 "--smtp-url", f"smtp://127.0.0.1:{self.smtp_port}",
                 "--mail-from", mailrun.MAIL_FROM],
                stdout=subprocess.PIPE, stderr=log, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("listening on"):
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError(f"node {self.name} did not start; see {self.log_path}")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def call(self, method, path, body=None, admin=True, timeout=30, **kw):
        headers = dict(kw.pop("headers", None) or {})
        if admin:
            headers["Authorization"] = f"Bearer {self.token}"
        status, hdrs, answer = http(method, self.base + path, body, headers=headers,
                                    timeout=timeout, **kw)
        return status, answer

    def must(self, method, path, body=None, want=200, **kw):
        status, answer = self.call(method, path, body, **kw)
        if status != want:
            raise RuntimeError(f"{self.name}: {method} {path}: HTTP {status} "
                               f"(expected {want}): {short(answer)}")
        return answer

    def award(self, achievement, **extra):
        body = {"achievement_id": achievement, "delivery": "direct",
                "recipient": {"id": HOLDER}}
        body.update(extra)
        return self.call("POST", "/api/v1/awards", body, timeout=15)

    def did_document(self):
        status, _, doc = http("GET", self.base + "/.well-known/did.json")
        check(status == 200, f"{self.name}: DID document {status}")
        return doc

    def list_bytes(self, etag=None):
        """(status, ETag, bytes) of revocation list 1."""
        import urllib.request
        req = urllib.request.Request(self.base + "/status/revocation/1")
        if etag:
            req.add_header("If-None-Match", etag)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("ETag"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("ETag"), e.read()


def jwt_header(jwt):
    part = jwt.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def index_of(jwt):
    return crash.status_entry(crash.jwt_payload(jwt))[1]


def quote(cid):
    return urllib.parse.quote(cid, safe="")


class Run:
    def __init__(self):
        self.failed = 0
        self.cases = 0

    def case(self, what, fn):
        self.cases += 1
        try:
            detail = fn()
            print(f"ok   {what}" + (f" ({detail})" if detail else ""))
        except Exception as e:  # noqa: BLE001 (any failure of a case is reported)
            self.failed += 1
            print(f"FAIL {what}: {e}")
        sys.stdout.flush()


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="target/debug/accolade")
    ap.add_argument("--database-url", required=True,
                    help="an empty PostgreSQL database the run may fill")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="accolade-fleet-")
    kek = os.urandom(32).hex()
    port_a, port_b = crash.free_port(), crash.free_port()
    public = f"http://127.0.0.1:{port_a}"
    sink = mailrun.Sink()
    sink.start()
    a = Node("A", binary, os.path.join(workdir, "a"), port_a, public, args.database_url,
             sink.port, kek)
    b = Node("B", binary, os.path.join(workdir, "b"), port_b, public, args.database_url,
             sink.port, kek)
    wallet = crash.Wallet(workdir)
    run = Run()
    acked = {}          # credential id -> index, for every 201 either node gave
    acked_lock = threading.Lock()
    print(f"fleet run: nodes A {a.base} and B {b.base}, public URL {public}, dir {workdir}")
    try:
        # Both at once, on the empty database: one of them makes the keys.
        starters = [threading.Thread(target=n.start) for n in (a, b)]
        for t in starters:
            t.start()
        for t in starters:
            t.join()
        check(a.proc and b.proc and a.proc.poll() is None and b.proc.poll() is None,
              "a node did not start")

        def one_key():
            da, db = a.did_document(), b.did_document()
            # Each key is listed as a JsonWebKey2020 and (EC and Ed25519 keys) once
            # more as a Multikey.
            def jwks(d):
                return [m["id"] for m in d["verificationMethod"] if m["type"] == "JsonWebKey2020"]
            methods = jwks(da)
            check(len(methods) == 1, f"A publishes {len(methods)} keys")
            check(methods == jwks(db), "A and B publish different keys")
            for n in (a, b):
                pems = [f for f in os.listdir(n.keys_dir) if f.endswith(".pem")] \
                    if os.path.isdir(n.keys_dir) else []
                check(not pems, f"{n.name}'s keys directory holds {pems}")
            return f"{methods[0].split('#')[1]}, sealed in the database"
        run.case("nodes started together on an empty database share one signing key", one_key)
        token = subprocess.run([binary, "admin-token"], check=True, capture_output=True,
                               env=clean_env(ACCOLADE_DATABASE_URL=args.database_url),
                               text=True).stdout.strip()
        a.token = b.token = token

        def one_token():
            check(len(token) >= 32, f"a short token: {token!r}")
            for n in (a, b):
                s, v = n.call("GET", "/api/v1/issuer")
                check(s == 200, f"{n.name} refuses the fleet's token: {s} {short(v)}")
                s, _ = n.call("GET", "/api/v1/issuer", headers={"Authorization": "Bearer " + "x" * 43},
                              admin=False)
                check(s == 401, f"{n.name} accepts another token: {s}")
            return "from the database, accepted by both nodes"
        run.case("one admin token for the fleet", one_token)

        ach = a.must("POST", "/api/v1/achievements", {
            "name": "Fleet Operations", "description": "Ran two nodes as one service.",
            "criteria": {"narrative": "Be awarded by either node."}}, want=201)["id"]

        def split():
            nodes = [a, b]

            def one(i):
                n = nodes[i % 2]
                s, v = n.award(ach)
                check(s == 201, f"award {i} on {n.name}: {s} {short(v)}")
                return n.name, v["credential_id"], index_of(v["credential"])
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                got = list(pool.map(one, range(200)))
            indices = [g[2] for g in got]
            check(len(set(indices)) == 200, f"{200 - len(set(indices))} indices given twice")
            for name, cid, idx in got:
                acked[cid] = idx
            # Each award is seen by the other node.
            for name, cid, _ in got[:40]:
                other = b if name == "A" else a
                v = other.must("GET", "/api/v1/credentials/" + quote(cid))
                check(v.get("state") == "issued", f"{cid} on {other.name}: {short(v)}")
            by = {n: sum(1 for g in got if g[0] == n) for n in "AB"}
            return f"200 awards, {by['A']} by A and {by['B']} by B, 200 distinct indices"
        run.case("awards split across both nodes", split)

        def offered():
            s, v = a.call("POST", "/api/v1/awards", {
                "achievement_id": ach, "tx_code": False,
                "recipient": {"email": "wallet@example.org"}})
            check(s == 201, f"offer: {s} {short(v)}")
            return v, crash.offer_code(v)

        def claim_across():
            award, code = offered()
            s, t = b.call("POST", "/oid4vci/token", admin=False,
                          raw=urllib.parse.urlencode({"grant_type": PRE_AUTH,
                                                      "pre-authorized_code": code}).encode(),
                          content_type="application/x-www-form-urlencoded")
            check(s == 200, f"token at B: {s} {short(t)}")
            s, n = a.call("POST", "/oid4vci/nonce", admin=False, raw=b"")
            check(s == 200, f"nonce at A: {s} {short(n)}")
            s, c = b.call("POST", "/oid4vci/credential", admin=False,
                          headers={"Authorization": f"Bearer {t['access_token']}"},
                          body={"credential_configuration_id": crash.CONFIG,
                                "proofs": {"jwt": [wallet.proof(public, n["c_nonce"])]}})
            check(s == 200, f"credential at B: {s} {short(c)}")
            jwt = c["credentials"][0]["credential"]
            s, r = a.call("POST", "/api/v1/verify", {"credential": jwt}, admin=False)
            check(s == 200 and r.get("verified") is True, f"verify at A: {s} {short(r)}")
            acked[award["credential_id"]] = index_of(jwt)
            return "offer on A, token on B, nonce on A, credential on B, verified on A"
        run.case("a claim across nodes", claim_across)

        def race():
            _, code = offered()
            form = urllib.parse.urlencode({"grant_type": PRE_AUTH,
                                           "pre-authorized_code": code}).encode()
            start = threading.Barrier(50)

            def one(i):
                n = (a, b)[i % 2]
                start.wait()
                s, _ = n.call("POST", "/oid4vci/token", admin=False, raw=form,
                              content_type="application/x-www-form-urlencoded")
                return n.name, s
            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                got = list(pool.map(one, range(50)))
            wins = [g for g in got if g[1] == 200]
            refused = [g for g in got if g[1] == 400]
            check(len(wins) == 1 and len(refused) == 49,
                  f"{len(wins)} won, {len(refused)} refused, others {set(got) - set(wins) - set(refused)}")
            return f"1 token (from {wins[0][0]}), 49 invalid_grant"
        run.case("50 concurrent token requests for one code over both nodes", race)

        def revocation():
            cid, idx = next(iter(acked.items()))
            _, etag_before, _ = a.list_bytes()
            b.must("POST", f"/api/v1/credentials/{quote(cid)}/revoke",
                   {"reason": "issued in error"})
            t0 = time.time()

            def seen():
                s, etag, body = a.list_bytes()
                bits = crash.decode_list(body.decode())
                return (etag, body) if s == 200 and crash.bit(bits, idx) == 1 else None
            got = poll(seen, 1.0, 0.01)
            delay = (time.time() - t0) * 1000
            check(got, "A's list does not show B's revocation within a second")
            etag_a, body_a = got
            check(etag_a != etag_before, "the ETag did not change with the bits")
            s, etag_b, body_b = b.list_bytes()
            check(s == 200 and etag_b == etag_a and body_b == body_a,
                  f"A and B publish different copies: {etag_a} vs {etag_b}")
            s, _, _ = b.list_bytes(etag_a)
            check(s == 304, f"B answers A's ETag with {s}")
            return f"in A's list after {delay:.0f} ms; one ETag {etag_a}"
        run.case("a revocation on one node in the other's list, same bytes and ETag", revocation)

        def mail_once():
            addr = "fleet.earner@example.org"
            s, v = a.call("POST", "/api/v1/awards", {
                "achievement_id": ach, "delivery": "email",
                "recipient": {"name": "Fleet Earner", "email": addr}})
            check(s == 201, f"e-mail award: {s} {short(v)}")
            check(poll(lambda: sink.count([addr]) >= 1, 20), "no message within 20 s")
            time.sleep(3)
            n = sink.count([addr])
            check(n == 1, f"{n} messages")
            return "1 message, still 1 after 3 s"
        run.case("an e-mail award is sent exactly once by the fleet", mail_once)

        def kill_during_awards():
            stop = threading.Event()
            errors = []

            def client(i):
                n = (a, b)[i % 2]
                while not stop.is_set():
                    try:
                        s, v = n.award(ach)
                    except OSError:
                        s, v = None, None
                    if s == 201:
                        with acked_lock:
                            if v["credential_id"] in acked:
                                errors.append(f"id {v['credential_id']} twice")
                            acked[v["credential_id"]] = index_of(v["credential"])
                    elif n is b and s is not None:
                        errors.append(f"B answered {s}: {short(v)}")
            before = len(acked)
            threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            time.sleep(1.5)
            a.kill9()
            time.sleep(1.0)
            stop.set()
            for t in threads:
                t.join()
            during = len(acked) - before
            a.start()
            # Every acknowledged award is stored and issued (read on both nodes).
            missing = []
            for i, (cid, idx) in enumerate(list(acked.items())):
                n = (a, b)[i % 2]
                s, v = n.call("GET", "/api/v1/credentials/" + quote(cid))
                if s != 200 or v.get("state") != "issued":
                    missing.append(f"{cid}: {s}")
            check(not missing, f"{len(missing)} acknowledged awards lost: {missing[:3]}")
            after = []
            for _ in range(50):
                s, v = a.award(ach)
                check(s == 201, f"award on the restarted A: {s} {short(v)}")
                after.append(index_of(v["credential"]))
            indices = list(acked.values()) + after
            check(len(indices) == len(set(indices)),
                  f"{len(indices) - len(set(indices))} indices given twice")
            check(not errors, "; ".join(errors[:3]))
            return (f"{during} awards acknowledged around the kill, {len(acked)} in all "
                    f"stored; 50 more on the restarted A; {len(indices)} distinct indices")
        run.case("kill -9 of one node during awards: nothing acknowledged lost, no index reused",
                 kill_during_awards)

        def rotation():
            s, before = a.award(ach)
            check(s == 201, f"award before: {s}")
            env = clean_env(ACCOLADE_DATABASE_URL=args.database_url,
                            ACCOLADE_KEY_ENCRYPTION_KEY=kek)
            out = subprocess.run([binary, "keys", "rotate", "--alg", "EdDSA"], env=env,
                                 capture_output=True, text=True)
            check(out.returncode == 0, f"keys rotate: {out.stderr.strip()}")
            m = re.search(r"new signing key (\S+)", out.stdout)
            check(m, f"keys rotate said {out.stdout!r}")
            kid = m.group(1)
            t0 = time.time()

            def both_publish():
                return all(any(v["id"].endswith("#" + kid) for v in n.did_document()["verificationMethod"])
                           for n in (a, b))
            check(poll(both_publish, 60, 0.5), "a node does not publish the new key within a minute")
            took = time.time() - t0
            for n in (a, b):
                s, v = n.award(ach)
                check(s == 201, f"award on {n.name}: {s}")
                hdr = jwt_header(v["credential"])
                check(hdr["kid"].endswith("#" + kid) and hdr["alg"] == "EdDSA",
                      f"{n.name} signs with {hdr['kid']}")
                s, r = n.call("POST", "/api/v1/verify", {"credential": before["credential"]},
                              admin=False)
                check(s == 200 and r.get("verified") is True,
                      f"a badge signed before fails on {n.name}: {short(r)}")
            return f"both nodes publish and sign with {kid} after {took:.1f} s"
        run.case("a key rotation on the database is seen by both nodes", rotation)

        def export_import():
            archive = os.path.join(workdir, "fleet-export.jsonl")
            env = clean_env(ACCOLADE_DATABASE_URL=args.database_url)
            out = subprocess.run([binary, "export", "--output", archive], env=env,
                                 capture_output=True, text=True)
            check(out.returncode == 0, f"export: {out.stderr.strip()}")
            m = re.search(r"exported (\d+) records \(.*?(\d+) award", out.stdout)
            check(m, f"export said {out.stdout!r}")
            total, awards = int(m.group(1)), int(m.group(2))
            check(awards >= len(acked), f"{awards} awards exported, {len(acked)} acknowledged")
            target = os.path.join(workdir, "imported", "data")
            out = subprocess.run([binary, "import", archive, "--data-dir", target],
                                 env=clean_env(), capture_output=True, text=True)
            check(out.returncode == 0, f"import: {out.stderr.strip()}")
            m = re.search(r"imported (\d+) records", out.stdout)
            check(m and int(m.group(1)) == total, f"import said {out.stdout!r}")
            out = subprocess.run([binary, "export", "--data-dir", target, "--output",
                                  archive + ".again"], env=clean_env(),
                                 capture_output=True, text=True)
            check(out.returncode == 0, f"export of the import: {out.stderr.strip()}")

            def body(path):
                with open(path, encoding="utf-8") as f:
                    lines = f.read().splitlines()
                return sorted(lines[1:-1])
            check(body(archive) == body(archive + ".again"),
                  "the data dir holds other records than the database exported")
            return f"{total} records ({awards} awards) exported beside both nodes, the same in a data dir"
        run.case("the fleet's database exported while serving and imported into a data dir",
                 export_import)
    finally:
        for n in (a, b):
            n.stop()
        sink.stop()
        if run.failed or args.keep:
            for n in (a, b):
                print(f"--- node {n.name} log: {n.log_path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"fleet run: {run.cases - run.failed} of {run.cases} cases passed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
