// History-API routing over the route table (routes.ts). A page's state lives in its URL (path and query), so
// a reload, a shared link or a sign-in round trip brings the person back to the same view.
import type { Session } from './auth';
import type { PortalConfig } from './config';
import { announce, el, replace } from './dom';
import { onLangChange, t, type MessageKey } from './i18n';

/** What a page is given each time it is shown. */
export interface PageContext {
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  session: Session;
  config: PortalConfig;
  /** Aborted when the person leaves the page (or the language changes and it is drawn again). */
  signal: AbortSignal;
  navigate(path: string): void;
  /** Changes the query string in place (no new history entry), to keep the page's state in its URL. */
  setQuery(values: Record<string, string | null>): void;
}

export type Page = (context: PageContext) => void | Promise<void>;

export interface Route {
  path: string; // "/lots/:id": ":name" matches one path segment
  load: () => Promise<{ default: Page }>;
  title: MessageKey;
  nav?: boolean; // shown in the main navigation
  public?: boolean; // shown without signing in
}

interface Match {
  route: Route;
  params: Record<string, string>;
}

function match(routes: Route[], pathname: string): Match | null {
  const parts = pathname.replace(/\/+$/, '').split('/').filter(Boolean);
  for (const route of routes) {
    const pattern = route.path.split('/').filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = pattern.every((segment, i) => {
      if (segment.startsWith(':')) {
        params[segment.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return segment === parts[i];
    });
    if (ok) return { route, params };
  }
  return null;
}

/** Draws the page of the current URL and follows links marked data-route and the back button. */
export class Router {
  private controller: AbortController | null = null;
  private prompting = false;

  constructor(
    private readonly routes: Route[],
    private readonly main: HTMLElement,
    private readonly session: Session,
    private readonly config: PortalConfig,
    private readonly signInPrompt: (root: HTMLElement) => void,
  ) {}

  start(): void {
    window.addEventListener('popstate', () => void this.render());
    document.addEventListener('click', (event) => {
      const link = (event.target as Element | null)?.closest?.('a[data-route]') as HTMLAnchorElement | null;
      if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
      event.preventDefault();
      this.navigate(link.getAttribute('href') ?? '/');
    });
    onLangChange(() => void this.render(false));
    // a page drawn for a signed-in person keeps its state when the session is renewed; the prompt gives way
    this.session.on((event) => {
      if (event === 'signed-out' || (event === 'signed-in' && this.prompting)) void this.render(false);
    });
    void this.render();
  }

  navigate(path: string): void {
    window.history.pushState(null, '', path);
    void this.render();
  }

  async render(moveFocus = true): Promise<void> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const found = match(this.routes, window.location.pathname);
    const root = el('div', { class: 'page' });
    replace(this.main, root);
    if (!found) {
      this.prompting = false;
      document.title = t('app.title');
      replace(root, el('h1', {}, t('error.notFound', { path: window.location.pathname })));
      return;
    }
    document.title = `${t(found.route.title)} · ${t('app.title')}`;
    this.prompting = !found.route.public && !this.session.signedIn;
    if (this.prompting) {
      this.signInPrompt(root);
    } else {
      try {
        const page = (await found.route.load()).default;
        if (controller.signal.aborted) return;
        await page({
          root,
          params: found.params,
          query: new URLSearchParams(window.location.search),
          session: this.session,
          config: this.config,
          signal: controller.signal,
          navigate: (path) => this.navigate(path),
          setQuery: (values) => {
            const url = new URL(window.location.href);
            for (const [key, value] of Object.entries(values)) {
              if (value === null || value === '') url.searchParams.delete(key);
              else url.searchParams.set(key, value);
            }
            window.history.replaceState(null, '', url.pathname + url.search + url.hash);
          },
        });
      } catch (error) {
        if (controller.signal.aborted) return;
        replace(root, el('p', { role: 'alert', class: 'error' }, t('error.generic', { message: String((error as Error).message ?? error) })));
      }
    }
    if (moveFocus && !controller.signal.aborted) {
      this.main.focus();
      announce(document.title);
    }
  }
}
