// Open deviations of the CCPs the person may see in detail, kept live: each deviation opened from now on
// (deviationOpened over graphql-ws) is added at the top as it happens. Used on the home page and the food-safety
// page.
import { announce, el, replace } from '../dom';
import { gql, subscribe } from '../graphql';
import { formatDate, formatNumber, t } from '../i18n';

const OPEN = `query OpenDeviations {
  deviations(status: OPEN, first: 20) {
    totalCount
    edges { node { id kind openedAt worstValue ccp { id code name unit site { name } } } }
  }
}`;
const OPENED = `subscription DeviationOpened {
  deviationOpened { id kind openedAt worstValue ccp { id code name unit site { name } } }
}`;

export interface DeviationRow {
  id: string;
  kind: string;
  openedAt: string;
  worstValue: number | null;
  ccp: { id: string; code: string; name: string; unit: string; site: { name: string } | null };
}

export function deviationItem(deviation: DeviationRow): HTMLElement {
  const kind = deviation.kind === 'MISSED_MONITORING' ? t('safety.kind.MISSED_MONITORING') : t('safety.kind.OUT_OF_LIMITS');
  const worst = deviation.worstValue !== null ? ` · ${t('safety.worst')} ${formatNumber(deviation.worstValue)} ${deviation.ccp.unit}` : '';
  return el(
    'li',
    { 'data-deviation': deviation.id },
    el('a', { href: `/food-safety/ccp/${encodeURIComponent(deviation.ccp.id)}#deviation-${encodeURIComponent(deviation.id)}`, 'data-route': true }, `${deviation.ccp.code} ${deviation.ccp.name}`),
    ` (${deviation.ccp.site?.name ?? ''}) — ${kind}, ${formatDate(deviation.openedAt)}${worst}`,
  );
}

/** The list, drawn once from the hub and then kept live until ``signal`` aborts. */
export function openDeviations(signal: AbortSignal): HTMLElement {
  const list = el('ul', { class: 'open-deviations', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const count = el('p', { class: 'count' }, t('common.loading'));
  let total = 0;
  const section = el('section', { class: 'deviations-live', 'aria-labelledby': 'open-deviations-heading' }, el('h2', { id: 'open-deviations-heading' }, t('safety.openHeading')), count, list);
  const drawCount = (): void => {
    replace(count, total === 0 ? t('safety.noneOpen') : t('safety.openCount', { count: total }));
  };
  const seen = new Set<string>();
  const stop = subscribe<{ deviationOpened: DeviationRow }>(OPENED, {}, (data) => {
    const deviation = data.deviationOpened;
    if (seen.has(deviation.id)) return;
    seen.add(deviation.id);
    total += 1;
    drawCount();
    list.prepend(deviationItem(deviation));
    announce(t('safety.newDeviation', { ccp: deviation.ccp.code }));
  });
  signal.addEventListener('abort', stop);
  void gql<{ deviations: { totalCount: number; edges: { node: DeviationRow }[] } }>(OPEN).then(
    (data) => {
      if (signal.aborted) return;
      for (const { node } of data.deviations.edges) {
        if (seen.has(node.id)) continue;
        seen.add(node.id);
        list.append(deviationItem(node));
      }
      total += data.deviations.totalCount;
      drawCount();
    },
    (error: Error) => replace(count, el('span', { class: 'error' }, t('error.generic', { message: error.message }))),
  );
  return section;
}
