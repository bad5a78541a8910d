// Find a lot: by lot number (its beginning), product GTIN, site GLN or status; the search lives in the URL.
import { el, replace, announce } from '../dom';
import { gql } from '../graphql';
import { formatDate, formatNumber, localName, t, type MessageKey } from '../i18n';
import type { PageContext } from '../router';
import { LOTS_QUERY, lotPath, type LotDetail, type LotStatus } from '../trace/model';

interface LotsAnswer {
  lots: { totalCount: number; edges: { node: LotDetail }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const STATUSES: LotStatus[] = ['ACTIVE', 'ON_HOLD', 'RECALLED'];

function field(id: string, label: MessageKey, value: string, hint: MessageKey, attributes: Record<string, string> = {}): HTMLElement {
  return el(
    'div',
    { class: 'field' },
    el('label', { for: id }, t(label)),
    el('input', { id, name: id, value, 'aria-describedby': `${id}-hint`, autocomplete: 'off', ...attributes }),
    el('small', { id: `${id}-hint` }, t(hint)),
  );
}

export default async function lots({ root, query, setQuery, signal }: PageContext): Promise<void> {
  const form = el(
    'form',
    { class: 'search', role: 'search', 'aria-label': t('lots.heading') },
    field('lot', 'lots.lotNumber', query.get('lot') ?? '', 'lots.lotNumberHint'),
    field('product', 'lots.product', query.get('product') ?? '', 'lots.productHint', { inputmode: 'numeric', pattern: '\\d{8,14}' }),
    field('site', 'lots.site', query.get('site') ?? '', 'lots.siteHint', { inputmode: 'numeric', pattern: '\\d{13}' }),
    el(
      'div',
      { class: 'field' },
      el('label', { for: 'status' }, t('lots.status')),
      el(
        'select',
        { id: 'status', name: 'status' },
        el('option', { value: '' }, t('lots.anyStatus')),
        STATUSES.map((status) => el('option', { value: status, selected: query.get('status') === status }, t(`lot.status.${status}` as MessageKey))),
      ),
    ),
    el('button', { type: 'submit', class: 'primary' }, t('lots.search')),
  );
  const results = el('div', { class: 'results', 'aria-live': 'polite' });
  replace(root, el('h1', {}, t('lots.heading')), el('p', {}, t('lots.intro')), form, results);

  const run = async (after: string | null = null): Promise<void> => {
    const values = {
      lot: (form.elements.namedItem('lot') as HTMLInputElement).value.trim(),
      product: (form.elements.namedItem('product') as HTMLInputElement).value.trim(),
      site: (form.elements.namedItem('site') as HTMLInputElement).value.trim(),
      status: (form.elements.namedItem('status') as HTMLSelectElement).value,
    };
    setQuery(values);
    replace(results, el('p', {}, t('common.loading')));
    try {
      const answer = await gql<LotsAnswer>(LOTS_QUERY, {
        lotNumberPrefix: values.lot || null,
        productGtin: values.product || null,
        siteGln: values.site || null,
        status: values.status || null,
        after,
      });
      if (signal.aborted) return;
      const found = answer.lots;
      const table = el(
        'table',
        { class: 'lots' },
        el('caption', {}, t('lots.found', { count: formatNumber(found.totalCount) })),
        el(
          'thead',
          {},
          el('tr', {}, (['lots.lotNumber', 'lots.productName', 'lots.siteName', 'lots.owner', 'lots.produced', 'lots.quantity', 'lots.status'] as MessageKey[]).map((key) => el('th', { scope: 'col' }, t(key)))),
        ),
        el(
          'tbody',
          {},
          found.edges.map(({ node }) =>
            el(
              'tr',
              {},
              el('th', { scope: 'row' }, el('a', { href: lotPath(node.id), 'data-route': true }, node.lotNumber)),
              el('td', {}, node.product ? localName(node.product) : node.productGtin),
              el('td', {}, node.site?.name ?? ''),
              el('td', {}, node.owner ? localName(node.owner) : ''),
              el('td', {}, formatDate(node.producedAt)),
              el('td', { class: 'number' }, `${formatNumber(node.quantity)} ${node.uom}`),
              el('td', {}, el('span', { class: `status status-${node.status}` }, t(`lot.status.${node.status}` as MessageKey))),
            ),
          ),
        ),
      );
      replace(
        results,
        found.edges.length ? table : el('p', {}, t('lots.none')),
        found.pageInfo.hasNextPage
          ? el('button', { type: 'button', onclick: () => void run(found.pageInfo.endCursor) }, t('lots.more'))
          : null,
      );
      announce(t('lots.found', { count: formatNumber(found.totalCount) }));
    } catch (error) {
      replace(results, el('p', { role: 'alert', class: 'error' }, t('error.generic', { message: (error as Error).message })));
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run();
  });
  if (['lot', 'product', 'site', 'status'].some((key) => query.get(key))) await run();
}
