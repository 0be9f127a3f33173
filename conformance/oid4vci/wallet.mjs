#!/usr/bin/env node
// An OpenID4VCI wallet driven by @openid4vc/openid4vci (oid4vc-ts), an independent
// implementation of the protocol. It redeems one pre-authorized-code offer and prints
//   {"dialect", "library", "version", "holder_did", "credential", ...}
// as a single JSON line on stdout. Every protocol step (offer resolution, metadata
// discovery, token request, nonce request, proof JWT, credential request, notification)
// is the library's; this file only supplies the key, the did:key and the callbacks the
// library asks for (signing, hashing, randomness, fetch).
//
//   node wallet.mjs --offer 'openid-credential-offer://?credential_offer_uri=...' \
//                   --tx-code 123456 --dialect 1.0|draft13 [--key-alg ES256|EdDSA] \
//                   [--allow-http] [--trace] [--key-out FILE]
//
// --key-out FILE writes the holder's private JWK to FILE (mode 0600), so that the same
// key can later present the badge (conformance/oid4vp/claim_and_present.mjs).
//
// Dialects:
//   1.0      OpenID4VCI 1.0: nonce from the nonce endpoint, credential request by
//            credential_configuration_id with `proofs: {jwt: [...]}`, answer in
//            `credentials: [{credential}]`. The library must recognise the issuer
//            metadata as 1.0 on its own.
//   draft13  OpenID4VCI draft 13: c_nonce from the token response, credential request by
//            `format` + `credential_definition` with a single `proof`, answer in
//            `credential`. The library picks its request syntax from the version it
//            detects in the metadata; an issuer that serves both dialects publishes
//            1.0 metadata, so the wallet selects the library's pre-draft-15 syntax
//            (Openid4vciVersion.Draft14, which covers drafts 13 and 14) explicitly.
// Exit status: 0 on success, 1 on a protocol failure, 2 on bad arguments.

import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { clientAuthenticationAnonymous } from "@openid4vc/oauth2";
import {
  Openid4vciClient,
  Openid4vciRetrieveCredentialsError,
  Openid4vciVersion,
  setGlobalConfig,
} from "@openid4vc/openid4vci";

const LIBRARY = "@openid4vc/openid4vci";
const HERE = dirname(fileURLToPath(import.meta.url));

function libraryVersion() {
  const pkg = JSON.parse(
    readFileSync(join(HERE, "node_modules", "@openid4vc", "openid4vci", "package.json"), "utf8"),
  );
  return pkg.version;
}

// ---- arguments ----

function usage(message) {
  process.stderr.write(
    `wallet.mjs: ${message}\n` +
      "usage: node wallet.mjs --offer <openid-credential-offer://...> [--tx-code <code>]\n" +
      "                       --dialect 1.0|draft13 [--key-alg ES256|EdDSA]\n" +
      "                       [--configuration-id <id>] [--allow-http] [--trace] [--key-out FILE]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { keyAlg: "ES256", allowHttp: false, trace: false };
  const valued = {
    "--offer": "offer",
    "--tx-code": "txCode",
    "--dialect": "dialect",
    "--key-alg": "keyAlg",
    "--configuration-id": "configurationId",
    "--key-out": "keyOut",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--allow-http") opts.allowHttp = true;
    else if (a === "--trace") opts.trace = true;
    else if (a === "--help" || a === "-h") usage("help");
    else if (valued[a]) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      opts[valued[a]] = argv[++i];
    } else usage(`unknown argument ${a}`);
  }
  if (!opts.offer) usage("--offer is required");
  if (opts.dialect !== "1.0" && opts.dialect !== "draft13") usage("--dialect must be 1.0 or draft13");
  if (opts.keyAlg !== "ES256" && opts.keyAlg !== "EdDSA") usage("--key-alg must be ES256 or EdDSA");
  return opts;
}

// ---- encoding helpers ----

const b64url = (buf) => Buffer.from(buf).toString("base64url");

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function base58btc(bytes) {
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

// ---- the holder key and its did:key ----

function holderKey(alg) {
  if (alg === "ES256") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const x = Buffer.from(jwk.x, "base64url");
    const y = Buffer.from(jwk.y, "base64url");
    const compressed = Buffer.concat([Buffer.from([y[y.length - 1] & 1 ? 0x03 : 0x02]), x]);
    // multicodec p256-pub (0x1200) as an unsigned varint: 0x80 0x24
    const fingerprint = `z${base58btc(Buffer.concat([Buffer.from([0x80, 0x24]), compressed]))}`;
    return {
      alg,
      privateKey,
      publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
      did: `did:key:${fingerprint}`,
      didUrl: `did:key:${fingerprint}#${fingerprint}`,
      signBytes: (data) => sign("sha256", data, { key: privateKey, dsaEncoding: "ieee-p1363" }),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = publicKey.export({ format: "jwk" });
  // multicodec ed25519-pub (0xed) as an unsigned varint: 0xed 0x01
  const raw = Buffer.from(jwk.x, "base64url");
  const fingerprint = `z${base58btc(Buffer.concat([Buffer.from([0xed, 0x01]), raw]))}`;
  return {
    alg,
    privateKey,
    publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x },
    did: `did:key:${fingerprint}`,
    didUrl: `did:key:${fingerprint}#${fingerprint}`,
    signBytes: (data) => sign(null, data, privateKey),
  };
}

// ---- callbacks the library requires ----

function tracingFetch(enabled) {
  if (!enabled) return undefined;
  return async (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    const method = init?.method ?? "GET";
    const headers = Object.fromEntries(new Headers(init?.headers ?? {}).entries());
    if (headers.authorization) headers.authorization = headers.authorization.replace(/ .*/, " <token>");
    const body = init?.body === undefined ? undefined : String(init.body);
    const response = await fetch(input, init);
    const text = await response.clone().text();
    process.stderr.write(
      `${JSON.stringify({
        trace: "http",
        request: { method, url, headers, body },
        response: {
          status: response.status,
          content_type: response.headers.get("content-type"),
          body: text.length > 4000 ? `${text.slice(0, 4000)}...` : text,
        },
      })}\n`,
    );
    return response;
  };
}

function callbacks(key, trace) {
  return {
    fetch: tracingFetch(trace),
    hash: (data, alg) => createHash(alg.replace("-", "")).update(data).digest(),
    generateRandom: (n) => randomBytes(n),
    clientAuthentication: clientAuthenticationAnonymous(),
    signJwt: async (signer, { header, payload }) => {
      if (signer.method !== "did" || signer.didUrl !== key.didUrl) {
        throw new Error(`asked to sign with an unknown signer ${JSON.stringify(signer)}`);
      }
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
      const signature = key.signBytes(Buffer.from(input, "ascii"));
      return { jwt: `${input}.${b64url(signature)}`, signerJwk: key.publicJwk };
    },
  };
}

// ---- the flow ----

function fail(step, error) {
  // The library's errors already carry the error response or the validation issues.
  let detail = error?.message ?? String(error);
  if (error instanceof Openid4vciRetrieveCredentialsError && error.response?.response) {
    detail = `HTTP ${error.response.response.status}: ${detail}`;
  }
  if (error?.cause && !detail.includes(error.cause?.message ?? "")) {
    detail += ` (cause: ${error.cause?.message ?? error.cause})`;
  }
  process.stderr.write(`wallet.mjs: ${step} failed: ${detail}\n`);
  process.exit(1);
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (error) {
    fail(name, error);
  }
}

function isCompactJws(value) {
  return typeof value === "string" && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // The library accepts only https URLs unless told otherwise (local runs on 127.0.0.1).
  if (opts.allowHttp) setGlobalConfig({ allowInsecureUrls: true });

  const key = holderKey(opts.keyAlg);
  if (opts.keyOut) {
    writeFileSync(opts.keyOut, `${JSON.stringify(key.privateKey.export({ format: "jwk" }))}\n`, { mode: 0o600 });
  }
  const client = new Openid4vciClient({ callbacks: callbacks(key, opts.trace) });

  const offer = await step("resolving the credential offer", () =>
    client.resolveCredentialOffer(opts.offer),
  );
  const grant = offer.grants?.["urn:ietf:params:oauth:grant-type:pre-authorized_code"];
  if (!grant) fail("reading the offer", new Error("the offer has no pre-authorized_code grant"));
  if (grant.tx_code && !opts.txCode) fail("reading the offer", new Error("the offer asks for a tx_code; pass --tx-code"));

  const resolved = await step("resolving the issuer metadata", () =>
    client.resolveIssuerMetadata(offer.credential_issuer),
  );
  const detected = resolved.originalDraftVersion;
  let issuerMetadata = resolved;
  if (opts.dialect === "1.0") {
    if (detected !== Openid4vciVersion.V1) {
      fail(
        "checking the metadata version",
        new Error(
          `the library reads the issuer metadata as ${detected}, not OpenID4VCI 1.0 ` +
            "(1.0 is recognised by a credential_metadata member in a credential configuration)",
        ),
      );
    }
  } else {
    issuerMetadata = { ...resolved, originalDraftVersion: Openid4vciVersion.Draft14 };
  }

  const configurationId = opts.configurationId ?? offer.credential_configuration_ids[0];
  if (!offer.credential_configuration_ids.includes(configurationId)) {
    fail("reading the offer", new Error(`the offer does not name configuration ${configurationId}`));
  }
  const configuration = resolved.credentialIssuer.credential_configurations_supported[configurationId];
  if (!configuration) {
    fail("reading the metadata", new Error(`configuration ${configurationId} is not in credential_configurations_supported`));
  }

  const { accessTokenResponse } = await step("the token request", () =>
    client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer,
      issuerMetadata,
      txCode: grant.tx_code ? opts.txCode : undefined,
    }),
  );

  let nonce;
  if (opts.dialect === "1.0") {
    const nonceResponse = await step("the nonce request", () => client.requestNonce({ issuerMetadata }));
    nonce = nonceResponse.c_nonce;
  } else {
    nonce = accessTokenResponse.c_nonce;
    if (!nonce) fail("the token response", new Error("draft 13 expects c_nonce in the token response; none was sent"));
  }

  const { jwt: proofJwt } = await step("creating the proof JWT", () =>
    client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      signer: { method: "did", didUrl: key.didUrl, alg: key.alg },
      nonce,
      issuedAt: new Date(),
    }),
  );

  const proofArgs =
    opts.dialect === "1.0" ? { proofs: { jwt: [proofJwt] } } : { proof: { proof_type: "jwt", jwt: proofJwt } };
  const { credentialResponse } = await step("the credential request", () =>
    client.retrieveCredentials({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      accessToken: accessTokenResponse.access_token,
      ...proofArgs,
    }),
  );

  let credential;
  if (opts.dialect === "1.0") {
    const first = credentialResponse.credentials?.[0];
    if (!first || typeof first !== "object" || first.credential === undefined) {
      fail(
        "reading the credential response",
        new Error(`1.0 expects credentials: [{credential}], got ${JSON.stringify(credentialResponse)}`),
      );
    }
    credential = first.credential;
  } else {
    credential = credentialResponse.credential;
    if (credential === undefined) {
      fail(
        "reading the credential response",
        new Error(`draft 13 expects credential, got ${JSON.stringify(credentialResponse)}`),
      );
    }
  }
  if (configuration.format === "ldp_vc") {
    // A Data Integrity credential arrives as a JSON object carrying its proof.
    if (typeof credential !== "object" || credential === null || !credential.proof) {
      fail("reading the credential response", new Error(`ldp_vc expects a JSON credential with a proof, got ${JSON.stringify(credential)}`));
    }
  } else if (!isCompactJws(credential)) {
    fail("reading the credential response", new Error(`the credential is not a compact JWT: ${JSON.stringify(credential)}`));
  }

  let notification = null;
  if (credentialResponse.notification_id && resolved.credentialIssuer.notification_endpoint) {
    await step("the notification request", () =>
      client.sendNotification({
        issuerMetadata,
        accessToken: accessTokenResponse.access_token,
        notification: { notificationId: credentialResponse.notification_id, event: "credential_accepted" },
      }),
    );
    notification = "credential_accepted";
  }

  process.stdout.write(
    `${JSON.stringify({
      dialect: opts.dialect,
      library: LIBRARY,
      version: libraryVersion(),
      metadata_version: detected,
      key_alg: key.alg,
      holder_did: key.did,
      configuration_id: configurationId,
      notification,
      credential,
    })}\n`,
  );
}

main().catch((error) => fail("the wallet", error));
