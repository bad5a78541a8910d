// A lot's page: what the lot is, its upstream or downstream trace as a picture (with the same trace as tables
// for screen readers and keyboards), the impact summary beside it, and the FSMA 204 export one click away.
import type cytoscape from 'cytoscape';

import { announce, el, replace } from '../dom';
import { download, gql } from '../graphql';
import { formatDate, formatNumber, lang, localName, t, type MessageKey } from '../i18n';
import type { PageContext } from '../router';
import { drawTrace } from '../trace/graph';
import { LOT_QUERY, TRACE_QUERY, lotPath, type Direction, type LotDetail, type Trace } from '../trace/model';

interface LotAnswer {
  lot: (LotDetail & { expiresAt: string | null; deviations: { id: string; kind: string; status: string; openedAt: string; ccp: { code: string; name: string } | null }[] }) | null;
}

function details(lot: NonNullable<LotAnswer['lot']>): HTMLElement {
  const row = (key: MessageKey, value: string | Node): HTMLElement[] => [el('dt', {}, t(key)), el('dd', {}, value)];
  return el(
    'dl',
    { class: 'details' },
    row('lots.productName', lot.product ? `${localName(lot.product)} (${lot.productGtin})` : lot.productGtin),
    row('lots.siteName', lot.site ? `${lot.site.name} (${lot.site.gln})` : ''),
    row('lots.owner', lot.owner ? localName(lot.owner) : ''),
    row('lots.quantity', `${formatNumber(lot.quantity)} ${lot.uom}`),
    row('lots.produced', formatDate(lot.producedAt)),
    row('lot.expires', formatDate(lot.expiresAt)),
    row('lots.status', el('span', { class: `status status-${lot.status}` }, t(`lot.status.${lot.status}` as MessageKey))),
    row('lot.id', el('code', {}, lot.id)),
    lot.deviations.length
      ? row(
          'lot.deviations',
          el('ul', {}, lot.deviations.map((d) => el('li', {}, `${d.ccp ? `${d.ccp.code} ${d.ccp.name}` : d.id} · ${d.kind} · ${d.status} · ${formatDate(d.openedAt)}`))),
        )
      : [],
  );
}

function summaryAside(trace: Trace): HTMLElement {
  const s = trace.summary;
  const figure = (key: MessageKey, value: number): HTMLElement[] => [el('dt', {}, t(key)), el('dd', {}, formatNumber(value))];
  const held = trace.lots.filter((l) => l.lot?.status === 'ON_HOLD').length;
  const recalled = trace.lots.filter((l) => l.lot?.status === 'RECALLED').length;
  const deviation = trace.lots.filter((l) => l.madeDuringDeviation).length;
  return el(
    'aside',
    { class: 'impact', 'aria-labelledby': 'impact-heading' },
    el('h3', { id: 'impact-heading' }, t('trace.impact')),
    el(
      'dl',
      {},
      figure('trace.lotCount', s.lotCount),
      figure('trace.redactedCount', s.redactedCount),
      figure('trace.firmCount', s.firmCount),
      figure('trace.siteCount', s.siteCount),
      figure('trace.shipmentCount', s.shipmentCount),
      figure('trace.maxDepth', s.maxDepth),
      figure('trace.heldCount', held),
      figure('trace.recalledCount', recalled),
      figure('trace.deviationCount', deviation),
    ),
    el('h4', {}, t('trace.quantities')),
    el(
      'ul',
      {},
      s.quantities.map((q) => el('li', {}, `${q.product ? localName(q.product) : q.productGtin}: ${formatNumber(q.quantity)} ${q.uom} (${t('trace.lotsOf', { count: formatNumber(q.lotCount) })})`)),
    ),
  );
}

function legend(): HTMLElement {
  const item = (kind: string, key: MessageKey): HTMLElement => el('li', {}, el('span', { class: `swatch swatch-${kind}`, 'aria-hidden': 'true' }), t(key));
  return el(
    'ul',
    { class: 'legend', 'aria-label': t('trace.legend') },
    item('origin', 'trace.legendOrigin'),
    item('held', 'lot.status.ON_HOLD'),
    item('recalled', 'lot.status.RECALLED'),
    item('deviation', 'trace.deviation'),
    item('redacted', 'trace.redacted'),
    item('link', 'trace.legendLink'),
    item('shipment', 'trace.legendShipment'),
  );
}

function traceTables(trace: Trace): HTMLElement {
  const lots = el(
    'table',
    { class: 'trace-lots' },
    el('caption', {}, t('trace.tableLots', { count: formatNumber(trace.lots.length) })),
    el('thead', {}, el('tr', {}, (['trace.depth', 'lots.lotNumber', 'lots.productName', 'lots.siteName', 'lots.owner', 'lots.status', 'trace.flags'] as MessageKey[]).map((k) => el('th', { scope: 'col' }, t(k))))),
    el(
      'tbody',
      {},
      trace.lots.map((traced) => {
        const lot = traced.lot;
        if (traced.redacted || !lot) {
          return el(
            'tr',
            { class: 'redacted', 'data-lot-id': traced.id },
            el('td', {}, String(traced.depth)),
            el('th', { scope: 'row' }, t('trace.redacted')),
            el('td', { colspan: '3' }, traced.ownerRole ? t('trace.redactedRole', { role: traced.ownerRole }) : t('trace.redacted')),
            el('td', {}, ''),
            el('td', {}, ''),
          );
        }
        const flags = [traced.madeDuringDeviation ? t('trace.deviation') : '', traced.id === trace.origin.id ? t('trace.legendOrigin') : ''].filter(Boolean).join(', ');
        return el(
          'tr',
          { 'data-lot-id': traced.id },
          el('td', {}, String(traced.depth)),
          el('th', { scope: 'row' }, el('a', { href: lotPath(lot.id), 'data-route': true }, lot.lotNumber)),
          el('td', {}, lot.product ? localName(lot.product) : lot.productGtin),
          el('td', {}, lot.site?.name ?? ''),
          el('td', {}, lot.owner ? localName(lot.owner) : ''),
          el('td', {}, el('span', { class: `status status-${lot.status}` }, t(`lot.status.${lot.status}` as MessageKey))),
          el('td', {}, flags),
        );
      }),
    ),
  );
  const lotNumber = new Map(trace.lots.map((l) => [l.id, l.lot?.lotNumber ?? t('trace.redacted')]));
  const shipments = el(
    'table',
    { class: 'trace-shipments' },
    el('caption', {}, t('trace.tableShipments', { count: formatNumber(trace.shipments.length) })),
    el('thead', {}, el('tr', {}, (['lots.lotNumber', 'trace.from', 'trace.to', 'lots.quantity', 'trace.shipped'] as MessageKey[]).map((k) => el('th', { scope: 'col' }, t(k))))),
    el(
      'tbody',
      {},
      trace.shipments.map((s) =>
        s.redacted
          ? el('tr', { class: 'redacted' }, el('th', { scope: 'row' }, lotNumber.get(s.lotId) ?? ''), el('td', { colspan: '4' }, t('trace.redactedShipment')))
          : el(
              'tr',
              {},
              el('th', { scope: 'row' }, lotNumber.get(s.lotId) ?? ''),
              el('td', {}, s.fromSite ? `${s.fromSite.name}${s.fromSite.firm ? ` (${localName(s.fromSite.firm)})` : ''}` : ''),
              el('td', {}, s.toSite ? `${s.toSite.name}${s.toSite.firm ? ` (${localName(s.toSite.firm)})` : ''}` : ''),
              el('td', { class: 'number' }, s.quantity === null ? '' : `${formatNumber(s.quantity)} ${s.uom ?? ''}`),
              el('td', {}, formatDate(s.shippedAt)),
            ),
      ),
    ),
  );
  return el('section', { class: 'trace-tables', 'aria-labelledby': 'tables-heading' }, el('h3', { id: 'tables-heading' }, t('trace.tables')), lots, shipments);
}

export default async function lotPage({ root, params, query, setQuery, navigate, signal }: PageContext): Promise<void> {
  const lotId = params.id;
  replace(root, el('p', {}, t('common.loading')));
  const { lot } = await gql<LotAnswer>(LOT_QUERY, { id: lotId });
  if (signal.aborted) return;
  if (!lot) {
    replace(root, el('h1', {}, t('lot.notFound')), el('p', {}, el('a', { href: '/lots', 'data-route': true }, t('nav.lots'))));
    return;
  }
  document.title = `${t('lot.heading', { lot: lot.lotNumber })} · ${t('app.title')}`;
  let direction: Direction = query.get('direction') === 'upstream' ? 'UPSTREAM' : 'DOWNSTREAM';
  const traceArea = el('div', { class: 'trace-area' });
  const radios = (['DOWNSTREAM', 'UPSTREAM'] as Direction[]).map((d) =>
    el(
      'label',
      {},
      el('input', {
        type: 'radio',
        name: 'direction',
        value: d,
        checked: d === direction,
        onchange: () => {
          direction = d;
          setQuery({ direction: d.toLowerCase() });
          void showTrace();
        },
      }),
      t(d === 'DOWNSTREAM' ? 'trace.downstream' : 'trace.upstream'),
    ),
  );
  const status = el('p', { class: 'export-status', role: 'status' });
  const exportButton = (format: 'CSV' | 'XLSX'): HTMLElement =>
    el(
      'button',
      {
        type: 'button',
        class: 'export',
        'data-format': format,
        onclick: async () => {
          status.textContent = t('trace.exporting');
          try {
            const { fsma204Export } = await gql<{ fsma204Export: string }>(
              'query PortalExport($lotId: ID!, $direction: TraceDirection!, $format: ExportFormat!, $lang: ExportLanguage!) { fsma204Export(lotId: $lotId, direction: $direction, format: $format, lang: $lang) }',
              { lotId, direction, format, lang: lang() === 'ko' ? 'KO' : 'EN' },
            );
            await download(fsma204Export, `fsma204-${lot.lotNumber}.${format.toLowerCase()}`);
            status.textContent = t('trace.exported', { format });
          } catch (error) {
            status.textContent = t('error.generic', { message: (error as Error).message });
          }
        },
      },
      t('trace.export', { format }),
    );
  replace(
    root,
    el('h1', {}, t('lot.heading', { lot: lot.lotNumber })),
    details(lot),
    el(
      'section',
      { class: 'trace', 'aria-labelledby': 'trace-heading' },
      el('h2', { id: 'trace-heading' }, t('trace.heading')),
      el('div', { class: 'trace-controls' }, el('fieldset', {}, el('legend', {}, t('trace.direction')), radios), el('div', { class: 'exports' }, exportButton('CSV'), exportButton('XLSX'), status)),
      traceArea,
    ),
  );

  let cy: cytoscape.Core | null = null;
  signal.addEventListener('abort', () => cy?.destroy());
  const showTrace = async (): Promise<void> => {
    cy?.destroy();
    cy = null;
    replace(traceArea, el('p', {}, t('common.loading')));
    const started = performance.now();
    const { trace } = await gql<{ trace: Trace }>(TRACE_QUERY, { lotId, direction, maxDepth: 25 });
    if (signal.aborted) return;
    const graph = el('div', {
      class: 'trace-graph',
      role: 'img',
      tabindex: '0',
      'aria-label': t('trace.graphLabel', { lots: formatNumber(trace.summary.lotCount), redacted: formatNumber(trace.summary.redactedCount) }),
      'aria-describedby': 'tables-heading',
    });
    replace(traceArea, el('div', { class: 'trace-layout' }, el('div', { class: 'trace-picture' }, legend(), graph), summaryAside(trace)), traceTables(trace));
    cy = drawTrace(graph, trace, (id) => navigate(lotPath(id)));
    graph.addEventListener('keydown', (event) => {
      if (!cy) return;
      const step = 60;
      const moves: Record<string, [number, number]> = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (event.key in moves) cy.panBy({ x: moves[event.key][0], y: moves[event.key][1] });
      else if (event.key === '+' || event.key === '=') cy.zoom({ level: cy.zoom() * 1.2, renderedPosition: { x: graph.clientWidth / 2, y: graph.clientHeight / 2 } });
      else if (event.key === '-') cy.zoom({ level: cy.zoom() / 1.2, renderedPosition: { x: graph.clientWidth / 2, y: graph.clientHeight / 2 } });
      else if (event.key === '0') cy.fit();
      else return;
      event.preventDefault();
    });
    graph.dataset.drawnMs = String(Math.round(performance.now() - started));
    graph.dataset.ready = 'true';
    announce(t('trace.drawn', { lots: formatNumber(trace.summary.lotCount) }));
  };
  await showTrace();
}
