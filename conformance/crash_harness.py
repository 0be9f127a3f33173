#!/usr/bin/env python3
"""Crash harness: kill -9 the service while it issues, revokes and hands badges to
wallets, and check that nothing acknowledged was lost, no status-list index was
handed out twice, and no spent OpenID4VCI code or nonce is accepted again.

Each cycle:
  1. start `accolade serve` on a fixed port, data and keys in one directory;
  2. run concurrent clients that award badges (direct delivery), revoke some of
     the ones they received, and claim offered awards as a wallet would (token
     endpoint with the pre-authorized code, nonce endpoint, credential endpoint with
     an Ed25519 proof signed by the `openssl` command);
  3. SIGKILL the service at a random moment;
  4. restart it and check, against everything acknowledged in all cycles so far:
     - every badge a client received exists, issued, with the status entry its JWT
       names (list and index);
     - no two credentials in the store share a status index;
     - every acknowledged revocation is set in the published list (decoded here:
       base64url, gunzip, bit 0 = most significant bit of byte 0) and shown by the
       admin API; badges never revoked are clear;
     - every pre-authorized code that bought a token is refused (invalid_grant);
       a sample of the nonces that bought a badge are refused (invalid_nonce) in a
       fresh, otherwise valid request; every claimed award is issued.

Standard library only, plus the `openssl` command for the wallet's proofs. Usage:
  python3 conformance/crash_harness.py --binary target/release/accolade --cycles 50
  (add --database-url postgres://... to run it on an empty PostgreSQL database)
Exit status 0 when every cycle passed.
"""

import argparse
import base64
import gzip
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

TOKEN = "crash-harness-admin-token"
PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CONFIG = "OpenBadgeCredential_jwt_vc_json"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
HOLDER = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, binary, workdir, port, extra):
        self.binary, self.workdir, self.port, self.extra = binary, workdir, port, extra
        self.base = f"http://127.0.0.1:{port}"
        self.proc = None

    def start(self):
        env = dict(os.environ, ACCOLADE_ADMIN_TOKEN=TOKEN, ACCOLADE_LOG="warn")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--public-url", self.base, "--data-dir", os.path.join(self.workdir, "data"),
             "--keys-dir", os.path.join(self.workdir, "keys"), "--rate-limit", "off"]
            + self.extra,
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.workdir, "serve.log"), "ab"),
            env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("listening on"):
                return
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"the service did not start; see {self.workdir}/serve.log")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def request(base, method, path, body=None, form=None, bearer=None, timeout=10):
    """One HTTP request: a JSON `body` or a `form`; returns (status, body bytes)."""
    if form is not None:
        data, ctype = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    elif body is not None:
        data, ctype = json.dumps(body).encode(), "application/json"
    else:
        data, ctype = None, None
    req = urllib.request.Request(base + path, data=data, method=method)
    if bearer:
        req.add_header("Authorization", f"Bearer {bearer}")
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def call(base, method, path, body=None, timeout=10):
    """An admin API request."""
    return request(base, method, path, body=body, bearer=TOKEN, timeout=timeout)


def jwt_payload(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def status_entry(payload):
    st = payload["credentialStatus"]
    entries = st if isinstance(st, list) else [st]
    rev = [e for e in entries if e["statusPurpose"] == "revocation"][0]
    return rev["statusListCredential"], int(rev["statusListIndex"])


def bit(bits, i):
    return (bits[i // 8] >> (7 - i % 8)) & 1


def decode_list(jwt):
    enc = jwt_payload(jwt)["credentialSubject"]["encodedList"]
    assert enc[0] == "u", "encodedList lacks the multibase prefix"
    raw = base64.urlsafe_b64decode(enc[1:] + "=" * (-len(enc[1:]) % 4))
    return gzip.decompress(raw)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def base58btc(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


class Wallet:
    """An Ed25519 holder key (made and used through the openssl command)."""

    def __init__(self, workdir):
        self.key = os.path.join(workdir, "wallet-ed25519.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", self.key],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", self.key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        msid = "z" + base58btc(b"\xed\x01" + der[-32:])
        self.did = f"did:key:{msid}"
        self.kid = f"{self.did}#{msid}"

    def proof(self, aud, nonce):
        header = b64url(json.dumps({"alg": "EdDSA", "typ": "openid4vci-proof+jwt",
                                    "kid": self.kid}).encode())
        claims = b64url(json.dumps({"aud": aud, "iat": int(time.time()),
                                    "nonce": nonce}).encode())
        signing_input = f"{header}.{claims}".encode()
        # OpenSSL 3.0's one-shot Ed25519 signing reads its input from a file.
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(self.key)) as f:
            f.write(signing_input)
            f.flush()
            sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", self.key,
                                  "-rawin", "-in", f.name],
                                 check=True, capture_output=True).stdout
        return f"{header}.{claims}.{b64url(sig)}"


def offer_code(award):
    """The pre-authorized code of an award's offer (carried inline by value)."""
    q = urllib.parse.urlparse(award["offer_uri_by_value"]).query
    offer = json.loads(urllib.parse.parse_qs(q)["credential_offer"][0])
    return offer["grants"][PRE_AUTH]["pre-authorized_code"]


def offered_award(base, achievement):
    """An offered award (no tx_code) and a token for it, or None."""
    s, body = call(base, "POST", "/api/v1/awards",
                   {"achievement_id": achievement, "tx_code": False,
                    "recipient": {"email": "wallet@example.org"}})
    if s != 201:
        return None
    award = json.loads(body)
    code = offer_code(award)
    s, body = request(base, "POST", "/oid4vci/token",
                      form={"grant_type": PRE_AUTH, "pre-authorized_code": code})
    if s != 200:
        return None
    return award["credential_id"], code, json.loads(body)["access_token"]


def credential_request(base, wallet, nonce, token):
    """A 1.0 credential request with one proof carrying `nonce`."""
    return request(base, "POST", "/oid4vci/credential", bearer=token,
                   body={"credential_configuration_id": CONFIG,
                         "proofs": {"jwt": [wallet.proof(base, nonce)]}})


def claim(base, achievement, wallet, ledger):
    got = offered_award(base, achievement)
    if got is None:
        return
    cid, code, token = got
    with ledger.lock:
        ledger.spent_codes.add(code)
    s, body = request(base, "POST", "/oid4vci/nonce")
    if s != 200:
        return
    nonce = json.loads(body)["c_nonce"]
    s, body = credential_request(base, wallet, nonce, token)
    if s == 200:
        jwt = json.loads(body)["credentials"][0]["credential"]
        assert jwt_payload(jwt)["sub"] == wallet.did
        with ledger.lock:
            ledger.spent_nonces.append(nonce)
            ledger.claimed.add(cid)


class Ledger:
    """What clients were told: acknowledged awards, revocations and claims."""

    def __init__(self):
        self.lock = threading.Lock()
        self.awards = {}        # credential_id -> (list url, index)
        self.revoked = set()    # acknowledged revocations
        self.attempted = set()  # revocations sent (acknowledged or not)
        self.spent_codes = set()  # pre-authorized codes that bought a token
        self.spent_nonces = []    # nonces that bought a badge
        self.claimed = set()      # awards a wallet received


def client(base, achievement, ledger, stop, rng, wallet):
    while not stop.is_set():
        try:
            if wallet and rng.random() < 0.15:
                claim(base, achievement, wallet, ledger)
                continue
            if ledger.awards and rng.random() < 0.3:
                with ledger.lock:
                    candidates = [c for c in ledger.awards if c not in ledger.attempted]
                    cid = rng.choice(candidates) if candidates else None
                    if cid:
                        ledger.attempted.add(cid)
                if cid:
                    s, _ = call(base, "POST", f"/api/v1/credentials/{cid}/revoke",
                                {"reason": "crash harness"})
                    if s == 200:
                        with ledger.lock:
                            ledger.revoked.add(cid)
                    continue
            s, body = call(base, "POST", "/api/v1/awards",
                           {"achievement_id": achievement, "delivery": "direct",
                            "recipient": {"id": HOLDER}})
            if s == 201:
                award = json.loads(body)
                entry = status_entry(jwt_payload(award["credential"]))
                with ledger.lock:
                    ledger.awards[award["credential_id"]] = entry
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            # The service died under us: nothing was acknowledged.
            time.sleep(0.01)


def check_wallet_state(base, ledger, stored, achievement, wallet, rng):
    """Spent codes and nonces stay spent; claimed awards stay issued."""
    problems = []
    for code in sorted(ledger.spent_codes):
        s, body = request(base, "POST", "/oid4vci/token",
                      form={"grant_type": PRE_AUTH, "pre-authorized_code": code})
        if s == 200 or json.loads(body).get("error") != "invalid_grant":
            problems.append(f"a spent pre-authorized code was accepted again: {s} {body[:120]!r}")
    for cid in ledger.claimed:
        got = stored.get(cid)
        if got is None or got[1] != "issued":
            problems.append(f"claimed award {cid} is {got[1] if got else 'gone'}")
    for nonce in rng.sample(ledger.spent_nonces, min(3, len(ledger.spent_nonces))):
        got = offered_award(base, achievement)
        if got is None:
            problems.append("could not make an award to test a spent nonce with")
            continue
        s, body = credential_request(base, wallet, nonce, got[2])
        if s == 200 or json.loads(body).get("error") != "invalid_nonce":
            problems.append(f"a spent nonce was accepted again: {s} {body[:120]!r}")
    return problems


def check(base, ledger, achievement, wallet, rng):
    problems = []
    # Every credential in the store, by walking the listing.
    stored, cursor = {}, None
    while True:
        q = "/api/v1/credentials?limit=500" + (f"&cursor={cursor}" if cursor else "")
        s, body = call(base, "GET", q, timeout=60)
        if s != 200:
            return [f"listing failed: {s} {body[:200]!r}"], 0, 0
        page = json.loads(body)
        for c in page["credentials"]:
            st = [e for e in c.get("status", []) if e["status_purpose"] == "revocation"]
            stored[c["credential_id"]] = (
                (st[0]["status_list_credential"], int(st[0]["status_list_index"])) if st else None,
                c["state"], c["revoked"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    slots = [v[0] for v in stored.values() if v[0] is not None]
    if len(slots) != len(set(slots)):
        problems.append(f"{len(slots) - len(set(slots))} duplicated status indices in the store")
    acked_slots = list(ledger.awards.values())
    if len(acked_slots) != len(set(acked_slots)):
        problems.append("two acknowledged badges carry the same status index")
    lost = 0
    for cid, entry in ledger.awards.items():
        got = stored.get(cid)
        if got is None:
            lost += 1
            problems.append(f"lost badge {cid}")
        elif got[0] != entry or got[1] != "issued":
            problems.append(f"badge {cid} changed: stored {got}, received {entry}")
        elif cid in ledger.revoked and not got[2]:
            problems.append(f"acknowledged revocation of {cid} lost in the store")
    lists = {}
    for url in {e[0] for e in ledger.awards.values()}:
        s, body = call(base, "GET", url[len(base):])
        if s != 200:
            problems.append(f"status list {url}: HTTP {s}")
            continue
        lists[url] = decode_list(body.decode())
        if len(lists[url]) * 8 < 131072:
            problems.append(f"status list {url} is shorter than 131,072 entries")
    for cid, (url, index) in ledger.awards.items():
        if url not in lists:
            continue
        b = bit(lists[url], index)
        if cid in ledger.revoked and b != 1:
            problems.append(f"acknowledged revocation of {cid} missing from {url}")
        if cid not in ledger.attempted and b != 0:
            problems.append(f"{cid} was never revoked but its bit is set")
    if wallet:
        problems += check_wallet_state(base, ledger, stored, achievement, wallet, rng)
    return problems, len(stored), lost


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="target/release/accolade")
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--min-run", type=float, default=0.2, help="seconds before the kill, at least")
    ap.add_argument("--max-run", type=float, default=1.5, help="seconds before the kill, at most")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("--database-url", default=None,
                    help="run on this (empty) PostgreSQL database instead of sled")
    ap.add_argument("--no-wallet", action="store_true",
                    help="leave out the OpenID4VCI claims (no openssl command needed)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    binary = os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="accolade-crash-")
    store = "PostgreSQL" if args.database_url else "sled"
    print(f"crash harness: {args.cycles} cycles, {args.clients} clients, {store}, seed {seed}, "
          f"dir {workdir}")
    extra = ["--database-url", args.database_url] if args.database_url else []
    svc = Service(binary, workdir, free_port(), extra)
    wallet = None if args.no_wallet else Wallet(workdir)
    ledger = Ledger()
    failures = 0
    lost = 0
    try:
        svc.start()
        s, body = call(svc.base, "POST", "/api/v1/achievements", {
            "name": "Crash Survivor", "description": "Issued while the service was being killed.",
            "criteria": {"narrative": "Be issued."}})
        assert s == 201, body
        achievement = json.loads(body)["id"]
        for cycle in range(1, args.cycles + 1):
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(svc.base, achievement, ledger, stop,
                                                             random.Random(rng.random()), wallet))
                       for _ in range(args.clients)]
            before = (len(ledger.awards), len(ledger.revoked), len(ledger.claimed))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(args.min_run, args.max_run))
            svc.kill()
            stop.set()
            for t in threads:
                t.join()
            svc.start()
            problems, stored, lost = check(svc.base, ledger, achievement, wallet, rng)
            failures += bool(problems)
            print(f"cycle {cycle:3}: +{len(ledger.awards) - before[0]:4} badges "
                  f"+{len(ledger.revoked) - before[1]:3} revocations "
                  f"+{len(ledger.claimed) - before[2]:3} wallet claims acknowledged; "
                  f"{len(ledger.awards)} badges, {len(ledger.revoked)} revoked, {stored} stored; "
                  + ("OK" if not problems else "FAIL"))
            for p in problems[:20]:
                print("   ", p)
            sys.stdout.flush()
        svc.stop()
    finally:
        if svc.proc and svc.proc.poll() is None:
            svc.proc.kill()
        if not args.keep and failures == 0:
            shutil.rmtree(workdir, ignore_errors=True)
    slots = list(ledger.awards.values())
    print(f"summary: {args.cycles} kill -9 cycles, {len(ledger.awards)} badges, "
          f"{len(ledger.revoked)} revocations and {len(ledger.claimed)} wallet claims "
          f"acknowledged ({len(ledger.spent_codes)} spent codes re-tried), "
          f"lost badges {lost}, duplicated indices {len(slots) - len(set(slots))}, "
          f"failed cycles {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
