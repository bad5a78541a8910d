// A real OpenID provider for the hub's end-to-end tests: client credentials, RS256 JWT access tokens.
//
//   node idp.mjs --port PORT --jwks KEYS.json --clients CLIENTS.json [--audience AUD] [--resource URL]
//
// KEYS.json is a private JWK set ({"keys": [...]}); the first RS256 key signs. CLIENTS.json is a list of
// {"client_id", "client_secret", "firm_id", "roles"?}: each client's tokens carry its firm_id (and roles).
// On SIGHUP the key set file is read again and the provider rebuilt on the same port, so a test can rotate
// keys without losing the issuer URL; it then prints "ROTATED <kid,...>". Prints "READY <issuer>" once
// listening on 127.0.0.1. Everything is in memory: one process per test session.
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

function buildProvider(jwks) {
  return new Provider(issuer, {
    jwks,
    cookies: { keys: cookieKeys },
    ttl: { ClientCredentials: 600 },
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: options.scopes,
    })),
    scopes: options.scopes.split(' '),
    features: {
      devInteractions: { enabled: false },
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
      const claims = claimsOfClient.get(token.clientId);
      if (!claims) return undefined;
      return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
    },
  });
}

let handle = buildProvider(readKeys()).callback();
// requests go to whichever provider is current, so a rotation swaps keys under the same listening socket
const server = createServer((req, res) => handle(req, res));

process.on('SIGHUP', () => {
  try {
    const jwks = readKeys();
    handle = buildProvider(jwks).callback();
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
