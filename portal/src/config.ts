// What the hub tells the page before anyone signs in (GET /portal/config, public): the ways to sign in.

/** One way to sign in: the hub's built-in issuer, or a member firm's own identity provider. */
export interface SignInChoice {
  id: string;
  kind: 'builtin' | 'firm';
  issuer: string;
  clientId: string;
  scope: string;
  firmId: string | null;
  label: string | null;
}

export interface PortalConfig {
  signIn: SignInChoice[];
}

/** The hub's portal configuration; throws with the status when it cannot be read. */
export async function loadConfig(): Promise<PortalConfig> {
  const response = await fetch('/portal/config', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET /portal/config answered ${response.status}`);
  return (await response.json()) as PortalConfig;
}
