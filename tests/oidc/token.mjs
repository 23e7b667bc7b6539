// SPDX-License-Identifier: Apache-2.0
// An ID token for ACCOUNT from the provider at ISSUER, for CLIENT, got the
// way any device-flow client gets one (RFC 8628), with browser.mjs as the
// user: for the tests' tokens that aifedctl would never send (another
// audience, another issuer, an expired one, one of a rotated key).
//
//   node token.mjs ISSUER CLIENT ACCOUNT SCOPES
import { execFileSync } from 'node:child_process';

const [issuer, client, account, scope] = process.argv.slice(2);
const post = async (url, form) => (await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(form).toString(),
})).json();

const conf = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const dev = await post(conf.device_authorization_endpoint, { client_id: client, scope });
execFileSync(process.execPath, [new URL('browser.mjs', import.meta.url).pathname,
  dev.verification_uri_complete, account], { stdio: ['ignore', 'ignore', 'inherit'] });
for (let i = 0; i < 20; i++) {
  const t = await post(conf.token_endpoint, {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: dev.device_code, client_id: client,
  });
  if (t.id_token) { console.log(t.id_token); process.exit(0); }
  if (t.error !== 'authorization_pending' && t.error !== 'slow_down') { console.error(`token: ${t.error}`); process.exit(1); }
  await new Promise((r) => { setTimeout(r, 1000); });
}
process.exit(1);
