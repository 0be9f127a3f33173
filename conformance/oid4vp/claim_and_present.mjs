#!/usr/bin/env node
// Claims a badge over OpenID4VCI and presents it over OpenID4VP with the same holder
// key, each step by an independent library: conformance/oid4vci/wallet.mjs
// (@openid4vc/openid4vci) redeems the offer and writes its holder key (--key-out),
// then wallet.mjs (@openid4vc/openid4vp) answers the authorization request with the
// badge it received. Prints wallet.mjs's JSON line with an added "oid4vci" member
// describing the claim.
//
//   node claim_and_present.mjs --offer <openid-credential-offer://...> [--tx-code <code>]
//                              --request <openid4vp://...> [--dialect 1.0|draft13]
//                              [--key-alg ES256|EdDSA] [--allow-http] [--trace]
//                              [any other wallet.mjs option: --tamper, --replay, --legacy, --type-match]
//
// Needs `npm ci` in both conformance/oid4vci and conformance/oid4vp. The holder key
// lives in a temporary directory that is removed before exit.
// Exit status: that of the failing step (1 protocol failure, 2 bad arguments), else
// wallet.mjs's.

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const VCI_WALLET = join(HERE, "..", "oid4vci", "wallet.mjs");
const VP_WALLET = join(HERE, "wallet.mjs");

function usage(message) {
  process.stderr.write(
    `claim_and_present.mjs: ${message}\n` +
      "usage: node claim_and_present.mjs --offer <openid-credential-offer://...> [--tx-code <code>]\n" +
      "                                  --request <openid4vp://...> [--dialect 1.0|draft13]\n" +
      "                                  [--key-alg ES256|EdDSA] [--allow-http] [--trace] [wallet.mjs options]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { dialect: "1.0", keyAlg: "ES256", allowHttp: false, trace: false, passThrough: [] };
  const own = { "--offer": "offer", "--tx-code": "txCode", "--request": "request", "--dialect": "dialect", "--key-alg": "keyAlg" };
  const passValued = new Set(["--tamper", "--replay", "--type-match"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--allow-http") opts.allowHttp = true;
    else if (a === "--trace") opts.trace = true;
    else if (a === "--legacy") opts.passThrough.push(a);
    else if (a === "--help" || a === "-h") usage("help");
    else if (own[a] || passValued.has(a)) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      if (own[a]) opts[own[a]] = argv[++i];
      else opts.passThrough.push(a, argv[++i]);
    } else usage(`unknown argument ${a}`);
  }
  if (!opts.offer) usage("--offer is required");
  if (!opts.request) usage("--request is required");
  return opts;
}

function run(script, args) {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [script, ...args], { cwd: dirname(script), maxBuffer: 1 << 24 }, (error, stdout) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout });
    });
    // Diagnostics and traces of both wallets go to this process's stderr as they come.
    child.stderr.pipe(process.stderr);
  });
}

const lastJsonLine = (stdout) => {
  const line = stdout.trim().split("\n").filter(Boolean).pop();
  try {
    return line ? JSON.parse(line) : null;
  } catch {
    return null;
  }
};

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const common = [...(opts.allowHttp ? ["--allow-http"] : []), ...(opts.trace ? ["--trace"] : [])];
  const work = mkdtempSync(join(tmpdir(), "oid4vp-holder-"));
  const keyFile = join(work, "holder.jwk");
  try {
    const claim = await run(VCI_WALLET, [
      "--offer", opts.offer,
      ...(opts.txCode ? ["--tx-code", opts.txCode] : []),
      "--dialect", opts.dialect,
      "--key-alg", opts.keyAlg,
      "--key-out", keyFile,
      ...common,
    ]);
    const claimed = lastJsonLine(claim.stdout);
    if (claim.code !== 0 || !claimed?.credential) {
      process.stderr.write(`claim_and_present.mjs: the OpenID4VCI claim failed (exit ${claim.code})\n`);
      return claim.code || 1;
    }

    const present = await run(VP_WALLET, [
      "--request", opts.request,
      "--credential", claimed.credential,
      "--holder-key", keyFile,
      ...common,
      ...opts.passThrough,
    ]);
    const presented = lastJsonLine(present.stdout);
    if (presented) {
      const { credential, ...claimInfo } = claimed;
      process.stdout.write(`${JSON.stringify({ ...presented, oid4vci: claimInfo })}\n`);
    }
    return present.code;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`claim_and_present.mjs: ${error.stack ?? error}\n`);
    process.exit(1);
  },
);
