// A real OpenID provider for the hub's end-to-end tests: client credentials, RS256 JWT access tokens.
//
//   node idp.mjs --port PORT --jwks KEYS.json --clients CLIENTS.json [--audience AUD] [--resource URL]
//
// KEYS.json is a private JWK set ({"keys": [...]}); the first RS256 key signs. CLIENTS.json is a list of
// {"client_id", "client_secret", "firm_id", "roles"?}: each client's tokens carry its firm_id (and roles).
// On SIGHUP the key set file is read again and the provider rebuilt on the same port, so a test can rotate
// keys without losing the issuer URL; it then prints "ROTATED <kid,...>". Prints "READY <issuer>" once
// listening on 127.0.0.1. Everything is in memory: one process per test session.
//
// With --portal-client ID the provider also signs people in for the hub's member portal: a public client
// (authorization code with PKCE, no secret) whose redirect URIs are the portal's /auth/* pages on any loopback
// port of 127.0.0.1 (a web client whose redirect check allows any loopback port, since each test hub has its own). Its sign-in form takes a login "<firm_id>:<role>[,<role>]" and
// the password given by --portal-password; the person's access token then carries that firm_id and those roles.
// Consent is taken as given (the portal is the hub's own first-party client).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string' },
    jwks: { type: 'string' },
    clients: { type: 'string' },
    audience: { type: 'string', default: 'food-cluster-hub' },
    resource: { type: 'string', default: 'urn:food-cluster-hub' },
    scopes: { type: 'string', default: 'trace:read inventory:read' },
    'portal-client': { type: 'string' },
    'portal-password': { type: 'string', default: 'portal-test-password' },
  },
});
for (const required of ['port', 'jwks', 'clients']) {
  if (!options[required]) {
    console.error(`usage: node idp.mjs --port PORT --jwks KEYS.json --clients CLIENTS.json (missing --${required})`);
    process.exit(2);
  }
}

const port = Number.parseInt(options.port, 10);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(readFileSync(options.clients, 'utf8'));
const claimsOfClient = new Map(clients.map((c) => [c.client_id, { firm_id: c.firm_id, roles: c.roles }]));

function readKeys() {
  return JSON.parse(readFileSync(options.jwks, 'utf8'));
}

// cookie keys only sign the interaction cookies this client-credentials-only provider never sets; random
// per process keeps the provider from warning about its development defaults
const cookieKeys = [randomBytes(32).toString('base64url')];

const portalClient = options['portal-client'];
const portalPages = ['callback', 'silent', 'popup'].map((page) => `http://127.0.0.1/auth/${page}`);

/** "<firm_id>:<role>,<role>" as the token's claims; null for a login of another form. */
function claimsOfAccount(accountId) {
  const match = /^([A-Za-z0-9_.-]+):([a-z_]+(?:,[a-z_]+)*)$/.exec(accountId ?? '');
  return match ? { firm_id: match[1], roles: match[2].split(',') } : null;
}

function buildProvider(jwks) {
  const provider = new Provider(issuer, {
    jwks,
    // Lax: the portal (another port of 127.0.0.1, the same site) keeps the session in its silent sign-in frame
    cookies: { keys: cookieKeys, long: { sameSite: 'lax' }, short: { sameSite: 'lax' } },
    ttl: { ClientCredentials: 600, AccessToken: Number(process.env.IDP_ACCESS_TOKEN_TTL ?? 600) },
    clients: [
      ...clients.map((c) => ({
        client_id: c.client_id,
        client_secret: c.client_secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: options.scopes,
      })),
      ...(portalClient
        ? [
            {
              client_id: portalClient,
              application_type: 'web',
              token_endpoint_auth_method: 'none',
              grant_types: ['authorization_code'],
              response_types: ['code'],
              redirect_uris: portalPages,
              post_logout_redirect_uris: ['http://127.0.0.1/'],
              scope: `openid ${options.scopes}`,
            },
          ]
        : []),
    ],
    scopes: options.scopes.split(' '),
    clientBasedCORS: () => true,
    findAccount: (ctx, accountId) =>
      claimsOfAccount(accountId) ? { accountId, claims: () => ({ sub: accountId }) } : undefined,
    loadExistingGrant: async (ctx) => {
      const existing = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      if (ctx.oidc.client.clientId !== portalClient) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: portalClient, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(`openid ${options.scopes}`);
      grant.addResourceScope(options.resource, options.scopes);
      await grant.save();
      return grant;
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      // the end-session confirmation as a plain page (the provider's default one loads a web font from the net)
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = `<!doctype html><html lang="en"><head><title>Sign out</title></head><body><main>
<h1>Sign out of the firm's IdP?</h1>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button></main></body></html>`;
        },
      },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator) => {
          if (resourceIndicator !== options.resource) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: options.scopes,
            audience: options.audience,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: (ctx, token) => {
      if (token.accountId) return claimsOfAccount(token.accountId) ?? undefined;
      const claims = claimsOfClient.get(token.clientId);
      if (!claims) return undefined;
      return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
    },
  });
  // the portal's hub listens on a port of its own per test: its /auth/* pages are allowed on any loopback port
  const redirectAllowed = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function allowed(uri) {
    if (this.clientId !== portalClient) return redirectAllowed.call(this, uri);
    return portalPages.includes(withoutPort(uri));
  };
  const logoutAllowed = provider.Client.prototype.postLogoutRedirectUriAllowed;
  provider.Client.prototype.postLogoutRedirectUriAllowed = function allowed(uri) {
    if (this.clientId !== portalClient) return logoutAllowed.call(this, uri);
    return withoutPort(uri) === 'http://127.0.0.1/';
  };
  const callback = provider.callback();
  return (req, res) => {
    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(req.url.split('?')[0]);
    if (!interaction) return callback(req, res);
    signInForm(provider, req, res, interaction[2] !== undefined).catch((error) => {
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`sign-in failed: ${error.message}`);
    });
  };
}

function withoutPort(uri) {
  try {
    const url = new URL(uri);
    return url.hostname === '127.0.0.1' && url.protocol === 'http:' && !url.search && !url.hash
      ? `http://127.0.0.1${url.pathname}`
      : null;
  } catch {
    return null;
  }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 10_000) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

// The provider's own sign-in page: a plain form (what a firm's IdP would show), answered by interactionFinished.
async function signInForm(provider, req, res, submitted) {
  const details = await provider.interactionDetails(req, res);
  let problem = '';
  if (submitted && req.method === 'POST') {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    if (claimsOfAccount(login) && form.get('password') === options['portal-password']) {
      await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      return;
    }
    problem = '<p role="alert" id="problem">Unknown account or wrong password.</p>';
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><head><title>Sign in to the firm's IdP</title></head><body><main>
<h1>Sign in</h1>${problem}
<form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
<label>Account <input name="login" id="login" autocomplete="username"></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password"></label>
<button type="submit" id="submit">Sign in</button></form></main></body></html>`);
}

let handle = buildProvider(readKeys());
// requests go to whichever provider is current, so a rotation swaps keys under the same listening socket
const server = createServer((req, res) => handle(req, res));

process.on('SIGHUP', () => {
  try {
    const jwks = readKeys();
    handle = buildProvider(jwks);
    console.log(`ROTATED ${jwks.keys.map((key) => key.kid).join(',')}`);
  } catch (error) {
    console.log(`ROTATION FAILED ${error.message}`);
  }
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

server.listen(port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
