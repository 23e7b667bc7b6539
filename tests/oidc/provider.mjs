// SPDX-License-Identifier: Apache-2.0
// A real OpenID provider on loopback for aifed's login tests: panva's
// oidc-provider (certified, with the device flow), configured as MyAccessID
// would be for aifedctl: a public client "aifedctl" (and "other", for a
// token meant for someone else), the device and refresh-token grants, ID
// tokens carrying the user's groups. Its one interaction page logs in
// whoever the test's browser names and grants what was asked: the test
// plays the user at the browser (browser.mjs).
//
//   node provider.mjs PORT KEYFILE ACCOUNTS [ID_TOKEN_TTL_S]
//
// PORT 0: a free one, chosen here (the issuer names its port, so it is
// known before the provider is made).
// KEYFILE: the RSA signing key (a JWK), made on first use; a new file is a
// rotated key. ACCOUNTS: {"CUID": {"groups": [...], "ttl": S}, ...}, read at
// each token. Prints "ready ISSUER" when it listens.
import Provider from 'oidc-provider';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

const [portArg, keyFile, accountsFile, ttlArg] = process.argv.slice(2);
const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const port = Number(portArg) || await freePort();
const issuer = `http://127.0.0.1:${port}`;
const defaultTtl = Number(ttlArg || 3600);

if (!existsSync(keyFile)) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  writeFileSync(keyFile, JSON.stringify({ ...jwk, kid: randomUUID(), use: 'sig', alg: 'RS256' }), { mode: 0o600 });
}
const accounts = () => JSON.parse(readFileSync(accountsFile, 'utf8'));

const client = (id) => ({
  client_id: id,
  token_endpoint_auth_method: 'none',
  grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  response_types: [],
  redirect_uris: [],
});

const provider = new Provider(issuer, {
  clients: [client('aifedctl'), client('other')],
  jwks: { keys: [JSON.parse(readFileSync(keyFile, 'utf8'))] },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'groups'],
  claims: { openid: ['sub'], groups: ['groups'] },
  // The groups go in the ID token itself: the broker reads no userinfo.
  conformIdTokenClaims: false,
  ttl: {
    IdToken: (ctx, token) => accounts()[token.available?.sub]?.ttl ?? defaultTtl,
    AccessToken: 600,
    DeviceCode: 600,
    RefreshToken: 86400,
    Grant: 86400,
    Session: 86400,
    Interaction: 600,
  },
  async findAccount(ctx, sub) {
    const a = accounts()[sub];
    if (!a) return undefined;
    return { accountId: sub, async claims() { return { sub, groups: a.groups ?? [] }; } };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['aifed-test-cookie-key'] },
});
provider.proxy = false;

// The interaction: GET shows a form naming who logs in; POST logs them in
// and grants the scopes asked for (the user's "approve").
provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = `<form method="post" action="/interaction/${m[1]}">
      <input name="login"><button>approve</button></form>`;
    return undefined;
  }
  const body = await new Promise((resolve) => {
    let s = '';
    ctx.req.on('data', (d) => { s += d; });
    ctx.req.on('end', () => resolve(new URLSearchParams(s)));
  });
  const accountId = body.get('login');
  if (!accounts()[accountId]) {
    ctx.status = 403;
    ctx.body = 'no such account';
    return undefined;
  }
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res,
    { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  ctx.respond = false;
  return undefined;
});

provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
