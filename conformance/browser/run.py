#!/usr/bin/env python3
"""Browser run: accolade's HTML pages and staff console in headless Chromium.

  1. start an SMTP sink (aiosmtpd) that writes each message it gets as JSON to
     `<workdir>/mail/`, and `accolade serve --listen 127.0.0.1:0 --smtp-url ...` with
     data and keys in a temporary directory; read the URL from its `listening on`
     line and the admin token from `<data-dir>/admin-token`;
  2. `npm ci` in conformance/browser when its node_modules is missing;
  3. set up a catalogue through the admin API: the issuer profile (name, colours),
     five badge types, six achievements (Markdown criteria with a list, bold text, a
     link and a literal `<script>`; alignments; tags) placed in the catalogue, one
     with an uploaded PNG, one with an uploaded SVG carrying a script to be stripped,
     the others with the service's default design; direct awards to a did:key
     earner, one of them expiring a few seconds after issue;
  4. run pages.mjs (playwright-core driving Debian's Chromium, axe-core), which visits
     the catalogue, achievement, badge, revoked, hidden, expired and not-found pages
     at 390 px and 1280 px, checks their markup, headers, downloads, share links,
     accessibility and keyboard focus, and writes full-page screenshots to
     target/browser/; then people.mjs, the earner's and the employer's pages: the
     claim page (its QR code decoded by zbarimg), accepting without a wallet, the
     earner's page and profile, and /verify (uploads, pasted and addressed badges, and
     a wallet presentation answered by the npm wallets of conformance/oid4vp); then
     staff.mjs (invitations, sign-in, tokens) and console.mjs, the staff console: an
     owner and a viewer (made here with passwords) sign in, the owner uploads a logo,
     adds a badge type, creates an achievement with an image, awards it by CSV to
     three earners (the sink must get three messages whose claim links open), an
     earner claims with the npm OpenID4VCI wallet, the owner revokes that badge; the
     viewer sees no revoke form and a forged one gets 403; every console page is
     checked (axe-core) and screenshotted at both widths.

Every check prints one line, `ok   <what>` or `FAIL <what>: <why>`; a setup call that
fails is reported the same way (method, path, status, body) and the run goes on where
it can. Exits 1 if anything failed. Python 3 standard library plus aiosmtpd (Debian:
python3-aiosmtpd, which serves /usr/bin/python3); needs Node 20+, npm, /usr/bin/chromium
(Debian package `chromium`) and zbarimg (`zbar-tools`).

    /usr/bin/python3 conformance/browser/run.py --binary target/debug/accolade
"""

import argparse
import base64
import datetime
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHROMIUM = "/usr/bin/chromium"
EARNER_DID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

ISSUER = {
    "name": "Northwind Institute of Technology",
    "url": "https://northwind.example",
    "description": "A public institute of technology awarding verifiable badges for "
                   "knowledge, skills and professional certifications.",
    "email": "badges@northwind.example",
    "primary_color": "#1d4e89",
    "accent_color": "#f2a900",
    "wallet_help": "Known to work: **Sphereon Wallet** and **Lissi** (iOS and Android), "
                   "and any wallet that speaks OpenID4VCI with the pre-authorized code.",
}
BASIC_ISSUER_FIELDS = ("name", "url", "description", "email")

BADGE_TYPES = [
    {"id": "knowledge", "name": "Knowledge", "order": 1,
     "description": "Shows that the earner understands the concepts of a field."},
    {"id": "skill", "name": "Skill", "order": 2,
     "description": "Shows that the earner can carry out a practical task unaided."},
    {"id": "proficiency", "name": "Proficiency", "order": 3,
     "description": "Shows sustained, assessed performance at a stated level."},
    {"id": "professional-certification", "name": "Professional Certification", "order": 4,
     "description": "Certifies that the earner met a professional standard under exam conditions."},
    {"id": "other", "name": "Other", "order": 5,
     "description": "Recognises contributions that fit none of the other types."},
]

CRITERIA = """Earners of this badge have:

- completed every lab of the course,
- passed the **final assessment** with at least 70%,
- read the [course notes](https://example.org).

Text such as `<script>alert(1)</script>` must appear as text, never run."""

# (key, name, description, badge type, featured, featured_order, image)
ACHIEVEMENTS = [
    ("cloud", "Cloud Security Foundations",
     "Understands the shared-responsibility model and the core controls of cloud platforms.",
     "knowledge", True, 2, "png"),
    ("automation", "Secure Infrastructure Automation",
     "Builds and reviews infrastructure-as-code with security checks in the pipeline.",
     "skill", True, 1, "svg"),
    ("incident", "Incident Response Proficiency",
     "Leads the response to a security incident from detection to post-mortem.",
     "proficiency", False, 0, None),
    ("architect", "Certified Cloud Architect",
     "Designs resilient, secure and cost-aware cloud architectures.",
     "professional-certification", True, 3, None),
    ("mentor", "Community Mentor",
     "Mentored at least five learners through a course of the institute.",
     "other", False, 0, None),
    ("privacy", "Data Protection Essentials",
     "Knows the principles of data protection law and privacy by design.",
     "knowledge", False, 0, None),
]

BADGE_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256"
     onload="alert('svg onload')">
  <script>alert('svg script')</script>
  <circle cx="128" cy="128" r="120" fill="#1d4e89"/>
  <circle cx="128" cy="128" r="96" fill="none" stroke="#f2a900" stroke-width="10"/>
  <path d="M88 132 l28 28 l52 -60" fill="none" stroke="#ffffff" stroke-width="16"
        stroke-linecap="round" stroke-linejoin="round"/>
</svg>
"""


def badge_png(size=128):
    """A small valid RGB PNG: a navy disc with a gold ring on white."""
    rows = []
    c = (size - 1) / 2
    for y in range(size):
        row = bytearray([0])  # filter: none
        for x in range(size):
            d = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
            if d < size * 0.34:
                px = (0x1d, 0x4e, 0x89)
            elif d < size * 0.46:
                px = (0xf2, 0xa9, 0x00)
            else:
                px = (0xff, 0xff, 0xff)
            row += bytes(px)
        rows.append(bytes(row))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


class Report:
    """One line per check; counts what passed and failed."""

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, what):
        self.passed += 1
        print(f"ok   {what}", flush=True)

    def fail(self, what, why):
        self.failed += 1
        print(f"FAIL {what}: {why}", flush=True)

    def skip(self, what, why):
        self.skipped += 1
        print(f"skip {what}: {why}", flush=True)

    def line(self, text):
        """A line pages.mjs printed: counted by its prefix, echoed as it is."""
        if text.startswith("ok   "):
            self.passed += 1
        elif text.startswith("FAIL "):
            self.failed += 1
        elif text.startswith("skip "):
            self.skipped += 1
        print(text, flush=True)


def short(body, limit=240):
    text = body if isinstance(body, str) else json.dumps(body)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class MailSink:
    """An SMTP server (aiosmtpd) that writes every message it gets to `<dir>/<n>.json`
    (envelope recipients, subject, text and HTML parts, decoded), where console.mjs
    reads them."""

    def __init__(self, directory):
        import socket
        from aiosmtpd.controller import Controller
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.count = 0
        self.lock = threading.Lock()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        import email
        import email.policy
        msg = email.message_from_bytes(bytes(envelope.content), policy=email.policy.default)
        parts = {}
        for kind in ("plain", "html"):
            part = msg.get_body(preferencelist=(kind,))
            parts[kind] = part.get_content() if part is not None else ""
        record = {"to": list(envelope.rcpt_tos), "subject": str(msg.get("Subject", "")),
                  "text": parts["plain"], "html": parts["html"]}
        with self.lock:
            self.count += 1
            path = os.path.join(self.dir, f"{self.count}.json")
        with open(path + ".part", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(path + ".part", path)
        return "250 OK"

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()


class Service:
    """`accolade serve` on a port the kernel picks, data and keys in a temporary directory."""

    def __init__(self, binary, workdir, smtp_port=None):
        self.binary, self.workdir = binary, workdir
        self.smtp_port = smtp_port
        self.data_dir = os.path.join(workdir, "data")
        self.keys_dir = os.path.join(workdir, "keys")
        self.log_path = os.path.join(workdir, "serve.log")
        self.base = self.token = self.proc = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if k != "ACCOLADE_ADMIN_TOKEN"}
        env.setdefault("ACCOLADE_LOG", "warn")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", "127.0.0.1:0",
                 "--data-dir", self.data_dir, "--keys-dir", self.keys_dir,
                 "--rate-limit", "off"]
                + ([] if self.smtp_port is None else
                   ["--smtp-url", f"smtp://127.0.0.1:{self.smtp_port}",
                    "--mail-from", "Northwind Badges <badges@northwind.example>"]),
                stdout=subprocess.PIPE, stderr=log, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if line.startswith("listening on "):
                self.base = line.split()[-1].rstrip("/")
                break
            if not line and self.proc.poll() is not None:
                break
        if not self.base:
            raise RuntimeError(f"the service did not start; see {self.log_path}")
        with open(os.path.join(self.data_dir, "admin-token"), encoding="utf-8") as f:
            self.token = f.read().strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def call(self, method, path, body=None, raw=None, content_type=None, admin=True,
             timeout=30):
        """(status, headers, parsed JSON or text) of one request."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        url = path if path.startswith("http") else self.base + path
        req = urllib.request.Request(url, data=data, method=method)
        if admin:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type or "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, headers, payload = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, payload = e.code, e.headers, e.read()
        ctype = headers.get("Content-Type", "")
        if "json" in ctype:
            try:
                return status, headers, json.loads(payload) if payload else None
            except ValueError:
                pass
        if ctype.startswith("image/") and "svg" not in ctype:
            return status, headers, payload
        return status, headers, payload.decode("utf-8", "replace")


def expect(report, svc, what, method, path, want, **kw):
    """Make one setup call; report it; return the parsed body when the status is `want`."""
    try:
        status, _, body = svc.call(method, path, **kw)
    except Exception as e:  # a refused connection is this call's failure
        report.fail(what, f"{method} {path}: {type(e).__name__}: {e}")
        return None
    if status != want:
        report.fail(what, f"{method} {path} answered {status} (wanted {want}): {short(body)}")
        return None
    report.ok(what)
    return body if body is not None else {}


def utc(seconds_from_now):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def jwt_payload(jwt):
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def setup(report, svc):
    """Everything pages.mjs needs, as a JSON-able dict."""
    ctx = {"base": svc.base, "token": svc.token, "issuer": ISSUER, "badgeTypes": BADGE_TYPES,
           "earnerDid": EARNER_DID,
           "achievements": [], "badges": {}}

    # The issuer profile; the colours are new fields, so fall back to the basic ones.
    if expect(report, svc, "setup: PUT /api/v1/issuer with name, url, description, email, "
              "primary_color, accent_color", "PUT", "/api/v1/issuer", 200, body=ISSUER) is None:
        expect(report, svc, "setup: PUT /api/v1/issuer with name, url, description, email only",
               "PUT", "/api/v1/issuer", 200,
               body={k: ISSUER[k] for k in BASIC_ISSUER_FIELDS})

    for bt in BADGE_TYPES:
        got = expect(report, svc, f"setup: POST /api/v1/badge-types {bt['id']}", "POST",
                     "/api/v1/badge-types", 201, body=bt)
        if got is not None and (not isinstance(got, dict) or got.get("id") != bt["id"]
                                or got.get("name") != bt["name"]):
            report.fail(f"badge type {bt['id']} answer", f"not the type created: {short(got)}")
    status, _, listing = svc.call("GET", "/api/v1/badge-types")
    items = listing.get("badge_types", listing.get("items")) if isinstance(listing, dict) else listing
    ids = [t.get("id") for t in items if isinstance(t, dict)] if isinstance(items, list) else None
    if status != 200:
        report.fail("setup: GET /api/v1/badge-types lists the five types",
                    f"answered {status}: {short(listing)}")
    elif ids is None or sorted(ids) != sorted(t["id"] for t in BADGE_TYPES):
        report.fail("setup: GET /api/v1/badge-types lists the five types",
                    f"listed {ids if ids is not None else short(listing)}")
    else:
        report.ok(f"setup: GET /api/v1/badge-types lists the five types ({', '.join(ids)})")

    png, svg = badge_png(), BADGE_SVG
    for i, (key, name, desc, btype, featured, forder, image) in enumerate(ACHIEVEMENTS):
        if i:
            time.sleep(1.05)  # creation times have whole seconds; keep "newest first" defined
        ach = expect(report, svc, f"setup: POST /api/v1/achievements \"{name}\"", "POST",
                     "/api/v1/achievements", 201, body={
                         "name": name, "description": desc,
                         "criteria": {"narrative": CRITERIA},
                         "achievementType": "Certificate",
                         "alignment": [{
                             "targetName": f"{name} — framework outcome",
                             "targetUrl": f"https://frameworks.example.org/outcomes/{key}",
                             "targetFramework": "Northwind Skills Framework"}],
                         "tag": ["cloud", "security"]})
        if not isinstance(ach, dict) or not isinstance(ach.get("id"), str):
            continue
        uuid = ach["id"].rstrip("/").rsplit("/", 1)[-1]
        entry = {"key": key, "id": ach["id"], "uuid": uuid, "name": name, "description": desc,
                 "badgeType": btype, "featured": featured, "featuredOrder": forder,
                 "created": i, "alignmentName": f"{name} — framework outcome",
                 "image": None, "imageUrl": None}
        ctx["achievements"].append(entry)
        expect(report, svc, f"setup: PUT /api/v1/achievements/{uuid}/catalogue ({btype}"
               f"{', featured ' + str(forder) if featured else ''})", "PUT",
               f"/api/v1/achievements/{uuid}/catalogue", 200,
               body={"badge_type": btype, "featured": featured, "featured_order": forder})
        if image:
            body, ctype = (png, "image/png") if image == "png" else (svg, "image/svg+xml")
            got = expect(report, svc, f"setup: PUT /api/v1/achievements/{uuid}/image ({ctype})",
                         "PUT", f"/api/v1/achievements/{uuid}/image", 200,
                         raw=body, content_type=ctype)
            if isinstance(got, dict) and isinstance(got.get("url"), str):
                entry["image"], entry["imageUrl"] = image, got["url"]
                check_image(report, svc, got["url"], ctype)
            elif got is not None:
                report.fail(f"image upload answer for {uuid}", f"no url: {short(got)}")

    by_key = {a["key"]: a for a in ctx["achievements"]}

    # Endorsements of each achievement (this issuer's own, as an industry body's would
    # be), attached so that the achievement pages, and the badges awarded below, show
    # them.
    for a in ctx["achievements"]:
        e = expect(report, svc, f"setup: POST /api/v1/endorsements of {a['uuid']}", "POST",
                   "/api/v1/endorsements", 201, body={
                       "subject_id": a["id"],
                       "comment": "Assessed against the Northwind Skills Framework and found rigorous."})
        if isinstance(e, dict) and e.get("credential"):
            expect(report, svc, f"setup: attach the endorsement to {a['uuid']}", "POST",
                   f"/api/v1/achievements/{a['uuid']}/endorsements", 200,
                   body={"credential": e["credential"]})

    def award(role, key, valid_until, what):
        a = by_key.get(key)
        if not a:
            report.fail(f"setup: award for the {role} badge", f"the achievement {key} is missing")
            return None
        got = expect(report, svc, what, "POST", "/api/v1/awards", 201, body={
            "achievement_id": a["id"], "delivery": "direct", "valid_until": valid_until,
            "recipient": {"name": "Ada Lovelace", "id": EARNER_DID}})
        if not isinstance(got, dict):
            return None
        missing = [k for k in ("credential_id", "credential", "badge_url") if not got.get(k)]
        if missing:
            report.fail(f"award answer ({role})", f"lacks {', '.join(missing)}: {short(got)}")
            if not got.get("credential_id") or not got.get("credential"):
                return None
        uuid = got["credential_id"].rsplit(":", 1)[-1]
        badge = {"role": role, "credentialId": got["credential_id"], "uuid": uuid,
                 "jwt": got["credential"], "badgeUrl": got.get("badge_url"),
                 "pageUrl": f"{svc.base}/badges/{uuid}", "achievementKey": key,
                 "validUntil": valid_until}
        want_url = badge["pageUrl"]
        if got.get("badge_url") and got["badge_url"] != want_url:
            report.fail(f"award answer ({role}) badge_url", f"{got['badge_url']} != {want_url}")
        try:
            payload = jwt_payload(got["credential"])
            cred = payload.get("vc") if isinstance(payload.get("vc"), dict) else payload
            badge["validFrom"] = cred.get("validFrom") or cred.get("issuanceDate")
        except (ValueError, IndexError) as e:
            report.fail(f"award answer ({role})", f"the credential is not a compact JWT: {e}")
        ctx["badges"][role] = badge
        return badge

    two_years = utc(2 * 365 * 86400)
    award("valid", "cloud", two_years,
          "setup: POST /api/v1/awards direct, valid for two years (to be revoked later)")
    award("hidden", "automation", two_years,
          "setup: POST /api/v1/awards direct (to be hidden later)")
    # An expired badge: a valid_until in the past may be refused; then one that expires
    # a few seconds after issue, which pages.mjs visits once it has.
    status, _, body = svc.call("POST", "/api/v1/awards", body={
        "achievement_id": by_key["incident"]["id"] if "incident" in by_key else "",
        "delivery": "direct", "valid_until": utc(-86400),
        "recipient": {"name": "Ada Lovelace", "id": EARNER_DID}})
    if status == 201 and isinstance(body, dict) and body.get("credential_id"):
        uuid = body["credential_id"].rsplit(":", 1)[-1]
        ctx["badges"]["expired"] = {
            "role": "expired", "credentialId": body["credential_id"], "uuid": uuid,
            "jwt": body.get("credential"), "pageUrl": f"{svc.base}/badges/{uuid}",
            "achievementKey": "incident", "validUntil": utc(-86400)}
        report.ok("setup: POST /api/v1/awards with a past valid_until (expired badge)")
    else:
        award("expired", "incident", utc(4),
              f"setup: POST /api/v1/awards expiring 4 s after issue "
              f"(a past valid_until is refused: {status})")
    ctx["console"] = console_setup(report, svc)
    return ctx


CONSOLE_PASSWORD = "console owner passphrase 2026"


def console_setup(report, svc):
    """Accounts and files console.mjs uses: an owner and a viewer with passwords, a
    logo and an achievement image on disk, the directory the mail sink writes to."""
    out = {"mailDir": os.path.join(svc.workdir, "mail")}
    for role in ("owner", "viewer"):
        who = {"email": f"{role}.console@northwind.example", "name": f"Console {role.title()}",
               "role": role, "password": CONSOLE_PASSWORD}
        if expect(report, svc, f"setup: POST /api/v1/staff ({role} with a password)", "POST",
                  "/api/v1/staff", 201, body=who) is not None:
            out[role] = {"email": who["email"], "password": who["password"]}
    # A name a spreadsheet would run as a formula: the CSV export must neutralise it.
    expect(report, svc, "setup: POST /api/v1/trust/issuers (a formula-like name)", "POST",
           "/api/v1/trust/issuers", 201,
           body={"id": "did:web:formula.example", "name": '=HYPERLINK("https://evil.example")',
                 "status": "blocked"})
    for name, size in (("logo", 96), ("image", 200)):
        path = os.path.join(svc.workdir, f"{name}.png")
        with open(path, "wb") as f:
            f.write(badge_png(size))
        out[name] = path
    return out


def check_image(report, svc, url, ctype):
    """The uploaded image is served, with its type; an SVG without script or handlers."""
    what = f"uploaded {ctype} served at {url.replace(svc.base, '')}"
    try:
        status, headers, body = svc.call("GET", url, admin=False)
    except Exception as e:
        report.fail(what, f"{type(e).__name__}: {e}")
        return
    got_type = headers.get("Content-Type", "")
    if status != 200 or not got_type.startswith(ctype):
        report.fail(what, f"{status} {got_type}")
        return
    if ctype == "image/svg+xml":
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        low = text.lower()
        bad = [w for w in ("<script", "onload", "alert(") if w in low]
        if bad:
            report.fail(what, f"the SVG still holds {', '.join(bad)}")
            return
        if "<circle" not in low:
            report.fail(what, "the sanitised SVG lost its drawing")
            return
        report.ok(f"{what}, without <script> or onload")
    else:
        if not isinstance(body, bytes) or not body.startswith(b"\x89PNG\r\n\x1a\n"):
            report.fail(what, "not a PNG")
            return
        report.ok(what)


def ensure_node_modules():
    """npm ci where a package is missing: the browser driver here, and the wallets of
    conformance/oid4vci and conformance/oid4vp (the wallet path of /verify)."""
    wanted = [
        (HERE, ("playwright-core", "axe-core")),
        (os.path.join(ROOT, "conformance", "oid4vci"), ("@openid4vc/openid4vci",)),
        (os.path.join(ROOT, "conformance", "oid4vp"), ("@openid4vc/openid4vp",)),
    ]
    npm = shutil.which("npm")
    for d, probes in wanted:
        if all(os.path.isdir(os.path.join(d, "node_modules", p)) for p in probes):
            continue
        if not npm:
            raise RuntimeError("npm is not on PATH; install Node 20+")
        print(f"npm ci in {os.path.relpath(d, ROOT)} ...", flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=d, check=True,
                       stdout=sys.stderr)


def run_pages(report, node, ctx_path, timeout):
    proc = subprocess.Popen([node, os.path.join(HERE, "pages.mjs"), "--context", ctx_path],
                            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timer = threading.Timer(timeout, proc.kill)  # a silent hang ends too
    timer.start()
    try:
        for raw in proc.stdout:
            report.line(raw.decode("utf-8", "replace").rstrip("\n"))
        proc.wait()
    finally:
        timed_out = not timer.is_alive()
        timer.cancel()
    if timed_out and proc.returncode not in (0, 1):
        report.fail("pages.mjs", f"still running after {timeout} s; killed")
    elif proc.returncode not in (0, 1):
        report.fail("pages.mjs", f"exited {proc.returncode}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "accolade"))
    ap.add_argument("--screenshots", default=os.path.join(ROOT, "target", "browser"),
                    help="where the screenshots go (default: target/browser)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds pages.mjs may take")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {binary}; build it first (cargo build)")
    node = shutil.which("node")
    if not node:
        sys.exit("node is not on PATH; the run needs Node 20+")
    if not os.access(os.environ.get("CHROMIUM", CHROMIUM), os.X_OK):
        sys.exit(f"no Chromium at {CHROMIUM}; install it: apt-get install -y chromium")
    if not shutil.which("zbarimg"):
        sys.exit("no zbarimg (decodes the QR codes); install it: apt-get install -y zbar-tools")
    ensure_node_modules()
    shots = os.path.abspath(args.screenshots)
    os.makedirs(shots, exist_ok=True)
    for old in glob.glob(os.path.join(shots, "*.png")):
        os.remove(old)

    started = time.time()
    report = Report()
    workdir = tempfile.mkdtemp(prefix="accolade-browser-")
    sink = MailSink(os.path.join(workdir, "mail"))
    sink.start()
    svc = Service(binary, workdir, smtp_port=sink.port)
    try:
        svc.start()
        report.ok(f"service started at {svc.base} (admin token from data/admin-token)")
        ctx = setup(report, svc)
        ctx["screenshots"] = shots
        ctx_path = os.path.join(workdir, "context.json")
        with open(ctx_path, "w", encoding="utf-8") as f:
            json.dump(ctx, f, indent=2)
        run_pages(report, node, ctx_path, args.timeout)
    except Exception as e:
        report.fail("browser run", f"{type(e).__name__}: {e}")
    finally:
        svc.stop()
        sink.stop()
    if report.failed:
        tail = svc.log_tail()
        if tail.strip():
            print(f"--- last lines of {svc.log_path} ---\n{tail.rstrip()}", file=sys.stderr)
    if report.failed or args.keep:
        print(f"working directory kept: {workdir} (context.json, serve.log)", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    n = len(glob.glob(os.path.join(shots, "*.png")))
    print(f"{n} screenshots in {os.path.relpath(shots, os.getcwd())}; "
          f"{time.time() - started:.1f} s")
    skipped = f", {report.skipped} skipped" if report.skipped else ""
    print(f"browser: {report.passed} passed, {report.failed} failed{skipped}")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
