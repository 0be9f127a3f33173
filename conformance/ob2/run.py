#!/usr/bin/env python3
"""Open Badges 2.0 interop run: accolade verifies badges from an independent OB 2.0
issuer.

  1. build an issuer's documents with ob2.py (Python and `cryptography` only; a fresh
     RSA-2048 key) for base URL http://127.0.0.1:<port>, and serve them with Python's
     http.server on that free loopback port: the Profile, its CryptographicKey (and a
     second key that claims the issuer but is not listed in the Profile), BadgeClasses,
     the RevocationList, hosted assertions (one revoked with `revoked: true`, one
     revoked with `410 Gone`, one expired);
  2. start `accolade serve` (the debug binary) in a temporary directory with
     `--allow-http-did-web 127.0.0.1:<port>`, so its outbound client may read that
     loopback issuer over plain HTTP;
  3. POST /api/v1/verify: hosted assertion URLs and a hosted assertion's JSON (which
     the service must fetch again from its id), compact JWS strings, baked PNG and SVG
     bodies (`image/png`, `image/svg+xml`), with and without
     `"recipient": {"email": ...}`. Good badges must be `verified: true` with
     `standard` `ob2-hosted` or `ob2-signed`; revoked (hosted, 410, listed in the
     RevocationList), expired, tampered, signed by an unlisted key, a wrong recipient
     and a signed assertion whose embedded BadgeClass no longer matches the one
     served at its id must be `verified: false`, with the check named in the case
     failing.

Every case's expectation is first confirmed by the reference reader in ob2.py over
the same HTTP server, so a case that fails here is the service's disagreement, not
the issuer's. `--selftest` does only that (no service needed): builds, serves, reads
every document back over HTTP, and runs the reference reader on each case.

Prints one line per case; exits 1 if any failed, 2 without `cryptography`.

    /usr/bin/python3 conformance/ob2/run.py target/debug/accolade
    /usr/bin/python3 conformance/ob2/run.py --binary target/debug/accolade
    /usr/bin/python3 conformance/ob2/run.py --selftest
"""

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

try:
    import ob2  # noqa: E402
except ImportError as e:  # pragma: no cover
    print(f"needs cryptography (Debian: python3-cryptography): {e}", file=sys.stderr)
    sys.exit(2)

OTHER_EMAIL = "someone.else@example.org"


# --- the issuer's web server -------------------------------------------------------

class Issuer:
    """A ThreadingHTTPServer on a free 127.0.0.1 port serving `routes`
    (path -> (status, body bytes or a JSON document, content type or None)).
    JSON documents go out as `application/ld+json`, or `application/json` when the
    request accepts only that (OB 2.0 "Setting Content-Type")."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                issuer.requests.append(self.path)
                route = issuer.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, body, ctype = 404, b"not found\n", "text/plain"
                else:
                    status, body, ctype = route
                    if isinstance(body, dict):
                        accept = self.headers.get("Accept", "")
                        only_json = ("application/json" in accept
                                     and "application/ld+json" not in accept
                                     and "*/*" not in accept)
                        ctype = "application/json" if only_json else "application/ld+json"
                        body = ob2.pretty_json(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def serve(self, url, body, status=200, ctype=None):
        assert url.startswith(self.base + "/"), url
        self.routes[url[len(self.base):]] = (status, body, ctype)

    def fetch(self, url):
        """(status, JSON or None) of a GET, as a verifier would make it."""
        req = urllib.request.Request(url, headers={"Accept": "application/ld+json, application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        if "json" not in ctype:
            return status, None
        return status, json.loads(body)


def publish(issuer):
    """Builds the documents for `issuer.base`, serves them, and returns the cases:
    [(name, request, expectation)], request = {"json": body} or {"raw": bytes,
    "type": content type}; expectation = {"verified", "standard", "failure",
    "checks"}."""
    s = ob2.BadgeSet(issuer.base, ob2.new_key(), ob2.new_key(), secrets.token_hex(8))
    u, d = s.urls, s.docs
    for url, doc in s.served.items():
        issuer.serve(url, doc)
    issuer.serve(u.badge_image(), s.images["badge_image"], ctype="image/png")
    recipient = d["hosted"]["recipient"]

    # Beyond the vector set: the spelled-out verification types, a hosted assertion
    # revoked with 410 Gone and stripped to id and revoked (as the specification's
    # example), one judged from the JSON in hand, a BadgeClass edited after a signed
    # assertion embedded it (its own URL, so no cache can hide the edit), and a
    # Profile listing two keys.
    spelled_hosted = ob2.hosted(u, "hosted-4", recipient, verification_type="HostedBadge")
    issuer.serve(spelled_hosted["id"], spelled_hosted)
    gone_url = u.assertion("hosted-5")
    issuer.serve(gone_url, {"@context": ob2.CONTEXT, "id": gone_url, "revoked": True,
                            "revocationReason": "Awarded to the wrong person."}, status=410)
    in_hand = ob2.hosted(u, "hosted-6", recipient)
    issuer.serve(in_hand["id"], in_hand)
    stale = ob2.badge_class(u, "rust-stale")
    issuer.serve(stale["id"], ob2.edited_badge_class(u, "rust-stale"))
    issuer.serve(u.badge_image("rust-stale"), s.images["badge_image"], ctype="image/png")
    spelled_signed = ob2.sign_jws(ob2.signed(u, "signed-spelled", recipient,
                                             verification_type="SignedBadge"), s.key)
    stale_signed = ob2.sign_jws(ob2.signed(u, "signed-stale", recipient,
                                           badge=ob2.embedded(stale)), s.key)
    # A Profile may list several keys: here a second one, which signs one assertion.
    second = ob2.new_key()
    issuer.serve(u.other_key("second"),
                 ob2.cryptographic_key(u.other_key("second"), u.issuer, second))
    issuer.serve(u.issuer, dict(d["issuer"], publicKey=[u.key, u.other_key("second")]))
    second_signed = ob2.sign_jws(ob2.signed(u, "signed-second-key", recipient,
                                            creator=u.other_key("second")), second)
    revoked_png = ob2.bake_png(s.images["badge_image"], s.jws["signed_revoked"])

    def want(verified, standard, failure=None, **checks):
        return {"verified": verified, "standard": standard, "failure": failure,
                "checks": checks}

    def cred(value, email=None):
        body = {"credential": value}
        if email:
            body["recipient"] = {"email": email}
        return {"json": body}

    H, S = "ob2-hosted", "ob2-signed"
    url = u.assertion
    return s, [
        ("hosted, by URL", cred(url("hosted-1")), want(True, H)),
        ("hosted, recipient matches", cred(url("hosted-1"), s.email),
         want(True, H, recipient="pass")),
        ("hosted, another recipient", cred(url("hosted-1"), OTHER_EMAIL),
         want(False, H, "recipient", recipient="fail")),
        ("hosted, verification type HostedBadge", cred(url("hosted-4")), want(True, H)),
        ("hosted, the assertion JSON in hand (fetched again from its id)", cred(in_hand),
         want(True, H)),
        ("hosted, revoked: true", cred(url("hosted-2")), want(False, H, "status", status="fail")),
        ("hosted, revoked with 410 Gone", cred(gone_url), want(False, H, "status", status="fail")),
        ("hosted, expired", cred(url("hosted-3")), want(False, H, "expiry", expiry="fail")),
        ("signed", cred(s.jws["signed"]), want(True, S, signature="pass", status="pass")),
        ("signed, recipient matches", cred(s.jws["signed"], s.email),
         want(True, S, recipient="pass")),
        ("signed, another recipient", cred(s.jws["signed"], OTHER_EMAIL),
         want(False, S, "recipient", recipient="fail")),
        ("signed, verification type SignedBadge", cred(spelled_signed),
         want(True, S, signature="pass")),
        ("signed by the second key the Profile lists", cred(second_signed),
         want(True, S, signature="pass")),
        ("signed, BadgeClass embedded", cred(s.jws["signed_embedded"]),
         want(True, S, signature="pass")),
        ("signed, embedded BadgeClass edited since issue", cred(stale_signed),
         want(False, S, "badge_class", signature="pass")),
        ("signed, in the RevocationList", cred(s.jws["signed_revoked"]),
         want(False, S, "status", signature="pass", status="fail")),
        ("signed, tampered", cred(s.jws["signed_tampered"]),
         want(False, S, "signature", signature="fail")),
        ("signed, key not listed in the Profile", cred(s.jws["signed_unlisted_key"]),
         want(False, S, "signature", signature="fail")),
        ("baked PNG, hosted", {"raw": s.images["baked_hosted_png"], "type": "image/png"},
         want(True, H)),
        ("baked PNG, signed", {"raw": s.images["baked_signed_png"], "type": "image/png"},
         want(True, S, signature="pass")),
        ("baked SVG, hosted", {"raw": s.images["baked_hosted_svg"], "type": "image/svg+xml"},
         want(True, H)),
        ("baked SVG, signed", {"raw": s.images["baked_signed_svg"], "type": "image/svg+xml"},
         want(True, S, signature="pass")),
        ("baked PNG, signed and revoked", {"raw": revoked_png, "type": "image/png"},
         want(False, S, "status", status="fail")),
    ]


def reference(issuer, request):
    """The reference reader's conclusion for a request, over HTTP."""
    if "raw" in request:
        return ob2.reference_verify(request["raw"], issuer.fetch)
    body = request["json"]
    return ob2.reference_verify(body["credential"], issuer.fetch,
                                (body.get("recipient") or {}).get("email"))


def reference_problems(got, expectation):
    want_failures = [expectation["failure"]] if expectation["failure"] else []
    if (got.verified, got.standard, got.failures) == \
            (expectation["verified"], expectation["standard"], want_failures):
        return []
    return [f"the reference reader concludes {got!r}, the case expects "
            f"verified={expectation['verified']} standard={expectation['standard']} "
            f"failure={expectation['failure']}"]


# --- checks on the service's answers -----------------------------------------------

def outcome(report, name):
    for c in report.get("checks") or []:
        if isinstance(c, dict) and c.get("check") == name:
            return c.get("outcome")
    return None


def summary(report):
    if not isinstance(report, dict):
        return repr(report)[:400]
    parts = [f"verified={report.get('verified')}", f"standard={report.get('standard')}"]
    for c in report.get("checks") or []:
        if isinstance(c, dict):
            msg = f" ({c['message']})" if c.get("message") else ""
            parts.append(f"{c.get('check')}={c.get('outcome')}{msg}")
    return " ".join(parts)


def service_problems(status, report, expectation):
    if status != 200 or not isinstance(report, dict):
        return [f"HTTP {status}: {str(report)[:400]}"]
    problems = []
    if report.get("verified") is not expectation["verified"]:
        problems.append(f"verified is {report.get('verified')!r}, expected {expectation['verified']}")
    if report.get("standard") != expectation["standard"]:
        problems.append(f"standard is {report.get('standard')!r}, expected {expectation['standard']!r}")
    for name, want in expectation["checks"].items():
        got = outcome(report, name)
        if got != want:
            problems.append(f"{name} is {got!r}, expected {want!r}")
    if not expectation["verified"]:
        failed = [c.get("check") for c in report.get("checks") or []
                  if isinstance(c, dict) and c.get("outcome") == "fail"
                  and c.get("check") != "issuer_trust"]
        if not failed:
            problems.append(f"no check fails (expected a {expectation['failure']} failure)")
    if problems:
        problems.append(f"[{summary(report)}]")
    return problems


def load_verify_run():
    """conformance/verify/run.py's Service (under another module name: this file is
    run.py too)."""
    path = os.path.join(ROOT, "conformance", "verify", "run.py")
    spec = importlib.util.spec_from_file_location("verify_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the runs ----------------------------------------------------------------------

def selftest(issuer, badge_set, cases):
    """Yields (name, ok, message): the served documents read back, then every case
    through the reference reader."""
    u = badge_set.urls

    def served():
        problems = []
        for url, doc in badge_set.served.items():
            status, got = issuer.fetch(url)
            if url == u.issuer:
                doc = None  # the run serves a Profile with a second key
            if status != 200 or not isinstance(got, dict) or (doc is not None and got != doc):
                problems.append(f"{url}: HTTP {status}")
        status, got = issuer.fetch(u.assertion("hosted-5"))
        if status != 410 or not isinstance(got, dict) or got.get("revoked") is not True:
            problems.append(f"hosted-5: HTTP {status} {got}")
        req = urllib.request.Request(u.badge(), headers={"Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.headers.get("Content-Type") != "application/json":
                problems.append(f"Accept: application/json got {r.headers.get('Content-Type')}")
        with urllib.request.urlopen(u.badge(), timeout=10) as r:
            if r.headers.get("Content-Type") != "application/ld+json":
                problems.append(f"no Accept got {r.headers.get('Content-Type')}")
        return problems, (f"{len(badge_set.served)} documents, a 410 Gone and both "
                          "content types over HTTP")
    yield run_case("documents served", served)

    def signatures():
        problems = []
        key = ob2.load_pem(badge_set.docs["key"]["publicKeyPem"])
        for name in ("signed", "signed_embedded", "signed_revoked"):
            payload = ob2.verify_jws(badge_set.jws[name], key)
            if payload["verification"]["creator"] != u.key:
                problems.append(f"{name}: creator {payload['verification']['creator']}")
        try:
            ob2.verify_jws(badge_set.jws["signed_tampered"], key)
            problems.append("the tampered JWS verifies")
        except ob2.InvalidSignature:
            pass
        other = ob2.load_pem(badge_set.docs["unlisted_key"]["publicKeyPem"])
        ob2.verify_jws(badge_set.jws["signed_unlisted_key"], other)
        for name in ("baked_hosted_png", "baked_signed_png"):
            png = badge_set.images[name]
            if not ob2.png_pixels_ok(png) or [k for k, _ in ob2.png_chunks(png)][:2] != [b"IHDR", b"iTXt"]:
                problems.append(f"{name}: not IHDR, iTXt, ... or the pixels do not decode")
        if ob2.read_png(badge_set.images["baked_signed_png"]) != badge_set.jws["signed"]:
            problems.append("the signed PNG does not carry the JWS")
        verify, body = ob2.read_svg(badge_set.images["baked_hosted_svg"])
        if verify != u.assertion("hosted-1") or json.loads(body) != badge_set.docs["hosted"]:
            problems.append("the hosted SVG does not carry the URL and the JSON")
        if ob2.read_svg(badge_set.images["baked_signed_svg"]) != (badge_set.jws["signed"], None):
            problems.append("the signed SVG does not carry the JWS alone")
        if ob2.identity_hash("mayze") != \
                "sha256$7a1a1b3f7d40552e4299180e346e3add12bf9a751a43d9c4ca4518febc2c60c6":
            problems.append("identity_hash disagrees with the specification's example")
        return problems, "RS256 by the listed key, tampered copy refused, PNG and SVG round-trip"
    yield run_case("signatures and images", signatures)

    for name, request, expectation in cases:
        def ref(request=request, expectation=expectation):
            got = reference(issuer, request)
            return reference_problems(got, expectation), repr(got)
        yield run_case(f"reference: {name}", ref)


def live(issuer, cases, svc):
    """Yields (name, ok, message) per case, through the service."""
    for name, request, expectation in cases:
        def one(request=request, expectation=expectation):
            problems = reference_problems(reference(issuer, request), expectation)
            if problems:
                return ["(the case itself is wrong) " + p for p in problems], ""
            before = len(issuer.requests)
            if "raw" in request:
                status, report = svc.verify(raw=request["raw"], content_type=request["type"])
            else:
                status, report = svc.verify(request["json"])
            problems = service_problems(status, report, expectation)
            credential = request.get("json", {}).get("credential")
            if isinstance(credential, dict) and not problems:
                path = credential["id"][len(issuer.base):]
                if path not in issuer.requests[before:]:
                    problems.append(f"the service never fetched {path}")
            return problems, summary(report)
        yield run_case(name, one)


def run_case(name, fn):
    try:
        problems, detail = fn()
    except Exception as e:  # one case's crash is that case's failure
        problems, detail = [f"{type(e).__name__}: {e}"], ""
    return name, not problems, "; ".join(problems) if problems else detail


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary_path", nargs="?", help="the accolade binary (or --binary)")
    ap.add_argument("--binary", help="the accolade binary (default target/debug/accolade)")
    ap.add_argument("--selftest", action="store_true",
                    help="only build, serve and check the documents; no service")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    issuer = Issuer()
    badge_set, cases = publish(issuer)
    issuer.start()
    failures = 0
    started = time.time()
    workdir, svc = None, None
    try:
        if args.selftest:
            results = selftest(issuer, badge_set, cases)
        else:
            binary = args.binary or args.binary_path or os.path.join("target", "debug", "accolade")
            binary = binary if os.path.isabs(binary) else os.path.abspath(binary)
            if not os.access(binary, os.X_OK):
                sys.exit(f"no executable at {binary}; build it first (cargo build)")
            workdir = tempfile.mkdtemp(prefix="accolade-ob2-")
            svc = load_verify_run().Service(
                "verifier", binary, os.path.join(workdir, "verifier"),
                ["--allow-http-did-web", f"127.0.0.1:{issuer.port}"])
            svc.start()
            print(f"issuer at {issuer.base}; accolade at {svc.base}", flush=True)
            results = live(issuer, cases, svc)
        for name, ok, msg in results:
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name} {msg}", flush=True)
    except Exception as e:
        failures += 1
        print(f"FAIL setup {type(e).__name__}: {e}", flush=True)
    finally:
        if svc is not None:
            svc.stop()
            if failures:
                tail = svc.log_tail()
                if tail:
                    print(f"--- last lines of {svc.log_path} ---\n{tail}", file=sys.stderr)
        issuer.stop()
    if workdir:
        if failures or args.keep:
            print(f"working directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    what = "OB 2.0 selftest" if args.selftest else "OB 2.0 interop"
    elapsed = time.time() - started
    if failures:
        print(f"{what}: {failures} failure(s) ({elapsed:.1f} s)")
        sys.exit(1)
    print(f"{what}: all cases passed ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
