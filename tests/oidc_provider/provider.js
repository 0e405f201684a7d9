// The tests' OpenID Provider: panva's certified oidc-provider (pinned by package-lock.json),
// on 127.0.0.1, with the clients and accounts a JSON file names.
//
//   node provider.js PORT CONFIG.json
//
// CONFIG: {"clients": [oidc-provider client metadata...], "accounts": {"ID": {claims}}}.
// Its devInteractions login and consent pages are plain forms a test posts without a browser
// (any password signs in an account that exists). Prints "ready ISSUER" once listening.
//
// Routes under /test/ are the tests' levers, never part of a real provider:
//   POST /test/accounts/ID/delete   the account is gone (refresh grants and userinfo fail)
//   POST /test/tamper?mode=M        the next token response's id_token is rewritten (a hostile
//                                   provider): signature, aud, azp, iss, nonce, expired, none,
//                                   unknown_kid, hs256 (signed with the client secret); or
//                                   amr_hwk (re-signed, saying the sign-in used a passkey)
//   POST /test/backchannel?client_id=C&sub=S&sid=D   send that client a logout token now
//   GET  /test/logout-tokens        the logout tokens sent so far (JSON list)
import { readFileSync } from 'node:fs';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const [port, configFile] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const accounts = config.accounts;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-rs256', alg: 'RS256', use: 'sig' };
const stranger = (await jose.generateKeyPair('RS256', { extractable: true })).privateKey;

const logoutTokens = [];
let tamperMode = '';

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [signingJwk] },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
    mfa: ['amr', 'acr'],
  },
  // email and groups in the id_token too (not only from userinfo).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Without a fetch of its own, v9 refuses requests to loopback (its SSRF guard): the
  // back-channel logout POSTs to the verifier on 127.0.0.1 would never leave.
  async fetch(url, options) {
    if (options?.body instanceof URLSearchParams && options.body.has('logout_token')) {
      logoutTokens.push(options.body.get('logout_token'));
    }
    // Only what a request needs: the provider's own options carry a dispatcher whose
    // lookup refuses loopback addresses.
    const { method, headers, body, redirect, signal } = options ?? {};
    return globalThis.fetch(url, { method, headers, body, redirect, signal });
  },
  ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 3600, Session: 3600, Grant: 3600 },
});

async function rewritten(idToken, mode) {
  if (mode === 'signature') {
    const [head, body, signature] = idToken.split('.');
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    return [head, body, flipped].join('.');
  }
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = privateKey;
  let header = { alg: 'RS256', kid: signingJwk.kid, typ: 'JWT' };
  if (mode === 'aud') claims.aud = 'someone-else';
  if (mode === 'azp') { claims.aud = [claims.aud, 'someone-else']; claims.azp = 'someone-else'; }
  if (mode === 'iss') claims.iss = 'http://127.0.0.1:1/not-the-issuer';
  // Not hostile: the provider saying its sign-in used a passkey (devInteractions sets no amr).
  if (mode === 'amr_hwk') claims.amr = ['hwk', 'pin'];
  if (mode === 'nonce') claims.nonce = 'not-the-nonce';
  if (mode === 'expired') { claims.iat = now - 1200; claims.exp = now - 600; }
  if (mode === 'unknown_kid') { key = stranger; header = { ...header, kid: 'unknown-kid' }; }
  if (mode === 'none') {
    const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
  }
  if (mode === 'hs256') {
    const client = config.clients.find((c) => c.client_id === claims.aud);
    key = new TextEncoder().encode(client.client_secret);
    header = { alg: 'HS256', typ: 'JWT' };
  }
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(key);
}

provider.use(async (ctx, next) => {
  const { path } = ctx;
  if (path.startsWith('/test/')) {
    const deleted = path.match(/^\/test\/accounts\/([^/]+)\/delete$/);
    if (deleted && ctx.method === 'POST') {
      delete accounts[decodeURIComponent(deleted[1])];
      ctx.status = 204;
    } else if (path === '/test/tamper' && ctx.method === 'POST') {
      tamperMode = ctx.query.mode || '';
      ctx.status = 204;
    } else if (path === '/test/backchannel' && ctx.method === 'POST') {
      const client = await provider.Client.find(ctx.query.client_id);
      await client.backchannelLogout(ctx.query.sub, ctx.query.sid);
      ctx.status = 204;
    } else if (path === '/test/logout-tokens') {
      ctx.body = logoutTokens;
    } else {
      ctx.status = 404;
    }
    return;
  }
  await next();
  if (path === '/token' && tamperMode && ctx.body && ctx.body.id_token) {
    const mode = tamperMode;
    tamperMode = '';
    ctx.body = { ...ctx.body, id_token: await rewritten(ctx.body.id_token, mode) };
  }
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
