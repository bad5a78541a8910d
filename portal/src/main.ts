// The portal's start: the sign-in callbacks, the session, the header and the router.
import './styles.css';

import { CALLBACK_PATH, POPUP_PATH, SILENT_PATH, Session } from './auth';
import { loadConfig } from './config';
import { el, replace } from './dom';
import { gql, useSession } from './graphql';
import { onLangChange, t } from './i18n';
import { drawHeader, expiredBanner, signInPrompt, type Identity } from './layout';
import { Router } from './router';
import { routes } from './routes';

const ME = 'query PortalMe { me { firmId roles } }';

async function start(): Promise<void> {
  const path = window.location.pathname;
  if (path === SILENT_PATH || path === POPUP_PATH) {
    await Session.finishInFrame(path);
    return;
  }
  const header = document.getElementById('top') as HTMLElement;
  const main = document.getElementById('main') as HTMLElement;
  const skip = document.querySelector('.skip-link');
  const config = await loadConfig();
  const session = new Session(config.signIn);
  useSession(session);
  let signInError: string | null = null;
  if (path === CALLBACK_PATH) {
    try {
      window.history.replaceState(null, '', await session.completeRedirect());
    } catch (error) {
      signInError = String((error as Error).message ?? error);
      window.history.replaceState(null, '', '/');
    }
  } else {
    await session.resume();
  }

  let identity: Identity | null = null;
  const redraw = (): void => {
    if (skip) skip.textContent = t('app.skip');
    drawHeader(header, routes, session, identity);
  };
  const whoAmI = async (): Promise<void> => {
    identity = session.signedIn ? (await gql<{ me: Identity }>(ME)).me : null;
    redraw();
  };
  session.on((event) => {
    document.querySelector('.banner')?.remove();
    if (event === 'expired') main.before(expiredBanner(session));
    void whoAmI();
  });
  onLangChange(redraw);
  await whoAmI().catch(() => redraw());
  const router = new Router(routes, main, session, config, signInPrompt(session));
  router.start();
  if (signInError) main.before(el('div', { class: 'banner', role: 'alert' }, t('auth.failed', { reason: signInError })));
}

start().catch((error: unknown) => {
  const main = document.getElementById('main');
  if (main) replace(main, el('p', { role: 'alert', class: 'error' }, t('error.generic', { message: String(error) })));
});
