// Checks accolade's public HTML pages in headless Chromium (playwright-core) with
// axe-core, against a service that run.py started and filled through the admin API.
//
//   node pages.mjs --context <context.json>
//
// The context names the base URL, the admin token (for the revocation and hiding done
// mid-run), the issuer, badge types, achievements and badges (ids and JWTs), and the
// screenshot directory. One line per check: `ok   <what>`, `FAIL <what>: <why>` or
// `skip <what>: <why>`; the exit status is 1 when anything failed.

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { peopleSteps } from './people.mjs';
import { staffSteps } from './staff.mjs';
import { consoleSteps } from './console.mjs';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const OB_NS = 'https://purl.imsglobal.org/ob/v3p0';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const WIDTHS = [
  { width: 390, options: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } },
  { width: 1280, options: { viewport: { width: 1280, height: 900 } } },
];

// ---- reporting ----

const STARTED = Date.now();
const counts = { passed: 0, failed: 0, skipped: 0 };
const ok = (what) => { counts.passed++; console.log(`ok   ${what}`); };
const fail = (what, why) => { counts.failed++; console.log(`FAIL ${what}: ${oneLine(why)}`); };
const skip = (what, why) => { counts.skipped++; console.log(`skip ${what}: ${why}`); };
const oneLine = (s) => String(s).replace(/\s+/g, ' ').trim().slice(0, 600);

class CheckFailed extends Error {}
function must(cond, why) {
  if (!cond) throw new CheckFailed(why);
}

/** Runs one check: fn returns an optional detail for the ok line, or throws. */
async function check(what, fn) {
  try {
    const detail = await fn();
    ok(detail ? `${what} (${detail})` : what);
    return true;
  } catch (e) {
    fail(what, e instanceof CheckFailed ? e.message : `${e.name}: ${e.message}`);
    return false;
  }
}

// ---- context ----

function parseArgs(argv) {
  const i = argv.indexOf('--context');
  if (i < 0 || !argv[i + 1]) {
    console.error('usage: node pages.mjs --context <context.json>');
    process.exit(2);
  }
  return JSON.parse(readFileSync(argv[i + 1], 'utf8'));
}

const ctx = parseArgs(process.argv.slice(2));
const base = ctx.base.replace(/\/$/, '');
const shotsDir = ctx.screenshots || path.join(ROOT, 'target', 'browser');
mkdirSync(shotsDir, { recursive: true });
const rel = (url) => url.startsWith(base) ? url.slice(base.length) || '/' : url;
const achievements = ctx.achievements || [];
const byKey = Object.fromEntries(achievements.map((a) => [a.key, a]));
const typeById = Object.fromEntries((ctx.badgeTypes || []).map((t) => [t.id, t]));
const squash = (s) => String(s ?? '').replace(/\s+/g, ' ').trim();

function jwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

function credentialOf(payload) {
  return payload && typeof payload.vc === 'object' ? payload.vc : payload;
}

async function get(url, accept, extra = {}) {
  const res = await fetch(url, { headers: accept ? { Accept: accept } : {}, redirect: 'manual', ...extra });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, type: res.headers.get('content-type') || '' };
}

async function admin(method, urlPath, body) {
  const res = await fetch(base + urlPath, {
    method,
    headers: { Authorization: `Bearer ${ctx.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

function varyHasAccept(headers) {
  const vary = (headers.get('vary') || '').toLowerCase().split(',').map((s) => s.trim());
  return vary.includes('accept') || vary.includes('*');
}

// ---- an independent PNG reader ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Walks a PNG's chunks, checking signature, lengths, CRCs, IHDR first and IEND last. */
function pngChunks(buf) {
  must(buf.length >= 8 && buf.subarray(0, 8).equals(PNG_SIGNATURE), 'no PNG signature');
  const chunks = [];
  let off = 8;
  while (off < buf.length) {
    must(off + 12 <= buf.length, `truncated chunk header at byte ${off}`);
    const len = buf.readUInt32BE(off);
    const type = buf.subarray(off + 4, off + 8).toString('latin1');
    must(/^[A-Za-z]{4}$/.test(type), `bad chunk type at byte ${off}`);
    must(off + 12 + len <= buf.length, `chunk ${type} runs past the end`);
    const data = buf.subarray(off + 8, off + 8 + len);
    const crc = buf.readUInt32BE(off + 8 + len);
    must(crc32(buf.subarray(off + 4, off + 8 + len)) === crc, `chunk ${type} fails its CRC`);
    chunks.push({ type, data });
    off += 12 + len;
    if (type === 'IEND') break;
  }
  must(chunks.length && chunks[0].type === 'IHDR', 'IHDR is not the first chunk');
  must(chunks.at(-1).type === 'IEND', 'no IEND chunk');
  must(off === buf.length, `${buf.length - off} bytes after IEND`);
  return chunks;
}

/** An iTXt chunk's fields (PNG spec 11.3.4.5). */
function parseITXt(data) {
  const z1 = data.indexOf(0);
  must(z1 > 0, 'iTXt without keyword terminator');
  const keyword = data.subarray(0, z1).toString('latin1');
  const flag = data[z1 + 1];
  const method = data[z1 + 2];
  const z2 = data.indexOf(0, z1 + 3);
  must(z2 >= 0, 'iTXt without language tag terminator');
  const z3 = data.indexOf(0, z2 + 1);
  must(z3 >= 0, 'iTXt without translated keyword terminator');
  return { keyword, flag, method, text: data.subarray(z3 + 1).toString('utf8') };
}

// ---- the browser ----

const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
let browser;
try {
  browser = await chromium.launch({ executablePath, headless: true });
  ok(`chromium ${browser.version()} launched headless from ${executablePath}`);
} catch (e) {
  fail(`launching ${executablePath}`, e.message);
  finish();
}

const INIT_SCRIPT = () => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}` +
      (e.sample ? ` "${e.sample.slice(0, 40)}"` : ''));
  });
};

const contexts = {};
for (const w of WIDTHS) {
  const c = await browser.newContext({ ...w.options, deviceScaleFactor: 1, locale: 'en-GB' });
  await c.addInitScript(INIT_SCRIPT);
  c.setDefaultTimeout(10_000);
  c.setDefaultNavigationTimeout(15_000);
  contexts[w.width] = c;
}
try {
  await contexts[1280].grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
} catch (e) {
  skip('clipboard permissions', e.message);
}

/** Loads a URL in a new page of the context for `width`, recording what goes wrong. */
async function visit(width, label, url) {
  const page = await contexts[width].newPage();
  const v = { page, width, label, url, tag: `${label} ${width}px`, response: null, navError: null,
    consoleErrors: [], pageErrors: [], dialogs: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') v.consoleErrors.push({ text: m.text(), url: m.location()?.url || '' });
  });
  page.on('pageerror', (e) => v.pageErrors.push(String(e?.message || e)));
  page.on('dialog', (d) => {
    v.dialogs.push(`${d.type()} "${d.message()}"`);
    d.dismiss().catch(() => {});
  });
  try {
    v.response = await page.goto(url, { waitUntil: 'load' });
  } catch (e) {
    v.navError = e.message.split('\n')[0];
  }
  v.isHtml = !!v.response && (v.response.headers()['content-type'] || '').startsWith('text/html');
  return v;
}

/** The checks every page gets at every width. `status` is the status the page must have. */
async function pageChecks(v, { status = 200, once = false } = {}) {
  const { page, tag } = v;
  await check(`${tag}: ${rel(v.url)} answers ${status} text/html`, async () => {
    must(!v.navError, v.navError);
    const got = v.response.status();
    const type = v.response.headers()['content-type'] || '(none)';
    must(got === status && v.isHtml, `${got} ${type}`);
  });
  const csp = await page.evaluate(() => window.__cspViolations || []).catch(() => []);
  await check(`${tag}: no console errors, page errors, CSP violations or dialogs`, async () => {
    // A page that is meant to be a 404 logs its own status; that is not an error.
    const consoleErrors = v.consoleErrors.filter((e) => !(status >= 400 && e.url === v.url
      && /status of \d{3}/.test(e.text)));
    const problems = [
      ...consoleErrors.map((e) => `console: ${e.text}${e.url ? ` [${rel(e.url)}]` : ''}`),
      ...v.pageErrors.map((e) => `pageerror: ${e}`),
      ...csp.map((e) => `CSP: ${e}`),
      ...v.dialogs.map((d) => `dialog: ${d}`),
    ];
    must(problems.length === 0, problems.slice(0, 4).join(' | ') +
      (problems.length > 4 ? ` | ... ${problems.length} in all` : ''));
  });
  if (once && v.response) {
    const h = await v.response.allHeaders();
    await check(`${v.label}: security headers (CSP without unsafe-inline, nosniff, referrer-policy, framing denied)`, async () => {
      const p = [];
      const policy = h['content-security-policy'];
      if (!policy) p.push('no content-security-policy');
      else if (policy.includes('unsafe-inline')) p.push(`CSP allows 'unsafe-inline': ${policy}`);
      if ((h['x-content-type-options'] || '').toLowerCase() !== 'nosniff') {
        p.push(`x-content-type-options: ${h['x-content-type-options'] ?? '(none)'}`);
      }
      if (!h['referrer-policy']) p.push('no referrer-policy');
      const xfo = (h['x-frame-options'] || '').toUpperCase();
      if (xfo !== 'DENY' && !/frame-ancestors\s+'none'/.test(policy || '')) {
        p.push(`framing allowed (x-frame-options: ${h['x-frame-options'] ?? '(none)'}, no frame-ancestors 'none')`);
      }
      must(p.length === 0, p.join('; '));
    });
  }
  await loadImages(page);
  const shot = path.join(shotsDir, `${v.label}-${v.width}.png`);
  await check(`${tag}: screenshot ${path.relative(ROOT, shot)}`, async () => {
    await page.screenshot({ path: shot, fullPage: true });
  });
  if (!v.isHtml) {
    skip(`${tag}: metadata, layout and accessibility checks`, 'not an HTML page');
    return false;
  }
  if (once) {
    await check(`${v.label}: html[lang], a <title>, meta[name="description"]`, async () => {
      const m = await page.evaluate(() => ({
        lang: document.documentElement.getAttribute('lang'),
        title: document.title,
        description: document.querySelector('meta[name="description"]')?.getAttribute('content'),
      }));
      const p = [];
      if (!m.lang) p.push('no html[lang]');
      if (!squash(m.title)) p.push('empty <title>');
      if (!squash(m.description)) p.push('no meta[name="description"] content');
      must(p.length === 0, p.join('; '));
      return `lang=${m.lang} title="${squash(m.title).slice(0, 50)}"`;
    });
    await check(`${v.label}: every <img> loaded`, async () => {
      const broken = await page.evaluate(() => [...document.images]
        .filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.getAttribute('src')));
      must(broken.length === 0, `not loaded: ${broken.slice(0, 3).join(', ')}`);
      return `${await page.evaluate(() => document.images.length)} images`;
    });
  }
  if (v.width === 390) {
    await check(`${tag}: no horizontal scroll`, async () => {
      const sw = await page.evaluate(() => document.documentElement.scrollWidth);
      must(sw <= 391, `scrollWidth ${sw} > 390`);
      return `scrollWidth ${sw}`;
    });
  }
  await axeCheck(v);
  return true;
}

/** Loads every image, lazy ones included, so that checks and screenshots see them. */
async function loadImages(page) {
  await page.evaluate(async () => {
    const imgs = [...document.images];
    for (const i of imgs) if (i.loading === 'lazy') i.loading = 'eager';
    await Promise.race([
      Promise.all(imgs.filter((i) => !i.complete).map((i) => new Promise((r) => {
        i.addEventListener('load', r, { once: true });
        i.addEventListener('error', r, { once: true });
      }))),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
  }).catch(() => {});
}

async function runAxe(page) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((x) => ({ id: x.id, impact: x.impact, help: x.help,
      nodes: x.nodes.length, targets: x.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}

async function axeCheck(v) {
  await check(`${v.tag}: axe-core finds no serious or critical violations`, async () => {
    let violations;
    let how = 'injected';
    try {
      violations = await runAxe(v.page);
    } catch (e) {
      // The page's CSP stopped the injection: scan a copy loaded with CSP bypassed.
      const w = WIDTHS.find((x) => x.width === v.width);
      const c = await browser.newContext({ ...w.options, deviceScaleFactor: 1, bypassCSP: true });
      try {
        const p = await c.newPage();
        p.on('dialog', (d) => d.dismiss().catch(() => {}));
        await p.goto(v.url, { waitUntil: 'load' });
        violations = await runAxe(p);
        how = `bypassCSP context (${e.message.split('\n')[0].slice(0, 60)})`;
      } finally {
        await c.close();
      }
    }
    const bad = violations.filter((x) => x.impact === 'serious' || x.impact === 'critical');
    const n = (impact) => violations.filter((x) => x.impact === impact).length;
    const rest = `moderate ${n('moderate')}, minor ${n('minor')}`;
    must(bad.length === 0, bad.map((x) => `[${x.impact}] ${x.id}: ${x.help} (${x.nodes} nodes: ` +
      `${x.targets.join(' ; ')})`).join(' | ') + `; also ${rest}`);
    return `${rest}; axe ${how}`;
  });
}

/** Visits a page at both widths, running pageChecks on each and `specific` at 1280. */
async function both(label, url, { status = 200, specific } = {}) {
  for (const { width } of WIDTHS) {
    const v = await visit(width, label, url);
    try {
      const html = await pageChecks(v, { status, once: width === 1280 });
      if (specific && width === 1280) {
        if (html) await specific(v);
        else skip(`${label}: page-specific checks`, 'not an HTML page');
      }
    } finally {
      await v.page.close();
    }
  }
}

// ---- the pages ----

const uuidsInJs = () => {
  // Runs in the page: the achievement uuids linked from an element, in document order.
  window.__uuidsIn = (el) => {
    const out = [];
    for (const a of el.querySelectorAll('a[href]')) {
      const m = a.getAttribute('href').match(/\/achievements\/([0-9a-fA-F-]{36})$/);
      if (m && !out.includes(m[1].toLowerCase())) out.push(m[1].toLowerCase());
    }
    return out;
  };
};

async function catalogue() {
  const featured = achievements.filter((a) => a.featured)
    .sort((a, b) => a.featuredOrder - b.featuredOrder || a.name.localeCompare(b.name));
  const newest = [...achievements].sort((a, b) => b.created - a.created);
  const name = (u) => achievements.find((a) => a.uuid === u)?.name || u;
  await both('catalogue', `${base}/`, {
    specific: async ({ page }) => {
      await page.evaluate(uuidsInJs);
      await check('catalogue: the issuer name in an h1', async () => {
        const h1s = await page.$$eval('h1', (hs) => hs.map((h) => h.textContent));
        must(h1s.some((t) => squash(t).includes(ctx.issuer.name)),
          `h1: ${JSON.stringify(h1s.map(squash))}`);
      });
      await check('catalogue: [data-section="featured"] lists the featured achievements by featured_order', async () => {
        const got = await page.evaluate(() => {
          const s = document.querySelector('[data-section="featured"]');
          return s ? window.__uuidsIn(s) : null;
        });
        must(got, 'no [data-section="featured"]');
        const want = featured.map((a) => a.uuid);
        must(JSON.stringify(got) === JSON.stringify(want),
          `got ${JSON.stringify(got.map(name))}, wanted ${JSON.stringify(want.map(name))}`);
        return got.map(name).join(', ');
      });
      await check('catalogue: [data-section="new"] lists achievements newest first', async () => {
        const got = await page.evaluate(() => {
          const s = document.querySelector('[data-section="new"]');
          return s ? window.__uuidsIn(s) : null;
        });
        must(got, 'no [data-section="new"]');
        const want = newest.map((a) => a.uuid);
        must(got.length >= Math.min(3, want.length), `only ${got.length} achievements`);
        must(JSON.stringify(got) === JSON.stringify(want.slice(0, got.length)),
          `got ${JSON.stringify(got.map(name))}, wanted the start of ${JSON.stringify(want.map(name))}`);
        return `${got.length} shown`;
      });
      for (const t of ctx.badgeTypes) {
        const members = achievements.filter((a) => a.badgeType === t.id);
        if (!members.length) continue;
        await check(`catalogue: [data-section="type"][data-badge-type="${t.id}"] has its achievements and description`, async () => {
          const got = await page.evaluate((id) => {
            const s = document.querySelector(`[data-section="type"][data-badge-type="${id}"]`);
            return s ? { uuids: window.__uuidsIn(s), text: s.textContent } : null;
          }, t.id);
          must(got, 'no such section');
          const missing = members.filter((a) => !got.uuids.includes(a.uuid)).map((a) => a.name);
          must(!missing.length, `missing ${missing.join(', ')}`);
          must(squash(got.text).includes(squash(t.description)), `no description "${t.description}"`);
        });
      }
    },
  });
}

async function achievementPage() {
  const a = byKey.cloud;
  if (!a) return skip('achievement page', 'the achievement was not created');
  const url = `${base}/achievements/${a.uuid}`;
  const typeName = typeById[a.badgeType]?.name;
  await both('achievement', url, {
    specific: async ({ page }) => {
      await check('achievement: name, description, alignment and badge type shown', async () => {
        const text = squash(await page.evaluate(() => document.body.innerText));
        const missing = [['name', a.name], ['description', a.description],
          ['alignment targetName', a.alignmentName], ['badge type', typeName]]
          .filter(([, s]) => !text.includes(squash(s))).map(([k, s]) => `${k} "${s}"`);
        must(!missing.length, `not shown: ${missing.join(', ')}`);
      });
      await check('achievement: criteria rendered from Markdown, the <script> shown as text', async () => {
        const r = await page.evaluate(() => {
          const scope = document.querySelector('[data-section="criteria"]') ||
            document.querySelector('.criteria, #criteria') || document.querySelector('main') || document.body;
          const where = scope.matches('[data-section="criteria"]') ? '[data-section="criteria"]'
            : scope.matches('.criteria, #criteria') ? (scope.id ? '#criteria' : '.criteria') : scope.tagName.toLowerCase();
          return {
            where,
            strong: !!scope.querySelector('strong'),
            link: !!scope.querySelector('a[href="https://example.org"], a[href="https://example.org/"]'),
            list: scope.querySelectorAll('li').length,
            literal: scope.textContent.includes('<script>alert(1)</script>'),
            scripts: [...document.scripts].filter((s) => s.textContent.includes('alert(1)')).length,
          };
        });
        const p = [];
        if (!r.strong) p.push('no <strong>');
        if (!r.link) p.push('no <a href="https://example.org">');
        if (r.list < 3) p.push(`${r.list} list items (wanted 3)`);
        if (!r.literal) p.push('the text "<script>alert(1)</script>" is not shown');
        if (r.scripts) p.push(`${r.scripts} script element(s) made from the criteria`);
        must(!p.length, `in ${r.where}: ${p.join('; ')}`);
        return `in ${r.where}`;
      });
    },
  });
  await check(`achievement: GET ${rel(url)} with Accept: application/json is the JSON achievement, Vary: Accept`, async () => {
    const r = await get(url, 'application/json');
    must(r.status === 200, `${r.status} ${r.type}`);
    must(/json/.test(r.type), `content type ${r.type}`);
    const j = JSON.parse(r.body.toString('utf8'));
    must(j.id === a.id && j.name === a.name, `id ${j.id}, name ${j.name}`);
    must(varyHasAccept(r.headers), `Vary: ${r.headers.get('vary') ?? '(none)'}`);
    return r.type;
  });
  for (const [key, label] of [['automation', 'achievement-svg'], ['incident', 'achievement-default']]) {
    const other = byKey[key];
    if (!other) { skip(label, 'the achievement was not created'); continue; }
    await both(label, `${base}/achievements/${other.uuid}`, {
      specific: async ({ page }) => {
        await check(`${label}: shows the badge image (${other.image ? `uploaded ${other.image}, named by the JSON achievement` : 'default design'})`, async () => {
          const imgs = await page.evaluate(() => [...document.querySelectorAll('main img, img')]
            .map((i) => ({ src: i.currentSrc || i.src, w: i.naturalWidth, box: i.getBoundingClientRect().width })));
          const shown = imgs.filter((i) => i.w > 0 && i.box > 0);
          must(shown.length, `no image shown (${imgs.length} <img>)`);
          if (other.imageUrl) {
            // The page may show the upload through a derived (rasterised) URL; the
            // achievement itself must name the uploaded image.
            const r = await get(`${base}/achievements/${other.uuid}`, 'application/json');
            const j = r.status === 200 ? JSON.parse(r.body.toString('utf8')) : {};
            const id = typeof j.image === 'string' ? j.image : j.image?.id;
            must(id === other.imageUrl, `the JSON achievement's image is ${JSON.stringify(j.image ?? null)} ` +
              `(${r.status}), not the uploaded ${other.imageUrl}`);
          }
          return shown.map((i) => rel(i.src)).slice(0, 2).join(', ');
        });
      },
    });
  }
}

async function badgeValid(b) {
  const jwt = b.jwt;
  const payload = credentialOf(jwtPayload(jwt));
  const achievement = byKey[b.achievementKey];
  await both('badge-valid', b.pageUrl, {
    specific: async (v) => {
      const { page } = v;
      // First, before anything is clicked: focus starts at the top of the page.
      await check('badge-valid: Tab moves focus to visible links and buttons', async () => {
        const stops = [];
        for (let i = 0; i < 4; i++) {
          await page.keyboard.press('Tab');
          stops.push(await page.evaluate(() => {
            const e = document.activeElement;
            if (!e || e === document.body) return null;
            const r = e.getBoundingClientRect();
            return { tag: e.tagName.toLowerCase(), w: r.width, h: r.height,
              text: (e.innerText || e.getAttribute('aria-label') || e.value || '').trim().slice(0, 30) };
          }));
        }
        must(stops[0], 'the first Tab focused nothing');
        const bad = stops.filter((s) => !s || !(s.w > 0 && s.h > 0));
        must(!bad.length, `focus on an invisible element or nothing: ${JSON.stringify(stops)}`);
        must(stops.some((s) => s.tag === 'a' || s.tag === 'button'), `no link or button: ${JSON.stringify(stops)}`);
        return stops.map((s) => `${s.tag} "${s.text}"`).join(', ');
      });
      await check('badge-valid: one [data-status="valid"] that says valid', async () => {
        const s = await page.$$eval('[data-status]', (els) => els.map((e) => ({
          status: e.getAttribute('data-status'), text: e.innerText, visible: e.getClientRects().length > 0 })));
        must(s.length === 1, `${s.length} [data-status] elements`);
        must(s[0].status === 'valid', `data-status="${s[0].status}"`);
        must(s[0].visible && /\bvalid\b/i.test(s[0].text) && !/invalid|not valid|revoked|expired/i.test(s[0].text),
          `text "${squash(s[0].text)}"`);
        return `"${squash(s[0].text).slice(0, 60)}"`;
      });
      await check('badge-valid: [data-check="signature"][data-outcome="pass"]', async () => {
        const checks = await page.$$eval('[data-check][data-outcome]', (els) =>
          els.map((e) => `${e.getAttribute('data-check')}=${e.getAttribute('data-outcome')}`));
        must(checks.includes('signature=pass'), `checks: ${checks.join(' ') || '(none)'}`);
        return checks.join(' ');
      });
      if (achievement) {
        await check('badge-valid: names the achievement', async () => {
          const text = squash(await page.evaluate(() => document.body.innerText));
          must(text.includes(achievement.name), `"${achievement.name}" not shown`);
        });
      }
      const href = async (sel) => {
        const h = await page.$eval(sel, (a) => a.getAttribute('href')).catch(() => null);
        must(h, `no ${sel}`);
        return new URL(h, page.url()).href;
      };
      await check('badge-valid: PNG download carries the JWT in one iTXt openbadgecredential chunk', async () => {
        const url = await href('a[data-download="png"]');
        const r = await get(url);
        must(r.status === 200, `GET ${rel(url)}: ${r.status}`);
        must(r.type.startsWith('image/png'), `content type ${r.type}`);
        const chunks = pngChunks(r.body);
        const itxt = chunks.filter((c) => c.type === 'iTXt').map((c) => parseITXt(c.data))
          .filter((t) => t.keyword === 'openbadgecredential');
        must(itxt.length === 1, `${itxt.length} openbadgecredential iTXt chunks`);
        must(itxt[0].flag === 0, `compression flag ${itxt[0].flag}`);
        must(itxt[0].text === jwt, 'the iTXt text is not the issued JWT');
        return `${r.body.length} bytes, ${chunks.length} chunks, CRCs good`;
      });
      await check('badge-valid: SVG download carries the JWT in one ob:credential verify attribute', async () => {
        const url = await href('a[data-download="svg"]');
        const r = await get(url);
        must(r.status === 200, `GET ${rel(url)}: ${r.status}`);
        must(r.type.startsWith('image/svg+xml'), `content type ${r.type}`);
        const found = await page.evaluate(({ text, ns }) => {
          const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
          if (doc.getElementsByTagName('parsererror').length) return { error: doc.getElementsByTagName('parsererror')[0].textContent };
          const els = [...doc.getElementsByTagNameNS(ns, 'credential')];
          return { root: doc.documentElement.localName, verify: els.map((e) => e.getAttribute('verify')) };
        }, { text: r.body.toString('utf8'), ns: OB_NS });
        must(!found.error, `not well-formed: ${found.error}`);
        must(found.root === 'svg', `root element ${found.root}`);
        must(found.verify.length === 1, `${found.verify.length} credential elements in ${OB_NS}`);
        must(found.verify[0] === jwt, 'verify is not the issued JWT');
      });
      await check('badge-valid: JWT download is the issued JWT', async () => {
        const url = await href('a[data-download="jwt"]');
        const r = await get(url);
        must(r.status === 200, `GET ${rel(url)}: ${r.status}`);
        must(r.body.toString('utf8').trim() === jwt, 'a different body');
        return r.type;
      });
      await check('badge-valid: "Add to LinkedIn" link', async () => {
        const h = await page.$eval('a[data-share="linkedin-add"]', (a) => a.href).catch(() => null);
        must(h, 'no a[data-share="linkedin-add"]');
        must(h.startsWith('https://www.linkedin.com/profile/add?'), h);
        const q = new URL(h).searchParams;
        const from = new Date(payload.validFrom);
        const until = payload.validUntil ? new Date(payload.validUntil) : null;
        const want = {
          startTask: 'CERTIFICATION_NAME', name: achievement?.name, organizationName: ctx.issuer.name,
          issueYear: String(from.getUTCFullYear()), issueMonth: String(from.getUTCMonth() + 1),
          expirationYear: until ? String(until.getUTCFullYear()) : null,
          expirationMonth: until ? String(until.getUTCMonth() + 1) : null,
          certUrl: b.pageUrl, certId: b.uuid,
        };
        const wrong = Object.entries(want).filter(([k, w]) => q.get(k) !== w)
          .map(([k, w]) => `${k}=${JSON.stringify(q.get(k))} (wanted ${JSON.stringify(w)})`);
        must(!wrong.length, wrong.join('; '));
        return `issued ${want.issueYear}-${want.issueMonth}, expires ${want.expirationYear}-${want.expirationMonth}`;
      });
      await check('badge-valid: share links (linkedin, x, facebook, email) carry the page URL', async () => {
        const p = [];
        for (const net of ['linkedin', 'x', 'facebook', 'email']) {
          const h = await page.$eval(`a[data-share="${net}"]`, (a) => a.getAttribute('href')).catch(() => null);
          if (!h) { p.push(`no a[data-share="${net}"]`); continue; }
          let values = [];
          try { values = [...new URL(h).searchParams.values()]; } catch { /* not a URL */ }
          if (!h.includes(encodeURIComponent(b.pageUrl)) && !values.some((x) => x.includes(b.pageUrl))) {
            p.push(`${net}: ${h.slice(0, 100)}`);
          }
        }
        must(!p.length, p.join('; '));
      });
      await check('badge-valid: og:title, og:url, og:image; og:image is a PNG', async () => {
        const og = await page.evaluate(() => Object.fromEntries(['og:title', 'og:url', 'og:image'].map((k) =>
          [k, document.querySelector(`meta[property="${k}"]`)?.getAttribute('content') ?? null])));
        const missing = Object.entries(og).filter(([, x]) => !x).map(([k]) => k);
        must(!missing.length, `missing ${missing.join(', ')}`);
        must(og['og:url'] === b.pageUrl, `og:url ${og['og:url']}`);
        must(/^https?:\/\//.test(og['og:image']), `og:image not absolute: ${og['og:image']}`);
        const r = await get(og['og:image']);
        must(r.status === 200 && r.type.startsWith('image/png'), `og:image: ${r.status} ${r.type}`);
        must(r.body.subarray(0, 8).equals(PNG_SIGNATURE), 'og:image has no PNG signature');
        return rel(og['og:image']);
      });
      let snippet = null;
      await check('badge-valid: e-mail signature snippet (absolute <img>, link to the page)', async () => {
        snippet = await page.$eval('textarea#signature-html', (t) => t.value).catch(() => null);
        must(snippet !== null, 'no textarea#signature-html');
        const r = await page.evaluate((html) => {
          const d = new DOMParser().parseFromString(html, 'text/html');
          return { imgs: [...d.images].map((i) => i.getAttribute('src')),
            links: [...d.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')) };
        }, snippet);
        const img = r.imgs.find((s) => /^https?:\/\//.test(s || ''));
        must(img, `no <img> with an absolute src (${JSON.stringify(r.imgs)})`);
        must(r.links.includes(b.pageUrl), `no link to ${b.pageUrl} (${JSON.stringify(r.links)})`);
        const got = await get(img);
        must(got.status === 200 && got.type.startsWith('image/'), `the image ${img}: ${got.status} ${got.type}`);
      });
      await check('badge-valid: button[data-copy="signature-html"] copies the snippet', async () => {
        const btn = page.locator('button[data-copy="signature-html"]');
        must(await btn.count() === 1, `${await btn.count()} copy buttons`);
        const before = squash(await btn.innerText());
        await page.evaluate(() => navigator.clipboard.writeText('').catch(() => {}));
        await btn.click();
        await page.waitForTimeout(300);
        let clip = null;
        let why = '';
        try {
          clip = await page.evaluate(() => navigator.clipboard.readText());
        } catch (e) {
          why = e.message.split('\n')[0];
        }
        if (clip !== null) {
          must(snippet !== null && clip === snippet, `the clipboard holds ${JSON.stringify(clip.slice(0, 60))}`);
          return 'clipboard read back';
        }
        const after = squash(await btn.innerText());
        const state = await btn.evaluate((e) => `${e.getAttribute('aria-label') || ''} ${e.dataset.state || ''}`);
        must(/copied/i.test(`${after} ${state}`), `clipboard unreadable (${why}); the button still says "${after}"`);
        return `button "${before}" -> "${after}"`;
      });
      await check('badge-valid: embed snippet textarea#embed-html', async () => {
        const embed = await page.$eval('textarea#embed-html', (t) => t.value).catch(() => null);
        must(embed !== null, 'no textarea#embed-html');
        must(embed.includes(b.uuid), 'the snippet does not name the badge');
      });
    },
  });

  for (const [accept, what] of [['application/vc+jwt', 'the JWT'], ['application/json', 'the credential as JSON']]) {
    await check(`badge: GET /badges/<uuid> with Accept: ${accept} is ${what}, Vary: Accept`, async () => {
      const r = await get(b.pageUrl, accept);
      must(r.status === 200, `${r.status} ${r.type}`);
      const text = r.body.toString('utf8').trim();
      if (accept === 'application/vc+jwt') {
        must(text === jwt, `a different body (${r.type}: ${text.slice(0, 60)})`);
      } else {
        must(/json/.test(r.type), `content type ${r.type}`);
        let j;
        try { j = JSON.parse(text); } catch { must(false, `not JSON: ${text.slice(0, 60)}`); }
        const c = credentialOf(j);
        must(c.id === b.credentialId || j.jti === b.credentialId, `id ${c.id ?? j.jti}`);
        must(c.credentialSubject, 'no credentialSubject');
      }
      must(varyHasAccept(r.headers), `Vary: ${r.headers.get('vary') ?? '(none)'}`);
      return r.type;
    });
  }
}

async function badgeRevoked(b) {
  const r = await admin('POST', `/api/v1/credentials/${b.uuid}/revoke`, { reason: 'test' });
  if (r.status !== 200) {
    fail(`revoke: POST /api/v1/credentials/${b.uuid}/revoke`, `${r.status} ${r.text.slice(0, 200)}`);
  } else {
    ok(`revoke: POST /api/v1/credentials/${b.uuid}/revoke`);
  }
  await both('badge-revoked', b.pageUrl, {
    specific: async ({ page }) => {
      await check('badge-revoked: one [data-status="revoked"] that says revoked', async () => {
        const s = await page.$$eval('[data-status]', (els) => els.map((e) => ({
          status: e.getAttribute('data-status'), text: e.innerText })));
        must(s.length === 1, `${s.length} [data-status] elements`);
        must(s[0].status === 'revoked', `data-status="${s[0].status}"`);
        must(/revoked/i.test(s[0].text), `text "${squash(s[0].text)}"`);
        return `"${squash(s[0].text).slice(0, 60)}"`;
      });
    },
  });
}

async function badgeHidden(b) {
  const png = `${b.pageUrl}/badge.png`;
  await check('badge-hidden: before hiding, the page and /badge.png answer 200', async () => {
    const page = await get(b.pageUrl, 'text/html');
    const img = await get(png);
    must(page.status === 200 && img.status === 200, `page ${page.status}, badge.png ${img.status} ${img.type}`);
  });
  const r = await admin('POST', `/api/v1/credentials/${b.uuid}/hide`);
  if (r.status !== 200 && r.status !== 204) {
    fail(`hide: POST /api/v1/credentials/${b.uuid}/hide`, `${r.status} ${r.text.slice(0, 200)}`);
  } else {
    ok(`hide: POST /api/v1/credentials/${b.uuid}/hide`);
  }
  await both('badge-hidden', b.pageUrl, {
    status: 404,
    specific: async ({ page }) => {
      await check('badge-hidden: meta[name="robots"] says noindex', async () => {
        const robots = await page.$eval('meta[name="robots"]', (m) => m.content).catch(() => null);
        must(robots && robots.includes('noindex'), `robots: ${robots}`);
      });
    },
  });
  await check('badge-hidden: /badge.png answers 404', async () => {
    const img = await get(png);
    must(img.status === 404, `${img.status} ${img.type}`);
  });
}

async function badgeExpired(b) {
  const until = Date.parse(b.validUntil);
  const wait = until + 1500 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await both('badge-expired', b.pageUrl, {
    specific: async ({ page }) => {
      await check('badge-expired: one [data-status="expired"] that says expired', async () => {
        const s = await page.$$eval('[data-status]', (els) => els.map((e) => ({
          status: e.getAttribute('data-status'), text: e.innerText })));
        must(s.length === 1, `${s.length} [data-status] elements`);
        must(s[0].status === 'expired', `data-status="${s[0].status}"`);
        must(/expired/i.test(s[0].text), `text "${squash(s[0].text)}"`);
        return `"${squash(s[0].text).slice(0, 60)}"`;
      });
    },
  });
}

async function notFound(label, urlPath) {
  await both(label, base + urlPath, {
    status: 404,
    specific: async ({ page }) => {
      await check(`${label}: an HTML page, not JSON`, async () => {
        const text = await page.evaluate(() => document.body?.innerText || '');
        let json = true;
        try { JSON.parse(text); } catch { json = false; }
        must(!json, `the body is JSON: ${text.slice(0, 80)}`);
      });
    },
  });
}

async function claimPage() {
  const a = achievements[0];
  if (!a) { skip('claim', 'no achievement was created'); return; }
  const r = await admin('POST', '/api/v1/awards', {
    achievement_id: a.id,
    recipient: { name: 'Grace Hopper', email: 'grace@example.org' },
  });
  let award = {};
  try { award = JSON.parse(r.text); } catch { /* reported below */ }
  if (r.status !== 201 || !award.claim_url) {
    fail('setup: POST /api/v1/awards (an offer to claim)', `${r.status} ${r.text}`);
    return;
  }
  ok('setup: POST /api/v1/awards (an offer to claim)');
  await both('claim', award.claim_url, {
    specific: async ({ page }) => {
      await check('claim: the QR code and the wallet link of the live offer', async () => {
        must(await page.locator('.qr svg').count() === 1, 'no inline QR code');
        const href = await page.locator('[data-link="offer"]').getAttribute('href');
        must(href === award.offer_uri, `wallet link ${href} is not the offer ${award.offer_uri}`);
        const text = squash(await page.locator('main').innerText());
        must(text.includes('6-digit code'), 'no transaction code hint');
      });
    },
  });
}

// ---- the run ----

function finish() {
  console.log(`pages.mjs: ${((Date.now() - STARTED) / 1000).toFixed(1)} s; ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  process.exit(counts.failed ? 1 : 0);
}

const steps = [
  ['catalogue', catalogue],
  ['achievement', achievementPage],
  ['badge (valid)', () => ctx.badges?.valid ? badgeValid(ctx.badges.valid) : skip('badge-valid', 'no badge was issued')],
  ['badge (revoked)', () => ctx.badges?.valid ? badgeRevoked(ctx.badges.valid) : skip('badge-revoked', 'no badge was issued')],
  ['badge (hidden)', () => ctx.badges?.hidden ? badgeHidden(ctx.badges.hidden) : skip('badge-hidden', 'no badge was issued')],
  ['not found', () => notFound('not-found', '/no/such/page')],
  ['unknown badge', () => notFound('badge-unknown', '/badges/00000000-0000-0000-0000-000000000000')],
  ['claim', claimPage],
  ['badge (expired)', () => ctx.badges?.expired ? badgeExpired(ctx.badges.expired) : skip('badge-expired', 'no expiring badge was issued')],
  ...peopleSteps({ ctx, base, ok, fail, skip, check, must, squash, both, visit, pageChecks, admin, get, ROOT }),
  ...staffSteps({ base, ok, fail, check, must, squash, both, visit, pageChecks, admin }),
  ...consoleSteps({ ctx, base, ok, fail, skip, check, must, squash, both, visit, pageChecks, admin, ROOT }),
];
for (const [name, step] of steps) {
  try {
    await step();
  } catch (e) {
    fail(`${name}`, `${e.name}: ${e.message}`);
  }
}
await browser.close().catch(() => {});
finish();
