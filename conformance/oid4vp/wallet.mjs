#!/usr/bin/env node
// An OpenID4VP 1.0 wallet driven by @openid4vc/openid4vp (oid4vc-ts), an independent
// implementation of the protocol, with the `dcql` library (dcql-ts) as its DCQL
// matcher. It answers one authorization request with one Open Badge (a compact JWT)
// and prints
//   {"library", "version", "client_id", "client_id_prefix", "response_uri",
//    "dcql_query", "submitted", "status", "body", ...}
// as a single JSON line on stdout.
//
// The library parses the request URI, fetches `request_uri`, checks the signed
// request object against the client identifier prefix (calling back here to resolve
// the verifier's DID and check the signature), validates the request parameters,
// builds the authorization response and posts it (`direct_post`). The `dcql` library
// decides whether the badge satisfies the DCQL query. This file supplies the key,
// the DID resolution and signature check the library asks for, the badge's DCQL
// representation, and the Verifiable Presentation (the library does not build
// presentations).
//
//   node wallet.mjs --request 'openid4vp://?client_id=...&request_uri=...' \
//                   --credential <compact JWT badge, or @file> --holder-key <private JWK file> \
//                   [--allow-http] [--trace] [--tamper none|wrong-nonce|wrong-key] [--replay N] \
//                   [--legacy] [--type-match both|compact|expanded]
//
// --tamper wrong-nonce  the VP carries a fresh random nonce instead of the request's.
// --tamper wrong-key    the VP is signed by a freshly generated key; its kid, iss and
//                       holder are that key's did:key, so the VP is validly self-signed
//                       but its signer is not the badge's subject.
// --replay N            after the answer, posts the same response N more times and
//                       reports each status in "replays".
// --legacy              the request must carry a DIF Presentation Exchange
//                       `presentation_definition` (pre-1.0 drafts) instead of DCQL; the
//                       answer is a single VP in `vp_token` with a `presentation_submission`.
//                       Without the flag both query languages are answered.
// --type-match          the badge types offered to the DCQL matcher: the compact `type`
//                       names, their JSON-LD expansions (OpenID4VP 1.0 B.1.1 speaks of
//                       fully expanded IRIs), or both (default).
//
// Exit status: 0 when the response endpoint answered 2xx, 1 on a protocol failure
// (including a non-2xx answer, after printing the JSON line), 2 on bad arguments.

import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { getOpenid4vpClientId, Openid4vpClient } from "@openid4vc/openid4vp";
import { setGlobalConfig } from "@openid4vc/utils";
import { DcqlQuery } from "dcql";

import {
  b64url,
  decodeJwt,
  generateKey,
  keyFromPrivateJwk,
  newJti,
  resolveDid,
  signJwt,
  verificationJwk,
  verifyJws,
} from "./keys.mjs";

const LIBRARY = "@openid4vc/openid4vp";
const HERE = dirname(fileURLToPath(import.meta.url));
const CONTEXTS_DIR = join(HERE, "..", "..", "contexts");
const VP_LIFETIME_SECONDS = 300;

function packageVersion(...path) {
  return JSON.parse(readFileSync(join(HERE, "node_modules", ...path, "package.json"), "utf8")).version;
}

// ---- arguments ----

function usage(message) {
  process.stderr.write(
    `wallet.mjs: ${message}\n` +
      "usage: node wallet.mjs --request <openid4vp://...> --credential <jwt|@file> --holder-key <jwk file>\n" +
      "                       [--allow-http] [--trace] [--tamper none|wrong-nonce|wrong-key]\n" +
      "                       [--replay N] [--legacy] [--type-match both|compact|expanded]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { allowHttp: false, trace: false, tamper: "none", replay: 0, legacy: false, typeMatch: "both" };
  const valued = {
    "--request": "request",
    "--credential": "credential",
    "--holder-key": "holderKey",
    "--tamper": "tamper",
    "--replay": "replay",
    "--type-match": "typeMatch",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--allow-http") opts.allowHttp = true;
    else if (a === "--trace") opts.trace = true;
    else if (a === "--legacy") opts.legacy = true;
    else if (a === "--help" || a === "-h") usage("help");
    else if (valued[a]) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      opts[valued[a]] = argv[++i];
    } else usage(`unknown argument ${a}`);
  }
  if (!opts.request) usage("--request is required");
  if (!opts.credential) usage("--credential is required");
  if (!opts.holderKey) usage("--holder-key is required");
  if (!["none", "wrong-nonce", "wrong-key"].includes(opts.tamper)) usage("--tamper must be none, wrong-nonce or wrong-key");
  if (!["both", "compact", "expanded"].includes(opts.typeMatch)) usage("--type-match must be both, compact or expanded");
  if (!/^\d+$/.test(String(opts.replay))) usage("--replay must be a non-negative integer");
  opts.replay = Number(opts.replay);
  if (opts.credential.startsWith("@")) {
    try {
      opts.credential = readFileSync(opts.credential.slice(1), "utf8").trim();
    } catch (e) {
      usage(`cannot read ${opts.credential.slice(1)}: ${e.message}`);
    }
  }
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(opts.credential)) {
    usage("--credential is not a compact JWT");
  }
  try {
    opts.holderKey = keyFromPrivateJwk(JSON.parse(readFileSync(opts.holderKey, "utf8")));
  } catch (e) {
    usage(`--holder-key: ${e.message}`);
  }
  return opts;
}

// ---- tracing and failure ----

let tracing = false;
function trace(kind, detail) {
  if (tracing) process.stderr.write(`${JSON.stringify({ trace: kind, ...detail })}\n`);
}

function tracingFetch(enabled) {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!enabled) return response;
    const url = typeof input === "string" ? input : input.url;
    const text = await response.clone().text();
    trace("http", {
      request: {
        method: init?.method ?? "GET",
        url,
        headers: Object.fromEntries(new Headers(init?.headers ?? {}).entries()),
        body: init?.body === undefined ? undefined : String(init.body),
      },
      response: {
        status: response.status,
        content_type: response.headers.get("content-type"),
        body: text.length > 4000 ? `${text.slice(0, 4000)}...` : text,
      },
    });
    return response;
  };
}

function describe(error) {
  let detail = error?.message ?? String(error);
  // Oauth2ServerErrorResponseError carries the OAuth error the wallet would return.
  if (error?.errorResponse?.error && !detail.includes(error.errorResponse.error)) {
    detail += ` [${error.errorResponse.error}]`;
  }
  if (error?.internalMessage) detail += ` (${error.internalMessage})`;
  let cause = error?.cause;
  while (cause) {
    const text = cause.message ?? String(cause);
    if (!detail.includes(text)) detail += ` (cause: ${text})`;
    cause = cause.cause;
  }
  return detail;
}

function fail(step, error) {
  process.stderr.write(`wallet.mjs: ${step} failed: ${describe(error)}\n`);
  process.exit(1);
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (error) {
    fail(name, error);
  }
}

// ---- the verifyJwt callback: the verifier's request object signature ----

function verifyJwtCallback(opts, fetchImpl) {
  return async (signer, { header, compact }) => {
    let jwk;
    if (signer.method === "did") {
      const did = signer.didUrl.split("#")[0];
      const doc = await resolveDid(did, { fetchImpl, allowHttp: opts.allowHttp });
      jwk = verificationJwk(doc, signer.didUrl);
    } else if (signer.method === "jwk") {
      jwk = signer.publicJwk;
    } else {
      throw new Error(`cannot verify a request object signed by method "${signer.method}"`);
    }
    const alg = signer.alg ?? header.alg;
    const verified = verifyJws(compact, jwk, alg);
    trace("request-object-signature", { signer: signer.didUrl ?? signer.method, alg, verified });
    return verified ? { verified: true, signerJwk: jwk } : { verified: false, signerJwk: jwk };
  };
}

const unsupported = (what) => () => {
  throw new Error(`${what} is not supported by this wallet`);
};

// ---- the badge, as the DCQL matcher sees it ----

// Context documents pinned in the repository (contexts/README.md), by URL.
const PINNED_CONTEXTS = {
  "https://www.w3.org/ns/credentials/v2": "w3c_credentials_v2.jsonld",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob_v3p0_context-3.0.3.json",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "ob_v3p0_context-3.0.2.json",
  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "ob_v3p0_context-3.0.1.json",
  "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob_v3p0_extensions.json",
  "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr_v2p0_context-2.0.1.json",
};
// The VCDM 1.1 context is not pinned; these are the two type terms it defines.
const VCDM11_TERMS = {
  VerifiableCredential: "https://www.w3.org/2018/credentials#VerifiableCredential",
  VerifiablePresentation: "https://www.w3.org/2018/credentials#VerifiablePresentation",
};

function loadContext(entry) {
  if (entry && typeof entry === "object") return entry;
  if (entry === "https://www.w3.org/2018/credentials/v1") return VCDM11_TERMS;
  const file = PINNED_CONTEXTS[entry];
  if (!file || !existsSync(join(CONTEXTS_DIR, file))) return null;
  return JSON.parse(readFileSync(join(CONTEXTS_DIR, file), "utf8"))["@context"];
}

// The IRI a type term expands to under the credential's @context. Covers what type
// terms need: term definitions (string or {"@id"}), terms defined as other terms,
// compact IRIs (prefix:suffix) and @vocab. An undefined term stays as it is (a
// relative IRI, as OpenID4VP 1.0 B.1.1 notes).
function expandTypeTerm(term, contexts, depth = 0) {
  if (depth > 8) return term;
  const colon = term.indexOf(":");
  if (colon > 0) {
    const prefix = term.slice(0, colon);
    if (term.slice(colon + 1).startsWith("//")) return term;
    for (let i = contexts.length - 1; i >= 0; i--) {
      const def = contexts[i][prefix];
      const base = typeof def === "string" ? def : def?.["@id"];
      if (typeof base === "string") return base + term.slice(colon + 1);
    }
    return term;
  }
  for (let i = contexts.length - 1; i >= 0; i--) {
    const def = contexts[i][term];
    const id = typeof def === "string" ? def : def?.["@id"];
    if (typeof id === "string") return id === term ? id : expandTypeTerm(id, contexts, depth + 1);
  }
  for (let i = contexts.length - 1; i >= 0; i--) {
    if (typeof contexts[i]["@vocab"] === "string") return contexts[i]["@vocab"] + term;
  }
  return term;
}

function dcqlCredential(badgeJwt, typeMatch) {
  const { payload } = decodeJwt(badgeJwt);
  // A VCDM 1.1 JWT carries the credential under `vc`; an OB 3.0 / VC-JOSE-COSE JWT
  // is the credential. Claims paths (OpenID4VP 1.0 B.1.2) apply to the credential.
  const credential = payload.vc && typeof payload.vc === "object" ? payload.vc : payload;
  const compact = [credential.type ?? []].flat().filter((t) => typeof t === "string");
  const contextEntries = [credential["@context"] ?? []].flat();
  const contexts = contextEntries.map(loadContext);
  const unknown = contextEntries.filter((_, i) => contexts[i] === null);
  const expanded = compact.map((t) => expandTypeTerm(t, contexts.filter(Boolean)));
  const type =
    typeMatch === "compact" ? compact : typeMatch === "expanded" ? expanded : [...new Set([...compact, ...expanded])];
  trace("badge", { form: credential === payload ? "credential at the payload root" : "vc claim", type, unknown_contexts: unknown });
  return {
    payload,
    credential,
    dcql: { credential_format: "jwt_vc_json", type, claims: credential, cryptographic_holder_binding: true },
  };
}

// The Credential Query ids to answer, given the matcher's result (OpenID4VP 1.0 6.4.2).
function chooseQueries(query, result) {
  if (!result.credential_sets) return query.credentials.map((c) => c.id);
  const chosen = new Set();
  for (const set of result.credential_sets) {
    if (set.matching_options) for (const id of set.matching_options[0]) chosen.add(id);
  }
  return [...chosen];
}

function matchFailure(result) {
  const lines = Object.values(result.credential_matches)
    .filter((m) => !m.success)
    .map((m) => {
      const failed = m.failed_credentials?.[0];
      const issues = failed
        ? {
            meta: failed.meta.success ? undefined : failed.meta.issues,
            claims: failed.claims.success ? undefined : failed.claims.failed_claim_sets?.map((s) => s.issues),
            trusted_authorities: failed.trusted_authorities.success ? undefined : failed.trusted_authorities,
          }
        : "no credentials";
      return `${m.credential_query_id}: ${JSON.stringify(issues)}`;
    });
  return new Error(`the badge does not satisfy the DCQL query; ${lines.join("; ")}`);
}

// ---- DIF Presentation Exchange (--legacy): a small JSONPath / JSON Schema subset ----

function jsonPath(doc, path) {
  if (typeof path !== "string" || !path.startsWith("$")) throw new Error(`unsupported JSONPath ${path}`);
  const tokens = [];
  const re = /\.([A-Za-z_@$][\w@$-]*)|\.\*|\[\*\]|\[(\d+)\]|\[['"]([^'"]+)['"]\]/gy;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const start = re.lastIndex;
    const m = re.exec(path);
    if (!m || m.index !== start) throw new Error(`unsupported JSONPath ${path}`);
    tokens.push(m[1] ?? m[3] ?? (m[2] !== undefined ? Number(m[2]) : "*"));
  }
  let nodes = [doc];
  for (const t of tokens) {
    nodes = nodes.flatMap((n) => {
      if (t === "*") return Array.isArray(n) ? n : n && typeof n === "object" ? Object.values(n) : [];
      if (typeof t === "number") return Array.isArray(n) && t < n.length ? [n[t]] : [];
      return n && typeof n === "object" && !Array.isArray(n) && t in n ? [n[t]] : [];
    });
  }
  return nodes;
}

function schemaMatches(value, schema) {
  if (!schema || typeof schema !== "object") return true;
  const typeOf = (v) => (Array.isArray(v) ? "array" : v === null ? "null" : Number.isInteger(v) ? "integer" : typeof v);
  if (schema.type) {
    const types = [schema.type].flat();
    const t = typeOf(value);
    if (!types.includes(t) && !(t === "integer" && types.includes("number"))) return false;
  }
  if ("const" in schema && JSON.stringify(value) !== JSON.stringify(schema.const)) return false;
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return false;
  if (schema.pattern && !(typeof value === "string" && new RegExp(schema.pattern, "u").test(value))) return false;
  if (schema.contains && !(Array.isArray(value) && value.some((v) => schemaMatches(v, schema.contains)))) return false;
  if (schema.items && typeof schema.items === "object" && Array.isArray(value) && !value.every((v) => schemaMatches(v, schema.items))) {
    return false;
  }
  return true;
}

const PE_FORMATS = ["jwt_vc_json", "jwt_vc", "jwt_vp_json", "jwt_vp"];

function descriptorMatches(descriptor, definition, payload) {
  const formats = descriptor.format ?? definition.format;
  if (formats && !Object.keys(formats).some((f) => PE_FORMATS.includes(f))) {
    return `format ${Object.keys(formats).join(", ")} is not a JWT VC format`;
  }
  for (const field of descriptor.constraints?.fields ?? []) {
    if (field.optional) continue;
    const values = (field.path ?? []).flatMap((p) => jsonPath(payload, p));
    if (values.length === 0) return `no value at ${JSON.stringify(field.path)}`;
    if (field.filter && !values.some((v) => schemaMatches(v, field.filter))) {
      return `no value at ${JSON.stringify(field.path)} fits ${JSON.stringify(field.filter)}`;
    }
  }
  return null;
}

function presentationSubmission(definition, payload) {
  const matched = [];
  const problems = [];
  for (const descriptor of definition.input_descriptors ?? []) {
    const problem = descriptorMatches(descriptor, definition, payload);
    if (problem) problems.push(`${descriptor.id}: ${problem}`);
    else matched.push(descriptor.id);
  }
  if (definition.submission_requirements) {
    trace("pe", { note: "submission_requirements are not evaluated; every matching input descriptor is answered" });
    if (matched.length === 0) throw new Error(`no input descriptor fits the badge; ${problems.join("; ")}`);
  } else if (problems.length > 0) {
    throw new Error(`the badge does not fit every input descriptor; ${problems.join("; ")}`);
  }
  return {
    id: newJti().slice("urn:uuid:".length),
    definition_id: definition.id,
    descriptor_map: matched.map((id) => ({
      id,
      format: "jwt_vp_json",
      path: "$",
      path_nested: { id, format: "jwt_vc_json", path: "$.vp.verifiableCredential[0]" },
    })),
  };
}

// ---- the Verifiable Presentation ----

function presentation(badgeJwt, holder, { audience, nonce, tamper }) {
  let signer = holder;
  let vpNonce = nonce;
  if (tamper === "wrong-nonce") vpNonce = b64url(randomBytes(16));
  if (tamper === "wrong-key") signer = generateKey(holder.alg);
  const iat = Math.floor(Date.now() / 1000);
  const payload = {
    iss: signer.did,
    aud: audience,
    nonce: vpNonce,
    iat,
    exp: iat + VP_LIFETIME_SECONDS,
    jti: newJti(),
    vp: {
      "@context": ["https://www.w3.org/2018/credentials/v1"],
      type: ["VerifiablePresentation"],
      holder: signer.did,
      verifiableCredential: [badgeJwt],
    },
  };
  const header = { alg: signer.alg, typ: "JWT", kid: signer.didUrl };
  trace("vp", { header, payload: { ...payload, vp: { ...payload.vp, verifiableCredential: ["<badge>"] } } });
  return signJwt(signer, header, payload);
}

// ---- the flow ----

async function readBody(response) {
  const text = await response.text();
  try {
    return text === "" ? null : JSON.parse(text);
  } catch {
    return text;
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  tracing = opts.trace;
  // The library accepts only https URLs unless told otherwise (local runs on 127.0.0.1).
  if (opts.allowHttp) setGlobalConfig({ allowInsecureUrls: true });

  const holder = opts.holderKey;
  const fetchImpl = tracingFetch(opts.trace);
  const client = new Openid4vpClient({
    callbacks: {
      fetch: fetchImpl,
      hash: (data, alg) => createHash(alg.replace("-", "")).update(data).digest(),
      verifyJwt: verifyJwtCallback(opts, fetchImpl),
      signJwt: unsupported("signing a JARM response"),
      encryptJwe: unsupported("encrypting the response (direct_post.jwt)"),
      decryptJwe: unsupported("an encrypted request object"),
    },
  });

  const parsed = await step("parsing the authorization request", () =>
    client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: opts.request }),
  );
  trace("parsed", { type: parsed.type, provided: parsed.provided, params: parsed.params });

  const resolved = await step("resolving the authorization request", () =>
    client.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params }),
  );
  const request = resolved.authorizationRequestPayload;
  trace("resolved", {
    version: resolved.version,
    client: { prefix: resolved.client.prefix, identifier: resolved.client.identifier, effective: resolved.client.effective },
    jar: resolved.jar ? { sendBy: resolved.jar.sendBy, header: resolved.jar.jwt.header } : null,
    request,
  });

  // The library validates a signed request object against its schema, but a request
  // passed by value also fits its (permissive) JAR-parameters schema and goes through
  // without that check; these are the parameters this wallet relies on.
  if (request.response_type !== "vp_token") {
    fail("reading the request", new Error(`response_type ${JSON.stringify(request.response_type)}, expected "vp_token"`));
  }
  if (typeof request.nonce !== "string" || request.nonce === "") {
    fail("reading the request", new Error("the request has no nonce (OpenID4VP 1.0 5.2: REQUIRED)"));
  }
  if (!resolved.jar && !opts.allowHttp && !String(request.response_uri ?? "").startsWith("https://")) {
    fail("reading the request", new Error(`response_uri ${JSON.stringify(request.response_uri)} is not an https URL`));
  }
  if (request.redirect_uri !== undefined && request.response_uri !== undefined) {
    fail("reading the request", new Error("redirect_uri and response_uri are both present (OpenID4VP 1.0 8.2: invalid_request)"));
  }
  if (request.response_mode !== "direct_post") {
    fail("reading the request", new Error(`response_mode ${JSON.stringify(request.response_mode)}: this wallet answers direct_post only`));
  }
  if (!request.response_uri) fail("reading the request", new Error("direct_post without a response_uri"));
  if (resolved.transactionData) {
    fail("reading the request", new Error("transaction_data is not supported (OpenID4VP 1.0 5.1: the wallet must reject it)"));
  }

  const badge = dcqlCredential(opts.credential, opts.typeMatch);
  const subjects = [badge.credential.credentialSubject].flat().map((s) => s?.id);
  if (!subjects.includes(holder.did) && badge.payload.sub !== holder.did) {
    trace("warning", { note: "the badge's subject is not the holder key's did:key", subjects, sub: badge.payload.sub, holder: holder.did });
  }

  const audience = resolved.client.effective;
  const vpOptions = { audience, nonce: request.nonce, tamper: opts.tamper };
  let responsePayload;
  let queryOut;
  if (resolved.dcql) {
    if (opts.legacy) fail("reading the request", new Error("--legacy: the request carries a DCQL query, not a presentation_definition"));
    const query = await step("parsing the DCQL query", () => {
      const q = DcqlQuery.parse(resolved.dcql.query);
      DcqlQuery.validate(q);
      return q;
    });
    const result = DcqlQuery.query(query, [badge.dcql]);
    trace("dcql", { can_be_satisfied: result.can_be_satisfied, matches: result.credential_matches });
    if (!result.can_be_satisfied) fail("matching the DCQL query", matchFailure(result));
    const ids = chooseQueries(query, result).filter((id) => result.credential_matches[id]?.success);
    const vpToken = Object.fromEntries(ids.map((id) => [id, [presentation(opts.credential, holder, vpOptions)]]));
    responsePayload = { vp_token: vpToken };
    queryOut = { dcql_query: resolved.dcql.query, answered: ids };
  } else if (resolved.pex?.presentation_definition) {
    const definition = resolved.pex.presentation_definition;
    const submission = await step("matching the presentation definition", () =>
      presentationSubmission(definition, badge.payload),
    );
    responsePayload = { vp_token: presentation(opts.credential, holder, vpOptions), presentation_submission: submission };
    queryOut = { presentation_definition: definition, presentation_submission: submission };
  } else {
    fail("reading the request", new Error("the request has neither dcql_query nor presentation_definition (scope-only requests are not supported)"));
  }

  const { authorizationResponsePayload } = await step("creating the authorization response", () =>
    client.createOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: request,
      authorizationResponsePayload: responsePayload,
    }),
  );

  const submit = () =>
    client.submitOpenid4vpAuthorizationResponse({ authorizationRequestPayload: request, authorizationResponsePayload });
  const first = await step("submitting the authorization response", submit);
  const status = first.response.status;
  const body = await readBody(first.response);

  const replays = [];
  for (let i = 0; i < opts.replay; i++) {
    const again = await step(`replay ${i + 1}`, submit);
    replays.push({ status: again.response.status, body: await readBody(again.response) });
  }

  const out = {
    library: LIBRARY,
    version: packageVersion("@openid4vc", "openid4vp"),
    dcql_library: `dcql@${packageVersion("dcql")}`,
    request_version: resolved.version === 100 ? "1.0" : `draft ${resolved.version}`,
    client_id: request.client_id,
    client_id_prefix: resolved.client.prefix,
    client_id_prefix_as_sent: getOpenid4vpClientId({
      clientId: request.client_id,
      legacyClientIdScheme: request.client_id_scheme,
      responseMode: request.response_mode,
    }).effectiveClientIdPrefix,
    audience,
    request_object: resolved.jar ? resolved.jar.sendBy : "none",
    response_uri: request.response_uri,
    ...queryOut,
    holder_did: holder.did,
    tamper: opts.tamper,
    submitted: true,
    status,
    body,
  };
  if (body && typeof body === "object" && typeof body.redirect_uri === "string") out.redirect_uri = body.redirect_uri;
  if (opts.replay > 0) {
    out.replays = replays.map((r) => r.status);
    out.replay_bodies = replays.map((r) => r.body);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  if (status < 200 || status >= 300) {
    process.stderr.write(`wallet.mjs: the response endpoint answered HTTP ${status}: ${JSON.stringify(body)}\n`);
    process.exit(1);
  }
}

main().catch((error) => fail("the wallet", error));
