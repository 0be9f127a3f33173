#!/usr/bin/env python3
"""The HTTP paths beside the library: server CPU per verification and per claim flow.

Starts `accolade serve` (data and keys in a temporary directory, rate limit off), and
in the same run:

1. in process: `accolade bench --pages-only` prints the verify pipeline's rate for the
   service's own ES256 badge on one thread, and `accolade bench --alg ES256` the raw
   ES256 sign and verify rates;
2. over HTTP: wrk POSTs one badge to /api/v1/verify with many connections; the
   service's CPU time (user + system, /proc/<pid>/stat) over the run is divided by the
   verifications it answered: server CPU per verification, and verifications per
   server CPU-second set beside the in-process pipeline rate (goal >= 0.8);
3. over HTTP: OpenID4VCI claim flows (token, nonce, credential with an ES256 proof of
   possession signed here) by several client threads, for offers made before the
   measurement: server CPU per flow, and flows per server CPU-second set beside
   1/(1/sign + 1/verify) of the raw ES256 rates (goal >= 0.4).

wrk and the clients run on the same machine; their CPU is not counted.

Usage (release binary; Debian's `wrk` on PATH; Python with `cryptography`):
  cargo build --release && python3 conformance/http_speed.py --binary target/release/accolade
"""

import argparse
import base64
import http.client
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
import urllib.request

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from award_cpu import cpu_seconds, free_port, wrk  # noqa: E402

TOKEN = "http-speed-admin-token"
HOLDER = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def call(base, method, path, body=None, admin=True):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if admin:
        req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def bench_figures(binary):
    """The in-process figures of this run, as `accolade bench` prints them."""
    pages = subprocess.run([binary, "bench", "--pages-only", "--seconds", "3"],
                           check=True, capture_output=True, text=True).stdout
    pipeline = float(re.search(r"verify pipeline \(own badge\)\s+([\d.]+) /s", pages).group(1))
    raw = subprocess.run([binary, "bench", "--claims-only", "--seconds", "2", "--wallets", "64"],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"sign ([\d.]+) /s, verify ([\d.]+) /s; 1/\(1/sign \+ 1/verify\) = ([\d.]+) /s", raw)
    sign, verify, bound = (float(x) for x in m.groups())
    flows = re.search(r"claim flows\s+([\d.]+) /s\s+ratio ([\d.]+)", raw)
    return pipeline, sign, verify, bound, float(flows.group(1)), float(flows.group(2))


def wrk_verify(base, body, seconds, connections, threads):
    """wrk POSTs one badge to /api/v1/verify; answers that say it verified count."""
    return wrk(base, body, seconds, connections, threads, path="/api/v1/verify",
               ok="status == 200 and string.find(body, '\"verified\":true', 1, true)",
               token=None)


class Wallet:
    """A wallet with a P-256 key: redeems pre-authorized codes over keep-alive HTTP."""

    def __init__(self, port, issuer, token_path, nonce_path, credential_path):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.issuer = issuer
        self.paths = (token_path, nonce_path, credential_path)
        self.key = ec.generate_private_key(ec.SECP256R1())
        n = self.key.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256",
                    "x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}

    def request(self, method, path, body, headers):
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()

    def proof(self, nonce):
        header = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": self.jwk}
        payload = {"aud": self.issuer, "iat": int(time.time()), "nonce": nonce}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(payload).encode())).encode()
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return signing_input.decode() + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def claim(self, code, configuration):
        token_path, nonce_path, credential_path = self.paths
        form = urllib.parse.urlencode({
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": code})
        s, b = self.request("POST", token_path, form,
                            {"Content-Type": "application/x-www-form-urlencoded"})
        if s != 200:
            return f"token {s}: {b[:200]!r}"
        access = json.loads(b)["access_token"]
        s, b = self.request("POST", nonce_path, "", {})
        if s != 200:
            return f"nonce {s}: {b[:200]!r}"
        nonce = json.loads(b)["c_nonce"]
        body = json.dumps({"credential_configuration_id": configuration,
                           "proofs": {"jwt": [self.proof(nonce)]}})
        s, b = self.request("POST", credential_path, body,
                            {"Content-Type": "application/json",
                             "Authorization": f"Bearer {access}"})
        if s != 200:
            return f"credential {s}: {b[:200]!r}"
        return None


def offers(base, achievement, n):
    """n offers made now (not measured), as pre-authorized codes."""
    codes = []
    while len(codes) < n:
        rows = [{"achievement_id": achievement, "tx_code": False,
                 "recipient": {"email": f"earner{len(codes) + i}@example.org"}}
                for i in range(min(1000, n - len(codes)))]
        for r in call(base, "POST", "/api/v1/awards/batch?delivery=offer", {"awards": rows})["results"]:
            uri = r["offer_uri"]
            offer_uri = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["credential_offer_uri"][0]
            path = urllib.parse.urlparse(offer_uri).path
            offer = call(base, "GET", path, admin=False)
            grant = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
            codes.append((grant["pre-authorized_code"], offer["credential_configuration_ids"][0]))
    return codes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/release/accolade")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--flows", type=int, default=3000, help="claim flows to run")
    ap.add_argument("--wallets", type=int, default=8, help="concurrent wallet threads")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH (Debian: apt-get install wrk)")
    binary = os.path.abspath(args.binary)
    pipeline, sign, verify, bound, inproc_flows, inproc_ratio = bench_figures(binary)

    work = tempfile.mkdtemp(prefix="http-speed-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, ACCOLADE_ADMIN_TOKEN=TOKEN, ACCOLADE_LOG="warn")
    proc = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}",
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
        call(base, "PUT", "/api/v1/issuer", {"name": "Example University"})
        ach = call(base, "POST", "/api/v1/achievements", {
            "name": "Cloud Architect — Proficiency",
            "description": "Designs resilient cloud architectures.",
            "criteria": {"narrative": "Passed the proctored exam."},
            "achievementType": "Certification"})
        badge = call(base, "POST", "/api/v1/awards", {
            "achievement_id": ach["id"], "delivery": "direct",
            "recipient": {"name": "Ada Lovelace", "email": "ada@example.org", "id": HOLDER}})
        body = {"credential": badge["credential"]}

        wrk_verify(base, body, 2, args.connections, args.threads)  # warm-up
        before = cpu_seconds(proc.pid)
        verified, others, p50, p99 = wrk_verify(base, body, args.seconds, args.connections, args.threads)
        verify_cpu = cpu_seconds(proc.pid) - before

        meta = call(base, "GET", "/.well-known/openid-credential-issuer", admin=False)
        auth = call(base, "GET", "/.well-known/oauth-authorization-server", admin=False)
        path = lambda u: urllib.parse.urlparse(u).path
        make = lambda: Wallet(port, meta["credential_issuer"], path(auth["token_endpoint"]),
                              path(meta["nonce_endpoint"]), path(meta["credential_endpoint"]))
        warm = offers(base, ach["id"], 50)
        w = make()
        for code, conf in warm:
            err = w.claim(code, conf)
            if err:
                sys.exit(f"a claim flow failed: {err}")
        codes = offers(base, ach["id"], args.flows)
        failures = []
        lock = threading.Lock()

        def run(share):
            wallet = make()
            for code, conf in share:
                err = wallet.claim(code, conf)
                if err:
                    with lock:
                        failures.append(err)

        shares = [codes[i::args.wallets] for i in range(args.wallets)]
        threads = [threading.Thread(target=run, args=(s,)) for s in shares]
        before = cpu_seconds(proc.pid)
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        claim_cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    if verified == 0:
        sys.exit(f"nothing verified ({others} other answers)")
    flows = len(codes) - len(failures)
    per_cpu_verify = verified / verify_cpu
    per_cpu_flows = flows / claim_cpu
    print("In process, this run (accolade bench):")
    print(f"  verify pipeline, own ES256 badge, one thread   {pipeline:>8.0f} /s   ({1e6 / pipeline:.0f} µs each)")
    print(f"  raw ES256 sign {sign:.0f} /s, verify {verify:.0f} /s; 1/(1/sign + 1/verify) = {bound:.0f} /s")
    print(f"  claim flows through the router                  {inproc_flows:>8.0f} /s   ratio {inproc_ratio:.2f}")
    print(f"POST /api/v1/verify over HTTP (wrk, {args.connections} connections, {args.seconds} s):")
    print(f"  verifications      {verified / args.seconds:>10.0f} /s   ({verified} verified, {others} other answers)")
    print(f"  latency            p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"  server CPU         {verify_cpu * 1e6 / verified:>10.0f} µs per verification   (goal <= 120)")
    print(f"  per CPU-second     {per_cpu_verify:>10.0f}   ratio {per_cpu_verify / pipeline:.2f} of the pipeline (goal >= 0.8)")
    print(f"OpenID4VCI claim flows over HTTP ({args.wallets} wallets, {len(codes)} flows, proofs signed by the client):")
    print(f"  flows              {flows / elapsed:>10.0f} /s   ({len(failures)} failed)")
    print(f"  server CPU         {claim_cpu * 1e6 / max(flows, 1):>10.0f} µs per flow")
    print(f"  per CPU-second     {per_cpu_flows:>10.0f}   ratio {per_cpu_flows / bound:.2f} of 1/(1/sign + 1/verify) (goal >= 0.4)")
    if failures:
        print(f"  first failure: {failures[0]}")
    sys.exit(0 if others == 0 and not failures else 1)


if __name__ == "__main__":
    main()
