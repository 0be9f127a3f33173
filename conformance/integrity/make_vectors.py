"""Writes the older-suite vectors in tests/vectors/integrity/ (see its README) with
the independent implementation in di.py. Run with pyld, cryptography and base58:
    python conformance/integrity/make_vectors.py
"""
import copy
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "vectors", "integrity")
sys.path.insert(0, HERE)
import di, base58
from cryptography.hazmat.primitives.asymmetric import ed25519, ec
from cryptography.hazmat.primitives import serialization

# The OB 3.0 implementation guide's Ed25519 test key (did:key:z6MkjZRZ...).
sec = base58.b58decode("z3u2XqMnz4u2o6Wu7kJhQyzVd5Qw9d3ffREwtjHsHdyEkM3R"[1:])[2:]
edk = ed25519.Ed25519PrivateKey.from_private_bytes(sec)
pub = edk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
ed_mb = "z" + base58.b58encode(b"\xed\x01" + pub).decode()
assert ed_mb == "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi", ed_mb
# A P-256 key made for these files from a fixed seed.
d = int.from_bytes(hashlib.sha256(b"accolade JsonWebSignature2020 vector").digest(), "big") % (2**256 - 2**224 + 2**192 + 2**96 - 1)
pk = ec.derive_private_key(d, ec.SECP256R1())
p_mb = "z" + base58.b58encode(b"\x80\x24" + pk.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)).decode()

base = json.load(open(os.path.join(HERE, "..", "..", "tests", "vectors", "examples", "ob3_testvector_credential.json")))
subject = base["credentialSubject"]

# VCDM 1.1, as OB 3.0.1-era wallets hold them, with Ed25519Signature2020.
v11 = {
    "@context": ["https://www.w3.org/2018/credentials/v1",
                 "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
                 "https://w3id.org/security/suites/ed25519-2020/v1"],
    "id": "urn:uuid:2d4c8b1e-5a7f-4c3e-9b1d-0e6f7a8b9c01",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "issuer": {"id": "did:key:" + ed_mb, "type": ["Profile"], "name": "Partner Academy"},
    "issuanceDate": "2026-11-01T00:00:00Z",
    "name": "Teamwork Badge",
    "credentialSubject": subject,
}
out = di.sign_legacy(v11, "Ed25519Signature2020", edk, f"did:key:{ed_mb}#{ed_mb}", "2026-12-05T00:00:00Z")
json.dump(out, open(os.path.join(OUT, "vcdm11_ed25519signature2020.json"), "w"), indent=2)

v2 = {
    "@context": ["https://www.w3.org/ns/credentials/v2",
                 "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
                 "https://w3id.org/security/suites/jws-2020/v1"],
    "id": "urn:uuid:6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "issuer": {"id": "did:key:" + p_mb, "type": ["Profile"], "name": "Partner Academy"},
    "validFrom": "2026-11-01T00:00:00Z",
    "name": "Teamwork Badge",
    "credentialSubject": subject,
}
out = di.sign_legacy(v2, "JsonWebSignature2020", pk, f"did:key:{p_mb}#{p_mb}", "2026-12-05T00:00:00Z")
json.dump(out, open(os.path.join(OUT, "ob3_jsonwebsignature2020_p256.json"), "w"), indent=2)
v2e = copy.deepcopy(v2)
v2e["id"] = "urn:uuid:6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e"
v2e["issuer"]["id"] = "did:key:" + ed_mb
out = di.sign_legacy(v2e, "JsonWebSignature2020", edk, f"did:key:{ed_mb}#{ed_mb}", "2026-12-05T00:00:00Z")
json.dump(out, open(os.path.join(OUT, "ob3_jsonwebsignature2020_ed25519.json"), "w"), indent=2)
out = di.sign_legacy(v2e, "JsonWebSignature2020", edk, f"did:key:{ed_mb}#{ed_mb}", "2026-12-05T00:00:00Z", b64_first=True)
json.dump(out, open(os.path.join(OUT, "ob3_jsonwebsignature2020_ed25519_b64_first.json"), "w"), indent=2)

# ecdsa-rdfc-2019 with a P-384 key (did:key, multicodec 0x1201), from a fixed seed.
n384 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973
d384 = int.from_bytes(hashlib.sha384(b"accolade ecdsa-rdfc-2019 P-384 vector").digest(), "big") % n384
k384 = ec.derive_private_key(d384, ec.SECP384R1())
mb384 = "z" + base58.b58encode(b"\x81\x24" + k384.public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)).decode()
v384 = copy.deepcopy(v2)
v384["@context"] = v384["@context"][:2]
v384["id"] = "urn:uuid:3f2e1d0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f"
v384["issuer"]["id"] = "did:key:" + mb384
out = di.sign_ecdsa_p384(v384, k384, f"did:key:{mb384}#{mb384}", "2026-12-05T00:00:00Z")
assert di.verify(out, mb384)
json.dump(out, open(os.path.join(OUT, "ob3_ecdsa_rdfc_2019_p384.json"), "w"), indent=2)
print(mb384)

# JsonWebSignature2020 with an RSA key, the issuer a did:jwk (did:key has no RSA).
import base64
from cryptography.hazmat.primitives.asymmetric import rsa
rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
nums = rk.public_key().public_numbers()
def _b64i(i):
    b = i.to_bytes((i.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
jwk = {"kty": "RSA", "n": _b64i(nums.n), "e": _b64i(nums.e)}
djwk = "did:jwk:" + base64.urlsafe_b64encode(json.dumps(jwk, separators=(",", ":")).encode()).rstrip(b"=").decode()
vr = copy.deepcopy(v2)
vr["id"] = "urn:uuid:7b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
vr["issuer"]["id"] = djwk
out = di.sign_legacy(vr, "JsonWebSignature2020", rk, f"{djwk}#0", "2026-12-05T00:00:00Z")
json.dump(out, open(os.path.join(OUT, "ob3_jsonwebsignature2020_rsa_did_jwk.json"), "w"), indent=2)
