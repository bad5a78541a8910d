// The language toggle (remembered in localStorage: a preference, not a credential) and t().
import { en, type MessageKey } from './en';
import { ko } from './ko';

export type Lang = 'en' | 'ko';
export type { MessageKey };

const STORAGE_KEY = 'portal.lang';
const catalogues: Record<Lang, Record<MessageKey, string>> = { en, ko };
const listeners = new Set<(lang: Lang) => void>();

function initialLang(): Lang {
  const saved = window.localStorage.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'ko') return saved;
  return navigator.language.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

let current: Lang = initialLang();
document.documentElement.lang = current;

/** The language shown now. */
export function lang(): Lang {
  return current;
}

/** Shows the portal in ``next`` from now on, remembered for the next visit. */
export function setLang(next: Lang): void {
  current = next;
  window.localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  for (const listener of listeners) listener(next);
}

/** Calls ``listener`` after every language change; returns the way to stop. */
export function onLangChange(listener: (lang: Lang) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The message ``key`` in the current language, with {placeholders} filled. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const text = catalogues[current][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

/** A name in the current language where the record has a Korean one (firm, product). */
export function localName(thing: { name: string; nameKo?: string | null }): string {
  return current === 'ko' && thing.nameKo ? thing.nameKo : thing.name;
}

/** Numbers and dates the way the current language writes them. */
export function formatNumber(value: number): string {
  return new Intl.NumberFormat(current === 'ko' ? 'ko-KR' : 'en-GB').format(value);
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '';
  return new Intl.DateTimeFormat(current === 'ko' ? 'ko-KR' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(new Date(value));
}
