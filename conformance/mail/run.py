#!/usr/bin/env python3
"""Mail run: accolade's e-mail to earners, received by an independent SMTP server.

  1. start an SMTP sink in this process (aiosmtpd on a free 127.0.0.1 port, keeping
     every message's bytes and envelope recipients) and `accolade serve --listen
     127.0.0.1:0 --smtp-url smtp://127.0.0.1:<sink> --mail-from "Example Badges
     <badges@example.edu>"` with data and keys in a temporary directory, reading its
     URL from the `listening on` line;
  2. award an achievement (a non-ASCII name) to three earners by e-mail with one CSV
     batch and check that the sink gets exactly three messages within 15 s, one per
     earner, each parsed by Python's `email` package: From the mail-from address, To
     the earner, multipart/alternative with text/plain and text/html (quoted-printable
     or base64), the text part holding the row's claim and manage links verbatim and
     neither part the transaction code, a decoded subject naming the issuer and the
     achievement, `Message-ID: <UUID.award@example.edu>`, one-click
     `List-Unsubscribe` (RFC 2369, RFC 8058) and `Auto-Submitted: auto-generated`;
     the links open (200, HTML) and each credential says mail `sent` with the sink's
     `250` answer;
  3. exactly once across a crash: a second service sends to a server that accepts the
     connection and never greets, so its one message is stuck before any
     acknowledgement; `kill -9`, restart on the same data and keys with the real sink:
     the message arrives exactly once (and is still once 3 s later); `kill -9` and
     restart again: no second copy (a sent message is never repeated);
  4. `accolade staff add` beside the running service (password on stdin), session
     sign-in (HttpOnly, SameSite=Lax cookie), `/api/v1/me`, the CSRF header required
     for a write with the cookie, the audit trail naming the member; an 11-character
     password is refused;
  5. the one-click unsubscribe of one message's `List-Unsubscribe` link answers 200
     and the credential then shows `mail_opt_out: true`.

Every case prints one line, `ok   <what>` or `FAIL <what>: <why>`, and the run exits 1
if any failed (2 when aiosmtpd is missing). Python 3 standard library plus aiosmtpd
(Debian: python3-aiosmtpd, which serves /usr/bin/python3).

    /usr/bin/python3 conformance/mail/run.py --binary target/debug/accolade
"""

import argparse
import csv
import email
import email.policy
import io
import json
import os
import re
import secrets
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAIL_FROM = "Example Badges <badges@example.edu>"
FROM_ADDR = "badges@example.edu"
ISSUER_NAME = "Example University"
ACHIEVEMENT = "Données ouvertes — Level 1"
EARNERS = [("Ada Lovelace", "ada@example.org"),
           ("José Núñez", "jose.nunez@example.org"),
           ("Hopper, Grace", "grace@example.net")]
CRASH_EARNER = ("Katherine Johnson", "katherine@example.org")
STAFF = {"email": "issuer.staff@example.edu", "name": "Iris Issuer",
         "password": "correct horse battery staple"}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    """The environment without ACCOLADE_* settings (but the log filter) plus `extra`:
    a stray ACCOLADE_SMTP_URL or ACCOLADE_PUBLIC_URL would change what the run proves."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ACCOLADE_") or k == "ACCOLADE_LOG"}
    env.update(extra)
    return env


def short(body, limit=300):
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def poll(fn, timeout, interval=0.1):
    """Calls `fn` until it returns something truthy or `timeout` seconds pass; the last
    value."""
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)


def http(method, url, body=None, raw=None, content_type=None, headers=None, timeout=30):
    """Returns (status, headers, answer): the answer is parsed JSON when it parses,
    else text."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    if data is not None:
        req.add_header("Content-Type", content_type or "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, hdrs, answer = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, answer = e.code, e.headers, e.read()
    try:
        return status, hdrs, json.loads(answer) if answer else None
    except ValueError:
        return status, hdrs, answer.decode("utf-8", "replace")


class Sink:
    """An SMTP server (aiosmtpd) that keeps every message: (recipients, bytes)."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.messages = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def to(self, address):
        """The messages for `address`, parsed."""
        with self.lock:
            found = [(r, b) for r, b in self.messages if address in r]
        return [(r, email.message_from_bytes(b, policy=email.policy.default))
                for r, b in found]

    def count(self, addresses):
        with self.lock:
            return sum(1 for r, _ in self.messages if any(a in r for a in addresses))


class Staller:
    """A TCP server that accepts connections and never sends the SMTP greeting."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)  # held open, never written to

    def start(self):
        self.thread.start()

    def stop(self):
        self.closed = True
        for c in [self.sock, *self.conns]:
            try:
                c.close()
            except OSError:
                pass


class Service:
    """`accolade serve` in a temporary directory, with a known admin token. The first
    start takes a port from the kernel; restarts keep it (and so the public URL)."""

    def __init__(self, name, binary, workdir, smtp_port):
        self.name, self.binary, self.workdir = name, binary, workdir
        self.smtp_port = smtp_port
        self.data_dir = os.path.join(workdir, "data")
        self.keys_dir = os.path.join(workdir, "keys")
        self.log_path = os.path.join(workdir, "serve.log")
        self.token = secrets.token_urlsafe(24)
        self.listen = "127.0.0.1:0"
        self.base = self.proc = None

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        env = clean_env(ACCOLADE_ADMIN_TOKEN=self.token)
        env.setdefault("ACCOLADE_LOG", "warn")
        with open(self.log_path, "ab") as log:
            log.write(f"=== start, --smtp-url smtp://127.0.0.1:{self.smtp_port}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--listen", self.listen,
                 "--data-dir", self.data_dir, "--keys-dir", self.keys_dir,
                 "--rate-limit", "off",
                 "--smtp-url", f"smtp://127.0.0.1:{self.smtp_port}",
                 "--mail-from", MAIL_FROM],
                stdout=subprocess.PIPE, stderr=log, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            m = re.match(r"listening on (http://\S+)", line)
            if m:
                self.base = m.group(1).rstrip("/")
                self.listen = urllib.parse.urlsplit(self.base).netloc
                # Keep reading stdout so the service never blocks on a full pipe.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError(f"service {self.name} did not start; see {self.log_path}")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def call(self, method, path, body=None, admin=True, **kw):
        headers = dict(kw.pop("headers", None) or {})
        if admin:
            headers["Authorization"] = f"Bearer {self.token}"
        status, _, answer = http(method, self.base + path, body, headers=headers, **kw)
        return status, answer

    def must(self, method, path, body=None, want=200, **kw):
        status, answer = self.call(method, path, body, **kw)
        if status != want:
            raise RuntimeError(f"{method} {path}: HTTP {status} (expected {want}): "
                               f"{short(answer)}")
        return answer

    def credential(self, credential_id):
        return self.must("GET", "/api/v1/credentials/"
                         + urllib.parse.quote(credential_id, safe=""))


def setup_catalogue(svc):
    """Names the issuer and creates the achievement; its id."""
    svc.must("PUT", "/api/v1/issuer", {"name": ISSUER_NAME})
    ach = svc.must("POST", "/api/v1/achievements", {
        "name": ACHIEVEMENT,
        "description": "Publishes and documents an open data set.",
        "criteria": {"narrative": "Published a documented data set under an open licence."},
    }, want=201)
    if not isinstance(ach, dict) or not ach.get("id"):
        raise RuntimeError(f"POST /api/v1/achievements: no id: {short(ach)}")
    return ach["id"]


def award_csv(svc, achievement_id, earners):
    """One CSV batch awarding `earners` by e-mail; the result rows (checked)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["achievement_id", "name", "email", "delivery"])
    for name, addr in earners:
        w.writerow([achievement_id, name, addr, "email"])
    answer = svc.must("POST", "/api/v1/awards/batch", raw=buf.getvalue().encode(),
                      content_type="text/csv")
    rows = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(rows, list) or len(rows) != len(earners):
        raise RuntimeError(f"batch: expected {len(earners)} results: {short(answer)}")
    for i, r in enumerate(rows, 1):
        missing = [k for k in ("credential_id", "claim_url", "earner_url", "tx_code")
                   if not r.get(k)]
        if r.get("error") is not None or r.get("mail") != "queued" or r.get("row") != i or missing:
            raise RuntimeError(f"batch row {i}: expected row={i}, mail 'queued', no error"
                               f"{', and ' + ', '.join(missing) if missing else ''}: {short(r)}")
    return rows


def part_problems(part, kind):
    """A text part's content type and transfer encoding."""
    problems = []
    if part is None:
        return [f"no {kind} part"]
    cte = (part.get("Content-Transfer-Encoding") or "").lower()
    if cte not in ("quoted-printable", "base64"):
        problems.append(f"{kind} Content-Transfer-Encoding is {cte or 'absent'!r}")
    if (part.get_content_charset() or "").lower() != "utf-8":
        problems.append(f"{kind} charset is {part.get_content_charset()!r}")
    return problems


def message_problems(svc, msg, rcpts, name, addr, row):
    """What is wrong with the award message for one CSV row."""
    problems = []
    if rcpts != [addr]:
        problems.append(f"envelope recipients {rcpts}, expected [{addr}]")
    frm = msg["From"].addresses if msg["From"] else ()
    if len(frm) != 1 or frm[0].addr_spec != FROM_ADDR or frm[0].display_name != "Example Badges":
        problems.append(f"From is {msg['From']!r}, expected 'Example Badges <{FROM_ADDR}>'")
    to = msg["To"].addresses if msg["To"] else ()
    if len(to) != 1 or to[0].addr_spec != addr or to[0].display_name != name:
        problems.append(f"To is {msg['To']!r}, expected {name!r} <{addr}>")
    subject = str(msg["Subject"] or "")
    if ISSUER_NAME not in subject or ACHIEVEMENT not in subject:
        problems.append(f"Subject {subject!r} lacks {ISSUER_NAME!r} or {ACHIEVEMENT!r}")
    uuid = row["credential_id"].removeprefix("urn:uuid:")
    want_id = f"<{uuid}.award@example.edu>"
    if str(msg["Message-ID"] or "").strip() != want_id:
        problems.append(f"Message-ID is {msg['Message-ID']!r}, expected {want_id!r}")
    unsub = str(msg["List-Unsubscribe"] or "").strip()
    if not re.fullmatch(re.escape(f"<{svc.base}/mail/unsubscribe/") + r"[^<>\s]+>", unsub):
        problems.append(f"List-Unsubscribe is {unsub!r}, expected "
                        f"<{svc.base}/mail/unsubscribe/...>")
    if str(msg["List-Unsubscribe-Post"] or "").strip() != "List-Unsubscribe=One-Click":
        problems.append(f"List-Unsubscribe-Post is {msg['List-Unsubscribe-Post']!r}")
    if str(msg["Auto-Submitted"] or "").strip() != "auto-generated":
        problems.append(f"Auto-Submitted is {msg['Auto-Submitted']!r}")
    if msg.get_content_type() != "multipart/alternative":
        problems.append(f"Content-Type is {msg.get_content_type()}, expected "
                        "multipart/alternative")
        return problems
    kinds = [p.get_content_type() for p in msg.iter_parts()]
    if sorted(kinds) != ["text/html", "text/plain"]:
        problems.append(f"parts are {kinds}, expected text/plain and text/html")
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    problems += part_problems(text, "text/plain") + part_problems(html, "text/html")
    text_s = text.get_content() if text is not None else ""
    html_s = html.get_content() if html is not None else ""
    for key in ("claim_url", "earner_url"):
        if row[key] not in text_s:
            problems.append(f"the text part lacks the {key} {row[key]}")
    tx = str(row["tx_code"])
    for where, content in (("text part", text_s), ("HTML part", html_s),
                           ("subject", subject)):
        if tx in content:
            problems.append(f"the {where} contains the tx_code {tx}")
    return problems


def page_problems(url, what):
    status, hdrs, body = http("GET", url)
    ctype = (hdrs.get("Content-Type") or "") if hdrs else ""
    if status != 200 or not ctype.startswith("text/html"):
        return [f"GET {what} {url}: HTTP {status} {ctype!r} {short(body, 120)}"]
    return []


def wait_sent(svc, credential_id, timeout=10):
    """The credential view once its mail is no longer `queued` (or the last one seen)."""
    seen = {}

    def done():
        seen["c"] = svc.credential(credential_id)
        return seen["c"].get("mail") not in (None, "queued")
    poll(done, timeout, 0.2)
    return seen["c"]


def sent_problems(c, who):
    answer = c.get("mail_answer") or ""
    if c.get("mail") != "sent" or not answer.startswith("250"):
        return [f"{who}: mail={c.get('mail')!r} mail_answer={c.get('mail_answer')!r} "
                f"mail_error={c.get('mail_error')!r}, expected sent with a 250 answer"]
    return []


def session_headers(cookie, csrf=None):
    h = {"Cookie": f"accolade_session={cookie}"}
    if csrf:
        h["X-CSRF-Token"] = csrf
    return h


def staff_add(svc, email_addr, name, role, password):
    """`accolade staff add` beside the running service; (exit code, output)."""
    proc = subprocess.run(
        [svc.binary, "staff", "add", "--data-dir", svc.data_dir, "--email", email_addr,
         "--name", name, "--role", role],
        input=(password + "\n").encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=clean_env(ACCOLADE_ADMIN_TOKEN=svc.token), timeout=60)
    return proc.returncode, proc.stdout.decode(errors="replace").strip()


def run_cases(binary, workdir, sink, services):
    """Yields (name, problems, detail) per case."""
    svc = Service("main", binary, os.path.join(workdir, "main"), sink.port)
    services.append(svc)
    svc.start()
    achievement_id = setup_catalogue(svc)
    state = {}

    def case(name, fn, owner=svc):
        try:
            problems, detail = fn()
        except Exception as e:  # one case's crash is that case's failure
            problems, detail = [f"{type(e).__name__}: {e}"], ""
        return name, problems, detail, owner

    # 1. three earners by e-mail.
    def three_earners():
        t0 = time.time()
        rows = award_csv(svc, achievement_id, EARNERS)
        state["credential"] = rows[0]["credential_id"]
        addrs = [a for _, a in EARNERS]
        poll(lambda: sink.count(addrs) >= 3, 15)
        arrived = time.time() - t0
        time.sleep(0.5)  # a fourth message would show here
        problems = []
        if sink.count(addrs) != 3:
            problems.append(f"{sink.count(addrs)} messages within 15 s, expected 3")
        for (name, addr), row in zip(EARNERS, rows):
            got = sink.to(addr)
            if len(got) != 1:
                problems.append(f"{addr}: {len(got)} messages, expected 1")
                continue
            rcpts, msg = got[0]
            problems += [f"{addr}: {p}" for p in message_problems(svc, msg, rcpts, name,
                                                                  addr, row)]
            problems += page_problems(row["claim_url"], "claim_url")
            problems += page_problems(row["earner_url"], "earner_url")
            problems += sent_problems(wait_sent(svc, row["credential_id"]), addr)
        return problems, (f"3 messages in {arrived:.1f} s, subject "
                          f"{str(sink.to(EARNERS[0][1])[0][1]['Subject'])!r}"
                          if not problems else "")
    yield case("a CSV award to three earners sends one message each", three_earners)

    # 2. exactly once across a crash.
    staller = Staller()
    staller.start()
    crash = Service("crash", binary, os.path.join(workdir, "crash"), staller.port)
    services.append(crash)

    def exactly_once():
        try:
            crash.start()
            crash_ach = setup_catalogue(crash)
            row = award_csv(crash, crash_ach, [CRASH_EARNER])[0]
            addr = CRASH_EARNER[1]
            if not poll(lambda: staller.conns, 10):
                return ["the service never connected to the stalling SMTP server"], ""
            time.sleep(2)
            before = crash.credential(row["credential_id"])
            problems = []
            if before.get("mail") != "queued":
                problems.append(f"while stalled: mail={before.get('mail')!r}, expected queued")
            crash.kill9()
            crash.smtp_port = sink.port
            crash.start()
            poll(lambda: sink.to(addr), 15)
            first = len(sink.to(addr))
            time.sleep(3)
            later = len(sink.to(addr))
            crash.kill9()
            crash.start()
            time.sleep(5)
            final = len(sink.to(addr))
            if (first, later, final) != (1, 1, 1):
                problems.append(f"messages for {addr}: {first} after the first restart, "
                                f"{later} 3 s later, {final} after the second restart; "
                                "expected exactly 1 each time")
            if final >= 1:
                rcpts, msg = sink.to(addr)[0]
                problems += message_problems(crash, msg, rcpts, *CRASH_EARNER, row)
            problems += sent_problems(crash.credential(row["credential_id"]), addr)
            return problems, ("stalled before the greeting, kill -9, restart: 1 message; "
                              "kill -9, restart: still 1")
        finally:
            crash.stop()
            staller.stop()
    yield case("exactly one message across a kill -9 mid-send", exactly_once, crash)

    # 3. staff, sessions, CSRF and the audit trail.
    def staff_session():
        problems = []
        code, out = staff_add(svc, STAFF["email"], STAFF["name"], "issuer", STAFF["password"])
        if code != 0:
            return [f"staff add exited {code}: {short(out)}"], ""
        status, hdrs, me = http("POST", svc.base + "/api/v1/auth/login",
                                {"email": STAFF["email"], "password": STAFF["password"]})
        if status != 200 or not isinstance(me, dict):
            return [f"login: HTTP {status}: {short(me)}"], ""
        cookies = [c for c in hdrs.get_all("Set-Cookie") or []
                   if c.startswith("accolade_session=")]
        if len(cookies) != 1:
            return [f"login: no single accolade_session cookie: {hdrs.get_all('Set-Cookie')}"], ""
        attrs = [a.strip().lower() for a in cookies[0].split(";")[1:]]
        if "httponly" not in attrs or "samesite=lax" not in attrs:
            problems.append(f"the session cookie lacks HttpOnly or SameSite=Lax: {cookies[0]}")
        cookie = cookies[0].split(";", 1)[0].split("=", 1)[1]
        csrf = me.get("csrf_token")
        role = (me.get("staff") or {}).get("role")
        if not csrf or role != "issuer":
            problems.append(f"login answer: csrf_token={csrf!r} staff.role={role!r}")
        status, _, who = http("GET", svc.base + "/api/v1/me", headers=session_headers(cookie))
        if status != 200 or not isinstance(who, dict) or who.get("role") != "issuer":
            problems.append(f"GET /api/v1/me: HTTP {status}: {short(who)}")
        status, _, bt = http("POST", svc.base + "/api/v1/badge-types", {"name": "Skill"},
                             headers=session_headers(cookie))
        if status != 403:
            problems.append(f"POST /api/v1/badge-types without X-CSRF-Token: HTTP {status}, "
                            f"expected 403: {short(bt)}")
        status, _, bt = http("POST", svc.base + "/api/v1/badge-types", {"name": "Skill"},
                             headers=session_headers(cookie, csrf))
        if status != 201:
            problems.append(f"POST /api/v1/badge-types with X-CSRF-Token: HTTP {status}, "
                            f"expected 201: {short(bt)}")
        audit = svc.must("GET", "/api/v1/audit")
        events = audit.get("events") if isinstance(audit, dict) else None
        if not isinstance(events, list):
            problems.append(f"GET /api/v1/audit: no events: {short(audit)}")
        else:
            mine = [e for e in events if e.get("actor") == STAFF["email"]
                    and e.get("action") == "badge_type.create"]
            if not mine:
                problems.append("no audit event with actor "
                                f"{STAFF['email']} and action badge_type.create: "
                                f"{short(events[:5])}")
            elif not all(k in mine[0] for k in ("target", "address")):
                problems.append(f"the audit event lacks target or address: {short(mine[0])}")
        short_pw = "x" * 11
        code, out = staff_add(svc, "short.pw@example.edu", "Shorty", "issuer", short_pw)
        if code == 0:
            problems.append(f"staff add with an 11-character password exited 0: {short(out)}")
        status, _, _ = http("POST", svc.base + "/api/v1/auth/login",
                            {"email": "short.pw@example.edu", "password": short_pw})
        if status == 200:
            problems.append("the refused account can sign in")
        return problems, (f"issuer signed in; 403 without the CSRF header, 201 with; "
                          f"audited as {STAFF['email']}; an 11-character password: "
                          f"exit {code} ({short(out.splitlines()[-1] if out else '', 90)})")
    yield case("staff add beside the service, session, CSRF and audit", staff_session)

    # 4. one-click unsubscribe.
    def unsubscribe():
        got = sink.to(EARNERS[0][1])
        if "credential" not in state or not got:
            return [f"no message for {EARNERS[0][1]} from the first case to unsubscribe "
                    "from"], ""
        credential_id = state["credential"]
        url = str(got[0][1]["List-Unsubscribe"] or "").strip().strip("<>")
        if not url.startswith(svc.base + "/mail/unsubscribe/"):
            return [f"List-Unsubscribe {url!r} is not a link of this service"], ""
        before = svc.credential(credential_id).get("mail_opt_out")
        status, _, body = http("POST", url, raw=b"List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
        problems = []
        if status != 200:
            problems.append(f"POST {url}: HTTP {status}: {short(body)}")
        after = svc.credential(credential_id).get("mail_opt_out")
        if after is not True:
            problems.append(f"mail_opt_out is {after!r} after the POST (was {before!r})")
        return problems, f"mail_opt_out {before!r} -> {after!r}"
    yield case("one-click List-Unsubscribe", unsubscribe)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "accolade"))
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        print(f"{sys.executable} has no aiosmtpd, which this run's SMTP sink needs: "
              "install the Debian package python3-aiosmtpd (apt-get install "
              "python3-aiosmtpd) and run /usr/bin/python3, or `pip install aiosmtpd`",
              file=sys.stderr)
        sys.exit(2)
    binary = args.binary if os.path.isabs(args.binary) else os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no executable at {binary}; build it first (cargo build --bin accolade)")
    # A SIGTERM (a CI timeout) still stops the services and the sink.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    workdir = tempfile.mkdtemp(prefix="accolade-mail-")
    sink = Sink()
    services = []
    failures = 0
    started = time.time()
    try:
        sink.start()
        for name, problems, detail, owner in run_cases(binary, workdir, sink, services):
            if problems:
                failures += 1
                print(f"FAIL {name}: {'; '.join(problems)}", flush=True)
                tail = owner.log_tail()
                if tail:
                    print(f"--- last lines of {owner.log_path} ---\n{tail}", file=sys.stderr)
            else:
                print(f"ok   {name}{': ' + detail if detail else ''}", flush=True)
    except Exception as e:
        failures += 1
        print(f"FAIL setup: {type(e).__name__}: {e}", flush=True)
        for svc in services:
            tail = svc.log_tail()
            if tail:
                print(f"--- last lines of {svc.log_path} ---\n{tail}", file=sys.stderr)
    finally:
        for svc in services:
            svc.stop()
        try:
            sink.stop()
        except Exception:  # it may never have started
            pass
    if failures or args.keep:
        print(f"working directory kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.time() - started
    if failures:
        print(f"mail conformance: {failures} failure(s) ({elapsed:.1f} s)")
        sys.exit(1)
    print(f"mail conformance: all cases passed ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
