// Food safety: the CCPs the person's firm may see (its own, and those shared with it), and the open deviations,
// live. Each CCP links to its chart.
import './operations.css';
import { el, replace } from '../dom';
import { gql } from '../graphql';
import { formatNumber, t } from '../i18n';
import type { PageContext } from '../router';
import { openDeviations } from '../features/open-deviations';

const CCPS = `query FoodSafety {
  ccps(first: 100) {
    totalCount
    edges { node { id code name hazard limitLow limitHigh unit level site { gln name } } }
  }
}`;

interface CcpRow {
  id: string;
  code: string;
  name: string;
  hazard: string | null;
  limitLow: number | null;
  limitHigh: number | null;
  unit: string;
  level: string;
  site: { gln: string; name: string } | null;
}

export function limits(ccp: { limitLow: number | null; limitHigh: number | null; unit: string }): string {
  const low = ccp.limitLow !== null ? formatNumber(ccp.limitLow) : '';
  const high = ccp.limitHigh !== null ? formatNumber(ccp.limitHigh) : '';
  if (low && high) return `${low}–${high} ${ccp.unit}`;
  if (low) return `≥ ${low} ${ccp.unit}`;
  return `≤ ${high} ${ccp.unit}`;
}

export default async function foodSafety(context: PageContext): Promise<void> {
  const { root } = context;
  replace(root, el('h1', {}, t('nav.foodSafety')), el('p', {}, t('common.loading')));
  const data = await gql<{ ccps: { totalCount: number; edges: { node: CcpRow }[] } }>(CCPS);
  if (context.signal.aborted) return;
  const ccps = data.ccps.edges.map((edge) => edge.node);
  replace(
    root,
    el('h1', {}, t('nav.foodSafety')),
    openDeviations(context.signal),
    el(
      'section',
      { 'aria-labelledby': 'ccp-heading' },
      el('h2', { id: 'ccp-heading' }, t('safety.ccps')),
      ccps.length === 0
        ? el('p', {}, t('safety.noCcps'))
        : el(
            'table',
            { class: 'ccps' },
            el('caption', { class: 'visually-hidden' }, t('safety.ccps')),
            el('thead', {}, el('tr', {}, [t('safety.ccp'), t('safety.site'), t('safety.hazard'), t('safety.limits'), t('safety.level')].map((h) => el('th', { scope: 'col' }, h)))),
            el(
              'tbody',
              {},
              ccps.map((ccp) =>
                el(
                  'tr',
                  { 'data-ccp': ccp.id },
                  el('th', { scope: 'row' }, el('a', { href: `/food-safety/ccp/${encodeURIComponent(ccp.id)}`, 'data-route': true }, `${ccp.code} ${ccp.name}`)),
                  el('td', {}, ccp.site?.name ?? ''),
                  el('td', {}, ccp.hazard ?? ''),
                  el('td', {}, limits(ccp)),
                  el('td', {}, ccp.level === 'DETAIL' ? t('safety.detail') : t('safety.summary')),
                ),
              ),
            ),
          ),
    ),
  );
}
