"""A small, independent Open Badges 2.0 issuer (and a reference reader for it).

Nothing here shares code with the service: the documents are built from the IMS Open
Badges v2.0 Final Release (12 April 2018) and its Baking Specification 1.0, the JWS
is put together by hand over ``cryptography``, and PNGs are written with ``zlib`` and
``struct``.

Documents (JSON-LD, ``@context`` ``https://w3id.org/openbadges/v2``):

- issuer ``Profile``: ``id``, ``type``, ``name``, ``url``, ``email`` (the properties
  the specification requires of an issuer), ``publicKey`` (the ``CryptographicKey``
  id) and ``revocationList``;
- ``CryptographicKey``: ``id``, ``owner`` (the Profile's id, the other half of the
  two-way link with ``publicKey``) and ``publicKeyPem`` (SubjectPublicKeyInfo);
- ``BadgeClass``: ``id``, ``name``, ``description``, ``image``, ``criteria``
  (a Criteria object with a ``narrative``), ``issuer`` (the Profile's id);
- ``Assertion``: ``id``, ``recipient`` (IdentityObject), ``badge`` (the BadgeClass id
  or the BadgeClass embedded), ``verification`` (VerificationObject: ``hosted``, or
  ``signed`` with ``creator``), ``issuedOn``, optionally ``expires``, ``revoked``,
  ``revocationReason``;
- ``RevocationList``: ``id``, ``issuer``, ``revokedAssertions`` (an id string, or an
  object with ``id`` and ``revocationReason``).

IdentityHash (Primitive datatypes, "IdentityHash"): ``sha256$`` followed by the
lower-case hex SHA-256 of the UTF-8 identity immediately followed by the salt; with no
salt the identity alone is hashed. The specification's own example: ``sha256$7a1a1b3f
7d40552e4299180e346e3add12bf9a751a43d9c4ca4518febc2c60c6`` is SHA-256 of ``mayze``.

Signed assertions (SignedBadge Verification): a compact JWS, header ``{"alg":"RS256"}``,
payload the assertion's JSON, RSASSA-PKCS1-v1_5 with SHA-256, base64url without
padding (RFC 7515).

Baking (Baking Specification 1.0): PNG, one ``iTXt`` chunk with keyword
``openbadges``, compression flag 0, empty language tag and translated keyword, whose
text is the compact JWS or the assertion's JSON (placed here right after ``IHDR``);
SVG, ``xmlns:openbadges="http://openbadges.org"`` on the root and an
``<openbadges:assertion verify="...">`` element as its first child: ``verify`` is the
JWS (self-closing element) or, for a hosted assertion, the assertion's URL with the
assertion's JSON as the element's body in CDATA.
"""

import base64
import hashlib
import json
import struct
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zlib
from datetime import datetime, timezone
from xml.sax.saxutils import quoteattr

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CONTEXT = "https://w3id.org/openbadges/v2"
OB_NS = "http://openbadges.org"
SVG_NS = "http://www.w3.org/2000/svg"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"openbadges"
JWS_HEADER = {"alg": "RS256"}

EARNER = "earner@example.org"
ISSUED_ON = "2024-05-01T00:00:00Z"
EXPIRES = "2025-01-01T00:00:00Z"


# --- encodings ---------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url_decode(text):
    """Strict: only the base64url alphabet, no padding."""
    if not isinstance(text, str) or not set(text) <= B64URL:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_json(doc):
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def pretty_json(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def urn_uuid(name):
    """A stable `urn:uuid:` (version 5) for a name, so that regenerated documents
    keep their ids."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, name))


# --- keys and signatures -----------------------------------------------------------

def new_key():
    """A fresh RSA-2048 key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key):
    """The SubjectPublicKeyInfo PEM of a private or public RSA key."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_pem(pem):
    return serialization.load_pem_public_key(pem.encode("ascii"))


def sign_jws(payload, key, header=None):
    """Compact JWS (RS256) over the JSON of `payload` (a dict) or over `payload`
    bytes as given."""
    head = b64url(compact_json(header or JWS_HEADER).encode("utf-8"))
    body = payload if isinstance(payload, bytes) else compact_json(payload).encode("utf-8")
    signing_input = f"{head}.{b64url(body)}".encode("ascii")
    sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{b64url(sig)}"


def split_jws(jws):
    """(header dict, payload bytes, signing input bytes, signature bytes); raises
    ValueError on anything that is not a compact JWS with JSON object header."""
    parts = jws.strip().split(".")
    if len(parts) != 3:
        raise ValueError("a compact JWS has three parts")
    header = json.loads(b64url_decode(parts[0]))
    if not isinstance(header, dict):
        raise ValueError("the JWS header is not a JSON object")
    return header, b64url_decode(parts[1]), f"{parts[0]}.{parts[1]}".encode("ascii"), \
        b64url_decode(parts[2])


def verify_jws(jws, public_key):
    """The payload's JSON if `jws` is a valid RS256 signature by `public_key`; raises
    InvalidSignature or ValueError otherwise."""
    header, payload, signing_input, sig = split_jws(jws)
    if header.get("alg") != "RS256":
        raise ValueError(f"alg {header.get('alg')!r} is not RS256")
    public_key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
    return json.loads(payload)


def jws_payload(jws):
    return json.loads(split_jws(jws)[1])


def tamper_jws(jws, change):
    """The JWS with its payload replaced by `change(payload dict)`, header and
    signature kept: what an attacker who edits a signed badge produces."""
    head, _, sig = jws.split(".")
    doc = change(jws_payload(jws))
    return f"{head}.{b64url(compact_json(doc).encode('utf-8'))}.{sig}"


# --- recipients --------------------------------------------------------------------

def identity_hash(identity, salt=None, alg="sha256"):
    """IdentityHash: `<alg>$<hex digest of identity + salt>` (no salt: identity alone)."""
    data = (identity + (salt or "")).encode("utf-8")
    return f"{alg}${hashlib.new(alg, data).hexdigest()}"


def hashed_email(email, salt):
    """A hashed, salted e-mail IdentityObject."""
    return {"type": "email", "hashed": True, "salt": salt,
            "identity": identity_hash(email, salt)}


def recipient_matches(recipient, email):
    """Does the IdentityObject name `email`? (`type` email only; hashed with sha256 or
    md5, hex of either case, or plain text.)"""
    if not isinstance(recipient, dict) or recipient.get("type") != "email":
        return False
    identity = recipient.get("identity")
    if not isinstance(identity, str):
        return False
    if recipient.get("hashed") is True:
        alg, _, digest = identity.partition("$")
        if alg.lower() not in ("sha256", "md5"):
            return False
        return identity_hash(email, recipient.get("salt"), alg.lower()).split("$")[1] \
            == digest.lower()
    return identity == email


# --- documents ---------------------------------------------------------------------

class Urls:
    """Where each document of an issuer at `base` lives."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.issuer = f"{self.base}/issuer"
        self.key = f"{self.base}/key"
        self.revocations = f"{self.base}/revocations"

    def badge(self, slug="rust"):
        return f"{self.base}/badges/{slug}"

    def badge_image(self, slug="rust"):
        return f"{self.base}/badges/{slug}/image"

    def assertion(self, name):
        return f"{self.base}/assertions/{name}"

    def other_key(self, name):
        return f"{self.base}/keys/{name}"


def issuer_profile(urls, name="OB2 Conformance Guild", url=None, email="badges@ob2.example.org",
                   public_key=None, revocation_list=True):
    doc = {
        "@context": CONTEXT,
        "type": "Profile",
        "id": urls.issuer,
        "name": name,
        "url": url or urls.base,
        "email": email,
        "publicKey": public_key or urls.key,
    }
    if revocation_list:
        doc["revocationList"] = urls.revocations
    return doc


def cryptographic_key(key_id, owner, key):
    return {
        "@context": CONTEXT,
        "type": "CryptographicKey",
        "id": key_id,
        "owner": owner,
        "publicKeyPem": public_pem(key),
    }


def badge_class(urls, slug="rust", name="Rust Practitioner",
                description="Writes, tests and ships safe Rust.",
                narrative="Wrote a command-line tool in Rust, with tests, reviewed by a mentor.",
                context=True):
    doc = {
        "@context": CONTEXT,
        "type": "BadgeClass",
        "id": urls.badge(slug),
        "name": name,
        "description": description,
        "image": urls.badge_image(slug),
        "criteria": {"narrative": narrative},
        "issuer": urls.issuer,
    }
    if not context:
        del doc["@context"]
    return doc


def edited_badge_class(urls, slug="rust"):
    """The same BadgeClass id with its name and criteria changed after issue."""
    return badge_class(urls, slug, name="Rust Practitioner (revised)",
                       narrative="Wrote two command-line tools in Rust and passed a "
                                 "proctored exam.")


def embedded(doc):
    """A document as it appears embedded in another (no `@context` of its own)."""
    return {k: v for k, v in doc.items() if k != "@context"}


def assertion(assertion_id, badge, recipient, verification, issued_on=ISSUED_ON,
              expires=None, **extra):
    doc = {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": assertion_id,
        "recipient": recipient,
        "badge": badge,
        "verification": verification,
        "issuedOn": issued_on,
    }
    if expires:
        doc["expires"] = expires
    doc.update(extra)
    return doc


def hosted(urls, name, recipient, badge=None, verification_type="hosted", **extra):
    return assertion(urls.assertion(name), badge or urls.badge(), recipient,
                     {"type": verification_type}, **extra)


def signed(urls, name, recipient, badge=None, creator=None, verification_type="signed",
           **extra):
    verification = {"type": verification_type, "creator": creator or urls.key}
    return assertion(urn_uuid(f"{urls.base}/signed/{name}"), badge or urls.badge(),
                     recipient, verification, **extra)


def revocation_list(urls, entries):
    return {
        "@context": CONTEXT,
        "type": "RevocationList",
        "id": urls.revocations,
        "issuer": urls.issuer,
        "revokedAssertions": list(entries),
    }


# --- images ------------------------------------------------------------------------

def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_image(width=64, height=64, rgb=(0xB7, 0x41, 0x0E)):
    """A solid-colour 8-bit RGB PNG."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + \
        _chunk(b"IDAT", zlib.compress(row * height, 9)) + _chunk(b"IEND", b"")


def png_chunks(png):
    """[(type bytes, data bytes)]; raises ValueError on a bad signature, length or CRC."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    pos, chunks = len(PNG_SIGNATURE), []
    while pos < len(png):
        if pos + 12 > len(png):
            raise ValueError("truncated chunk")
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        data = png[pos + 8:pos + 8 + length]
        if len(data) != length or pos + 12 + length > len(png):
            raise ValueError("truncated chunk")
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        if crc != zlib.crc32(kind + data) & 0xFFFFFFFF:
            raise ValueError(f"bad CRC in {kind!r}")
        chunks.append((kind, data))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def itxt(keyword, text):
    """iTXt data: keyword NUL, compression flag 0, method 0, empty language tag NUL,
    empty translated keyword NUL, UTF-8 text."""
    return keyword + b"\x00" + b"\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")


def bake_png(png, text):
    """The PNG with one uncompressed `iTXt` `openbadges` chunk right after IHDR (an
    existing one is replaced)."""
    chunks = [c for c in png_chunks(png)
              if not (c[0] in (b"iTXt", b"tEXt") and c[1].split(b"\x00", 1)[0] == PNG_KEYWORD)]
    if not chunks or chunks[0][0] != b"IHDR":
        raise ValueError("the PNG does not start with IHDR")
    out = PNG_SIGNATURE + _chunk(*chunks[0]) + _chunk(b"iTXt", itxt(PNG_KEYWORD, text))
    for kind, data in chunks[1:]:
        out += _chunk(kind, data)
    return out


def read_png(png):
    """The text of the first `openbadges` iTXt (or legacy tEXt) chunk, or None."""
    for kind, data in png_chunks(png):
        if kind == b"iTXt":
            keyword, _, rest = data.partition(b"\x00")
            if keyword != PNG_KEYWORD:
                continue
            flag, method, rest = rest[0], rest[1], rest[2:]
            _lang, _, rest = rest.partition(b"\x00")
            _translated, _, text = rest.partition(b"\x00")
            if flag:
                if method != 0:
                    raise ValueError("unknown iTXt compression method")
                text = zlib.decompress(text)
            return text.decode("utf-8")
        if kind == b"tEXt":
            keyword, _, text = data.partition(b"\x00")
            if keyword == PNG_KEYWORD:
                return text.decode("latin-1")
    return None


def png_pixels_ok(png):
    """IHDR and IDAT agree (the image still decodes after baking)."""
    chunks = png_chunks(png)
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    raw = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
    channels = {2: 3, 6: 4}[colour]
    return depth == 8 and len(raw) == height * (1 + width * channels)


def bake_svg(verify, assertion_json=None, size=64, fill="#b7410e"):
    """A small badge SVG with `<openbadges:assertion verify=...>` as the root's first
    child; `assertion_json` (a hosted assertion's JSON) goes in CDATA as its body."""
    if assertion_json is not None and "]]>" in assertion_json:
        raise ValueError("the assertion JSON cannot be wrapped in CDATA")
    if assertion_json is None:
        element = f"  <openbadges:assertion verify={quoteattr(verify)}/>\n"
    else:
        element = (f"  <openbadges:assertion verify={quoteattr(verify)}>"
                   f"<![CDATA[{assertion_json}]]></openbadges:assertion>\n")
    r = size // 2
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="{SVG_NS}" xmlns:openbadges="{OB_NS}" width="{size}" '
            f'height="{size}" viewBox="0 0 {size} {size}">\n'
            + element +
            f'  <circle cx="{r}" cy="{r}" r="{r - 2}" fill="{fill}"/>\n'
            f'  <text x="{r}" y="{r + 6}" font-size="16" text-anchor="middle" '
            'fill="#ffffff">OB2</text>\n'
            '</svg>\n')


def read_svg(svg):
    """(verify attribute, body text or None) of the first openbadges:assertion, or
    None. Also checks that it is the root's first child."""
    root = ET.fromstring(svg.encode("utf-8") if isinstance(svg, str) else svg)
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValueError("the root is not an SVG element")
    found = root.find(f"{{{OB_NS}}}assertion")
    if found is None:
        return None
    if list(root)[0] is not found:
        raise ValueError("openbadges:assertion is not the root's first child")
    body = (found.text or "").strip()
    return found.get("verify"), body or None


# --- a reference reader ------------------------------------------------------------

class Conclusion:
    """What a verifier concludes: `verified`, the `standard` (`ob2-hosted` or
    `ob2-signed`), and the failing checks by report name (`status`, `expiry`,
    `signature`, `recipient`, `badge_class`, `data`)."""

    def __init__(self):
        self.standard = None
        self.failures = []
        self.notes = []

    def fail(self, check, note):
        self.failures.append(check)
        self.notes.append(f"{check}: {note}")
        return self

    @property
    def verified(self):
        return self.standard is not None and not self.failures

    def __repr__(self):
        return (f"verified={self.verified} standard={self.standard} "
                f"failures={self.failures} {'; '.join(self.notes)}").strip()


def _ids(value):
    if isinstance(value, list):
        return [i for v in value for i in _ids(v)]
    if isinstance(value, dict):
        return [value["id"]] if isinstance(value.get("id"), str) else []
    return [value] if isinstance(value, str) else []


def _types(value):
    return value if isinstance(value, list) else [value]


def _origin(url):
    p = urllib.parse.urlsplit(url)
    return (p.scheme, p.netloc)


def _parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


BADGE_FIELDS = ("name", "description", "image", "criteria", "issuer")


def reference_verify(given, fetch, email=None, now=None):
    """Verifies an OB 2.0 badge the way the specification's "Verification" section
    describes. `given` is a hosted assertion URL, a compact JWS, an assertion dict, or
    PNG/SVG bytes; `fetch(url)` returns (HTTP status, parsed JSON or None). Checks:
    hosted: the assertion as fetched from its id (410 Gone or `revoked: true` is
    revoked); signed: RS256 signature by a key the issuer Profile lists under
    `publicKey` whose `owner` is the Profile, then the Profile's RevocationList; both:
    BadgeClass and Profile fetched and linked, an embedded BadgeClass in a signed
    assertion agrees with the one at its id, `expires` against `now`, the recipient
    when `email` is given."""
    now = now or datetime.now(timezone.utc)
    c = Conclusion()
    # 1. What arrived.
    if isinstance(given, bytes):
        if given.startswith(PNG_SIGNATURE):
            given = read_png(given)
        else:
            found = read_svg(given)
            given = None if found is None else (found[1] or found[0])
        if given is None:
            return c.fail("data", "no baked assertion")
    if isinstance(given, str):
        text = given.strip()
        if text.startswith("{"):
            given = json.loads(text)
        elif text.startswith(("http://", "https://")):
            given = {"verification": {"type": "hosted"}, "id": text}
    jws = given if isinstance(given, str) else None
    if jws is not None:
        try:
            doc = jws_payload(jws)
        except ValueError as e:
            return c.fail("data", f"not a JWS with a JSON payload: {e}")
    else:
        doc = given
    verification = doc.get("verification") or doc.get("verify") or {}
    vtypes = _types(verification.get("type"))
    # 2. Hosted: the copy at the id is the assertion.
    if {"hosted", "HostedBadge"} & set(vtypes) and jws is None:
        c.standard = "ob2-hosted"
        url = doc.get("id")
        status, fetched = fetch(url)
        if status == 410 or (isinstance(fetched, dict) and fetched.get("revoked") is True):
            reason = (fetched or {}).get("revocationReason") if isinstance(fetched, dict) else None
            return c.fail("status", f"revoked ({status}{', ' + reason if reason else ''})")
        if status != 200 or not isinstance(fetched, dict):
            return c.fail("data", f"assertion at {url}: HTTP {status}")
        if fetched.get("id") != url:
            return c.fail("data", f"the hosted assertion's id is {fetched.get('id')!r}")
        doc = fetched
        vtypes = _types((doc.get("verification") or {}).get("type"))
        if not {"hosted", "HostedBadge"} & set(vtypes):
            return c.fail("data", "the hosted copy is not a hosted assertion")
    elif {"signed", "SignedBadge"} & set(vtypes) and jws is not None:
        c.standard = "ob2-signed"
    else:
        return c.fail("data", f"verification {vtypes} does not fit what arrived")
    if "Assertion" not in _types(doc.get("type")):
        return c.fail("data", "not an Assertion")
    # 3. BadgeClass and issuer Profile.
    badge = doc.get("badge")
    badge_id = _ids(badge)[0] if _ids(badge) else None
    status, hosted_badge = fetch(badge_id) if badge_id else (None, None)
    if status != 200 or not isinstance(hosted_badge, dict):
        return c.fail("data", f"BadgeClass at {badge_id}: HTTP {status}")
    if isinstance(badge, dict) and c.standard == "ob2-signed":
        differs = [f for f in BADGE_FIELDS if badge.get(f) != hosted_badge.get(f)]
        if differs:
            c.fail("badge_class", f"the embedded BadgeClass differs from {badge_id} in "
                                  f"{', '.join(differs)}")
    issuer_id = (_ids(hosted_badge.get("issuer")) or [None])[0]
    status, profile = fetch(issuer_id) if issuer_id else (None, None)
    if status != 200 or not isinstance(profile, dict) or profile.get("id") != issuer_id:
        return c.fail("data", f"issuer Profile at {issuer_id}: HTTP {status}")
    missing = [f for f in ("name", "url", "email") if not profile.get(f)]
    if missing:
        return c.fail("data", f"the issuer Profile lacks {', '.join(missing)}")
    # 4. Hosted scope / signature and revocation list.
    if c.standard == "ob2-hosted":
        scope = profile.get("verification") or {}
        starts = _types(scope.get("startsWith")) if scope.get("startsWith") else []
        hosts = _types(scope.get("allowedOrigins")) if scope.get("allowedOrigins") else []
        aid = doc["id"]
        if starts:
            ok = any(aid.startswith(s) for s in starts)
        elif hosts:
            ok = urllib.parse.urlsplit(aid).hostname in hosts
        else:
            ok = _origin(aid) == _origin(issuer_id)
        if not ok:
            return c.fail("signature", "the assertion is outside the issuer's hosted scope")
    else:
        listed = _ids(profile.get("publicKey"))
        creator = verification.get("creator")
        candidates = [creator] if creator else listed
        if creator and creator not in listed:
            return c.fail("signature", f"{creator} is not a publicKey of {issuer_id}")
        good = False
        for key_id in candidates:
            status, key_doc = fetch(key_id)
            if status != 200 or not isinstance(key_doc, dict) or key_doc.get("owner") != issuer_id:
                continue
            try:
                verify_jws(jws, load_pem(key_doc["publicKeyPem"]))
                good = True
                break
            except (InvalidSignature, ValueError, KeyError):
                continue
        if not good:
            return c.fail("signature", "no key of the issuer verifies the JWS")
        if profile.get("revocationList"):
            status, rl = fetch(profile["revocationList"])
            if status != 200 or not isinstance(rl, dict):
                return c.fail("status", f"revocation list: HTTP {status}")
            if doc.get("id") in _ids(rl.get("revokedAssertions")):
                c.fail("status", "listed in the issuer's RevocationList")
    if doc.get("revoked") is True:
        c.fail("status", "revoked: true")
    # 5. Expiry and recipient.
    if doc.get("expires") and _parse_time(doc["expires"]) <= now:
        c.fail("expiry", f"expired {doc['expires']}")
    if doc.get("issuedOn") and _parse_time(doc["issuedOn"]) > now:
        c.fail("expiry", f"issued in the future ({doc['issuedOn']})")
    if email is not None and not recipient_matches(doc.get("recipient"), email):
        c.fail("recipient", f"the recipient is not {email}")
    return c


# --- one issuer's set of badges ----------------------------------------------------

class BadgeSet:
    """Everything one issuer at `base` publishes and hands out for the tests:

    - `docs`: `issuer`, `key`, `unlisted_key` (a second CryptographicKey owned by the
      issuer but not listed in its Profile), `badge`, `badge_edited`, `revocations`,
      `hosted`, `hosted_revoked`, `hosted_expired`;
    - `jws`: `signed`, `signed_embedded` (BadgeClass embedded), `signed_revoked`
      (listed in the RevocationList), `signed_tampered` (payload changed after
      signing), `signed_unlisted_key` (signed with the unlisted key, `creator` naming
      it);
    - `images`: `badge_image` (plain), `baked_hosted_png`, `baked_signed_png`,
      `baked_hosted_svg`, `baked_signed_svg` (bytes);
    - `served`: URL -> document, what a fetcher must answer (the BadgeClass as issued);
    - `key`: the private key behind `key.json`, for signing more assertions.
    """

    def __init__(self, base, key, unlisted_key, salt, email=EARNER):
        u = self.urls = Urls(base)
        self.email, self.salt = email, salt
        self.key = key
        recipient = hashed_email(email, salt)
        badge = badge_class(u)
        d = self.docs = {
            "issuer": issuer_profile(u),
            "key": cryptographic_key(u.key, u.issuer, key),
            "unlisted_key": cryptographic_key(u.other_key("unlisted"), u.issuer, unlisted_key),
            "badge": badge,
            "badge_edited": edited_badge_class(u),
            "hosted": hosted(u, "hosted-1", recipient),
            "hosted_revoked": hosted(u, "hosted-2", recipient, revoked=True,
                                     revocationReason="Awarded in error."),
            "hosted_expired": hosted(u, "hosted-3", recipient, expires=EXPIRES),
        }
        good = signed(u, "signed-1", recipient)
        emb = signed(u, "signed-embedded", recipient, badge=embedded(badge))
        rev = signed(u, "signed-revoked", recipient)
        tam = signed(u, "signed-tampered", recipient)
        unl = signed(u, "signed-unlisted-key", recipient, creator=u.other_key("unlisted"))
        d["revocations"] = revocation_list(u, [
            urn_uuid(f"{u.base}/signed/revoked-long-ago"),
            {"id": rev["id"], "revocationReason": "Exam result withdrawn."},
        ])
        intruder = hashed_email("intruder@example.org", salt)
        self.jws = {
            "signed": sign_jws(good, key),
            "signed_embedded": sign_jws(emb, key),
            "signed_revoked": sign_jws(rev, key),
            "signed_tampered": tamper_jws(sign_jws(tam, key),
                                          lambda p: dict(p, recipient=intruder)),
            "signed_unlisted_key": sign_jws(unl, unlisted_key),
        }
        image = png_image()
        self.images = {
            "badge_image": image,
            "baked_hosted_png": bake_png(image, compact_json(d["hosted"])),
            "baked_signed_png": bake_png(image, self.jws["signed"]),
            "baked_hosted_svg": bake_svg(d["hosted"]["id"],
                                         compact_json(d["hosted"])).encode("utf-8"),
            "baked_signed_svg": bake_svg(self.jws["signed"]).encode("utf-8"),
        }
        self.served = {
            u.issuer: d["issuer"],
            u.key: d["key"],
            u.other_key("unlisted"): d["unlisted_key"],
            u.badge(): d["badge"],
            u.revocations: d["revocations"],
            u.assertion("hosted-1"): d["hosted"],
            u.assertion("hosted-2"): d["hosted_revoked"],
            u.assertion("hosted-3"): d["hosted_expired"],
        }

    def fetcher(self, overrides=None, gone=()):
        """fetch(url) -> (status, document) over `served` (with `overrides`); URLs in
        `gone` answer 410 with their document."""
        table = dict(self.served, **(overrides or {}))

        def fetch(url):
            if url not in table:
                return 404, None
            return (410 if url in gone else 200), table[url]
        return fetch
