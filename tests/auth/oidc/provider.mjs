// A real OpenID Connect provider (the certified `oidc-provider` package) on loopback, for
// tests/auth/test_oidc.py only. It listens on 127.0.0.1 on a free port and prints one JSON
// line, {"issuer": ...}, once it is ready.
//
// Sign-in and consent are the package's own development interaction pages: any login name
// with any password signs in as the account of that name. The tests say who exists and
// what their claims are through a small control API under /_test/ (loopback only):
//   PUT  /_test/accounts/<login>   body: the account's claims (email, name, groups, ...)
//   POST /_test/next-id-token      body: {"tamper": "expired" | "wrong-key"} — the next ID
//                                  token issued is re-signed past its expiry (with the real
//                                  key) or with a key the provider never published.
//
// Arguments: --redirect-uri URI --post-logout-uri URI [--client-id ID --client-secret S]
import http from 'node:http';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'redirect-uri': { type: 'string' },
    'post-logout-uri': { type: 'string' },
    'client-id': { type: 'string', default: 'tracker' },
    'client-secret': { type: 'string', default: 'tracker-test-secret' },
  },
});

const accounts = new Map();
let tamperNext = null;

async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

// The rogue key carries the published key's kid: the signature itself must be what fails.
const publishedKey = await signingKey('test-key-1');
const rogueKey = await signingKey('test-key-1');

async function resign(idToken, tamper) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = publishedKey;
  if (tamper === 'expired') {
    Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  } else if (tamper === 'wrong-key') {
    key = rogueKey;
  } else {
    throw new Error(`unknown tamper mode ${tamper}`);
  }
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .sign(await jose.importJWK(key, 'RS256'));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    client_name: 'Readiness Tracker',
    redirect_uris: [args['redirect-uri']],
    post_logout_redirect_uris: [args['post-logout-uri']],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [publishedKey] },
  cookies: { keys: ['test-cookie-key-not-secret'] },
  pkce: { required: () => true },  // a request without PKCE (S256) is refused
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The requested claims go into the ID token itself (as Keycloak, Entra ID and Google do).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const stored = accounts.get(id) ?? { email: `${id}@idp.test`, email_verified: true, name: id };
    return {
      accountId: id,
      async claims() { return { sub: id, ...stored }; },
    };
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/_test/')) {
    const body = await readJson(ctx.req);
    if (ctx.method === 'PUT' && ctx.path.startsWith('/_test/accounts/')) {
      accounts.set(decodeURIComponent(ctx.path.slice('/_test/accounts/'.length)), body);
    } else if (ctx.method === 'POST' && ctx.path === '/_test/next-id-token') {
      tamperNext = body.tamper;
    } else {
      ctx.status = 404;
      return;
    }
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && tamperNext && ctx.body?.id_token) {
    const tamper = tamperNext;
    tamperNext = null;
    ctx.body = { ...ctx.body, id_token: await resign(ctx.body.id_token, tamper) };
  }
});

// Development-only warnings (dev interactions, http issuer) go to stderr, not the JSON line.
server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => { server.close(); process.exit(0); });
