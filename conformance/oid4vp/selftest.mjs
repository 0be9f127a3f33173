#!/usr/bin/env node
// Self-test for wallet.mjs, with no accolade involved: a small verifier on
// 127.0.0.1 whose authorization requests are created (and signed) by the
// library's own verifier side (Openid4vpVerifier), and which checks the answers:
// the library parses the response and checks `state`; this file checks the VP
// (signature by its did:key, aud = client_id, nonce), the badge inside it (issuer
// signature via did:web, subject = VP signer) and, with the `dcql` library, that the
// presentations satisfy the query. It mints its own badge for a fresh holder key,
// runs wallet.mjs once per case and prints one line per case.
//
//   node selftest.mjs [--keep] [--offer <openid-credential-offer://...> --tx-code <code>]
//
// With --offer/--tx-code it also runs claim_and_present.mjs: the badge is claimed
// from that issuer over OpenID4VCI and presented to this verifier with the same key.
// Exit status: 0 when every case behaved as expected, 1 otherwise.

import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { Openid4vpVerifier } from "@openid4vc/openid4vp";
import { setGlobalConfig } from "@openid4vc/utils";
import { DcqlPresentationResult, DcqlQuery } from "dcql";

import { b64url, decodeJwt, generateKey, newJti, resolveDid, signJwt, verificationJwk, verifyJws } from "./keys.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
const OB_TYPE_IRI = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential";
const VC_TYPE_IRI = "https://www.w3.org/2018/credentials#VerifiableCredential";

setGlobalConfig({ allowInsecureUrls: true });

const args = process.argv.slice(2);
const argValue = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const keep = args.includes("--keep");
const offer = argValue("--offer");
const txCode = argValue("--tx-code");

// ---- the verifier ----

const verifierKey = generateKey("ES256");
const issuerKey = generateKey("ES256");
const sessions = new Map();
let base;
let did;

const verifier = new Openid4vpVerifier({
  callbacks: {
    hash: (data, alg) => createHash(alg.replace("-", "")).update(data).digest(),
    signJwt: async (signer, { header, payload }) => {
      if (signer.method !== "did" || signer.didUrl !== `${did}#verifier`) throw new Error("unknown signer");
      return { jwt: signJwt(verifierKey, header, payload), signerJwk: verifierKey.publicJwk };
    },
    verifyJwt: () => ({ verified: false }),
    encryptJwe: () => {
      throw new Error("no encryption");
    },
    decryptJwe: () => {
      throw new Error("no encryption");
    },
  },
});

function didDocument() {
  const vm = (name, key) => ({ id: `${did}#${name}`, type: "JsonWebKey2020", controller: did, publicKeyJwk: key.publicJwk });
  return {
    "@context": ["https://www.w3.org/ns/did/v1"],
    id: did,
    verificationMethod: [vm("verifier", verifierKey), vm("issuer", issuerKey)],
    authentication: [`${did}#verifier`],
    assertionMethod: [`${did}#verifier`, `${did}#issuer`],
  };
}

// prefix: "decentralized_identifier" (signed, by reference), "redirect_uri" (unsigned,
// by value) or "did" (pre-1.0 bare DID client_id, signed, with a presentation_definition).
async function newRequest({ prefix, dcqlQuery, presentationDefinition }) {
  const id = b64url(randomBytes(12));
  const session = { id, nonce: b64url(randomBytes(16)), state: b64url(randomBytes(16)), status: "pending", result: null };
  const responseUri = `${base}/response`;
  const clientId =
    prefix === "decentralized_identifier" ? `decentralized_identifier:${did}` : prefix === "redirect_uri" ? `redirect_uri:${responseUri}` : did;
  const payload = {
    response_type: "vp_token",
    client_id: clientId,
    response_mode: "direct_post",
    response_uri: responseUri,
    nonce: session.nonce,
    state: session.state,
    ...(dcqlQuery
      ? { dcql_query: dcqlQuery, client_metadata: { vp_formats_supported: { jwt_vc_json: { alg_values: ["ES256", "EdDSA"] } } } }
      : {
          presentation_definition: presentationDefinition,
          client_metadata: { vp_formats: { jwt_vp_json: { alg_values_supported: ["ES256", "EdDSA"] } } },
        }),
  };
  const signed = prefix !== "redirect_uri";
  const created = await verifier.createOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: payload,
    jar: signed
      ? {
          requestUri: `${base}/request/${id}`,
          jwtSigner: { method: "did", didUrl: `${did}#verifier`, alg: "ES256" },
          expiresInSeconds: 300,
          additionalJwtPayload: { aud: "https://self-issued.me/v2" },
        }
      : undefined,
  });
  Object.assign(session, {
    clientId,
    payload: created.authorizationRequestPayload,
    jar: created.jar?.authorizationRequestJwt,
    uri: created.authorizationRequest,
  });
  sessions.set(id, session);
  return session;
}

// The badge inside one VP, checked; returns its DCQL representation.
async function checkPresentation(vpJwt, session) {
  if (typeof vpJwt !== "string") throw new Error("the presentation is not a compact JWT");
  const vp = decodeJwt(vpJwt);
  const kid = vp.header.kid;
  if (typeof kid !== "string" || !kid.includes("#")) throw new Error("the VP header has no DID URL kid");
  const holderDid = kid.split("#")[0];
  const holderJwk = verificationJwk(await resolveDid(holderDid), kid);
  if (!verifyJws(vpJwt, holderJwk, vp.header.alg)) throw new Error("bad VP signature");
  if (vp.payload.iss !== holderDid) throw new Error(`VP iss ${vp.payload.iss} is not the kid's DID ${holderDid}`);
  if (vp.payload.aud !== session.clientId) throw new Error(`VP aud ${JSON.stringify(vp.payload.aud)} is not ${session.clientId}`);
  if (vp.payload.nonce !== session.nonce) throw new Error("VP nonce does not match the request");
  const now = Date.now() / 1000;
  if (typeof vp.payload.exp === "number" && vp.payload.exp < now) throw new Error("VP expired");
  const badgeJwt = vp.payload.vp?.verifiableCredential?.[0];
  const badge = decodeJwt(badgeJwt);
  const issuerDid = String(badge.header.kid ?? "").split("#")[0];
  const issuerJwk = verificationJwk(await resolveDid(issuerDid, { allowHttp: true }), badge.header.kid);
  if (!verifyJws(badgeJwt, issuerJwk, badge.header.alg)) throw new Error("bad badge signature");
  const credential = badge.payload.vc && typeof badge.payload.vc === "object" ? badge.payload.vc : badge.payload;
  const subjects = [credential.credentialSubject].flat().map((s) => s?.id);
  if (!subjects.includes(holderDid)) throw new Error(`the VP signer ${holderDid} is not the badge's subject ${subjects}`);
  // Compact names and, for the two this verifier asks about, their expanded IRIs.
  const compact = [credential.type].flat();
  const expansions = { VerifiableCredential: VC_TYPE_IRI, OpenBadgeCredential: OB_TYPE_IRI, AchievementCredential: OB_TYPE_IRI };
  return {
    credential_format: "jwt_vc_json",
    type: [...compact, ...compact.map((t) => expansions[t]).filter(Boolean)],
    claims: credential,
    cryptographic_holder_binding: true,
  };
}

async function checkResponse(session, form) {
  const parsed = await verifier.parseOpenid4vpAuthorizationResponse({
    authorizationResponse: form,
    authorizationRequestPayload: session.payload,
  });
  if (parsed.type === "dcql") {
    const presented = {};
    for (const [queryId, presentations] of Object.entries(parsed.dcql.presentations)) {
      presented[queryId] = await Promise.all(presentations.map((p) => checkPresentation(p, session)));
    }
    const outcome = DcqlPresentationResult.fromDcqlPresentation(presented, {
      dcqlQuery: DcqlQuery.parse(session.payload.dcql_query),
    });
    if (!outcome.can_be_satisfied) throw new Error("the presentations do not satisfy the DCQL query");
    return { language: "dcql", queries: Object.keys(presented) };
  }
  const submission = parsed.pex.presentationSubmission;
  if (submission.definition_id !== session.payload.presentation_definition.id) throw new Error("submission names another definition");
  for (const p of parsed.pex.presentations) await checkPresentation(p, session);
  return { language: "presentation_exchange", descriptors: submission.descriptor_map.map((d) => d.id) };
}

function send(res, status, body, type = "application/json") {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

async function handle(req, res) {
  const url = new URL(req.url, base);
  if (req.method === "GET" && url.pathname === "/.well-known/did.json") return send(res, 200, didDocument());
  const requestMatch = url.pathname.match(/^\/request\/([\w-]+)$/);
  if (req.method === "GET" && requestMatch) {
    const session = sessions.get(requestMatch[1]);
    return session?.jar ? send(res, 200, session.jar, "application/oauth-authz-req+jwt") : send(res, 404, { error: "not_found" });
  }
  if (req.method === "POST" && url.pathname === "/response") {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const form = Object.fromEntries(new URLSearchParams(raw));
    const session = [...sessions.values()].find((s) => s.state === form.state);
    if (!session) return send(res, 400, { error: "invalid_request", error_description: "unknown state" });
    if (session.status !== "pending") {
      return send(res, 400, { error: "invalid_request", error_description: "this request has already been answered" });
    }
    try {
      session.result = await checkResponse(session, form);
      session.status = "verified";
      return send(res, 200, {});
    } catch (error) {
      session.status = "rejected";
      session.result = { error: error.message };
      return send(res, 400, { error: "invalid_request", error_description: error.message });
    }
  }
  return send(res, 404, { error: "not_found" });
}

// ---- badge and holder ----

function mintBadge(holder, achievementId) {
  const now = Math.floor(Date.now() / 1000);
  const id = newJti();
  const payload = {
    "@context": ["https://www.w3.org/ns/credentials/v2", OB_CONTEXT],
    id,
    type: ["VerifiableCredential", "OpenBadgeCredential"],
    issuer: { id: did, type: ["Profile"], name: "Self-test issuer" },
    validFrom: new Date(now * 1000).toISOString(),
    name: "Self-test badge",
    credentialSubject: {
      id: holder.did,
      type: ["AchievementSubject"],
      achievement: {
        id: achievementId,
        type: ["Achievement"],
        name: "Self-test achievement",
        description: "Answers an OpenID4VP request.",
        criteria: { narrative: "Run selftest.mjs." },
      },
    },
    iss: did,
    sub: holder.did,
    jti: id,
    nbf: now,
    iat: now,
  };
  return signJwt(issuerKey, { alg: "ES256", typ: "JWT", kid: `${did}#issuer` }, payload);
}

// ---- running the wallet ----

function run(script, scriptArgs, logPath) {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(HERE, script), ...scriptArgs], { cwd: HERE, timeout: 120000, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      writeFileSync(logPath, stderr);
      const line = stdout.trim().split("\n").filter(Boolean).pop();
      let out = null;
      try {
        out = line ? JSON.parse(line) : null;
      } catch {
        out = null;
      }
      const errors = stderr.split("\n").filter((l) => l && !l.startsWith('{"trace"')).join(" ");
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out, errors });
    });
  });
}

const dcqlQuery = ({ typeValues, achievementId }) => ({
  credentials: [
    {
      id: "badge",
      format: "jwt_vc_json",
      meta: { type_values: typeValues },
      ...(achievementId ? { claims: [{ path: ["credentialSubject", "achievement", "id"], values: [achievementId] }] } : {}),
    },
  ],
});

const presentationDefinition = () => ({
  id: `pd-${b64url(randomBytes(6))}`,
  input_descriptors: [
    {
      id: "badge",
      format: { jwt_vc_json: { alg: ["ES256", "EdDSA"] } },
      constraints: {
        fields: [{ path: ["$.type", "$.vc.type"], filter: { type: "array", contains: { const: "OpenBadgeCredential" } } }],
      },
    },
  ],
});

async function main() {
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => send(res, 500, { error: "server_error", error_description: e.message }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  base = `http://127.0.0.1:${port}`;
  did = `did:web:127.0.0.1%3A${port}`;

  const work = mkdtempSync(join(tmpdir(), "oid4vp-selftest-"));
  const holder = generateKey("ES256");
  const holderFile = join(work, "holder.jwk");
  writeFileSync(holderFile, JSON.stringify(holder.privateJwk), { mode: 0o600 });
  const achievementId = `urn:uuid:${newJti().slice(9)}`;
  const badge = mintBadge(holder, achievementId);
  const edHolder = generateKey("EdDSA");
  const edHolderFile = join(work, "holder-ed25519.jwk");
  writeFileSync(edHolderFile, JSON.stringify(edHolder.privateJwk), { mode: 0o600 });
  const edBadge = mintBadge(edHolder, achievementId);
  const bothTypes = [[OB_TYPE_IRI], ["OpenBadgeCredential"]];

  const cases = [
    {
      name: "decentralized_identifier, signed request_uri, DCQL with a claim value, replayed once",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: bothTypes, achievementId }) },
      flags: ["--replay", "1"],
      expect: { code: 0, status: 200, session: "verified", replays: [400] },
    },
    {
      name: "expanded type IRIs only, wallet offering expanded types",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: [[VC_TYPE_IRI, OB_TYPE_IRI]] }) },
      flags: ["--type-match", "expanded"],
      expect: { code: 0, status: 200, session: "verified" },
    },
    {
      name: "expanded type IRIs only, wallet offering compact types (no match expected)",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: [[OB_TYPE_IRI]] }) },
      flags: ["--type-match", "compact"],
      expect: { code: 1, session: "pending" },
    },
    {
      name: "claim value that the badge does not carry (no match expected)",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: bothTypes, achievementId: "urn:uuid:other" }) },
      flags: [],
      expect: { code: 1, session: "pending" },
    },
    {
      name: "Ed25519 holder key (EdDSA VP)",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: bothTypes, achievementId }) },
      holder: { badge: edBadge, file: edHolderFile },
      flags: [],
      expect: { code: 0, status: 200, session: "verified" },
    },
    {
      name: "tamper wrong-nonce",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: bothTypes }) },
      flags: ["--tamper", "wrong-nonce"],
      expect: { code: 1, status: 400, session: "rejected" },
    },
    {
      name: "tamper wrong-key",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: bothTypes }) },
      flags: ["--tamper", "wrong-key"],
      expect: { code: 1, status: 400, session: "rejected" },
    },
    {
      name: "redirect_uri, unsigned request by value",
      request: { prefix: "redirect_uri", dcqlQuery: dcqlQuery({ typeValues: bothTypes, achievementId }) },
      flags: [],
      expect: { code: 0, status: 200, session: "verified" },
    },
    {
      name: "legacy: bare did client_id, presentation_definition",
      request: { prefix: "did", presentationDefinition: presentationDefinition() },
      flags: ["--legacy"],
      expect: { code: 0, status: 200, session: "verified" },
    },
  ];
  if (offer && txCode) {
    cases.push({
      name: "claim_and_present: OpenID4VCI claim, then this request with the same key",
      request: { prefix: "decentralized_identifier", dcqlQuery: dcqlQuery({ typeValues: bothTypes }) },
      script: "claim_and_present.mjs",
      flags: ["--offer", offer, "--tx-code", txCode],
      expect: { code: 0, status: 200, session: "verified" },
    });
  }

  let failures = 0;
  for (const [i, c] of cases.entries()) {
    const session = await newRequest(c.request);
    const logPath = join(work, `case-${i + 1}.log`);
    const scriptArgs =
      c.script === "claim_and_present.mjs"
        ? ["--request", session.uri, "--allow-http", "--trace", ...c.flags]
        : [
            "--request", session.uri,
            "--credential", c.holder?.badge ?? badge,
            "--holder-key", c.holder?.file ?? holderFile,
            "--allow-http", "--trace", ...c.flags,
          ];
    const { code, out, errors } = await run(c.script ?? "wallet.mjs", scriptArgs, logPath);
    const problems = [];
    if (code !== c.expect.code) problems.push(`exit ${code}, expected ${c.expect.code}`);
    if (c.expect.status !== undefined && out?.status !== c.expect.status) problems.push(`status ${out?.status}, expected ${c.expect.status}`);
    if (session.status !== c.expect.session) problems.push(`session ${session.status}, expected ${c.expect.session}`);
    if (c.expect.replays && JSON.stringify(out?.replays) !== JSON.stringify(c.expect.replays)) {
      problems.push(`replays ${JSON.stringify(out?.replays)}, expected ${JSON.stringify(c.expect.replays)}`);
    }
    const detail = [
      `exit=${code}`,
      out ? `status=${out.status} prefix=${out.client_id_prefix} aud=${out.audience} request_object=${out.request_object} version=${out.request_version}` : "no JSON line",
      out?.replays ? `replays=${JSON.stringify(out.replays)}` : "",
      `session=${session.status}${session.result ? ` ${JSON.stringify(session.result)}` : ""}`,
      code !== 0 && errors ? `wallet: ${errors}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    if (problems.length) failures++;
    process.stdout.write(`${problems.length ? "FAIL" : "ok  "} ${c.name}: ${problems.length ? `${problems.join("; ")} | ` : ""}${detail}\n`);
    if (i === 0 && out) process.stdout.write(`     first wallet line: ${JSON.stringify({ ...out, dcql_query: "..." })}\n`);
  }

  server.close();
  if (keep || failures) process.stdout.write(`logs: ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
  process.stdout.write(failures ? `${failures} of ${cases.length} cases failed\n` : `all ${cases.length} cases passed\n`);
  process.exit(failures ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`selftest.mjs: ${error.stack ?? error}\n`);
  process.exit(1);
});
