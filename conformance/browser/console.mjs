// The staff console, driven in the browser pages.mjs launched:
//
//   - an owner signs in (both widths); the dashboard counts the programme;
//   - the issuer profile: a logo uploaded with the file input, a badge type added;
//   - a new achievement with an uploaded image, a badge type and a featured place; its
//     baked-badge preview loads;
//   - a CSV award to three earners plus one bad row: the preview lists every row and
//     the bad row's error before anything is awarded; confirming awards the three and
//     the progress page turns into the results by itself;
//   - the SMTP sink (run.py) receives exactly three messages, one per earner, whose
//     claim links open claim pages; an earner claims with the npm OpenID4VCI wallet
//     (conformance/oid4vci/wallet.mjs) using the code staff see on the credential page;
//   - the credentials search finds the earners by name and by state; the owner revokes
//     the claimed badge with a reason, and its public page then says revoked;
//   - a viewer sees no revoke form; a revoke they forge with their own session and CSRF
//     token is refused with 403, by the console form and by the API alike;
//   - every console page passes pageChecks (status, headers, axe-core, no overflow at
//     390 px) and is screenshotted at 390 px and 1280 px.
//
// pages.mjs passes its helpers (`h`) and runs the returned steps after its own.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function consoleSteps(h) {
  const { ctx, base, ok, fail, skip, check, must, squash, both, visit, pageChecks, ROOT } = h;
  const c = ctx.console || {};
  const s = { earners: [], claimed: null };
  const ACH_NAME = 'Console Cloud Skills';
  const TYPE_NAME = 'Console Practice';

  async function signIn(width, who, label) {
    const v = await visit(width, label, `${base}/admin/login`);
    try {
      await v.page.fill('#email', who.email);
      await v.page.fill('#password', who.password);
      await Promise.all([v.page.waitForURL(`${base}/admin`), v.page.click('[data-action=sign-in] button')]);
      const role = await v.page.locator('.console-bar [data-role]').getAttribute('data-role');
      return role;
    } finally {
      await v.page.close();
    }
  }

  async function ownerSignsIn() {
    if (!c.owner) { fail('console: owner sign-in', 'run.py made no owner account'); return; }
    for (const width of [390, 1280]) {
      await check(`console: the owner signs in (${width}px)`, async () => {
        const role = await signIn(width, c.owner, `console-login-${width}`);
        must(role === 'owner', `role ${role}`);
        return role;
      });
    }
  }

  async function dashboard() {
    await both('console-dashboard', `${base}/admin`, {
      specific: async (v) => {
        await check('console dashboard: tiles count achievements and awards, and the nav names every section', async () => {
          const n = async (k) => Number(squash(await v.page.locator(`[data-count=${k}] strong`).textContent()));
          const achievements = await n('achievements');
          const awarded = await n('awarded');
          must(achievements >= 6 && awarded >= 1, `achievements ${achievements}, awarded ${awarded}`);
          const nav = await v.page.locator('.console-nav a').count();
          must(nav >= 12, `${nav} nav links`);
          return `achievements ${achievements}, awarded ${awarded}, ${nav} sections`;
        });
      },
    });
  }

  async function profile() {
    await both('console-profile', `${base}/admin/profile`, {
      specific: async (v) => {
        const { page } = v;
        await check('console profile: a logo uploaded with the file input is shown', async () => {
          await page.setInputFiles('#logo', c.logo);
          await Promise.all([page.waitForURL(/done=logo/), page.click('[data-action=upload-logo] button')]);
          const w = await page.locator('img.logo-preview').evaluate((i) => i.complete && i.naturalWidth);
          must(w > 0, `logo naturalWidth ${w}`);
          return `logo ${w}px`;
        });
        await check('console profile: the details form saves (LinkedIn organisation id)', async () => {
          await page.fill('#p-linkedin', '1234567');
          await Promise.all([page.waitForURL(/done=profile/), page.click('[data-action=save-profile] button[type=submit]')]);
          const got = await page.inputValue('#p-linkedin');
          must(got === '1234567', `after saving: ${got}`);
          return 'saved';
        });
        await check('console profile: a badge type is added', async () => {
          await page.fill('#nt-name', TYPE_NAME);
          await page.fill('#nt-desc', 'Practice badges made in the console.');
          await Promise.all([page.waitForURL(/done=type-created/), page.click('[data-action=create-badge-type] button')]);
          const n = await page.locator('[data-badge-type=console-practice]').count();
          must(n === 1, `${n} rows for console-practice`);
          return 'console-practice';
        });
      },
    });
  }

  async function achievement() {
    await both('console-achievement-new', `${base}/admin/achievements/new`, {
      specific: async (v) => {
        const { page } = v;
        await check('console achievement: created with an uploaded image, a badge type and a featured place', async () => {
          await page.fill('#a-name', ACH_NAME);
          await page.fill('#a-description', 'Runs and secures workloads on a public cloud.');
          await page.fill('#a-criteria', 'Passed the **practical exam**.');
          await page.selectOption('#a-type', 'Badge');
          await page.fill('#a-tags', 'cloud, console');
          await page.setInputFiles('#a-image', c.image);
          await page.selectOption('#a-badge-type', { label: TYPE_NAME });
          await page.check('input[name=featured]');
          await page.fill('#a-featured-order', '9');
          await Promise.all([page.waitForURL(/\/admin\/achievements\/[0-9a-f-]{36}\?done=created/),
            page.click('[data-action=create-achievement] button[type=submit]')]);
          s.achievement = page.url().match(/achievements\/([0-9a-f-]{36})/)[1];
          const preview = await page.locator('[data-preview=badge]').evaluate((i) => i.complete && i.naturalWidth);
          must(preview > 0, `preview naturalWidth ${preview}`);
          const place = await (await fetch(`${base}/api/v1/achievements/${s.achievement}/catalogue`,
            { headers: { Authorization: `Bearer ${ctx.token}` } })).json();
          must(place.badge_type === 'console-practice' && place.featured && place.featured_order === 9,
            JSON.stringify(place));
          return `${s.achievement}; preview ${preview}px`;
        });
      },
    });
    if (!s.achievement) return;
    await both('console-achievement', `${base}/admin/achievements/${s.achievement}`);
    await both('console-achievements', `${base}/admin/achievements`, {
      specific: async (v) => {
        await check('console achievements: the list shows the new one', async () => {
          const n = await v.page.locator(`[data-achievement="${s.achievement}"]`).count();
          must(n === 1, `${n} rows`);
          return 'listed';
        });
      },
    });
  }

  async function awardCsv() {
    if (!s.achievement) { skip('console award', 'no achievement'); return; }
    const dir = mkdtempSync(path.join(tmpdir(), 'accolade-console-'));
    const file = path.join(dir, 'awards.csv');
    const id = `${base}/achievements/${s.achievement}`;
    s.earners = [
      { name: 'Ada Console', email: 'ada.console@example.org' },
      { name: 'Grace Console', email: 'grace.console@example.org' },
      { name: 'Alan Console', email: 'alan.console@example.org' },
    ];
    writeFileSync(file, ['achievement_id,name,email,id,valid_until',
      ...s.earners.map((e) => `${id},${e.name},${e.email},,`),
      `${id},Nobody,not-an-address,,`].join('\n') + '\n');
    let job = null;
    try {
      await both('console-award', `${base}/admin/award`, {
        specific: async (v) => {
          const { page } = v;
          await check('console award-csv: the upload is checked row by row before anything is awarded', async () => {
            const before = (await (await fetch(`${base}/api/v1/credentials?achievement_id=${encodeURIComponent(id)}`,
              { headers: { Authorization: `Bearer ${ctx.token}` } })).json()).credentials.length;
            await page.setInputFiles('#csv-file', file);
            await page.check('form[data-action=award-csv] input[name=delivery][value=email]');
            await Promise.all([page.waitForURL(/\/admin\/award\/csv\/[0-9a-f-]{36}$/),
              page.click('form[data-action=award-csv] button[type=submit]')]);
            job = page.url();
            s.job = job;
            const summary = squash(await page.locator('[data-summary=preview]').textContent());
            must(/^3 of 4 rows are ready/.test(summary), summary);
            const bad = squash(await page.locator('tr[data-row="4"]').textContent());
            must(/e-mail|email|address/i.test(bad), `row 4: ${bad}`);
            const okRows = await page.locator('tr[data-row-ok=true]').count();
            must(okRows === 3, `${okRows} rows ready`);
            const after = (await (await fetch(`${base}/api/v1/credentials?achievement_id=${encodeURIComponent(id)}`,
              { headers: { Authorization: `Bearer ${ctx.token}` } })).json()).credentials.length;
            must(before === 0 && after === 0, `credentials before ${before}, after the preview ${after}`);
            return summary;
          });
        },
      });
      if (!job) return;
      await both('console-award-preview', job);
      const v = await visit(1280, 'console-award-progress', job);
      try {
        await check('console award-csv: confirming awards the three, and the page shows the results by itself', async () => {
          await v.page.click('[data-action=award-csv-confirm] button');
          await v.page.waitForSelector('[data-summary=done]', { timeout: 30_000 });
          const summary = squash(await v.page.locator('[data-summary=done]').textContent());
          must(/^3 badges awarded; 0 failed; 1 left out/.test(summary), summary);
          return summary;
        });
      } finally {
        await v.page.close();
      }
      await both('console-award-results', job);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  function messages() {
    if (!c.mailDir || !existsSync(c.mailDir)) return [];
    return readdirSync(c.mailDir).filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(c.mailDir, f), 'utf8')));
  }

  async function mail() {
    if (!s.earners.length) { skip('console mail', 'nothing was awarded'); return; }
    const want = new Set(s.earners.map((e) => e.email));
    let got = [];
    await check('console mail: the SMTP sink receives exactly one message for each of the three earners', async () => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        got = messages().filter((m) => m.to.some((t) => want.has(t)));
        if (got.length >= 3) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await new Promise((r) => setTimeout(r, 1000));
      got = messages().filter((m) => m.to.some((t) => want.has(t)));
      const to = got.map((m) => m.to.join(',')).sort();
      must(got.length === 3 && new Set(to).size === 3, `${got.length} messages: ${to.join(' ')}`);
      return to.join(', ');
    });
    const esc = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const m of got) {
      const link = (m.text.match(new RegExp(`${esc}/claim/[A-Za-z0-9_-]+`)) || [])[0];
      const earner = s.earners.find((e) => m.to.includes(e.email));
      if (earner) earner.claim = link;
    }
    await check('console mail: each claim link opens a claim page with a wallet offer', async () => {
      const seen = [];
      for (const e of s.earners) {
        must(e.claim, `no claim link in ${e.email}'s message`);
        const v = await visit(1280, 'console-claim', e.claim);
        try {
          must(v.response && v.response.status() === 200, `${e.claim}: ${v.response?.status()}`);
          const offer = await v.page.locator('[data-link=offer]').getAttribute('href');
          must(offer && offer.startsWith('openid-credential-offer://'), `offer link ${offer}`);
          e.offer = offer;
          seen.push(e.email);
        } finally {
          await v.page.close();
        }
      }
      return seen.join(', ');
    });
  }

  async function findCredential(email) {
    const r = await fetch(`${base}/api/v1/credentials?email=${encodeURIComponent(email)}`,
      { headers: { Authorization: `Bearer ${ctx.token}` } });
    const list = (await r.json()).credentials || [];
    return list[0]?.credential_id?.replace('urn:uuid:', '');
  }

  async function claimWithWallet() {
    const e = s.earners[0];
    if (!e?.offer) { skip('console wallet claim', 'no offer'); return; }
    const wallet = path.join(ROOT, 'conformance', 'oid4vci', 'wallet.mjs');
    if (!existsSync(path.join(ROOT, 'conformance', 'oid4vci', 'node_modules'))) {
      fail('console wallet claim', 'npm ci has not run in conformance/oid4vci');
      return;
    }
    e.uuid = await findCredential(e.email);
    let code = null;
    await check('console award-csv: the results show staff each earner\'s wallet code (to hand over apart from the e-mail)', async () => {
      must(s.job, 'no upload page');
      const v = await visit(1280, 'console-award-codes', s.job);
      try {
        for (const x of s.earners) {
          x.code = await v.page.locator(`[data-tx-code][data-for="${x.email}"]`).getAttribute('data-tx-code');
        }
        code = e.code;
        must(/^\d{6}$/.test(code || ''), `code ${code}`);
        const all = await v.page.locator('[data-tx-code]').count();
        must(all === 3, `${all} codes`);
        return '3 codes shown';
      } finally {
        await v.page.close();
      }
    });
    if (!code) return;
    await check('console wallet claim: the earner claims with the npm OpenID4VCI wallet', async () => {
      const out = await new Promise((resolve) => {
        execFile(process.execPath, [wallet, '--offer', e.offer, '--tx-code', code, '--dialect', '1.0', '--allow-http'],
          { cwd: path.dirname(wallet), timeout: 120_000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
      });
      must(!out.err, `wallet: ${out.err?.message} ${String(out.stderr).slice(-300)}`);
      const r = await fetch(`${base}/api/v1/credentials/${e.uuid}`, { headers: { Authorization: `Bearer ${ctx.token}` } });
      const cred = await r.json();
      must(cred.state === 'issued', `state ${cred.state}`);
      s.claimed = e;
      return `${e.email}: issued`;
    });
  }

  async function credentials() {
    await both('console-credentials', `${base}/admin/credentials?q=console`, {
      specific: async (v) => {
        await check('console credentials: a name word finds the three earners', async () => {
          const n = Number(await v.page.locator('table.data').getAttribute('data-results'));
          must(n === 3, `${n} results`);
          return `${n} results`;
        });
      },
    });
    await check('console credentials: the state filter finds the one waiting state and the issued one', async () => {
      const v = await visit(1280, 'console-credentials-offered', `${base}/admin/credentials?q=console&state=offered`);
      try {
        const n = await v.page.locator('tr[data-credential]').count();
        must(n === 2, `${n} waiting`);
      } finally {
        await v.page.close();
      }
      return '2 waiting';
    });
    const r = await fetch(`${base}/admin/credentials.csv?q=console`, { headers: { Cookie: '' } });
    await check('console credentials: the CSV export needs a session', async () => {
      must(r.status === 303 || r.redirected || r.url.endsWith('/admin/login'), `status ${r.status} ${r.url}`);
      return 'redirected to sign-in';
    });
  }

  async function revoke() {
    const e = s.claimed;
    if (!e) { skip('console revoke', 'no claimed badge'); return; }
    await both('console-credential', `${base}/admin/credentials/${e.uuid}`, {
      specific: async (v) => {
        const { page } = v;
        await check('console credential: the owner revokes it with a reason; the trail keeps the reason', async () => {
          await page.fill('#revoke-reason', 'Exam result withdrawn after review');
          await Promise.all([page.waitForURL(/done=revoked/), page.click('[data-action=revoke] button')]);
          const st = await page.locator('[data-credential-state]').getAttribute('data-credential-state');
          must(st === 'revoked', `state ${st}`);
          const trail = squash(await page.locator('.trail').first().textContent());
          must(trail.includes('Exam result withdrawn after review'), trail.slice(0, 200));
          return `revoked; trail: ${trail.slice(0, 80)}`;
        });
      },
    });
    await check('console revoke: the badge page then says revoked', async () => {
      const v = await visit(1280, 'console-badge-revoked', `${base}/badges/${e.uuid}`);
      try {
        const st = await v.page.locator('[data-status]').first().getAttribute('data-status');
        must(st === 'revoked', `data-status ${st}`);
        return 'data-status="revoked"';
      } finally {
        await v.page.close();
      }
    });
  }

  async function awardOne() {
    if (!s.achievement) { skip('console award-one', 'no achievement'); return; }
    const v = await visit(1280, 'console-award-one', `${base}/admin/award?achievement=${s.achievement}`);
    try {
      let answer = null;
      await check('console award-one: one earner by form gets a claim link, its QR code and a wallet code', async () => {
        const { page } = v;
        await page.fill('#w-name', 'Edsger Dijkstra');
        await page.fill('#w-email', 'edsger@example.org');
        await page.check('form[data-action=award-one] input[name=delivery][value=offer]');
        const [res] = await Promise.all([page.waitForNavigation(), page.click('form[data-action=award-one] button[type=submit]')]);
        answer = res;
        const claim = await page.locator('[data-claim-url]').inputValue();
        must(claim.startsWith(`${base}/claim/`), `claim ${claim}`);
        const code = await page.locator('[data-tx-code]').textContent();
        must(/^\d{6}$/.test(squash(code)), `code ${code}`);
        const qr = await page.locator('.small-qr img').evaluate((i) => i.complete && i.naturalWidth);
        must(qr > 0, 'the QR code did not load');
        return claim.replace(base, '');
      });
      if (answer) {
        await pageChecks({ ...v, url: v.page.url(), response: answer, isHtml: true, label: 'console-award-one',
          tag: 'console-award-one 1280px' }, { once: false });
      }
    } finally {
      await v.page.close();
    }
  }

  async function apiKey() {
    const v = await visit(1280, 'console-api-key', `${base}/admin/api-keys`);
    try {
      await check('console api keys: a key is shown once, then revoked after a second click', async () => {
        const { page } = v;
        await page.fill('#k-name', 'Acme Hiring');
        await Promise.all([page.waitForLoadState('load'), page.click('[data-action=create-api-key] button')]);
        const key = await page.locator('[data-api-key]').getAttribute('data-api-key');
        must(key && key.startsWith('acc_live_'), `key ${key}`);
        const usage = await fetch(`${base}/api/v1/verify`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
          body: JSON.stringify({ credential: 'not.a.jwt' }) });
        must(usage.status !== 401 && usage.status !== 403, `the fresh key is refused: ${usage.status}`);
        await page.goto(`${base}/admin/api-keys`);
        const row = page.locator('tr[data-api-key-id]').filter({ hasText: 'Acme Hiring' });
        await row.locator('details[data-confirm=revoke-api-key] summary').click();
        await Promise.all([page.waitForURL(/done=key-revoked/), row.locator('form[data-action=revoke-api-key] button').click()]);
        const state = squash(await page.locator('tr[data-api-key-id]').filter({ hasText: 'Acme Hiring' }).locator('td').last().textContent());
        must(state === 'Revoked', `state ${state}`);
        const after = await fetch(`${base}/api/v1/verify`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': key },
          body: JSON.stringify({ credential: 'not.a.jwt' }) });
        must(after.status === 401 || after.status === 403, `verify with the revoked key: ${after.status}`);
        return `created, used, revoked (then ${after.status})`;
      });
    } finally {
      await v.page.close();
    }
  }

  async function otherPages() {
    const pages = [
      ['console-presentations', '/admin/presentations'],
      ['console-trust', '/admin/trust'],
      ['console-api-keys', '/admin/api-keys'],
      ['console-staff', '/admin/staff'],
      ['console-mail', '/admin/mail'],
      ['console-audit', '/admin/audit'],
      ['console-account', '/admin/account'],
    ];
    for (const [label, p] of pages) await both(label, `${base}${p}`);
    const v = await visit(1280, 'console-presentation', `${base}/admin/presentations`);
    let link = null;
    try {
      await check('console presentations: a request for our badge shows a QR code that waits for the wallet', async () => {
        await page_select(v.page);
        await Promise.all([v.page.waitForURL(/\/admin\/presentations\/[0-9a-f-]{36}$/),
          v.page.click('[data-action=create-presentation] button')]);
        const st = await v.page.locator('[data-request]').getAttribute('data-request-state');
        must(st === 'pending', `state ${st}`);
        const svg = await v.page.locator('[data-qr=request] svg').count();
        must(svg === 1, 'no QR code');
        link = await v.page.locator('[data-link="request"]').getAttribute('href');
        must(link && link.startsWith('openid4vp://'), `link ${link}`);
        s.presentation = v.page.url();
        return 'pending, QR shown';
      });
      if (s.presentation) await both('console-presentation', s.presentation);
      const e = s.earners[1];
      const script = path.join(ROOT, 'conformance', 'oid4vp', 'claim_and_present.mjs');
      if (link && e?.offer && e?.code && existsSync(path.join(ROOT, 'conformance', 'oid4vp', 'node_modules'))) {
        await check('console presentations: a candidate\'s wallet answers and the verdict appears by itself', async () => {
          const out = await new Promise((resolve) => {
            execFile(process.execPath, [script, '--offer', e.offer, '--tx-code', e.code, '--request', link, '--allow-http'],
              { cwd: path.dirname(script), timeout: 120_000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
          });
          must(!out.err, `the wallet failed: ${out.err?.message} ${String(out.stderr).slice(-300)}`);
          await v.page.waitForSelector('[data-verdict]', { timeout: 30_000 });
          const verdict = await v.page.locator('[data-verdict]').getAttribute('data-verdict');
          must(verdict === 'authentic', `data-verdict="${verdict}"`);
          const facts = squash(await v.page.locator('.verify-facts').innerText());
          must(facts.includes(ACH_NAME), `facts ${facts.slice(0, 120)}`);
          return 'authentic, without a reload by hand';
        });
        await both('console-presentation-answered', s.presentation);
      } else {
        skip('console presentations: the wallet answers', 'no offer, code or npm wallets');
      }
    } finally {
      await v.page.close();
    }
    await check('console exports: every list downloads CSV with formula cells neutralised', async () => {
      const v2 = await visit(1280, 'console-exports', `${base}/admin`);
      try {
        const out = [];
        for (const p of ['/admin/achievements.csv', '/admin/badge-types.csv', '/admin/credentials.csv', '/admin/trust.csv',
          '/admin/api-keys.csv', '/admin/staff.csv', '/admin/audit.csv']) {
          const r = await v2.page.request.get(`${base}${p}`);
          const type = r.headers()['content-type'] || '';
          const text = await r.text();
          must(r.status() === 200 && type.startsWith('text/csv'), `${p}: ${r.status()} ${type}`);
          const risky = csvCells(text).filter((cell) => /^[=+@\t\r-]/.test(cell));
          must(risky.length === 0, `${p}: cells a spreadsheet would run: ${risky.slice(0, 3).join(' | ')}`);
          if (p === '/admin/trust.csv') must(text.includes("'=HYPERLINK"), `${p}: the formula-like name is not neutralised`);
          out.push(`${p} ${text.split('\n').length - 2} rows`);
        }
        return out.join('; ');
      } finally {
        await v2.page.close();
      }
    });
  }

  /** Every cell of a CSV text (RFC 4180 quoting). */
  function csvCells(text) {
    const cells = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cur += '"'; i++; }
        else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',' || ch === '\n') { cells.push(cur); cur = ''; }
      else if (ch !== '\r') cur += ch;
    }
    if (cur) cells.push(cur);
    return cells;
  }

  async function page_select(page) {
    if (s.achievement) await page.selectOption('#pr-achievement', s.achievement);
  }

  async function viewer() {
    if (!c.viewer) { fail('console viewer', 'run.py made no viewer account'); return; }
    const target = s.earners[1] && await findCredential(s.earners[1].email);
    if (!target) { skip('console viewer', 'no credential'); return; }
    // The owner's sessions end; the viewer signs in on both widths.
    for (const width of [390, 1280]) {
      const v = await visit(width, `console-signout-${width}`, `${base}/admin`);
      try {
        await Promise.all([v.page.waitForURL(`${base}/admin/login`), v.page.click('[data-action=sign-out] button')]);
      } finally {
        await v.page.close();
      }
      await check(`console: the viewer signs in (${width}px)`, async () => {
        const role = await signIn(width, c.viewer, `console-viewer-login-${width}`);
        must(role === 'viewer', `role ${role}`);
        return role;
      });
    }
    await both('console-viewer-credential', `${base}/admin/credentials/${target}`, {
      specific: async (v) => {
        const { page } = v;
        let csrf = null;
        await check('console viewer: no revoke (or other action) form on a credential', async () => {
          const n = await page.locator('[data-action=revoke], [data-action=suspend], [data-section=actions]').count();
          must(n === 0, `${n} action forms`);
          csrf = await page.locator('[data-action=sign-out] input[name=csrf]').inputValue();
          must(csrf, 'no CSRF token on the page');
          return 'none shown';
        });
        await check('console viewer: a forged revoke form with the viewer\'s session and CSRF token gets 403', async () => {
          const r = await page.request.post(`${base}/admin/credentials/${target}/revoke`, {
            form: { csrf, reason: 'forged' }, headers: { Origin: base }, maxRedirects: 0,
          });
          must(r.status() === 403, `status ${r.status()}`);
          return '403';
        });
        await check('console viewer: the same revoke through the API with the session cookie and X-CSRF-Token gets 403', async () => {
          const r = await page.request.post(`${base}/api/v1/credentials/${target}/revoke`, {
            data: { reason: 'forged' }, headers: { 'X-CSRF-Token': csrf },
          });
          must(r.status() === 403, `status ${r.status()} ${(await r.text()).slice(0, 200)}`);
          const cred = await (await fetch(`${base}/api/v1/credentials/${target}`,
            { headers: { Authorization: `Bearer ${ctx.token}` } })).json();
          must(cred.revoked === false, 'the credential was revoked');
          return '403; still not revoked';
        });
        await check('console viewer: the refusals are in the audit trail', async () => {
          const r = await fetch(`${base}/api/v1/audit?action=denied.credential.revoke`,
            { headers: { Authorization: `Bearer ${ctx.token}` } });
          const events = (await r.json()).events || [];
          must(events.length >= 2 && events.every((e) => e.actor === c.viewer.email), JSON.stringify(events).slice(0, 300));
          return `${events.length} denied.credential.revoke entries`;
        });
      },
    });
    await both('console-viewer-dashboard', `${base}/admin`);
  }

  return [
    ['console: owner signs in', ownerSignsIn],
    ['console: dashboard', dashboard],
    ['console: profile', profile],
    ['console: achievement', achievement],
    ['console: CSV award', awardCsv],
    ['console: e-mail', mail],
    ['console: wallet claim', claimWithWallet],
    ['console: credentials', credentials],
    ['console: revoke', revoke],
    ['console: award one earner', awardOne],
    ['console: API keys', apiKey],
    ['console: other pages', otherPages],
    ['console: viewer', viewer],
  ];
}
