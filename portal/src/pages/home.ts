// The home page: what the portal is for, and the ways to sign in when nobody is.
import { el, replace } from '../dom';
import { t } from '../i18n';
import type { PageContext } from '../router';
import { signInChoices } from '../layout';
import { openDeviations } from '../features/open-deviations';

export default function home({ root, session, signal }: PageContext): void {
  replace(
    root,
    el('h1', {}, t('home.heading')),
    el('p', {}, t('home.intro')),
    session.signedIn ? null : signInChoices(session),
    // the open deviations of the CCPs the person sees in detail, kept live (the food-safety pages)
    session.signedIn ? openDeviations(signal) : null,
  );
}
