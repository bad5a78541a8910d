// The graphql-http audit of GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) against a
// served hub. Usage: node audit.mjs <graphql url>, with HUB_AUDIT_TOKEN holding a bearer token (every request
// to the hub needs one). Prints one JSON array of {id, name, status, reason} on stdout.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const token = process.env.HUB_AUDIT_TOKEN;
if (!url || !token) {
  console.error('usage: HUB_AUDIT_TOKEN=<token> node audit.mjs <graphql url>');
  process.exit(2);
}

// the audit's own requests, each signed in as a member firm's client would be
function signedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: signedFetch });
const report = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    try {
      entry.response = { status: result.response.status, body: await result.response.text() };
    } catch {
      // a response already read by the audit: its reason says enough
    }
  }
  report.push(entry);
}
console.log(JSON.stringify(report));
