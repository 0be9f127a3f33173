#!/usr/bin/env python3
"""OpenID4VP conformance run: independent wallet libraries against a real accolade.

  1. start `accolade serve` on a free 127.0.0.1 port, data and keys in a temporary
     directory;
  2. `npm ci` in conformance/oid4vci and conformance/oid4vp when node_modules is missing;
  3. for each case: award an achievement (with a tx_code), create a presentation request
     through `POST /api/v1/presentation-requests`, and run claim_and_present.mjs: the
     @openid4vc/openid4vci wallet claims the badge over OpenID4VCI, then the
     @openid4vc/openid4vp wallet (DCQL matching by the `dcql` package) resolves the
     request (fetching and checking the signed request object against the service's
     did:web document), presents the badge in a VP-JWT signed by the same key, and
     answers by direct_post;
  4. read the request back (`GET /api/v1/presentation-requests/{id}`) and check its
     state and result: `verified` with every check passing and the badge bound to the
     wallet's did:key; `rejected` with the failing check for an answer its holder
     signed over this request whose badge is someone else's; still `pending`, with the
     answer under `attempts`, for one not proven over this request's nonce (the
     response endpoint takes both with 200: it processed them); a replayed answer gets
     400 and changes nothing.

Prints one line per case and exits non-zero if any case failed. Python 3 standard
library only; needs Node 20+ and npm.

    python3 conformance/oid4vp/run.py --binary target/debug/accolade
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "conformance", "oid4vci"))

from run import Service  # noqa: E402  (the OpenID4VCI run's service harness)

BADGE_CHECKS = ("signature", "claims", "expiry", "status", "schema", "issuer_trust")


def ensure_node_modules():
    npm = shutil.which("npm")
    for sub, probe in (("oid4vci", "openid4vci"), ("oid4vp", "openid4vp")):
        d = os.path.join(ROOT, "conformance", sub)
        if os.path.isdir(os.path.join(d, "node_modules", "@openid4vc", probe)):
            continue
        if not npm:
            raise RuntimeError("npm is not on PATH; install Node 20+ to run the wallets")
        print(f"npm ci in conformance/{sub} ...", flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=d, check=True,
                       stdout=sys.stderr)


# (name, request body, claim dialect, holder key alg, wallet options, expected state,
#  the check that must fail when rejected)
CASES = [
    ("dcql signed 1.0-claim ES256", {"credential_types": ["OpenBadgeCredential"]},
     "1.0", "ES256", [], "verified", None),
    ("dcql signed draft13-claim EdDSA", {}, "draft13", "EdDSA", [], "verified", None),
    ("dcql constraints (issuer, achievement)", "constrained", "1.0", "ES256", [],
     "verified", None),
    ("replayed answer", {}, "1.0", "ES256", ["--replay", "2"], "verified", None),
    ("redirect_uri unsigned by value", {"client_id_prefix": "redirect_uri"},
     "1.0", "ES256", [], "verified", None),
    ("presentation_exchange (pre-1.0 wallets)", {"query_language": "presentation_exchange"},
     "1.0", "ES256", ["--legacy"], "verified", None),
    # Not proven over this request's nonce: it decides nothing (anyone who saw the QR
    # code could send such an answer); it is listed under `attempts`.
    ("wrong nonce", {}, "1.0", "ES256", ["--tamper", "wrong-nonce"], "pending", "nonce"),
    ("VP signed by another key", {}, "1.0", "ES256", ["--tamper", "wrong-key"], "rejected",
     "holder_binding"),
]


def outcome(report, name):
    for c in report.get("checks", []):
        if c.get("check") == name:
            return c.get("outcome")
    return None


def run_case(svc, did, ach, case, node, workdir):
    name, body, dialect, alg, opts, want, failing = case
    if body == "constrained":
        body = {"trusted_issuers": [did], "achievement_ids": [ach["id"]]}
    email = f"oid4vp-{secrets.token_hex(4)}@example.org"
    status, award = svc.call("POST", "/api/v1/awards", {
        "achievement_id": ach["id"],
        "recipient": {"name": "Conformance Holder", "email": email},
        "tx_code": True,
    })
    if status != 201:
        return False, f"award: HTTP {status}: {award}"
    status, req = svc.call("POST", "/api/v1/presentation-requests", body, admin=False)
    if status != 201 or not isinstance(req, dict):
        return False, f"presentation request: HTTP {status}: {req}"
    link = req.get("authorization_request", "")
    if not link.startswith("openid4vp://?"):
        return False, f"authorization_request is not an openid4vp:// link: {link}"

    trace = os.path.join(workdir, f"wallet-{secrets.token_hex(3)}.log")
    cmd = [node, os.path.join(HERE, "claim_and_present.mjs"),
           "--offer", award["offer_uri"], "--tx-code", str(award["tx_code"]),
           "--request", link, "--dialect", dialect, "--key-alg", alg,
           "--allow-http", "--trace", *opts]
    with open(trace, "wb") as t:
        proc = subprocess.run(cmd, cwd=HERE, stdout=subprocess.PIPE, stderr=t, timeout=180)
    lines = proc.stdout.decode().strip().splitlines()
    try:
        out = json.loads(lines[-1]) if lines else {}
    except ValueError:
        out = {}
    status, got = svc.call("GET", f"/api/v1/presentation-requests/{req['id']}", admin=False)
    if status != 200 or not isinstance(got, dict):
        return False, f"reading the request: HTTP {status}: {got}"
    state, result = got.get("state"), got.get("result") or {}
    holder = (out.get("oid4vci") or {}).get("holder_did") or out.get("holder_did")
    problems = []
    if state != want:
        problems.append(f"state {state} (wanted {want}; reason {got.get('reason')!r}; "
                        f"wallet exit {proc.returncode}) [trace: {trace}]")
    if want == "verified":
        if proc.returncode != 0:
            problems.append(f"wallet exited {proc.returncode} [trace: {trace}]")
        if result.get("verified") is not True:
            problems.append(f"result.verified={result.get('verified')}")
        for c in ("signature", "nonce", "audience", "holder_binding", "requested"):
            if outcome(result, c) != "pass":
                problems.append(f"{c}={outcome(result, c)}")
        badges = result.get("credentials") or []
        if len(badges) != 1:
            problems.append(f"{len(badges)} badge reports")
        else:
            b = badges[0]
            bad = [f"{c}={outcome(b, c)}" for c in BADGE_CHECKS if outcome(b, c) != "pass"]
            if bad or b.get("verified") is not True:
                problems.append(f"badge: verified={b.get('verified')} {' '.join(bad)}")
            cred = b.get("credential") or {}
            if not holder or cred.get("sub") != holder \
                    or (cred.get("credentialSubject") or {}).get("id") != holder:
                problems.append(f"badge subject {cred.get('sub')} is not the wallet {holder}")
        if "--replay" in opts:
            replays = out.get("replays")
            if not replays or any(s != 400 for s in replays):
                problems.append(f"replays answered {replays}, wanted 400 each")
    elif want == "pending":
        # Processed (200, OpenID4VP 1.0 §8.2), but not proven by the holder: no result,
        # one attempt naming the failing check.
        if out.get("status") != 200:
            problems.append(f"the response endpoint answered {out.get('status')}, wanted 200")
        if got.get("result") is not None:
            problems.append(f"a result was recorded: {got.get('result')}")
        attempts = got.get("attempts") or []
        if len(attempts) != 1 or failing not in (attempts[0].get("reason") or ""):
            problems.append(f"attempts {attempts}, wanted one naming {failing}")
    else:
        # Processed answers get 200 whatever the verdict (OpenID4VP 1.0 §8.2); the
        # verdict is in the request's state.
        if out.get("status") != 200:
            problems.append(f"the response endpoint answered {out.get('status')}, wanted 200")
        if result.get("verified") is not False:
            problems.append(f"result.verified={result.get('verified')}")
        if outcome(result, failing) != "fail":
            problems.append(f"{failing}={outcome(result, failing)}, wanted fail")
    if problems:
        return False, "; ".join(problems)
    detail = f"prefix={out.get('client_id_prefix')} request={out.get('request_object')} " \
             f"version={out.get('request_version')} aud={str(out.get('audience'))[:40]}..."
    if want == "verified":
        detail += f" holder={holder[:24]}... trusted={result.get('trusted')}"
        if "--replay" in opts:
            detail += f" replays={out.get('replays')}"
    elif want == "pending":
        detail += f" pending, attempt: {(got.get('attempts') or [{}])[0].get('reason', '')[:80]!r}"
    else:
        detail += f" {failing}=fail reason={got.get('reason')!r}"
    return True, detail


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "accolade"))
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {binary}; build it first (cargo build)")
    node = shutil.which("node")
    if not node:
        sys.exit("node is not on PATH; the wallets need Node 20+")
    ensure_node_modules()

    workdir = tempfile.mkdtemp(prefix="accolade-oid4vp-")
    svc = Service(binary, workdir)
    failures = 0
    started = time.time()
    try:
        svc.start()
        status, ach = svc.call("POST", "/api/v1/achievements", {
            "name": "OpenID4VP Conformance",
            "description": "Claimed and presented by independent wallet libraries.",
            "criteria": {"narrative": "Claimed over OpenID4VCI, presented over OpenID4VP."},
        })
        if status != 201:
            raise RuntimeError(f"creating the achievement: HTTP {status}: {ach}")
        status, doc = svc.call("GET", "/.well-known/did.json", admin=False)
        did = doc["id"]
        for case in CASES:
            try:
                ok, msg = run_case(svc, did, ach, case, node, workdir)
            except Exception as e:  # one case's crash is that case's failure
                ok, msg = False, f"{type(e).__name__}: {e}"
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'} openid4vp {case[0]:<40} {msg}", flush=True)
    except Exception as e:
        failures += 1
        print(f"FAIL openid4vp setup: {e}", flush=True)
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
        print(f"openid4vp conformance: {failures} failure(s)")
        sys.exit(1)
    print(f"openid4vp conformance: all cases passed ({time.time() - started:.1f} s)")


if __name__ == "__main__":
    main()
