// Signing a person in: authorization code with PKCE (oidc-client-ts). Tokens are kept in memory only
// (InMemoryWebStorage): a reload forgets them and signs in again silently where the identity provider still
// has a session. Only the short-lived PKCE state of a redirect in flight goes to sessionStorage, and the
// chosen provider's id (not a secret) so that the redirect back can be finished.
import { InMemoryWebStorage, User, UserManager, WebStorageStateStore } from 'oidc-client-ts';

import type { SignInChoice } from './config';

const CHOICE_KEY = 'portal.signInChoice';
export const CALLBACK_PATH = '/auth/callback';
export const SILENT_PATH = '/auth/silent';
export const POPUP_PATH = '/auth/popup';

export type SessionEvent = 'signed-in' | 'signed-out' | 'expired';

/** The signed-in person's session, or none; the one place the access token is read from. */
export class Session {
  private manager: UserManager | null = null;
  private user: User | null = null;
  private readonly listeners = new Set<(event: SessionEvent) => void>();
  private renewal: Promise<boolean> | null = null;

  constructor(readonly choices: SignInChoice[]) {}

  /** The bearer token for the hub, or null when nobody is signed in (or the token has expired). */
  get accessToken(): string | null {
    if (!this.user || this.user.expired) return null;
    return this.user.access_token;
  }

  get signedIn(): boolean {
    return this.accessToken !== null;
  }

  get choice(): SignInChoice | null {
    const id = window.sessionStorage.getItem(CHOICE_KEY);
    return this.choices.find((c) => c.id === id) ?? null;
  }

  on(listener: (event: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: SessionEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private managerFor(choice: SignInChoice): UserManager {
    if (this.manager && this.manager.settings.client_id === choice.clientId && this.manager.settings.authority === choice.issuer) {
      return this.manager;
    }
    const origin = window.location.origin;
    const manager = new UserManager({
      authority: choice.issuer,
      client_id: choice.clientId,
      redirect_uri: origin + CALLBACK_PATH,
      silent_redirect_uri: origin + SILENT_PATH,
      popup_redirect_uri: origin + POPUP_PATH,
      post_logout_redirect_uri: origin + '/',
      response_type: 'code',
      scope: choice.scope,
      userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
      stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
      automaticSilentRenew: false,
      monitorSession: false,
      loadUserInfo: false,
      // the silent iframe waits this long for the provider before the page asks the person instead
      silentRequestTimeoutInSeconds: 10,
    });
    manager.events.addAccessTokenExpiring(() => void this.renew());
    manager.events.addAccessTokenExpired(() => void this.renew());
    this.manager = manager;
    return manager;
  }

  /** Leaves for the provider's sign-in page; comes back to ``returnTo`` (default: this page). */
  async signIn(choice: SignInChoice, returnTo: string = currentLocation()): Promise<void> {
    window.sessionStorage.setItem(CHOICE_KEY, choice.id);
    await this.managerFor(choice).signinRedirect({ state: { returnTo } });
  }

  /** Finishes a redirect back from the provider; returns where the person was going. */
  async completeRedirect(): Promise<string> {
    const choice = this.choice;
    if (!choice) throw new Error('no sign-in was started from this tab');
    const user = await this.managerFor(choice).signinRedirectCallback();
    this.user = user;
    this.emit('signed-in');
    const state = user.state as { returnTo?: string } | undefined;
    return safeReturn(state?.returnTo);
  }

  /** Signs in again without leaving the page: first silently, then (when the provider must ask) in a popup. */
  async renew(interactive = false): Promise<boolean> {
    const choice = this.choice;
    if (!choice) return false;
    this.renewal ??= this.attempt(choice, interactive).finally(() => {
      this.renewal = null;
    });
    return this.renewal;
  }

  private async attempt(choice: SignInChoice, interactive: boolean): Promise<boolean> {
    const manager = this.managerFor(choice);
    let user: User | null = null;
    try {
      user = await manager.signinSilent();
    } catch {
      user = null;
    }
    if (!user && interactive) {
      try {
        user = await manager.signinPopup();
      } catch {
        user = null;
      }
    }
    this.user = user;
    this.emit(user ? 'signed-in' : 'expired');
    return user !== null;
  }

  /** At start-up: a remembered provider signs the tab in again silently (its tokens were in memory only). */
  async resume(): Promise<void> {
    if (this.choice) await this.renew(false);
  }

  /** Forgets the tokens and ends the provider's session where it offers that. */
  async signOut(): Promise<void> {
    const choice = this.choice;
    this.user = null;
    window.sessionStorage.removeItem(CHOICE_KEY);
    this.emit('signed-out');
    if (!choice) return;
    const manager = this.managerFor(choice);
    const metadata = await manager.metadataService.getMetadata().catch(() => null);
    // a provider that keeps no session (the hub's issuer) ends the sign-in by revoking its refresh token
    if (metadata?.revocation_endpoint) await manager.revokeTokens(['refresh_token']).catch(() => undefined);
    await manager.removeUser();
    if (metadata?.end_session_endpoint) await manager.signoutRedirect();
  }

  /** In the silent iframe or the popup: hands the provider's answer back to the page that opened it. */
  static async finishInFrame(path: string): Promise<void> {
    const manager = new UserManager({
      authority: '',
      client_id: '',
      redirect_uri: '',
      userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
      stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    });
    if (path === SILENT_PATH) await manager.signinSilentCallback();
    else await manager.signinPopupCallback();
  }
}

function currentLocation(): string {
  return window.location.pathname + window.location.search + window.location.hash;
}

/** Only paths of this site: a crafted state must not send the person elsewhere. */
function safeReturn(target: string | undefined): string {
  if (!target || !target.startsWith('/') || target.startsWith('//') || target.startsWith('/auth/')) return '/';
  return target;
}
