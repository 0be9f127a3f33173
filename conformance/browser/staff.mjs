// The staff console's door, driven in the browser pages.mjs launched:
//
//   - an owner invites a member through the admin API; the invitation page (both
//     widths, axe) takes a password (a mismatch is refused on the page) and signs the
//     member in to /admin, which names them and their role;
//   - the sign-in page: a wrong password shows an alert and no session; the right one
//     opens the console; a personal API token made with the `create-api-token` form is
//     shown once and works on the admin API with the member's role (and a write above
//     it is refused); signing out ends the session;
//   - a sign-in form posted without its form token is refused with 403;
//   - the forgot-password page (both widths, axe) answers the same for anyone.
//
// pages.mjs passes its helpers (`h`) and runs the returned steps after its own.

export function staffSteps(h) {
  const { base, ok, fail, check, must, squash, both, visit, pageChecks, admin } = h;
  const member = { email: 'grace.staff@example.edu', name: 'Grace Staff', role: 'issuer' };
  const password = 'a long and happy passphrase';
  let invitation = null;

  async function invite() {
    const r = await admin('POST', '/api/v1/staff', member);
    let got = {};
    try { got = JSON.parse(r.text); } catch { /* reported below */ }
    if (r.status !== 201 || !got.invitation_url) {
      fail('staff: POST /api/v1/staff (invitation)', `${r.status} ${r.text.slice(0, 300)}`);
      return;
    }
    invitation = got.invitation_url;
    ok(`staff: POST /api/v1/staff (invitation): ${invitation.replace(base, '').slice(0, 40)}...`);
  }

  async function invitationPage() {
    if (!invitation) return;
    await both('staff-invitation', invitation, {
      specific: async (v) => {
        const { page } = v;
        await check('staff invitation: two different passwords are refused on the page', async () => {
          await page.fill('#password', password);
          await page.fill('#confirm', `${password} typo`);
          await Promise.all([page.waitForLoadState('load'), page.click('[data-action=set-password] button')]);
          const alert = squash(await page.locator('[role=alert]').textContent());
          must(/not the same/.test(alert), `alert: ${alert}`);
          return alert;
        });
        await check('staff invitation: a password signs the member in to the console', async () => {
          await page.fill('#password', password);
          await page.fill('#confirm', password);
          await Promise.all([page.waitForURL(`${base}/admin`), page.click('[data-action=set-password] button')]);
          const who = await page.locator('[data-signed-in]').getAttribute('data-signed-in');
          const role = await page.locator('[data-role]').getAttribute('data-role');
          must(who === member.email && role === member.role, `${who} ${role}`);
          return `${who}, ${role}`;
        });
        await check('staff invitation: the link works once', async () => {
          const p2 = await page.context().newPage();
          const res = await p2.goto(invitation);
          const status = res.status();
          await p2.close();
          must(status === 410, `status ${status}`);
          return '410';
        });
        // Sign out, so that the sign-in step starts from nothing.
        await page.click('[data-action=sign-out] button');
        await page.waitForURL(`${base}/admin/login`);
      },
    });
  }

  async function signIn() {
    await both('staff-login', `${base}/admin/login`, {
      specific: async (v) => {
        const { page } = v;
        await check('staff sign-in: a wrong password shows an alert and opens no session', async () => {
          await page.fill('#email', member.email);
          await page.fill('#password', 'not the password at all');
          await Promise.all([page.waitForLoadState('load'), page.click('[data-action=sign-in] button')]);
          const alert = squash(await page.locator('[role=alert]').textContent());
          const cookies = await page.context().cookies(base);
          must(!cookies.some((c) => c.name === 'accolade_session' && c.value), 'a session cookie was set');
          must(/not right/.test(alert), `alert: ${alert}`);
          return alert;
        });
        await check('staff sign-in: the right password opens the console; the cookie is HttpOnly and SameSite=Lax', async () => {
          await page.fill('#email', member.email);
          await page.fill('#password', password);
          await Promise.all([page.waitForURL(`${base}/admin`), page.click('[data-action=sign-in] button')]);
          const c = (await page.context().cookies(base)).find((x) => x.name === 'accolade_session');
          must(c && c.httpOnly && c.sameSite === 'Lax', JSON.stringify(c));
          return `${c.name} httpOnly sameSite=${c.sameSite}`;
        });
        const console1280 = await visit(1280, 'staff-console', `${base}/admin`);
        try {
          await pageChecks(console1280, { once: true });
        } finally {
          await console1280.page.close();
        }
        let token = null;
        await check('staff console: the create-api-token form shows a token once', async () => {
          await page.goto(`${base}/admin/account`);
          await page.fill('#token-name', 'browser run');
          await Promise.all([page.waitForLoadState('load'), page.click('[data-action=create-api-token] button')]);
          token = squash(await page.locator('[data-token]').textContent());
          must(token.startsWith('acc_staff_'), `token: ${token.slice(0, 20)}`);
          return `${token.slice(0, 14)}...`;
        });
        if (token) {
          await check('staff token: works on the admin API with the member\'s role', async () => {
            const me = await fetch(`${base}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
            const body = await me.json();
            must(me.status === 200 && body.role === 'issuer' && body.actor === member.email, JSON.stringify(body));
            const up = await fetch(`${base}/api/v1/issuer`, {
              method: 'PUT',
              headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ name: 'Taken over' }),
            });
            must(up.status === 403, `PUT /api/v1/issuer as an issuer: ${up.status}`);
            return 'GET /api/v1/me 200 issuer; PUT /api/v1/issuer 403';
          });
        }
        await check('staff sign-out: ends the session', async () => {
          await Promise.all([page.waitForURL(`${base}/admin/login`), page.click('[data-action=sign-out] button')]);
          const res = await page.goto(`${base}/admin`);
          must(page.url() === `${base}/admin/login`, `after sign-out /admin is ${page.url()} (${res.status()})`);
          return 'back at /admin/login';
        });
      },
    });
    await check('staff sign-in: a form posted without its form token is refused (403)', async () => {
      const res = await fetch(`${base}/admin/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: base },
        body: new URLSearchParams({ email: member.email, password }).toString(),
        redirect: 'manual',
      });
      must(res.status === 403, `status ${res.status}`);
      return '403';
    });
  }

  async function forgot() {
    await both('staff-forgot', `${base}/admin/forgot`, {
      specific: async (v) => {
        await check('staff forgot: the same answer for any address', async () => {
          await v.page.fill('#email', 'nobody@example.edu');
          await Promise.all([v.page.waitForLoadState('load'), v.page.click('[data-action=forgot-password] button')]);
          const text = squash(await v.page.locator('[role=status]').textContent());
          must(/if the address has an account/i.test(text), text);
          return text.slice(0, 60);
        });
      },
    });
  }

  return [
    ['staff: invitation', async () => { await invite(); await invitationPage(); }],
    ['staff: sign-in and console', signIn],
    ['staff: forgot password', forgot],
  ];
}
