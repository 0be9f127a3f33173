// The earner's and the employer's pages, driven in the browser pages.mjs launched:
//
//   - the claim page of an e-mail award: badge, code hint, wallet help, the QR code
//     decoded by zbarimg (zbar-tools) and compared with the offer;
//   - accepting without a wallet: a wrong code counts a try, the right one lands on
//     the badge page;
//   - the earner's private page: hiding a badge's page (which then says private),
//     choosing a profile name and publishing the profile, which lists the other badges
//     and their skills; an altered link is "not valid";
//   - /verify: a fresh baked PNG uploaded shows `authentic`, a revoked one
//     `not-authentic`, garbage a friendly line; a pasted credential and a badge page's
//     address; the wallet path, answered by the npm OpenID4VCI + OpenID4VP wallets of
//     conformance/oid4vp/claim_and_present.mjs, turns the page `authentic`.
//
// pages.mjs passes its helpers (`h`) and runs the returned steps after its own.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function peopleSteps(h) {
  const { ctx, base, ok, fail, skip, check, must, squash, both, visit, pageChecks, admin, get, ROOT } = h;
  const byKey = Object.fromEntries((ctx.achievements || []).map((a) => [a.key, a]));
  const awards = {};
  const uuidOf = (credentialId) => credentialId.split(':').pop();

  async function award(role, key, body) {
    const a = byKey[key];
    if (!a) { fail(`setup: award (${role})`, `the achievement ${key} is missing`); return null; }
    const r = await admin('POST', '/api/v1/awards', { achievement_id: a.id, ...body });
    let got = {};
    try { got = JSON.parse(r.text); } catch { /* reported below */ }
    if (r.status !== 201 || !got.credential_id) {
      fail(`setup: POST /api/v1/awards (${role})`, `${r.status} ${r.text.slice(0, 300)}`);
      return null;
    }
    if (!got.earner_url) fail(`award answer (${role}) carries earner_url`, r.text.slice(0, 300));
    else ok(`setup: POST /api/v1/awards (${role}): earner_url ${got.earner_url.replace(base, '')}`);
    got.uuid = uuidOf(got.credential_id);
    got.achievement = a;
    awards[role] = got;
    return got;
  }

  const grace = { name: 'Grace Hopper', email: 'grace.hopper@example.org' };

  async function setup() {
    await award('accept', 'architect', { recipient: grace });
    await award('second', 'privacy', { recipient: grace });
    await award('wallet', 'mentor', { recipient: grace });
    await award('revoke', 'incident', { delivery: 'direct', recipient: { name: 'Alan Turing', id: ctx.earnerDid } });
  }

  /** Decodes the QR code of `selector` on the page with zbarimg. */
  async function decodeQr(page, selector) {
    const dir = mkdtempSync(path.join(tmpdir(), 'accolade-qr-'));
    const file = path.join(dir, 'qr.png');
    try {
      await page.locator(selector).screenshot({ path: file });
      return execFileSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8' }).trim();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * The checks every page gets, on the page `v` shows now (reached by a form post, a
   * redirect or the page's own reload, not by visit()): its status and type come from
   * the document's navigation entry.
   */
  async function shownPageChecks(v, label) {
    const nav = await v.page.evaluate(() => ({
      status: performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0,
      type: document.contentType,
    }));
    await pageChecks({ ...v, label, tag: `${label} ${v.width}px`, url: v.page.url(),
      response: { status: () => nav.status, headers: () => ({ 'content-type': nav.type }) } }, {});
  }

  async function claimPage() {
    const a = awards.accept;
    if (!a) { skip('earner-claim', 'no award'); return; }
    await both('earner-claim', a.claim_url, {
      specific: async ({ page }) => {
        await check('earner-claim: badge image, name, type, code hint, wallet help and the earner link', async () => {
          const text = squash(await page.locator('main').innerText());
          must(text.includes(a.achievement.name), `no badge name "${a.achievement.name}"`);
          must(await page.locator('.badge-art img').count() === 1, 'no badge image');
          must(/6-digit code/.test(text), 'no code hint');
          if (ctx.issuer?.wallet_help) {
            must(text.includes('Sphereon Wallet'), `no wallet help: ${text.slice(0, 200)}`);
          }
          const earner = await page.locator('[data-link="earner"]').getAttribute('href');
          must(earner === a.earner_url, `earner link ${earner} != ${a.earner_url}`);
          must(await page.locator('form[data-action="accept-badge"] input[name="tx_code"]').count() === 1,
            'no accept form with a code field');
        });
        await check('earner-claim: the QR code, decoded by zbarimg, is the offer', async () => {
          const link = await page.locator('[data-link="offer"]').getAttribute('href');
          must(link === a.offer_uri, `wallet link ${link} != offer ${a.offer_uri}`);
          const decoded = await decodeQr(page, '[data-qr="offer"] svg');
          must(decoded === a.offer_uri, `decoded "${decoded.slice(0, 120)}"`);
          return `${decoded.length} characters`;
        });
      },
    });
  }

  async function acceptWithoutWallet() {
    const a = awards.accept;
    if (!a) { skip('earner-accept', 'no award'); return; }
    const v = await visit(1280, 'earner-accept', a.claim_url);
    const { page } = v;
    try {
      const wrong = a.tx_code === '000000' ? '111111' : '000000';
      await check('earner-accept: a wrong code is refused on the page, counting a try', async () => {
        await page.fill('#tx_code', wrong);
        const [res] = await Promise.all([
          page.waitForNavigation(),
          page.click('form[data-action="accept-badge"] button[type="submit"]'),
        ]);
        must(res.status() === 422, `answered ${res.status()}`);
        const err = squash(await page.locator('[data-error="tx_code"]').innerText());
        must(/4 tries/.test(err), `message "${err}"`);
        return `"${err}"`;
      });
      await check('earner-accept: the right code lands on the badge page', async () => {
        await page.fill('#tx_code', a.tx_code);
        await Promise.all([
          page.waitForURL(`${base}/badges/${a.uuid}`),
          page.click('form[data-action="accept-badge"] button[type="submit"]'),
        ]);
        const status = await page.locator('[data-status]').getAttribute('data-status');
        must(status === 'valid', `data-status="${status}"`);
        const png = await page.locator(`a[href$="/badges/${a.uuid}/badge.png"]`).count();
        must(png >= 1, 'no download of the baked image');
        return page.url().replace(base, '');
      });
      await check('earner-accept: the claim page now says the badge is ready', async () => {
        await page.goto(a.claim_url);
        must(await page.locator('[data-claim="accepted"]').count() === 1, 'no accepted panel');
      });
    } finally {
      await page.close();
    }
    // The second badge is accepted the same way, by a plain form post.
    const b = awards.second;
    if (b) {
      await check('earner-accept: a second badge accepted by form post (303 to its page)', async () => {
        const res = await fetch(`${b.claim_url}/accept`, {
          method: 'POST', redirect: 'manual',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: base },
          body: `tx_code=${encodeURIComponent(b.tx_code)}`,
        });
        must(res.status === 303, `answered ${res.status}`);
        must(res.headers.get('location') === `${base}/badges/${b.uuid}`, `to ${res.headers.get('location')}`);
      });
    }
  }

  async function earnerPage() {
    const a = awards.accept;
    const b = awards.second;
    if (!a || !b) { skip('earner-manage', 'no awards'); return; }
    await both('earner-manage', a.earner_url, {
      specific: async ({ page }) => {
        await check('earner-manage: lists every badge of the earner, with its standing', async () => {
          const items = await page.$$eval('[data-badge]', (els) => els.map((e) => ({
            id: e.getAttribute('data-badge'), standing: e.getAttribute('data-standing') })));
          const by = Object.fromEntries(items.map((i) => [i.id, i.standing]));
          must(by[a.uuid] === 'issued' && by[b.uuid] === 'issued', `standings ${JSON.stringify(by)}`);
          must(by[awards.wallet?.uuid] === 'offered', `the unclaimed one: ${by[awards.wallet?.uuid]}`);
          must(!(awards.revoke?.uuid in by), 'lists another earner\'s badge');
          return `${items.length} badges`;
        });
        await check('earner-manage: the page is not for search engines', async () => {
          const robots = await page.$eval('meta[name="robots"]', (m) => m.content).catch(() => null);
          must(robots && robots.includes('noindex'), `robots: ${robots}`);
        });
      },
    });
    await check('earner-manage: an altered link gets the "not valid" page (404)', async () => {
      const r = await get(`${a.earner_url.slice(0, -3)}AAA`, 'text/html');
      must(r.status === 404 && r.type.startsWith('text/html'), `${r.status} ${r.type}`);
      must(/not valid/i.test(r.body.toString()), 'no "not valid" words');
    });

    const handle = 'grace-hopper';
    const profileUrl = `${base}/profiles/${handle}`;
    const v = await visit(1280, 'earner-manage-actions', a.earner_url);
    const { page } = v;
    try {
      await check('earner-manage: hiding a badge makes its page private', async () => {
        await Promise.all([
          page.waitForNavigation(),
          page.click(`[data-badge="${a.uuid}"] button[data-action="hide"]`),
        ]);
        const pub = await page.locator(`[data-badge="${a.uuid}"]`).getAttribute('data-public');
        must(pub === 'false', `data-public="${pub}"`);
        must(await page.locator('[data-notice="ok"]').count() === 1, 'no confirmation');
        const r = await get(`${base}/badges/${a.uuid}`, 'text/html');
        must(r.status === 404 && /private/i.test(r.body.toString()), `badge page ${r.status}`);
      });
      await check('earner-manage: the badge page says private', async () => {
        const p = await visit(1280, 'earner-hidden-badge', `${base}/badges/${a.uuid}`);
        try {
          const h1 = squash(await p.page.locator('h1').innerText());
          must(/private/i.test(h1), `h1 "${h1}"`);
          return `"${h1}"`;
        } finally {
          await p.page.close();
        }
      });
      await check('earner-manage: a profile name is saved; unpublished, the profile is 404', async () => {
        await page.fill('#handle', handle);
        await page.fill('#headline', 'Systems engineer and teacher');
        await Promise.all([
          page.waitForNavigation(),
          page.click('form[data-action="profile"] button[type="submit"]'),
        ]);
        must(await page.locator('[data-profile="unpublished"]').count() === 1, 'no unpublished state');
        const r = await get(profileUrl, 'text/html');
        must(r.status === 404, `profile answered ${r.status}`);
      });
      await check('earner-manage: publishing the profile', async () => {
        await Promise.all([
          page.waitForNavigation(),
          page.click('button[data-action="publish"]'),
        ]);
        const href = await page.locator('[data-profile="published"] a').getAttribute('href');
        must(href === profileUrl, `link ${href}`);
      });
      await shownPageChecks(v, 'earner-manage-published');
    } finally {
      await page.close();
    }

    await both('earner-profile', profileUrl, {
      specific: async ({ page: p }) => {
        await check('earner-profile: lists the other badges, not the hidden one, with their skills', async () => {
          const ids = await p.$$eval('[data-badge]', (els) => els.map((e) => e.getAttribute('data-badge')));
          must(ids.includes(b.uuid), `badges ${ids.join(', ')}`);
          must(!ids.includes(a.uuid), 'lists the hidden badge');
          const skills = await p.$$eval('[data-skill]', (els) => els.map((e) => e.getAttribute('data-skill')));
          must(skills.includes(b.achievement.alignmentName), `skills ${skills.join(', ')}`);
          const text = squash(await p.locator('main').innerText());
          must(text.includes('Grace Hopper') && text.includes('Systems engineer and teacher'), 'no name or headline');
          return `${ids.length} badges, ${skills.length} skills`;
        });
        await check('earner-profile: shareable (Open Graph) and indexable once published', async () => {
          const og = await p.$eval('meta[property="og:title"]', (m) => m.content).catch(() => null);
          must(og, 'no og:title');
          const robots = await p.$eval('meta[name="robots"]', (m) => m.content).catch(() => '');
          must(!robots.includes('noindex'), `robots: ${robots}`);
          return `og:title "${og}"`;
        });
      },
    });
  }

  /** Submits one of the verify forms on `page` and returns the verdict element's data. */
  async function submitVerify(page, form, fill) {
    await page.goto(`${base}/verify`);
    await fill();
    const [res] = await Promise.all([
      page.waitForNavigation(),
      page.click(`form[data-action="${form}"] button[type="submit"]`),
    ]);
    const verdict = await page.locator('[data-verdict]').getAttribute('data-verdict');
    const text = squash(await page.locator('[data-verdict]').innerText());
    const body = await page.evaluate(() => document.body.innerText.trim());
    return { status: res.status(), verdict, text, body };
  }

  async function verifyPage() {
    await both('verify', `${base}/verify`, {
      specific: async ({ page }) => {
        await check('verify: paste, upload (file input) and address forms, and the wallet button', async () => {
          for (const f of ['verify-paste', 'verify-upload', 'verify-url', 'verify-wallet']) {
            must(await page.locator(`form[data-action="${f}"]`).count() === 1, `no ${f} form`);
          }
          must(await page.locator('form[data-action="verify-upload"] input[type="file"]').count() === 1, 'no file input');
        });
      },
    });
    const b = awards.second;
    const r = awards.revoke;
    if (!b || !r) { skip('verify results', 'no badges'); return; }
    const fresh = await get(`${base}/badges/${b.uuid}/badge.png`);
    const toRevoke = await get(`${base}/badges/${r.uuid}/badge.png`);
    for (const width of [1280, 390]) {
      const v = await visit(width, 'verify-authentic', `${base}/verify`);
      try {
        await check(`verify ${width}px: a fresh baked PNG uploaded is authentic`, async () => {
          must(fresh.status === 200, `badge.png answered ${fresh.status}`);
          const out = await submitVerify(v.page, 'verify-upload', () => v.page.setInputFiles('#badge-file',
            { name: 'badge.png', mimeType: 'image/png', buffer: fresh.body }));
          must(out.status === 200 && out.verdict === 'authentic', `${out.status} ${out.verdict}: ${out.text}`);
          const facts = squash(await v.page.locator('.verify-facts').innerText());
          must(facts.includes(b.achievement.name) && facts.includes('Grace Hopper'), `facts: ${facts.slice(0, 160)}`);
          const trust = await v.page.locator('[data-trust]').getAttribute('data-trust');
          must(trust === 'listed', `data-trust="${trust}"`);
          return `"${out.text.slice(0, 60)}"`;
        });
        await shownPageChecks(v, 'verify-authentic');
      } finally {
        await v.page.close();
      }
    }
    const v = await visit(1280, 'verify-revoked', `${base}/verify`);
    const { page } = v;
    try {
      await check('verify: the baked PNG of a revoked badge is not-authentic', async () => {
        const rv = await admin('POST', `/api/v1/credentials/${r.uuid}/revoke`, { reason: 'issued in error' });
        must(rv.status === 200, `revoke answered ${rv.status}`);
        const out = await submitVerify(page, 'verify-upload', () => page.setInputFiles('#badge-file',
          { name: 'revoked.png', mimeType: 'image/png', buffer: toRevoke.body }));
        must(out.verdict === 'not-authentic', `${out.verdict}: ${out.text}`);
        const status = await page.locator('[data-check="status"]').getAttribute('data-outcome');
        must(status === 'fail', `status check ${status}`);
        return `"${out.text.slice(0, 60)}"`;
      });
      await shownPageChecks(v, 'verify-revoked');
      await check('verify: garbage uploaded gets a friendly line, not JSON', async () => {
        const out = await submitVerify(page, 'verify-upload', () => page.setInputFiles('#badge-file',
          { name: 'holiday.png', mimeType: 'image/png', buffer: Buffer.from('this is not an image at all') }));
        must(out.status === 200 && out.verdict === 'cannot-tell', `${out.status} ${out.verdict}`);
        const problem = squash(await page.locator('[data-problem]').innerText());
        must(problem.length > 20 && !out.body.startsWith('{'), `problem "${problem}"`);
        return `"${problem.slice(0, 80)}"`;
      });
      await shownPageChecks(v, 'verify-garbage');
      await check('verify: a badge image dropped on the upload form is verified (drag and drop)', async () => {
        await page.goto(`${base}/verify`);
        const hint = await page.locator('[data-dropzone] .drop-hint').isVisible();
        must(hint, 'the drop hint is not shown with the script on');
        const dataTransfer = await page.evaluateHandle((b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
          return dt;
        }, fresh.body.toString('base64'));
        await Promise.all([
          page.waitForNavigation(),
          page.dispatchEvent('[data-dropzone]', 'drop', { dataTransfer }),
        ]);
        const verdict = await page.locator('[data-verdict]').getAttribute('data-verdict');
        must(verdict === 'authentic', `data-verdict="${verdict}"`);
      });
      await check('verify: garbage pasted gets a friendly line', async () => {
        const out = await submitVerify(page, 'verify-paste', () => page.fill('#credential', 'eyJhbGciOi…'));
        must(out.verdict === 'cannot-tell', `${out.verdict}`);
        must(await page.locator('[data-problem]').count() === 1, 'no problem line');
      });
      await check('verify: a pasted JWT is authentic', async () => {
        const jwt = await get(`${base}/badges/${b.uuid}/credential.jwt`);
        must(jwt.status === 200, `credential.jwt answered ${jwt.status}`);
        const out = await submitVerify(page, 'verify-paste', async () => {
          await page.fill('#credential', jwt.body.toString());
          await page.fill('#email-paste', grace.email);
        });
        must(out.verdict === 'authentic', `${out.verdict}: ${out.text}`);
        const rc = await page.locator('[data-check="recipient"]').getAttribute('data-outcome');
        must(rc === 'pass', `recipient check ${rc} for the earner's own address`);
        return 'the e-mail address given matches';
      });
      await check('verify: a badge page address is authentic', async () => {
        const out = await submitVerify(page, 'verify-url', () => page.fill('#badge-url', `${base}/badges/${b.uuid}`));
        must(out.verdict === 'authentic', `${out.verdict}: ${out.text}`);
      });
      await check('verify: the same address with someone else\'s e-mail is not-authentic', async () => {
        const out = await submitVerify(page, 'verify-url', async () => {
          await page.fill('#badge-url', `${base}/badges/${b.uuid}`);
          await page.fill('#email-url', 'someone.else@example.org');
        });
        must(out.verdict === 'not-authentic', `${out.verdict}: ${out.text}`);
        const rc = await page.locator('[data-check="recipient"]').getAttribute('data-outcome');
        must(rc === 'fail', `recipient check ${rc}`);
      });
    } finally {
      await page.close();
    }
  }

  async function verifyWallet() {
    const w = awards.wallet;
    if (!w) { skip('verify-wallet', 'no award'); return; }
    const script = path.join(ROOT, 'conformance', 'oid4vp', 'claim_and_present.mjs');
    const modules = ['oid4vci', 'oid4vp'].every((d) => existsSync(path.join(ROOT, 'conformance', d, 'node_modules')));
    if (!modules) { fail('verify-wallet', 'npm ci has not run in conformance/oid4vci and conformance/oid4vp'); return; }
    const v = await visit(1280, 'verify-wallet', `${base}/verify`);
    const { page } = v;
    try {
      let link;
      await check('verify-wallet: "Show a QR code" starts a request shown as a QR code and a link', async () => {
        await Promise.all([
          page.waitForURL(/\/verify\/wallet\/[0-9a-f-]{36}/),
          page.click('form[data-action="verify-wallet"] button[type="submit"]'),
        ]);
        const state = await page.locator('[data-request]').getAttribute('data-request-state');
        must(state === 'pending', `state ${state}`);
        link = await page.locator('[data-link="request"]').getAttribute('href');
        must(link && link.startsWith('openid4vp://'), `link ${link}`);
        const decoded = await decodeQr(page, '[data-qr="request"] svg');
        must(decoded === link, `decoded "${decoded.slice(0, 100)}"`);
        return page.url().replace(base, '');
      });
      await shownPageChecks(v, 'verify-wallet-pending');
      if (!link) return;
      await check('verify-wallet: the wallet answers and the page turns authentic by itself', async () => {
        const run = new Promise((resolve) => {
          execFile(process.execPath, [script, '--offer', w.offer_uri, '--tx-code', w.tx_code,
            '--request', link, '--allow-http'], { cwd: path.dirname(script), timeout: 120_000 },
          (err, stdout, stderr) => resolve({ err, stdout, stderr }));
        });
        const out = await run;
        must(!out.err, `the wallet failed: ${out.err?.message} ${String(out.stderr).slice(-300)}`);
        // No navigation by the test: the page's script polls and reloads.
        await page.waitForSelector('[data-verdict]', { timeout: 30_000 });
        const verdict = await page.locator('[data-verdict]').getAttribute('data-verdict');
        must(verdict === 'authentic', `data-verdict="${verdict}": ${squash(await page.locator('[data-verdict]').innerText())}`);
        const facts = squash(await page.locator('.verify-facts').innerText());
        must(facts.includes(w.achievement.name), `facts ${facts.slice(0, 120)}`);
        return 'verdict shown without a reload by hand';
      });
      await shownPageChecks(v, 'verify-wallet-answered');
    } finally {
      await page.close();
    }
  }

  return [
    ['people: setup', setup],
    ['earner: claim page', claimPage],
    ['earner: accept without a wallet', acceptWithoutWallet],
    ['earner: manage page and profile', earnerPage],
    ['verify page', verifyPage],
    ['verify page: wallet', verifyWallet],
  ];
}
