// The frame around every page: the site's name, the navigation, the language toggle, sign-in state.
import type { Session } from './auth';
import { el, replace } from './dom';
import { lang, setLang, t } from './i18n';
import type { Route } from './router';

/** The list of ways to sign in (buttons), as the home page and the sign-in prompt show it. */
export function signInChoices(session: Session): HTMLElement {
  if (session.choices.length === 0) return el('p', { class: 'notice' }, t('auth.noChoices'));
  return el(
    'section',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-heading' },
    el('h2', { id: 'sign-in-heading' }, t('home.choose')),
    el(
      'ul',
      { class: 'choices' },
      session.choices.map((choice) => {
        const name = choice.label ?? (choice.kind === 'builtin' ? t('auth.builtin') : t('auth.firmIdp', { firm: choice.firmId ?? choice.issuer }));
        return el(
          'li',
          {},
          el(
            'button',
            { type: 'button', class: 'primary', 'data-choice': choice.id, onclick: () => void session.signIn(choice) },
            t('auth.signInWith', { name }),
          ),
        );
      }),
    ),
  );
}

/** What a page that needs a signed-in person shows instead. */
export function signInPrompt(session: Session): (root: HTMLElement) => void {
  return (root) => replace(root, el('h1', {}, t('auth.signIn')), el('p', {}, t('auth.needed')), signInChoices(session));
}

export interface Identity {
  firmId: string;
  roles: string[];
}

/** Draws the header; called again after a language or session change. */
export function drawHeader(header: HTMLElement, routes: Route[], session: Session, identity: Identity | null): void {
  const here = window.location.pathname;
  replace(
    header,
    el('a', { class: 'brand', href: '/', 'data-route': true }, t('app.title')),
    el(
      'nav',
      { 'aria-label': t('nav.label') },
      el(
        'ul',
        {},
        routes
          .filter((route) => route.nav && (route.public || session.signedIn))
          .map((route) =>
            el('li', {}, el('a', { href: route.path, 'data-route': true, 'aria-current': route.path === here ? 'page' : null }, t(route.title))),
          ),
      ),
    ),
    el(
      'div',
      { class: 'account' },
      el(
        'button',
        {
          type: 'button',
          class: 'lang',
          lang: lang() === 'en' ? 'ko' : 'en',
          // the accessible name starts with the visible text (WCAG 2.5.3), then says what the button does
          'aria-label': `${t('lang.switch')} (${t('lang.switchLabel')})`,
          onclick: () => setLang(lang() === 'en' ? 'ko' : 'en'),
        },
        t('lang.switch'),
      ),
      session.signedIn && identity
        ? [
            el('span', { class: 'who' }, t('auth.signedInAs', { firm: identity.firmId, roles: identity.roles.join(', ') })),
            el('button', { type: 'button', onclick: () => void session.signOut() }, t('auth.signOut')),
          ]
        : null,
    ),
  );
}

/** The banner shown when the session ended: signing in again keeps the page as it is. */
export function expiredBanner(session: Session): HTMLElement {
  const banner = el(
    'div',
    { class: 'banner', role: 'alert' },
    el('p', {}, t('auth.expired')),
    el(
      'button',
      {
        type: 'button',
        class: 'primary',
        onclick: async () => {
          if (await session.renew(true)) banner.remove();
        },
      },
      t('auth.again'),
    ),
  );
  return banner;
}
