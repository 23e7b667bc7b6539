// SPDX-License-Identifier: Apache-2.0
// The user's browser, for aifed's login tests: opens the device flow's
// verification address (with its code), confirms the code, and approves as
// ACCOUNT at the provider's interaction page, following the redirects with
// its own cookie jar, as a browser would.
//
//   node browser.mjs VERIFICATION_URI_COMPLETE ACCOUNT
//
// Prints the last page's first line of text; exits 1 when a step fails.
const [start, account] = process.argv.slice(2);
const jar = new Map();

async function go(url, form) {
  const res = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: {
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const i = kv.indexOf('=');
    jar.set(kv.slice(0, i), kv.slice(i + 1));
  }
  if (res.status >= 300 && res.status < 400) return go(new URL(res.headers.get('location'), url).href);
  return { url: res.url || url, status: res.status, text: await res.text() };
}

const field = (html, name) => (html.match(new RegExp(`name="${name}" value="([^"]*)"`)) || [])[1];

try {
  // The page the address opens posts the code itself (a script); here, by hand.
  let page = await go(start);
  const action = new URL('/device', start).href;
  const xsrf = field(page.text, 'xsrf');
  const code = field(page.text, 'user_code');
  if (!xsrf || !code) throw new Error(`no device form at ${start}`);
  page = await go(action, { xsrf, user_code: code });
  const xsrf2 = field(page.text, 'xsrf') || xsrf;
  page = await go(action, { xsrf: xsrf2, user_code: code, confirm: 'yes' });
  const m = page.url.match(/\/interaction\/[^/?]+/) || page.text.match(/action="(\/interaction\/[^"]+)"/);
  if (!m) throw new Error(`no interaction page (${page.status}): ${page.text.slice(0, 200)}`);
  const interaction = new URL(m[1] || m[0], start).href;
  page = await go(interaction, { login: account });
  if (page.status !== 200) throw new Error(`approval refused (${page.status}): ${page.text.slice(0, 200)}`);
  console.log(page.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200));
} catch (e) {
  console.error(`browser: ${e.message}`);
  process.exit(1);
}
