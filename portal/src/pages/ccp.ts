// One CCP: its readings as a chart with the critical limits drawn and each deviation's window shaded (uPlot:
// a small canvas time-series chart that draws thousands of points at once; the hub downsamples to maxPoints),
// the same facts in text for screen readers, its deviations, and the corrective-action form.
import './operations.css';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { announce, el, replace } from '../dom';
import { GraphQLFailure, gql } from '../graphql';
import { formatDate, formatNumber, t } from '../i18n';
import type { PageContext } from '../router';
import { limits } from './food-safety';

const CCP = `query CcpPage($id: ID!, $from: DateTime!, $to: DateTime!) {
  me { firmId roles }
  ccp(id: $id) {
    id code name hazard limitLow limitHigh unit level site { gln name firm { id } }
    readings(from: $from, to: $to, maxPoints: 600) { at value min max count }
    deviations(first: 50) {
      edges { node { id kind status openedAt closedAt windowStart windowEnd worstValue
        lots { id lotNumber } correctiveActions { action takenAt by } } }
    }
  }
}`;
const CORRECT = `mutation CorrectiveAction($input: CorrectiveActionInput!) {
  recordCorrectiveAction(input: $input) { id status }
}`;

// colours the chart draws with, also used by the legend; contrast checked against white
export const COLOURS = { value: '#1f5c31', limit: '#b3261e', deviation: 'rgba(107, 42, 140, 0.18)' } as const;

interface Reading {
  at: string;
  value: number;
  min: number | null;
  max: number | null;
  count: number;
}
interface Deviation {
  id: string;
  kind: string;
  status: string;
  openedAt: string;
  closedAt: string | null;
  windowStart: string;
  windowEnd: string | null;
  worstValue: number | null;
  lots: { id: string; lotNumber: string }[];
  correctiveActions: { action: string; takenAt: string; by: string }[];
}
interface CcpData {
  id: string;
  code: string;
  name: string;
  hazard: string | null;
  limitLow: number | null;
  limitHigh: number | null;
  unit: string;
  level: string;
  site: { gln: string; name: string; firm: { id: string } | null } | null;
  readings: Reading[];
  deviations: { edges: { node: Deviation }[] };
}

const RANGES: [string, number][] = [
  ['1h', 3600],
  ['24h', 86400],
  ['7d', 7 * 86400],
  ['30d', 30 * 86400],
];

function seconds(iso: string): number {
  return new Date(iso).getTime() / 1000;
}

/** The chart: readings, the limits as lines, deviations' windows shaded (drawn under the lines). */
function chart(ccp: CcpData, deviations: Deviation[], from: number, to: number, width: number): HTMLElement {
  const holder = el('div', { class: 'chart', 'aria-hidden': 'true' });
  const xs = ccp.readings.map((r) => seconds(r.at));
  const constant = (value: number | null): (number | null)[] => xs.map(() => value);
  const series: uPlot.Series[] = [
    {},
    { label: t('safety.chart.value', { unit: ccp.unit }), stroke: COLOURS.value, width: 2, points: { show: xs.length < 60 } },
  ];
  const data: (number | null)[][] = [xs, ccp.readings.map((r) => r.value)];
  if (ccp.limitLow !== null) {
    series.push({ label: t('safety.chart.low', { value: formatNumber(ccp.limitLow) }), stroke: COLOURS.limit, width: 2, dash: [8, 4], points: { show: false } });
    data.push(constant(ccp.limitLow));
  }
  if (ccp.limitHigh !== null) {
    series.push({ label: t('safety.chart.high', { value: formatNumber(ccp.limitHigh) }), stroke: COLOURS.limit, width: 2, dash: [8, 4], points: { show: false } });
    data.push(constant(ccp.limitHigh));
  }
  const values = ccp.readings.flatMap((r) => [r.min ?? r.value, r.max ?? r.value]);
  const bounds = [...values, ...(ccp.limitLow !== null ? [ccp.limitLow] : []), ...(ccp.limitHigh !== null ? [ccp.limitHigh] : [])];
  const low = Math.min(...bounds);
  const high = Math.max(...bounds);
  const pad = (high - low) * 0.1 || 1;
  const options: uPlot.Options = {
    width,
    height: 320,
    series,
    scales: { x: { time: true, min: from, max: to }, y: { range: [low - pad, high + pad] } },
    axes: [{}, { label: ccp.unit }],
    legend: { show: false }, // the legend is drawn in the page, where it is text for everyone
    hooks: {
      drawClear: [
        (u) => {
          // each deviation's window, from its start to its end (or the chart's end while it is still open)
          const ctx = u.ctx;
          ctx.save();
          ctx.fillStyle = COLOURS.deviation;
          for (const deviation of deviations) {
            const start = Math.max(seconds(deviation.windowStart), from);
            const end = Math.min(deviation.windowEnd ? seconds(deviation.windowEnd) : to, to);
            if (end < from || start > to) continue;
            const x0 = u.valToPos(start, 'x', true);
            const x1 = Math.max(u.valToPos(end, 'x', true), x0 + 2);
            ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
          }
          ctx.restore();
        },
      ],
    },
  };
  new uPlot(options, data as uPlot.AlignedData, holder);
  return holder;
}

function legend(ccp: CcpData, deviationCount: number): HTMLElement {
  const swatch = (colour: string, dashed = false): HTMLElement =>
    el('span', { class: `swatch${dashed ? ' dashed' : ''}`, 'data-colour': colour, 'aria-hidden': 'true' });
  const item = (node: HTMLElement, text: string): HTMLElement => el('li', {}, node, ' ', text);
  return el(
    'ul',
    { class: 'legend' },
    item(swatch('value'), t('safety.chart.value', { unit: ccp.unit })),
    ccp.limitLow !== null ? item(swatch('limit', true), t('safety.chart.low', { value: formatNumber(ccp.limitLow) })) : null,
    ccp.limitHigh !== null ? item(swatch('limit', true), t('safety.chart.high', { value: formatNumber(ccp.limitHigh) })) : null,
    item(swatch('deviation'), t('safety.chart.deviations', { count: deviationCount })),
  );
}

/** The chart's facts as text (the canvas is hidden from assistive technology). */
function describe(ccp: CcpData, shown: Deviation[]): HTMLElement {
  const values = ccp.readings.map((r) => r.value);
  const outside = ccp.readings.filter((r) => (ccp.limitLow !== null && (r.min ?? r.value) < ccp.limitLow) || (ccp.limitHigh !== null && (r.max ?? r.value) > ccp.limitHigh)).length;
  return el(
    'p',
    { class: 'chart-summary', id: 'chart-summary' },
    values.length === 0
      ? t('safety.chart.noReadings')
      : t('safety.chart.summary', {
          points: formatNumber(values.length),
          min: formatNumber(Math.min(...values)),
          max: formatNumber(Math.max(...values)),
          unit: ccp.unit,
          limits: limits(ccp),
          outside: formatNumber(outside),
          deviations: formatNumber(shown.length),
        }),
  );
}

function correctiveForm(deviation: Deviation, onDone: () => void): HTMLElement {
  const id = `ca-${deviation.id}`.replace(/[^A-Za-z0-9_-]/g, '-');
  const action = el('textarea', { id: `${id}-action`, name: 'action', rows: 2, required: true, maxlength: 2000 }) as HTMLTextAreaElement;
  const taken = el('input', { id: `${id}-taken`, name: 'takenAt', type: 'datetime-local', required: true }) as HTMLInputElement;
  const now = new Date();
  taken.value = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const closes = el('input', { id: `${id}-closes`, name: 'closes', type: 'checkbox', checked: true }) as HTMLInputElement;
  const status = el('div', { role: 'status', 'aria-live': 'polite' });
  const form = el(
    'form',
    {
      class: 'corrective',
      'aria-label': t('safety.ca.heading'),
      onsubmit: async (event: Event) => {
        event.preventDefault();
        if (!form.reportValidity()) return;
        try {
          await gql(CORRECT, { input: { deviationId: deviation.id, action: action.value.trim(), takenAt: new Date(taken.value).toISOString(), closes: closes.checked } });
          announce(t('safety.ca.saved'));
          onDone();
        } catch (error) {
          const message = error instanceof GraphQLFailure ? error.message : String(error);
          replace(status, el('p', { class: 'error', role: 'alert' }, t('error.generic', { message })));
        }
      },
    },
    el('div', { class: 'field' }, el('label', { for: `${id}-action` }, t('safety.ca.action')), action),
    el('div', { class: 'field' }, el('label', { for: `${id}-taken` }, t('safety.ca.takenAt')), taken),
    el('div', { class: 'field checkbox' }, closes, el('label', { for: `${id}-closes` }, t('safety.ca.closes'))),
    el('button', { type: 'submit', class: 'primary' }, t('safety.ca.record')),
    status,
  );
  return form;
}

function deviationList(ccp: CcpData, deviations: Deviation[], mayAct: boolean, redraw: () => void): HTMLElement {
  if (deviations.length === 0) return el('p', {}, t('safety.noDeviations'));
  return el(
    'ul',
    { class: 'deviations' },
    deviations.map((d) =>
      el(
        'li',
        { id: `deviation-${d.id}`, 'data-status': d.status },
        el('h3', {}, `${d.kind === 'MISSED_MONITORING' ? t('safety.kind.MISSED_MONITORING') : t('safety.kind.OUT_OF_LIMITS')} — ${d.status === 'OPEN' ? t('safety.open') : t('safety.closed')}`),
        el(
          'p',
          {},
          t('safety.window', { start: formatDate(d.windowStart), end: d.windowEnd ? formatDate(d.windowEnd) : t('safety.ongoing') }),
          d.worstValue !== null ? ` · ${t('safety.worst')} ${formatNumber(d.worstValue)} ${ccp.unit}` : '',
        ),
        d.lots.length ? el('p', {}, t('safety.lots'), ' ', d.lots.map((lot) => lot.lotNumber).join(', ')) : null,
        d.correctiveActions.length
          ? el('ul', { class: 'actions-taken' }, d.correctiveActions.map((a) => el('li', {}, `${formatDate(a.takenAt)} — ${a.action} (${a.by})`)))
          : null,
        d.status === 'OPEN' && mayAct ? correctiveForm(d, redraw) : null,
      ),
    ),
  );
}

export default async function ccpPage(context: PageContext): Promise<void> {
  const { root, params, query } = context;
  replace(root, el('h1', {}, t('nav.foodSafety')), el('p', {}, t('common.loading')));
  const range = RANGES.find(([name]) => name === query.get('range'))?.[1] ?? 86400;
  const to = query.get('to') ? seconds(query.get('to') as string) : Date.now() / 1000;
  const from = query.get('from') ? seconds(query.get('from') as string) : to - range;
  const data = await gql<{ me: { firmId: string; roles: string[] }; ccp: CcpData | null }>(CCP, { id: params.id, from: new Date(from * 1000).toISOString(), to: new Date(to * 1000).toISOString() });
  if (context.signal.aborted) return;
  const ccp = data.ccp;
  if (!ccp) {
    replace(root, el('h1', {}, t('nav.foodSafety')), el('p', { role: 'alert' }, t('safety.notFound')));
    return;
  }
  const deviations = ccp.deviations.edges.map((edge) => edge.node);
  const shown = deviations.filter((d) => seconds(d.windowStart) <= to && (d.windowEnd === null || seconds(d.windowEnd) >= from));
  const detail = ccp.level === 'DETAIL';
  // corrective actions are the plant's own (its admin or editor); the hub decides again when one is recorded
  const mayAct = ccp.site?.firm?.id === data.me.firmId && data.me.roles.some((role) => role === 'admin' || role === 'editor');
  const ranges = el(
    'nav',
    { 'aria-label': t('safety.range') },
    el(
      'ul',
      { class: 'ranges' },
      RANGES.map(([name]) => el('li', {}, el('a', { href: `/food-safety/ccp/${encodeURIComponent(ccp.id)}?range=${name}`, 'data-route': true, 'aria-current': query.get('range') === name ? 'true' : null }, t('safety.last', { range: name })))),
    ),
  );
  const width = Math.max(320, Math.min(root.clientWidth || 900, 1100));
  replace(
    root,
    el('h1', {}, `${ccp.code} ${ccp.name}`),
    el(
      'dl',
      { class: 'figures' },
      el('dt', {}, t('safety.site')),
      el('dd', {}, ccp.site?.name ?? ''),
      el('dt', {}, t('safety.hazard')),
      el('dd', {}, ccp.hazard ?? ''),
      el('dt', {}, t('safety.limits')),
      el('dd', {}, limits(ccp)),
    ),
    detail
      ? el(
          'figure',
          { class: 'ccp-chart', 'aria-labelledby': 'chart-caption', 'aria-describedby': 'chart-summary' },
          el('figcaption', { id: 'chart-caption' }, t('safety.chart.caption', { from: formatDate(new Date(from * 1000).toISOString()), to: formatDate(new Date(to * 1000).toISOString()) })),
          ranges,
          chart(ccp, shown, from, to, width),
          legend(ccp, shown.length),
          describe(ccp, shown),
        )
      : el('p', { class: 'notice', role: 'note' }, t('safety.summaryOnly')),
    detail
      ? el('section', { 'aria-labelledby': 'deviations-heading' }, el('h2', { id: 'deviations-heading' }, t('safety.deviations')), deviationList(ccp, deviations, mayAct, () => void ccpPage(context)))
      : null,
  );
}
