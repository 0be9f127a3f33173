#!/usr/bin/env python3
"""Writes the Open Badges 2.0 vectors of tests/vectors/ob2/ with the independent
issuer of ob2.py, then checks them.

One issuer at https://ob2.example.org publishes a Profile, a CryptographicKey, a
BadgeClass and a RevocationList, and awards hosted and signed assertions to
earner@example.org (hashed, salted). A fresh RSA-2048 key signs them and is then
thrown away: rerunning the script changes `key.json` and every file holding a
signature, nothing else (ids, salt and dates are fixed).

`expected.json` lists each case: what is sent to the verifier, which URLs serve which
file, and what a correct verifier concludes. After writing, the cases are run through
the reference reader of ob2.py against the files as written (a fetcher over
`expected.json`'s URL table, clock 2026-01-01T00:00:00Z); any disagreement is an
error. `--check` does only that, for vectors already on disk.

    /usr/bin/python3 conformance/ob2/make_vectors.py            # write and check
    /usr/bin/python3 conformance/ob2/make_vectors.py --check    # check only

Needs `cryptography` (Debian: python3-cryptography).
"""

import argparse
import json
import os
import sys
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import ob2  # noqa: E402

BASE = "https://ob2.example.org"
SALT = "3f9a1c7e5b20d846"
CLOCK = "2026-01-01T00:00:00Z"
OUT = os.path.join(ROOT, "tests", "vectors", "ob2")

# file name -> (BadgeSet attribute, key, what it is)
FILES = {
    "issuer.json": (
        "docs", "issuer",
        "issuer `Profile` (`publicKey` → `/key`, `revocationList` → `/revocations`)"),
    "key.json": (
        "docs", "key",
        "`CryptographicKey` (`owner` = the Profile, `publicKeyPem` RSA-2048)"),
    "unlisted-key.json": (
        "docs", "unlisted_key",
        "a second `CryptographicKey` claiming the same `owner`, but not listed in the "
        "Profile's `publicKey`"),
    "badge.json": ("docs", "badge", "`BadgeClass` as issued"),
    "badge-edited.json": (
        "docs", "badge_edited",
        "the same `BadgeClass` id with `name` and `criteria` changed after issue (served "
        "instead of `badge.json` in two cases)"),
    "revocations.json": (
        "docs", "revocations",
        "`RevocationList`: one bare id and `signed-revoked.jws`'s id with a "
        "`revocationReason`"),
    "hosted-assertion.json": ("docs", "hosted", "hosted `Assertion`"),
    "hosted-revoked.json": (
        "docs", "hosted_revoked",
        "hosted `Assertion` with `revoked: true` and a `revocationReason` (a live issuer "
        "would also answer `410 Gone`)"),
    "hosted-expired.json": (
        "docs", "hosted_expired", "hosted `Assertion` with `expires` 2025-01-01T00:00:00Z"),
    "signed-assertion.jws": (
        "jws", "signed",
        "signed `Assertion`, compact JWS (RS256), `badge` = the BadgeClass URL"),
    "signed-embedded.jws": (
        "jws", "signed_embedded",
        "signed `Assertion` with the BadgeClass embedded (as in `badge.json`, without "
        "`@context`)"),
    "signed-revoked.jws": (
        "jws", "signed_revoked", "signed `Assertion` whose id is in `revocations.json`"),
    "signed-tampered.jws": (
        "jws", "signed_tampered",
        "signed `Assertion` whose payload was changed after signing (recipient swapped for "
        "another address's hash)"),
    "signed-unlisted-key.jws": (
        "jws", "signed_unlisted_key",
        "signed with the unlisted key; `verification.creator` names it"),
    "badge-image.png": (
        "images", "badge_image", "the BadgeClass image (64×64 RGB PNG, nothing baked)"),
    "baked-hosted.png": (
        "images", "baked_hosted_png",
        "`badge-image.png` with an `iTXt` `openbadges` chunk after `IHDR` holding "
        "`hosted-assertion.json` as compact JSON"),
    "baked-signed.png": (
        "images", "baked_signed_png",
        "`badge-image.png` with an `iTXt` `openbadges` chunk holding `signed-assertion.jws`"),
    "baked-hosted.svg": (
        "images", "baked_hosted_svg",
        "SVG whose first child is `<openbadges:assertion verify=\"<hosted-1 URL>\">` with "
        "the assertion's JSON in CDATA"),
    "baked-signed.svg": (
        "images", "baked_signed_svg",
        "SVG whose first child is `<openbadges:assertion verify=\"<signed-assertion.jws>\"/>`"),
}


def served_files(s):
    """URL -> file name, as a fetcher serves them by default."""
    u = s.urls
    return {
        u.issuer: "issuer.json",
        u.key: "key.json",
        u.other_key("unlisted"): "unlisted-key.json",
        u.badge(): "badge.json",
        u.badge_image(): "badge-image.png",
        u.revocations: "revocations.json",
        u.assertion("hosted-1"): "hosted-assertion.json",
        u.assertion("hosted-2"): "hosted-revoked.json",
        u.assertion("hosted-3"): "hosted-expired.json",
    }


def cases(s):
    u = s.urls
    edited = {u.badge(): "badge-edited.json"}
    other = "someone.else@example.org"

    def case(name, given, verified, standard, failure=None, checks=None, email=None,
             serve_instead=None, why=""):
        c = {"name": name, "input": given}
        if email:
            c["recipient_email"] = email
        if serve_instead:
            c["serve_instead"] = serve_instead
        c.update({"verified": verified, "standard": standard, "failure": failure,
                  "checks": checks or {}, "why": why})
        return c

    url = lambda name: {"url": u.assertion(name)}  # noqa: E731
    jws = lambda f: {"file": f, "as": "jws"}  # noqa: E731
    return [
        case("hosted, by URL", url("hosted-1"), True, "ob2-hosted",
             why="fetched from its id; BadgeClass and Profile fetched and linked; same origin as the Profile"),
        case("hosted, the assertion JSON in hand", {"file": "hosted-assertion.json", "as": "json"},
             True, "ob2-hosted",
             why="a hosted assertion in hand only names its URL; the copy fetched there is the one judged"),
        case("hosted, recipient matches", url("hosted-1"), True, "ob2-hosted",
             checks={"recipient": "pass"}, email=s.email,
             why="sha256(earner@example.org + salt) equals the identity"),
        case("hosted, another recipient", url("hosted-1"), False, "ob2-hosted", "recipient",
             {"recipient": "fail"}, email=other, why="the hash does not match another address"),
        case("hosted, revoked", url("hosted-2"), False, "ob2-hosted", "status", {"status": "fail"},
             why="the hosted copy says revoked: true"),
        case("hosted, expired", url("hosted-3"), False, "ob2-hosted", "expiry", {"expiry": "fail"},
             why="expires 2025-01-01T00:00:00Z is in the past"),
        case("signed", jws("signed-assertion.jws"), True, "ob2-signed",
             checks={"signature": "pass", "status": "pass"},
             why="RS256 by /key, which the Profile lists and which names the Profile as owner; not in the RevocationList"),
        case("signed, recipient matches", jws("signed-assertion.jws"), True, "ob2-signed",
             checks={"recipient": "pass"}, email=s.email),
        case("signed, another recipient", jws("signed-assertion.jws"), False, "ob2-signed",
             "recipient", {"recipient": "fail"}, email=other),
        case("signed, BadgeClass linked and edited after issue", jws("signed-assertion.jws"),
             True, "ob2-signed", checks={"signature": "pass"}, serve_instead=edited,
             why="a linked BadgeClass is whatever its id serves now; nothing to disagree with"),
        case("signed, BadgeClass embedded", jws("signed-embedded.jws"), True, "ob2-signed",
             checks={"signature": "pass"},
             why="the embedded BadgeClass agrees with the one served at its id"),
        case("signed, BadgeClass embedded and edited after issue", jws("signed-embedded.jws"),
             False, "ob2-signed", "badge_class", {"signature": "pass"}, serve_instead=edited,
             why="the embedded BadgeClass (name, criteria) disagrees with the one served at its id"),
        case("signed, revoked", jws("signed-revoked.jws"), False, "ob2-signed", "status",
             {"signature": "pass", "status": "fail"},
             why="its id is in the issuer's RevocationList"),
        case("signed, tampered", jws("signed-tampered.jws"), False, "ob2-signed", "signature",
             {"signature": "fail"}, why="the payload was changed after signing"),
        case("signed, key not listed in the Profile", jws("signed-unlisted-key.jws"), False,
             "ob2-signed", "signature", {"signature": "fail"},
             why="the key claims the issuer as owner, but the Profile's publicKey does not list it"),
        case("baked PNG, hosted", {"file": "baked-hosted.png", "as": "image/png"}, True, "ob2-hosted",
             why="the iTXt text is the assertion's JSON, whose id is then fetched"),
        case("baked PNG, signed", {"file": "baked-signed.png", "as": "image/png"}, True, "ob2-signed",
             checks={"signature": "pass"}),
        case("baked SVG, hosted", {"file": "baked-hosted.svg", "as": "image/svg+xml"}, True,
             "ob2-hosted"),
        case("baked SVG, signed", {"file": "baked-signed.svg", "as": "image/svg+xml"}, True,
             "ob2-signed", checks={"signature": "pass"}),
    ]


def write(out):
    s = ob2.BadgeSet(BASE, ob2.new_key(), ob2.new_key(), SALT)
    os.makedirs(out, exist_ok=True)
    for name, (kind, key, _) in FILES.items():
        value = getattr(s, kind)[key]
        if kind == "docs":
            data = ob2.pretty_json(value).encode("utf-8")
        elif kind == "jws":
            data = value.encode("ascii")  # no trailing newline
        else:
            data = value
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    expected = {
        "base_url": BASE,
        "recipient_email": s.email,
        "salt": SALT,
        "clock": CLOCK,
        "standards": {"ob2-hosted": "HostedBadge verification", "ob2-signed": "SignedBadge verification"},
        "served": served_files(s),
        "cases": cases(s),
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        f.write(ob2.pretty_json(expected))
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(s, expected))


def readme(s, expected):
    url_of = {f: u for u, f in expected["served"].items()}
    rows = "\n".join(
        f"| `{name}` | {served_at(name, url_of, expected)} | {what} |"
        for name, (_, _, what) in FILES.items())
    case_rows = "\n".join(
        f"| {c['name']} | {describe_input(c)} | {'yes' if c['verified'] else 'no'} | "
        f"`{c['standard']}` | {('`' + c['failure'] + '`') if c['failure'] else '—'} |"
        for c in expected["cases"])
    return f"""# Open Badges 2.0 vectors

An Open Badges 2.0 issuer at `{BASE}`, written by `conformance/ob2/make_vectors.py`
over `conformance/ob2/ob2.py` (Python and `cryptography`, no code shared with the
service), for tests that serve these files from an in-memory fetcher keyed by URL.
The earner is `{s.email}`: every assertion's `recipient` is
`{{"type": "email", "hashed": true, "salt": "{SALT}", "identity": "sha256$…"}}`,
the hex SHA-256 of the address followed by the salt. The signing key (RSA-2048) was
made for these files and thrown away; only its public half is here (`key.json`).
Regenerating changes `key.json` and the files holding signatures, nothing else.

| file | served at | what it is |
|---|---|---|
| `expected.json` | — | the cases below, the URL → file table and the clock |
{rows}

JSON documents are pretty-printed; `.jws` files hold the compact JWS with no trailing
newline. Serve JSON as `application/ld+json` (or `application/json`). The revoked
hosted assertion is served with `200` here; a live issuer also answers `410 Gone`,
which means the same (`conformance/ob2/run.py` tries both).

## Cases (`expected.json`)

Each case names its input (a URL, a file sent as JSON, as a JWS string, or as a raw
image body), an optional `recipient_email`, `serve_instead` (URL → file replacing the
default for that case), and the conclusion: `verified`, `standard`, the `failure`
(`status`, `expiry`, `signature`, `recipient`, `badge_class`) and `checks` the report
must show with those outcomes. Judge them at `clock` ({CLOCK}); every date but
`expires` in `hosted-expired.json` lies before it.

| case | input | verified | standard | failure |
|---|---|---|---|---|
{case_rows}

The embedded-BadgeClass rule is this service's choice: the specification allows a
verifier to take an embedded BadgeClass in a signed assertion as "the value claimed at
the time of issue"; these vectors expect one that no longer matches the BadgeClass at
its id to fail. A linked BadgeClass that changed is simply the current one.

`/usr/bin/python3 conformance/ob2/make_vectors.py --check` runs every case through the
reference reader in `ob2.py` against these files.
"""


def served_at(name, url_of, expected):
    if name in url_of:
        return f"`{url_of[name]}`"
    instead = sorted({u for c in expected["cases"] for u, f in c.get("serve_instead", {}).items()
                      if f == name})
    if instead:
        return ", ".join(f"`{u}`" for u in instead) + " in the cases that say so"
    return "— (handed to the verifier)"


def describe_input(c):
    given = c["input"]
    text = f"`{given['url'].replace(BASE, '')}`" if "url" in given else \
        f"`{given['file']}` as {given['as']}"
    if c.get("recipient_email"):
        text += f", e-mail `{c['recipient_email']}`"
    if c.get("serve_instead"):
        text += ", " + ", ".join(f"`{f}` at `{u.replace(BASE, '')}`"
                                 for u, f in c["serve_instead"].items())
    return text


def check(out):
    """Runs every case of expected.json through the reference reader against the
    files in `out`. Returns the number of disagreements."""
    with open(os.path.join(out, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    now = datetime.fromisoformat(expected["clock"].replace("Z", "+00:00"))

    def load(name):
        with open(os.path.join(out, name), "rb") as f:
            data = f.read()
        return json.loads(data) if name.endswith(".json") else data

    problems = 0
    # The key files and the Profile link up; the JWS signatures are what they claim.
    key = ob2.load_pem(load("key.json")["publicKeyPem"])
    for name in ("signed-assertion.jws", "signed-embedded.jws", "signed-revoked.jws"):
        ob2.verify_jws(load(name).decode("ascii"), key)
    try:
        ob2.verify_jws(load("signed-tampered.jws").decode("ascii"), key)
        print("FAIL signed-tampered.jws verifies with key.json")
        problems += 1
    except ob2.InvalidSignature:
        pass
    for name in ("baked-hosted.png", "baked-signed.png", "badge-image.png"):
        if not ob2.png_pixels_ok(load(name)):
            print(f"FAIL {name}: IHDR and IDAT disagree")
            problems += 1
    for c in expected["cases"]:
        table = dict(expected["served"], **c.get("serve_instead", {}))

        def fetch(url, table=table):
            if url not in table:
                return 404, None
            doc = load(table[url])
            return 200, doc if isinstance(doc, dict) else None
        given = c["input"]
        if "url" in given:
            value = given["url"]
        elif given["as"] == "json":
            value = load(given["file"])
        elif given["as"] == "jws":
            value = load(given["file"]).decode("ascii")
        else:
            value = load(given["file"])
        got = ob2.reference_verify(value, fetch, c.get("recipient_email"), now)
        want_failures = [c["failure"]] if c["failure"] else []
        ok = (got.verified == c["verified"] and got.standard == c["standard"]
              and got.failures == want_failures)
        problems += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {c['name']}: {got!r}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT, help=f"directory (default {OUT})")
    ap.add_argument("--check", action="store_true", help="only check the vectors on disk")
    args = ap.parse_args()
    if not args.check:
        write(args.out)
        print(f"wrote {len(FILES) + 2} files to {args.out}")
    problems = check(args.out)
    if problems:
        sys.exit(f"{problems} case(s) disagree with expected.json")
    print("every case agrees with expected.json")


if __name__ == "__main__":
    main()
