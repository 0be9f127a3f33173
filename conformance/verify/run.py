#!/usr/bin/env python3
"""Verify-any-badge run: one accolade verifies badges another accolade issued.

  1. start three `accolade serve` instances on free 127.0.0.1 ports, each with its own
     data and keys in a temporary directory: A (the issuer), B (started with
     `--allow-http-did-web 127.0.0.1:<A's port>`, so it may resolve A's loopback
     did:web over plain HTTP) and C (no such flag: the outbound rules refuse A);
  2. at A: name the issuer, create an achievement, award it directly twice to a
     did:key with an e-mail address, and revoke the second badge;
  3. check, through B's `POST /api/v1/verify`: the good badge verifies (signature and
     status pass, `trusted` null since A is not B's own DID); the revoked one fails
     its status check with `revoked`; a recipient e-mail matches or does not;
  4. check that C answers 200 with an indeterminate signature (not a 5xx) for A's badge;
  5. bake the badges into PNG and SVG with conformance/bake/bake.py (an independent
     baker, Pillow for PNG) and check that B's API and `accolade verify` (with and
     without `--allow-http-did-web`) read them; a revoked baked badge fails; a
     truncated PNG is a 400 with a JSON error body.

Prints one line per case and exits non-zero if any case failed (2 when Pillow is
missing). Python 3 standard library only; bake.py needs Pillow (Debian: python3-pil).

    python3 conformance/verify/run.py --binary target/debug/accolade
"""

import argparse
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
BAKE = os.path.join(ROOT, "conformance", "bake", "bake.py")
EARNER = {"name": "Ada", "email": "ada@example.org",
          "id": "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    """The environment without ACCOLADE_* settings (but the log filter) plus `extra`:
    a stray ACCOLADE_ALLOW_HTTP_DID_WEB or ACCOLADE_PUBLIC_URL would change what the
    run proves."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ACCOLADE_") or k == "ACCOLADE_LOG"}
    env.update(extra)
    return env


class Service:
    """`accolade serve` in a temporary directory, with a known admin token."""

    def __init__(self, name, binary, workdir, extra_args=()):
        self.name, self.binary, self.workdir = name, binary, workdir
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        self.log_path = os.path.join(workdir, "serve.log")
        self.proc = None

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        env = clean_env(ACCOLADE_ADMIN_TOKEN=self.token)
        env.setdefault("ACCOLADE_LOG", "warn")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve",
                 "--listen", f"127.0.0.1:{self.port}",
                 "--data-dir", os.path.join(self.workdir, "data"),
                 "--keys-dir", os.path.join(self.workdir, "keys"),
                 "--rate-limit", "off", *self.extra_args],
                stdout=subprocess.PIPE, stderr=log, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("listening on"):
                return
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError(f"instance {self.name} did not start; see {self.log_path}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def call(self, method, path, body=None, admin=True, raw=None, content_type=None,
             timeout=30):
        """JSON `body`, or `raw` bytes sent with `content_type`. Returns (status, answer):
        the answer is parsed JSON when it parses, else text."""
        if raw is not None:
            data = raw
        else:
            data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if admin:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type or "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, answer = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, answer = e.code, e.read()
        try:
            return status, json.loads(answer) if answer else None
        except ValueError:
            return status, answer.decode("utf-8", "replace")

    def verify(self, body=None, raw=None, content_type=None):
        return self.call("POST", "/api/v1/verify", body, admin=False, raw=raw,
                         content_type=content_type, timeout=60)


def check(report, name):
    """The report's entry for check `name`, or None."""
    for c in report.get("checks") or []:
        if isinstance(c, dict) and c.get("check") == name:
            return c
    return None


def outcome(report, name):
    c = check(report, name)
    return None if c is None else c.get("outcome")


def summary(report):
    """verified/trusted and every check's outcome, for messages."""
    if not isinstance(report, dict):
        return repr(report)[:400]
    parts = [f"verified={report.get('verified')}", f"trusted={report.get('trusted')}"]
    for c in report.get("checks") or []:
        if isinstance(c, dict):
            msg = f" ({c['message']})" if c.get("message") else ""
            parts.append(f"{c.get('check')}={c.get('outcome')}{msg}")
    return " ".join(parts)


def expect_report(status, report, verified, want=None, message=None):
    """Problems with a /verify answer: HTTP 200, `verified`, and check outcomes `want`
    ({check: outcome}); `message` ({check: text}) must appear in that check's message."""
    if status != 200 or not isinstance(report, dict):
        return [f"HTTP {status}: {str(report)[:400]}"]
    problems = []
    if report.get("verified") is not verified:
        problems.append(f"verified is {report.get('verified')!r}, expected {verified}")
    for name, want_outcome in (want or {}).items():
        got = outcome(report, name)
        if got != want_outcome:
            problems.append(f"{name} is {got!r}, expected {want_outcome!r}")
    for name, text in (message or {}).items():
        got = (check(report, name) or {}).get("message") or ""
        if text not in got:
            problems.append(f"{name} message {got!r} lacks {text!r}")
    if problems:
        problems.append(f"[{summary(report)}]")
    return problems


def bake(workdir, jwt, png=None, svg=None):
    """Bakes `jwt` with bake.py into the given paths (run by this interpreter)."""
    cred = os.path.join(workdir, f"credential-{secrets.token_hex(4)}.jwt")
    with open(cred, "w", encoding="utf-8") as f:
        f.write(jwt)
    cmd = [sys.executable, BAKE, "--credential", cred]
    if png:
        cmd += ["--png", png]
    if svg:
        cmd += ["--svg", svg]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"bake.py exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace').strip()}")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def cli_verify(binary, workdir, path, allow=None):
    """`accolade verify <path> --json` with empty data and keys dirs.
    Returns (exit code, parsed report or None, stderr)."""
    data_dir = os.path.join(workdir, "cli", "data")
    keys_dir = os.path.join(workdir, "cli", "keys")
    os.makedirs(data_dir, exist_ok=True)
    os.makedirs(keys_dir, exist_ok=True)
    cmd = [binary, "verify", path]
    if allow:
        cmd += ["--allow-http-did-web", allow]
    cmd += ["--json", "--data-dir", data_dir, "--keys-dir", keys_dir]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=clean_env(), timeout=120)
    try:
        report = json.loads(proc.stdout.decode())
    except ValueError:
        report = None
    return proc.returncode, report, proc.stderr.decode(errors="replace").strip()


def setup_issuer(a):
    """Issuer, achievement and two direct awards at A, the second revoked.
    Returns (good JWT, revoked JWT)."""
    status, body = a.call("PUT", "/api/v1/issuer", {
        "name": "Verify Conformance Academy", "url": "https://academy.example.com"})
    if status != 200:
        raise RuntimeError(f"PUT /api/v1/issuer: HTTP {status}: {body}")
    status, ach = a.call("POST", "/api/v1/achievements", {
        "name": "Verify Anywhere",
        "description": "Verified by an instance that did not issue it.",
        "criteria": {"narrative": "Issued by instance A, verified by instance B."},
        "achievementType": "Certification", "tags": ["conformance"]})
    if status != 201 or not isinstance(ach, dict) or "id" not in ach:
        raise RuntimeError(f"POST /api/v1/achievements: HTTP {status}: {ach}")
    badges = []
    for _ in range(2):
        status, award = a.call("POST", "/api/v1/awards", {
            "achievement_id": ach["id"], "delivery": "direct", "recipient": EARNER})
        if (status != 201 or not isinstance(award, dict)
                or not isinstance(award.get("credential"), str) or not award.get("credential_id")):
            raise RuntimeError(f"POST /api/v1/awards (direct): HTTP {status}: {award}")
        badges.append(award)
    cid = urllib.parse.quote(badges[1]["credential_id"], safe="")
    status, state = a.call("POST", f"/api/v1/credentials/{cid}/revoke", {"reason": "test"})
    if status != 200 or not isinstance(state, dict) or state.get("revoked") is not True:
        raise RuntimeError(f"POST /api/v1/credentials/{cid}/revoke: HTTP {status}: {state}")
    return badges[0]["credential"], badges[1]["credential"]


def run_cases(binary, workdir, a, b, c):
    """Yields (name, ok, message) per case."""
    good, revoked = setup_issuer(a)
    allow = f"127.0.0.1:{a.port}"
    did = f"did:web:127.0.0.1%3A{a.port}"
    png = os.path.join(workdir, "badge.png")
    svg = os.path.join(workdir, "badge.svg")
    revoked_png = os.path.join(workdir, "revoked.png")
    baked = {}

    def case(name, fn):
        try:
            problems, detail = fn()
        except Exception as e:  # one case's crash is that case's failure
            problems, detail = [f"{type(e).__name__}: {e}"], ""
        return name, not problems, "; ".join(problems) if problems else detail

    def b_verifies():
        status, r = b.verify({"credential": good})
        problems = expect_report(status, r, True, {"signature": "pass", "status": "pass"})
        if not problems and r.get("trusted", "absent") is not None:
            problems = [f"trusted is {r.get('trusted')!r}, expected null [{summary(r)}]"]
        if not problems and r.get("issuer") not in (None, did):
            problems = [f"issuer is {r.get('issuer')!r}, expected {did}"]
        return problems, f"issuer={did} [{summary(r)}]"
    yield case("B verifies A's badge", b_verifies)

    def b_revocation():
        status, r = b.verify({"credential": revoked})
        return (expect_report(status, r, False, {"signature": "pass", "status": "fail"},
                              {"status": "revoked"}), summary(r))
    yield case("B sees A's revocation", b_revocation)

    def trust_registry():
        import urllib.parse
        path = "/api/v1/trust/issuers"
        entry = {"id": did, "name": "Issuer A (as the registry names it)",
                 "website": "https://a.example", "logo": "https://a.example/logo.png"}
        st, e = b.call("POST", path, entry)
        if st != 201:
            return [f"registering A: HTTP {st}: {e}"], ""
        status, r = b.verify({"credential": good})
        problems = expect_report(status, r, True, {"issuer_trust": "pass"})
        reg = r.get("issuer_registry") or {} if isinstance(r, dict) else {}
        if r.get("trusted") is not True or reg.get("name") != entry["name"]:
            problems.append(f"trusted={r.get('trusted')} issuer_registry={reg}")
        blocked = dict(entry, status="blocked")
        st, e = b.call("PUT", f"{path}/{urllib.parse.quote(did, safe='')}", blocked)
        if st not in (200, 201):
            return problems + [f"blocking A: HTTP {st}: {e}"], ""
        status, r2 = b.verify({"credential": good})
        problems += expect_report(status, r2, True, {"issuer_trust": "fail"})
        if r2.get("trusted") is not False:
            problems.append(f"blocked: trusted={r2.get('trusted')}")
        st, _ = b.call("DELETE", f"{path}/{urllib.parse.quote(did, safe='')}")
        status, r3 = b.verify({"credential": good})
        if st != 204 or r3.get("trusted", "absent") is not None:
            problems.append(f"removed ({st}): trusted={r3.get('trusted')}")
        return problems, (f"listed: trusted={r.get('trusted')} name={reg.get('name')!r}; "
                          f"blocked: verified={r2.get('verified')} trusted={r2.get('trusted')}; "
                          f"removed: trusted={r3.get('trusted')}")
    yield case("B's trust registry decides A's trust", trust_registry)

    def c_refuses():
        status, r = c.verify({"credential": good})
        if status >= 500:
            return [f"HTTP {status} (a 5xx): {str(r)[:400]}"], ""
        return (expect_report(status, r, False, {"signature": "indeterminate"}),
                f"{summary(r)}")
    yield case("C refuses A's loopback did:web", c_refuses)

    def recipient():
        status, r = b.verify({"credential": good, "recipient": {"email": EARNER["email"]}})
        problems = expect_report(status, r, True, {"recipient": "pass"})
        other = "grace@example.org"
        status2, r2 = b.verify({"credential": good, "recipient": {"email": other}})
        problems += [f"{other}: {p}" for p in expect_report(status2, r2, False,
                                                             {"recipient": "fail"})]
        msg = (check(r2, "recipient") or {}).get("message") if isinstance(r2, dict) else None
        return problems, f"{EARNER['email']}=pass {other}=fail ({msg})"
    yield case("recipient", recipient)

    def bake_good():
        if not baked:
            bake(workdir, good, png=png, svg=svg)
            baked["png"], baked["svg"] = read_bytes(png), read_bytes(svg)

    def via_api(kind, ctype):
        def run():
            bake_good()
            status, r = b.verify(raw=baked[kind], content_type=ctype)
            return (expect_report(status, r, True, {"signature": "pass", "status": "pass"}),
                    f"{len(baked[kind])} bytes as {ctype}: {summary(r)}")
        return run
    yield case("baked PNG via API", via_api("png", "image/png"))
    yield case("baked SVG via API", via_api("svg", "image/svg+xml"))

    def via_cli(path):
        def run():
            bake_good()
            problems = []
            code, r, err = cli_verify(binary, workdir, path, allow)
            if code != 0:
                problems.append(f"with --allow-http-did-web: exit {code}, expected 0 "
                                f"[{summary(r)}] {err[:300]}")
            elif not isinstance(r, dict) or r.get("verified") is not True:
                problems.append(f"with --allow-http-did-web: {summary(r)}")
            code2, r2, err2 = cli_verify(binary, workdir, path)
            if code2 != 1:
                problems.append(f"without the flag: exit {code2}, expected 1 "
                                f"[{summary(r2)}] {err2[:300]}")
            elif not isinstance(r2, dict) or outcome(r2, "signature") != "indeterminate":
                problems.append(f"without the flag: signature is "
                                f"{outcome(r2, 'signature') if isinstance(r2, dict) else None!r}, "
                                f"expected 'indeterminate' [{summary(r2)}]")
            return problems, (f"exit 0 with the flag [{summary(r)}]; exit 1 without "
                              f"(signature={outcome(r2, 'signature') if isinstance(r2, dict) else None})")
        return run
    yield case("baked PNG via CLI", via_cli(png))
    yield case("baked SVG via CLI", via_cli(svg))

    def revoked_image():
        bake(workdir, revoked, png=revoked_png)
        status, r = b.verify(raw=read_bytes(revoked_png), content_type="image/png")
        return (expect_report(status, r, False, {"status": "fail"}, {"status": "revoked"}),
                summary(r))
    yield case("a baked image of the revoked badge", revoked_image)

    def broken_png():
        bake_good()
        status, r = b.verify(raw=baked["png"][:100], content_type="image/png")
        if status != 400:
            return [f"HTTP {status}, expected 400: {str(r)[:400]}"], ""
        if not isinstance(r, dict) or not r.get("error"):
            return [f"400 without a JSON error body: {str(r)[:400]}"], ""
        return [], f"400 {r.get('error')}: {r.get('message')}"
    yield case("a broken PNG is a 400", broken_png)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "accolade"))
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    try:
        import PIL  # noqa: F401  (bake.py, run by this interpreter, needs it for PNG)
    except ImportError:
        print(f"{sys.executable} has no Pillow, which conformance/bake/bake.py needs to "
              "bake PNGs: install the Debian package python3-pil (apt-get install "
              "python3-pil) or `pip install pillow`, or run this script with a Python "
              "that has it", file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(os.path.join(ROOT, args.binary)) \
        if not os.path.isabs(args.binary) else args.binary
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {binary}; build it first (cargo build)")

    workdir = tempfile.mkdtemp(prefix="accolade-verify-")
    a = Service("A", binary, os.path.join(workdir, "a"))
    b = Service("B", binary, os.path.join(workdir, "b"),
                ["--allow-http-did-web", f"127.0.0.1:{a.port}"])
    c = Service("C", binary, os.path.join(workdir, "c"))
    services = (a, b, c)
    failures = 0
    started = time.time()
    try:
        for svc in services:
            svc.start()
        for name, ok, msg in run_cases(binary, workdir, a, b, c):
            failures += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name} {msg}", flush=True)
    except Exception as e:
        failures += 1
        print(f"FAIL setup {type(e).__name__}: {e}", flush=True)
    finally:
        for svc in services:
            svc.stop()
        if failures:
            for svc in services:
                tail = svc.log_tail()
                if tail:
                    print(f"--- last lines of {svc.log_path} ({svc.name}) ---\n{tail}",
                          file=sys.stderr)
    if failures or args.keep:
        print(f"working directory kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.time() - started
    if failures:
        print(f"verify conformance: {failures} failure(s) ({elapsed:.1f} s)")
        sys.exit(1)
    print(f"verify conformance: all cases passed ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
