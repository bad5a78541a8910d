// The one GraphQL client of the portal: queries and mutations over fetch, subscriptions over graphql-ws
// (graphql-transport-ws); both carry the signed-in person's bearer token, and a 401 asks the session to
// sign in again (silently where it can) before the call is tried once more.
import { createClient, type Client } from 'graphql-ws';

import type { Session } from './auth';

export interface GraphQLErrorItem {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/** A call that failed: the hub's errors (with their extensions.code) or the HTTP status. */
export class GraphQLFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly errors: GraphQLErrorItem[] = [],
    readonly status = 200,
  ) {
    super(message);
  }
}

let session: Session | null = null;
let wsClient: Client | null = null;

/** Binds the client to the portal's session (main.ts, once). */
export function useSession(current: Session): void {
  session = current;
  current.on((event) => {
    if (event !== 'signed-in') {
      void wsClient?.dispose();
      wsClient = null;
    }
  });
}

function bearer(): Record<string, string> {
  const token = session?.accessToken;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function post(body: string): Promise<Response> {
  return fetch('/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json', ...bearer() },
    body,
  });
}

/** Runs a query or mutation; resolves with its data, or throws GraphQLFailure. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const body = JSON.stringify({ query, variables });
  let response = await post(body);
  if (response.status === 401 && session && (await session.renew(false))) response = await post(body);
  let payload: { data?: T | null; errors?: GraphQLErrorItem[]; code?: string; detail?: string };
  try {
    payload = (await response.json()) as typeof payload;
  } catch {
    throw new GraphQLFailure(`the hub answered ${response.status}`, 'BAD_RESPONSE', [], response.status);
  }
  if (response.status === 401) {
    throw new GraphQLFailure(payload.detail ?? 'sign in first', 'UNAUTHENTICATED', payload.errors ?? [], 401);
  }
  if (payload.errors?.length) {
    const first = payload.errors[0];
    throw new GraphQLFailure(first.message, first.extensions?.code ?? 'ERROR', payload.errors, response.status);
  }
  if (payload.data == null) {
    throw new GraphQLFailure(payload.detail ?? `the hub answered ${response.status}`, payload.code ?? 'ERROR', [], response.status);
  }
  return payload.data;
}

/** Subscribes over the websocket; ``onData`` gets each event; returns the way to stop. */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError: (error: GraphQLFailure) => void = () => undefined,
): () => void {
  wsClient ??= createClient({
    url: `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/graphql`,
    connectionParams: () => bearer(),
    lazy: true,
    retryAttempts: 5,
  });
  return wsClient.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) {
          const first = result.errors[0] as GraphQLErrorItem;
          onError(new GraphQLFailure(first.message, first.extensions?.code ?? 'ERROR', result.errors as GraphQLErrorItem[]));
        } else if (result.data) onData(result.data as T);
      },
      error: (error) => onError(new GraphQLFailure(String((error as Error)?.message ?? error), 'SUBSCRIPTION_CLOSED')),
      complete: () => undefined,
    },
  );
}

/** Downloads a file from a hub route with the bearer token (e.g. the FSMA 204 export). */
export async function download(path: string, fallbackName: string): Promise<void> {
  let response = await fetch(path, { headers: bearer() });
  if (response.status === 401 && session && (await session.renew(false))) response = await fetch(path, { headers: bearer() });
  if (!response.ok) {
    let detail = `${response.status}`;
    try {
      const problem = (await response.json()) as { detail?: string; code?: string };
      detail = problem.detail ?? detail;
      throw new GraphQLFailure(detail, problem.code ?? 'ERROR', [], response.status);
    } catch (error) {
      if (error instanceof GraphQLFailure) throw error;
      throw new GraphQLFailure(detail, 'ERROR', [], response.status);
    }
  }
  const disposition = response.headers.get('content-disposition') ?? '';
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
