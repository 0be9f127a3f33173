"""An independent Data Integrity verifier: pyld (JSON-LD, URDNA2015/RDFC-1.0) and
cryptography (Ed25519, ECDSA P-256), sharing no code with the service.

Implements "Verify Proof" of the eddsa-rdfc-2022 and ecdsa-rdfc-2019 cryptosuites
(VC Data Integrity EdDSA Cryptosuites v1.0 §3.2.2-3.2.6; ECDSA Cryptosuites v1.0
§3.2.2-3.2.6): the proof options (the proof without `proofValue`, with the
document's `@context`) and the document without its proof are canonicalised, each
hashed with SHA-256, and the signature is checked over the proof hash followed by the
document hash. JSON-LD contexts come only from the repository's `contexts/`
directory; any other context is an error.
"""

import copy
import hashlib
import json
import os

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyld import jsonld

HERE = os.path.dirname(os.path.abspath(__file__))
CONTEXTS_DIR = os.path.join(HERE, "..", "..", "contexts")
# The URL each file in contexts/ is served under (see contexts/README.md).
CONTEXT_FILES = {
    "https://www.w3.org/ns/credentials/v2": "w3c_credentials_v2.jsonld",
    "https://www.w3.org/2018/credentials/v1": "w3c_credentials_v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "w3id_data_integrity_v2.jsonld",
    "https://w3id.org/security/multikey/v1": "w3id_multikey_v1.jsonld",
    "https://w3id.org/security/suites/ed25519-2020/v1": "w3id_ed25519_2020_v1.jsonld",
    "https://w3id.org/security/suites/jws-2020/v1": "w3id_jws2020_v1.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob_v3p0_context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "ob_v3p0_context-3.0.2.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "ob_v3p0_context-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob_v3p0_extensions.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr_v2p0_context-2.0.1.json",
}


def loader(url, options=None):
    name = CONTEXT_FILES.get(url)
    if name is None:
        raise jsonld.JsonLdError("unknown context", "loading document failed", {"url": url})
    with open(os.path.join(CONTEXTS_DIR, name), encoding="utf-8") as f:
        return {"contextUrl": None, "documentUrl": url, "document": json.load(f)}


def canonical(doc):
    return jsonld.normalize(
        doc,
        {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader},
    )


def hash_data(doc, h=hashlib.sha256):
    """The bytes a proof of either suite signs: the hash (SHA-256; SHA-384 for
    ecdsa-rdfc-2019 with P-384) of the canonical proof options, then of the canonical
    document."""
    proof = doc["proof"]
    if isinstance(proof, list):
        (proof,) = proof
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    options["@context"] = doc["@context"]
    bare = {k: v for k, v in doc.items() if k != "proof"}
    return h(canonical(options).encode()).digest() + h(canonical(bare).encode()).digest()


def public_key(multibase):
    raw = base58.b58decode(multibase[1:])
    if raw[:2] == b"\xed\x01":
        return ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])
    if raw[:2] == b"\x80\x24":
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:])
    if raw[:2] == b"\x81\x24":
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), raw[2:])
    raise ValueError("not an Ed25519, P-256 or P-384 Multikey")


def verify(doc, multibase):
    """True when the proof of `doc` verifies with the Multikey `multibase`."""
    doc = copy.deepcopy(doc)
    proof = doc["proof"][0] if isinstance(doc["proof"], list) else doc["proof"]
    if proof.get("type") != "DataIntegrityProof":
        raise ValueError(f"not a DataIntegrityProof: {proof.get('type')}")
    suite = proof.get("cryptosuite")
    value = proof["proofValue"]
    if not value.startswith("z"):
        raise ValueError("proofValue is not base58-btc")
    sig = base58.b58decode(value[1:])
    key = public_key(multibase)
    p384 = isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
    data = hash_data(doc, hashlib.sha384 if p384 else hashlib.sha256)
    try:
        if suite == "eddsa-rdfc-2022":
            key.verify(sig, data)
        elif suite == "ecdsa-rdfc-2019":
            n = 48 if p384 else 32
            if len(sig) != 2 * n:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA384() if p384 else hashes.SHA256()))
        else:
            raise ValueError(f"unknown cryptosuite {suite}")
    except InvalidSignature:
        return False
    return True


def sign_ecdsa_p384(doc, private_key, method, created):
    """`doc` with an ecdsa-rdfc-2019 proof made with a P-384 key (SHA-384 hashes, r‖s
    of 48 bytes each, base58-btc)."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    doc = copy.deepcopy(doc)
    doc["proof"] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "ecdsa-rdfc-2019",
        "created": created,
        "verificationMethod": method,
        "proofPurpose": "assertionMethod",
    }
    der = private_key.sign(hash_data(doc, hashlib.sha384), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der)
    doc["proof"]["proofValue"] = "z" + base58.b58encode(r.to_bytes(48, "big") + s.to_bytes(48, "big")).decode()
    return doc


def b64url(b):
    import base64

    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign_legacy(doc, kind, private_key, method, created, b64_first=False):
    """`doc` with a proof of an older suite, made here (for test vectors):
    `Ed25519Signature2020` (proofValue: base58-btc Ed25519 signature of the hash
    data) or `JsonWebSignature2020` (a detached, unencoded-payload JWS, RFC 7797, over
    the hash data; EdDSA or ES256; its header `{"alg","crit","b64"}`, or
    `{"alg","b64","crit"}` with `b64_first`)."""
    doc = copy.deepcopy(doc)
    doc["proof"] = {
        "type": kind,
        "created": created,
        "verificationMethod": method,
        "proofPurpose": "assertionMethod",
    }
    data = hash_data(doc)
    if kind == "Ed25519Signature2020":
        doc["proof"]["proofValue"] = "z" + base58.b58encode(private_key.sign(data)).decode()
    elif kind == "JsonWebSignature2020":
        if isinstance(private_key, ed25519.Ed25519PrivateKey):
            header = {"alg": "EdDSA", "crit": ["b64"], "b64": False}
            if b64_first:
                header = {"alg": "EdDSA", "b64": False, "crit": ["b64"]}
            sig = private_key.sign(b64url(json.dumps(header, separators=(",", ":")).encode()).encode() + b"." + data)
        elif isinstance(private_key, rsa.RSAPrivateKey):
            header = {"alg": "RS256", "b64": False, "crit": ["b64"]}
            sig = private_key.sign(
                b64url(json.dumps(header, separators=(",", ":")).encode()).encode() + b"." + data,
                padding.PKCS1v15(), hashes.SHA256())
        else:
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

            header = {"alg": "ES256", "crit": ["b64"], "b64": False}
            der = private_key.sign(
                b64url(json.dumps(header, separators=(",", ":")).encode()).encode() + b"." + data,
                ec.ECDSA(hashes.SHA256()),
            )
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        protected = b64url(json.dumps(header, separators=(",", ":")).encode())
        doc["proof"]["jws"] = protected + ".." + b64url(sig)
    else:
        raise ValueError(kind)
    return doc


if __name__ == "__main__":
    import sys

    with open(sys.argv[1], encoding="utf-8") as f:
        print(verify(json.load(f), sys.argv[2]))
