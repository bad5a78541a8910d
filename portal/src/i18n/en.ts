// English messages. Keys are grouped by page ("<page>.<what>"); a page adds its own block. ko.ts must have
// every key (the type checker says which are missing). {name} placeholders are filled by t(key, {name}).
import { operationsEn } from './operations.en';

export const en = {
  ...operationsEn,
  'app.title': 'Food cluster hub',
  'app.skip': 'Skip to content',
  'nav.label': 'Main',
  'nav.home': 'Home',
  'nav.lots': 'Find a lot',
  'lang.label': 'Language',
  'lang.switch': '한국어',
  'lang.switchLabel': 'Switch to Korean',
  'auth.signIn': 'Sign in',
  'auth.signInWith': 'Sign in with {name}',
  'auth.signOut': 'Sign out',
  'auth.signedInAs': 'Signed in: {firm} ({roles})',
  'auth.builtin': "the hub's own accounts",
  'auth.firmIdp': "{firm}'s sign-in",
  'auth.noChoices': 'No way to sign in is configured on this hub; ask its operator.',
  'auth.needed': 'Sign in to see this page.',
  'auth.expired': 'Your session ended. Sign in again to go on; this page stays as it is.',
  'auth.again': 'Sign in again',
  'auth.failed': 'Signing in failed: {reason}',
  'auth.working': 'Signing in…',
  'home.heading': 'Member portal',
  'home.intro': 'Trace lots across the cluster, follow recalls and manage what your firm shares.',
  'home.choose': 'Choose how to sign in',
  'error.generic': 'Something went wrong: {message}',
  'error.notFound': 'There is no page at {path}.',
  'common.loading': 'Loading…',
} as const;

export type MessageKey = keyof typeof en;
