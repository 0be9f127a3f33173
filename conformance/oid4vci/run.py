#!/usr/bin/env python3
"""OpenID4VCI conformance run: an independent wallet library against a real accolade.

  1. start `accolade serve` on a free 127.0.0.1 port, data and keys in a temporary
     directory;
  2. `npm ci` in conformance/oid4vci when its node_modules is missing;
  3. create an achievement through the admin API;
  4. for each dialect (OpenID4VCI 1.0 and draft 13) and each holder key algorithm:
     award the achievement to an e-mail address with a tx_code, hand the offer and the
     code to wallet.mjs (the @openid4vc/openid4vci library acting as the wallet), and
     check the badge it received: a compact JWT whose `sub` and
     `credentialSubject.id` are the wallet's did:key, which `POST /api/v1/verify`
     reports as verified, and the award is now `issued`;
  5. for each dialect, an award offered as `OpenBadgeCredential_ldp_vc`: the wallet
     receives a JSON credential with an `eddsa-rdfc-2022` proof, whose id is the
     award's credential id and whose subject is the wallet's did:key, and which the
     verify API reports as verified.

Prints one line per case and exits non-zero if any case failed. Python 3 standard
library only; needs Node 20+ and npm for the wallet.

    python3 conformance/oid4vci/run.py --binary target/debug/accolade
"""

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DIALECTS = ("1.0", "draft13")
KEY_ALGS = ("ES256", "EdDSA")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`accolade serve` in a temporary directory, with a known admin token."""

    def __init__(self, binary, workdir):
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        self.log_path = os.path.join(workdir, "serve.log")
        self.proc = None

    def start(self):
        env = dict(os.environ, ACCOLADE_ADMIN_TOKEN=self.token)
        env.setdefault("ACCOLADE_LOG", "warn")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve",
                 "--listen", f"127.0.0.1:{self.port}",
                 "--public-url", self.base,
                 "--data-dir", os.path.join(self.workdir, "data"),
                 "--keys-dir", os.path.join(self.workdir, "keys"),
                 "--rate-limit", "off"],
                stdout=subprocess.PIPE, stderr=log, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("listening on"):
                return
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError(f"the service did not start; see {self.log_path}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

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


def ensure_node_modules():
    if os.path.isdir(os.path.join(HERE, "node_modules", "@openid4vc", "openid4vci")):
        return
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm is not on PATH; install Node 20+ to run the wallet")
    print("npm ci in conformance/oid4vci ...", flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True,
                   stdout=sys.stderr)


def jwt_part(jwt, index):
    part = jwt.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def subject_ids(payload):
    """credentialSubject.id, wherever the JWT carries the credential (top level or vc)."""
    cred = payload.get("vc", payload) if isinstance(payload.get("vc"), dict) else payload
    subjects = cred.get("credentialSubject")
    subjects = subjects if isinstance(subjects, list) else [subjects]
    return [s.get("id") for s in subjects if isinstance(s, dict)]


LDP_VC = "OpenBadgeCredential_ldp_vc"


def run_case(svc, achievement_id, dialect, key_alg, node, trace_dir, configuration=None):
    """One award redeemed by the wallet. Returns (ok, message)."""
    email = f"oid4vci-{dialect}-{key_alg}-{secrets.token_hex(3)}@example.org".lower()
    body = {
        "achievement_id": achievement_id,
        "recipient": {"name": "Conformance Wallet", "email": email},
        "tx_code": True,
    }
    if configuration:
        body["credential_configuration_id"] = configuration
    status, award = svc.call("POST", "/api/v1/awards", body)
    if status != 201 or not isinstance(award, dict):
        return False, f"award: HTTP {status}: {award}"
    missing = [k for k in ("offer_uri", "tx_code", "credential_id", "claim_url") if not award.get(k)]
    if missing:
        return False, f"award answer lacks {', '.join(missing)}: {award}"
    offer_uri, tx_code = award["offer_uri"], str(award["tx_code"])
    if not offer_uri.startswith("openid-credential-offer://?"):
        return False, f"offer_uri is not an openid-credential-offer:// URI: {offer_uri}"
    if not tx_code.isdigit():
        return False, f"tx_code is not numeric: {tx_code!r}"

    trace_path = os.path.join(trace_dir, f"wallet-{dialect}-{key_alg}-{configuration or 'jwt'}.log")
    cmd = [node, os.path.join(HERE, "wallet.mjs"), "--offer", offer_uri, "--tx-code", tx_code,
           "--dialect", dialect, "--key-alg", key_alg, "--allow-http", "--trace"]
    if configuration:
        cmd += ["--configuration-id", configuration]
    with open(trace_path, "wb") as trace:
        proc = subprocess.run(cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=trace, timeout=120)
    with open(trace_path, encoding="utf-8", errors="replace") as f:
        errors = [ln.rstrip() for ln in f if not ln.startswith('{"trace"')]
    if proc.returncode != 0:
        return False, f"wallet exited {proc.returncode}: {' '.join(errors) or '(no message)'} " \
                      f"[trace: {trace_path}]"
    try:
        out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return False, f"wallet printed no JSON line: {proc.stdout!r}"

    holder, jwt = out.get("holder_did"), out.get("credential")
    if configuration == LDP_VC:
        return check_ldp_vc(svc, award, out, dialect, holder)
    if out.get("dialect") != dialect or not holder or not isinstance(jwt, str):
        return False, f"wallet output incomplete: {out}"
    try:
        header, payload = jwt_part(jwt, 0), jwt_part(jwt, 1)
    except (ValueError, IndexError) as e:
        return False, f"the credential is not a compact JWT ({e})"
    problems = []
    if payload.get("sub") != holder:
        problems.append(f"sub {payload.get('sub')!r} != holder {holder}")
    ids = subject_ids(payload)
    if ids != [holder]:
        problems.append(f"credentialSubject.id {ids} != [{holder}]")
    status, report = svc.call("POST", "/api/v1/verify", {"credential": jwt}, admin=False)
    if status != 200 or not isinstance(report, dict):
        problems.append(f"verify: HTTP {status}: {report}")
    elif report.get("verified") is not True:
        failed = [c for c in report.get("checks", []) if c.get("outcome") != "pass"]
        problems.append(f"verify: verified={report.get('verified')} {failed}")
    cid = urllib.parse.quote(award["credential_id"], safe="")
    status, record = svc.call("GET", f"/api/v1/credentials/{cid}")
    if status != 200 or not isinstance(record, dict) or record.get("state") != "issued":
        problems.append(f"award state after redemption: HTTP {status}: {record}")
    if problems:
        return False, "; ".join(problems)
    return True, (f"{out.get('library')}@{out.get('version')} metadata={out.get('metadata_version')} "
                  f"badge_alg={header.get('alg')} holder={holder[:24]}... "
                  f"notification={out.get('notification') or '-'}")


def check_ldp_vc(svc, award, out, dialect, holder):
    """The checks on a Data Integrity badge the wallet received."""
    cred = out.get("credential")
    if out.get("dialect") != dialect or not holder or not isinstance(cred, dict):
        return False, f"wallet output incomplete (a JSON credential expected): {out}"
    problems = []
    proof = cred.get("proof") or {}
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != "eddsa-rdfc-2022":
        problems.append(f"proof is not DataIntegrityProof/eddsa-rdfc-2022: {proof}")
    if cred.get("id") != award["credential_id"]:
        problems.append(f"id {cred.get('id')!r} != the award's {award['credential_id']!r}")
    if subject_ids(cred) != [holder]:
        problems.append(f"credentialSubject.id {subject_ids(cred)} != [{holder}]")
    status, report = svc.call("POST", "/api/v1/verify", {"credential": cred}, admin=False)
    if status != 200 or not isinstance(report, dict):
        problems.append(f"verify: HTTP {status}: {report}")
    elif report.get("verified") is not True:
        failed = [c for c in report.get("checks", []) if c.get("outcome") != "pass"]
        problems.append(f"verify: verified={report.get('verified')} {failed}")
    if problems:
        return False, "; ".join(problems)
    return True, (f"{out.get('library')}@{out.get('version')} ldp_vc proof={proof.get('cryptosuite')} "
                  f"holder={holder[:24]}...")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "accolade"))
    ap.add_argument("--dialects", default=",".join(DIALECTS),
                    help="comma-separated subset of 1.0,draft13")
    ap.add_argument("--key-algs", default=",".join(KEY_ALGS),
                    help="holder key algorithms, comma-separated subset of ES256,EdDSA")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    dialects = [d for d in args.dialects.split(",") if d]
    algs = [a for a in args.key_algs.split(",") if a]
    if not dialects or any(d not in DIALECTS for d in dialects):
        ap.error(f"--dialects: choose from {', '.join(DIALECTS)}")
    if not algs or any(a not in KEY_ALGS for a in algs):
        ap.error(f"--key-algs: choose from {', '.join(KEY_ALGS)}")
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {binary}; build it first (cargo build)")
    node = shutil.which("node")
    if not node:
        sys.exit("node is not on PATH; the wallet needs Node 20+")
    ensure_node_modules()

    workdir = tempfile.mkdtemp(prefix="accolade-oid4vci-")
    svc = Service(binary, workdir)
    failures = 0
    try:
        svc.start()
        status, ach = svc.call("POST", "/api/v1/achievements", {
            "name": "OpenID4VCI Conformance",
            "description": "Issued to an independent OpenID4VCI wallet library.",
            "criteria": {"narrative": "Redeemed a pre-authorized-code offer with a tx_code."},
        })
        if status != 201 or not isinstance(ach, dict) or "id" not in ach:
            raise RuntimeError(f"creating the achievement: HTTP {status}: {ach}")
        for dialect in dialects:
            for alg in algs:
                try:
                    ok, msg = run_case(svc, ach["id"], dialect, alg, node, workdir)
                except Exception as e:  # one case's crash is that case's failure
                    ok, msg = False, f"{type(e).__name__}: {e}"
                failures += not ok
                print(f"{'PASS' if ok else 'FAIL'} openid4vci {dialect:<7} {alg:<5} {msg}",
                      flush=True)
            try:
                ok, msg = run_case(svc, ach["id"], dialect, "EdDSA", node, workdir, LDP_VC)
            except Exception as e:  # one case's crash is that case's failure
                ok, msg = False, f"{type(e).__name__}: {e}"
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'} openid4vci {dialect:<7} ldp_vc {msg}", flush=True)
    except Exception as e:
        failures += 1
        print(f"FAIL openid4vci setup: {e}", flush=True)
    finally:
        svc.stop()
        if failures:
            tail = svc.log_tail()
            if tail:
                print(f"--- last lines of {svc.log_path} ---\n{tail}", file=sys.stderr)
    if failures or args.keep:
        print(f"working directory kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print(f"openid4vci conformance: {failures} failure(s)")
        sys.exit(1)
    print("openid4vci conformance: all cases passed")


if __name__ == "__main__":
    main()
