// Keys, JWS and DID resolution for the OpenID4VP wallet and its self-test, on
// node:crypto alone: did:key (P-256, P-384, Ed25519), did:jwk and did:web documents,
// compact JWS signing and verification for ES256/ES384/EdDSA/RS256/PS256.

import {
  createPublicKey,
  createPrivateKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
  constants,
} from "node:crypto";

export const b64url = (buf) => Buffer.from(buf).toString("base64url");
export const fromB64url = (s) => Buffer.from(s, "base64url");
export const b64urlJson = (value) => b64url(JSON.stringify(value));

// ---- base58btc ----

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

export function base58btcEncode(bytes) {
  let n = BigInt(`0x${Buffer.from(bytes).toString("hex") || "0"}`);
  let out = "";
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

export function base58btcDecode(text) {
  let n = 0n;
  for (const ch of text) {
    const v = BASE58.indexOf(ch);
    if (v < 0) throw new Error(`not base58btc: ${JSON.stringify(ch)}`);
    n = n * 58n + BigInt(v);
  }
  let hex = n === 0n ? "" : n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let zeros = 0;
  while (zeros < text.length && text[zeros] === "1") zeros++;
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(hex, "hex")]);
}

// ---- multicodec public keys (did:key, Multikey) ----

// multicodec prefixes as unsigned varints
const MULTICODEC = [
  { prefix: [0xed, 0x01], kty: "OKP", crv: "Ed25519", length: 32 },
  { prefix: [0x80, 0x24], kty: "EC", crv: "P-256", length: 33 },
  { prefix: [0x81, 0x24], kty: "EC", crv: "P-384", length: 49 },
];

// SubjectPublicKeyInfo DER prefixes for the raw (compressed, for EC) key bytes
const SPKI_PREFIX = {
  Ed25519: "302a300506032b6570032100",
  "P-256": "3039301306072a8648ce3d020106082a8648ce3d030107032200",
  "P-384": "3046301006072a8648ce3d020106052b81040022033200",
};

function publicJwkFromRaw(crv, raw) {
  const der = Buffer.concat([Buffer.from(SPKI_PREFIX[crv], "hex"), raw]);
  const jwk = createPublicKey({ key: der, format: "der", type: "spki" }).export({ format: "jwk" });
  return crv === "Ed25519"
    ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x }
    : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

export function publicJwkFromMultibase(multibase) {
  if (!multibase.startsWith("z")) throw new Error(`unsupported multibase ${multibase.slice(0, 1)}`);
  const bytes = base58btcDecode(multibase.slice(1));
  for (const codec of MULTICODEC) {
    if (bytes[0] === codec.prefix[0] && bytes[1] === codec.prefix[1]) {
      const raw = bytes.subarray(2);
      if (raw.length !== codec.length) throw new Error(`bad ${codec.crv} key length ${raw.length}`);
      return publicJwkFromRaw(codec.crv, raw);
    }
  }
  throw new Error("unsupported multicodec key type");
}

export function multibaseFromPublicJwk(jwk) {
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") {
    return `z${base58btcEncode(Buffer.concat([Buffer.from([0xed, 0x01]), fromB64url(jwk.x)]))}`;
  }
  if (jwk.kty === "EC" && (jwk.crv === "P-256" || jwk.crv === "P-384")) {
    const x = fromB64url(jwk.x);
    const y = fromB64url(jwk.y);
    const compressed = Buffer.concat([Buffer.from([y[y.length - 1] & 1 ? 0x03 : 0x02]), x]);
    const prefix = jwk.crv === "P-256" ? [0x80, 0x24] : [0x81, 0x24];
    return `z${base58btcEncode(Buffer.concat([Buffer.from(prefix), compressed]))}`;
  }
  throw new Error(`no did:key encoding for ${jwk.kty}/${jwk.crv}`);
}

export function didKeyFromPublicJwk(jwk) {
  const fingerprint = multibaseFromPublicJwk(jwk);
  return { did: `did:key:${fingerprint}`, didUrl: `did:key:${fingerprint}#${fingerprint}` };
}

// ---- algorithms ----

export function algForJwk(jwk) {
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "EC" && jwk.crv === "P-384") return "ES384";
  if (jwk.kty === "RSA") return "RS256";
  throw new Error(`unsupported key ${jwk.kty}/${jwk.crv ?? ""}`);
}

// Whether a JWS alg can be verified with a key of this type.
export function algFitsJwk(alg, jwk) {
  switch (alg) {
    case "EdDSA":
    case "Ed25519":
      return jwk.kty === "OKP" && jwk.crv === "Ed25519";
    case "ES256":
      return jwk.kty === "EC" && jwk.crv === "P-256";
    case "ES384":
      return jwk.kty === "EC" && jwk.crv === "P-384";
    case "RS256":
    case "PS256":
      return jwk.kty === "RSA";
    default:
      return false;
  }
}

function signatureParams(alg, key) {
  switch (alg) {
    case "EdDSA":
    case "Ed25519":
      return [null, key];
    case "ES256":
      return ["sha256", { key, dsaEncoding: "ieee-p1363" }];
    case "ES384":
      return ["sha384", { key, dsaEncoding: "ieee-p1363" }];
    case "RS256":
      return ["sha256", key];
    case "PS256":
      return ["sha256", { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }];
    default:
      throw new Error(`unsupported alg ${alg}`);
  }
}

// ---- keys ----

function publicPart(jwk) {
  if (jwk.kty === "OKP") return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
  if (jwk.kty === "EC") return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  if (jwk.kty === "RSA") return { kty: jwk.kty, n: jwk.n, e: jwk.e };
  throw new Error(`unsupported key type ${jwk.kty}`);
}

// A signing key from a private JWK: its alg, public JWK, did:key and a signer.
export function keyFromPrivateJwk(jwk) {
  if (!jwk || typeof jwk !== "object" || !jwk.d) throw new Error("not a private JWK (no \"d\")");
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  const publicJwk = publicPart(jwk);
  const alg = jwk.alg && algFitsJwk(jwk.alg, publicJwk) ? jwk.alg : algForJwk(publicJwk);
  const { did, didUrl } = didKeyFromPublicJwk(publicJwk);
  const [digest, params] = signatureParams(alg, privateKey);
  return { alg, privateJwk: jwk, publicJwk, did, didUrl, signBytes: (data) => sign(digest, data, params) };
}

export function generateKey(alg) {
  const { privateKey } =
    alg === "EdDSA"
      ? generateKeyPairSync("ed25519")
      : generateKeyPairSync("ec", { namedCurve: alg === "ES384" ? "P-384" : "P-256" });
  return keyFromPrivateJwk(privateKey.export({ format: "jwk" }));
}

// ---- JWS ----

export function signJwt(key, header, payload) {
  const input = `${b64urlJson(header)}.${b64urlJson(payload)}`;
  return `${input}.${b64url(key.signBytes(Buffer.from(input, "ascii")))}`;
}

export function decodeJwt(compact) {
  if (typeof compact !== "string") throw new Error("a JWT must be a string");
  const parts = compact.split(".");
  if (parts.length !== 3) throw new Error("not a compact JWS (three parts expected)");
  return {
    header: JSON.parse(fromB64url(parts[0]).toString("utf8")),
    payload: JSON.parse(fromB64url(parts[1]).toString("utf8")),
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: fromB64url(parts[2]),
  };
}

export function verifyJws(compact, jwk, alg) {
  const { signingInput, signature } = decodeJwt(compact);
  if (!algFitsJwk(alg, jwk)) return false;
  const key = createPublicKey({ key: publicPart(jwk), format: "jwk" });
  const [digest, params] = signatureParams(alg, key);
  return verify(digest, Buffer.from(signingInput, "ascii"), params, signature);
}

export const newJti = () => `urn:uuid:${randomUUID()}`;

// ---- DID resolution ----

// The URL of a did:web document.
export function didWebUrl(did, { allowHttp = false } = {}) {
  const rest = did.slice("did:web:".length);
  if (!rest) throw new Error(`not a did:web: ${did}`);
  const segments = rest.split(":").map((s) => decodeURIComponent(s));
  const [host, ...path] = segments;
  if (!host || host.includes("/")) throw new Error(`bad did:web host in ${did}`);
  const scheme = allowHttp ? "http" : "https";
  return path.length === 0
    ? `${scheme}://${host}/.well-known/did.json`
    : `${scheme}://${host}/${path.map(encodeURIComponent).join("/")}/did.json`;
}

// The DID document for a did:web, did:key or did:jwk (fetch is used for did:web).
export async function resolveDid(did, { fetchImpl = fetch, allowHttp = false } = {}) {
  if (did.startsWith("did:key:")) {
    const fingerprint = did.slice("did:key:".length);
    const vm = {
      id: `${did}#${fingerprint}`,
      type: "JsonWebKey2020",
      controller: did,
      publicKeyJwk: publicJwkFromMultibase(fingerprint),
    };
    return { id: did, verificationMethod: [vm], assertionMethod: [vm.id], authentication: [vm.id] };
  }
  if (did.startsWith("did:jwk:")) {
    const jwk = JSON.parse(fromB64url(did.slice("did:jwk:".length)).toString("utf8"));
    const vm = { id: `${did}#0`, type: "JsonWebKey2020", controller: did, publicKeyJwk: publicPart(jwk) };
    return { id: did, verificationMethod: [vm], assertionMethod: [vm.id], authentication: [vm.id] };
  }
  if (did.startsWith("did:web:")) {
    const url = didWebUrl(did, { allowHttp });
    const response = await fetchImpl(url, { headers: { Accept: "application/did+json, application/json" } });
    if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
    const doc = await response.json();
    if (doc?.id !== did) throw new Error(`the document at ${url} is for ${JSON.stringify(doc?.id)}, not ${did}`);
    return doc;
  }
  throw new Error(`unsupported DID method: ${did.split(":").slice(0, 2).join(":")}`);
}

// The public JWK of the verification method a DID URL names in a DID document.
export function verificationJwk(doc, didUrl) {
  const [did, fragment] = didUrl.split("#");
  if (!fragment) throw new Error(`${didUrl} names no verification method (no fragment)`);
  const candidates = [
    ...(doc.verificationMethod ?? []),
    ...["authentication", "assertionMethod"].flatMap((rel) => (doc[rel] ?? []).filter((m) => typeof m === "object")),
  ];
  const vm = candidates.find((m) => m.id === didUrl || (did === doc.id && m.id === `#${fragment}`));
  if (!vm) throw new Error(`${didUrl} is not a verification method of ${doc.id}`);
  if (vm.publicKeyJwk) return publicPart(vm.publicKeyJwk);
  if (vm.publicKeyMultibase) return publicJwkFromMultibase(vm.publicKeyMultibase);
  throw new Error(`${didUrl} has neither publicKeyJwk nor publicKeyMultibase`);
}
