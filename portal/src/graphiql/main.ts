// GraphiQL served by the hub itself at GET /graphql (in a browser): its scripts, styles and Monaco's workers are
// bundled from npm by the portal's build, so it works on a plant network with no internet. A person signed in
// to the portal in this browser is signed in here too (silently, at the same provider); the Headers tab still
// takes an explicit "Authorization: Bearer ..." that wins over it.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './graphiql.css';

import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';

import { Session } from '../auth';
import { loadConfig } from '../config';

const DEFAULT_QUERY = `# The hub's GraphQL API. Sign in to the portal at / (or put a bearer token in the Headers tab).
query Me {
  me { firmId roles scopes }
}
`;

async function start(): Promise<void> {
  const host = document.getElementById('graphiql') as HTMLElement;
  const session = new Session((await loadConfig().catch(() => ({ signIn: [] }))).signIn);
  await session.resume();
  const bearer = (): Record<string, string> =>
    session.accessToken ? { Authorization: `Bearer ${session.accessToken}` } : {};
  const fetcher = createGraphiQLFetcher({
    url: '/graphql',
    fetch: (input, init) => {
      const explicit = new Headers(init?.headers);
      const headers = new Headers(bearer());
      explicit.forEach((value, name) => headers.set(name, value));
      return window.fetch(input, { ...init, headers });
    },
    wsClient: createClient({
      url: `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/graphql`,
      connectionParams: () => bearer(),
      lazy: true,
    }),
  });
  host.textContent = '';
  createRoot(host).render(createElement(GraphiQL, { fetcher, defaultQuery: DEFAULT_QUERY }));
}

void start();
