// The recall desk's front page: the recalls the firm may see, declaring one from a lot, and the mock recall drill
// (the coordinator's and the agency's); everyone else sees the recalls that reach their stock, each a link to its
// notice.
import './operations.css';
import { el, announce, replace } from '../dom';
import { GraphQLFailure, gql } from '../graphql';
import { formatDate, formatNumber, localName, t, type MessageKey } from '../i18n';
import type { PageContext } from '../router';

const LIST = `query RecallList($open: Boolean) {
  me { firmId roles }
  recalls(open: $open, first: 50) {
    totalCount
    edges { node { id reason recallClass status declaredAt heldLotCount lotIds coordinator { id name nameKo } } }
  }
}`;
const DECLARE = `mutation DeclareRecall($input: RecallInput!) { declareRecall(input: $input) { id } }`;
const MOCK = `mutation MockRecall($input: RecallInput!) {
  mockRecall(input: $input) {
    affectedLotCount upstreamLotCount downstreamLotCount hiddenLotCount firmCount totalMillis
    steps { name millis rowCount }
    exportReadiness { ready eventCount incompleteEventCount }
  }
}`;

const STEP_LABELS: Record<string, MessageKey> = {
  traceUpstream: 'recall.step.traceUpstream',
  traceDownstream: 'recall.step.traceDownstream',
  impactAggregation: 'recall.step.impactAggregation',
  exportReadiness: 'recall.step.exportReadiness',
};

interface RecallRow {
  id: string;
  reason: string;
  recallClass: string;
  status: string;
  declaredAt: string | null;
  heldLotCount: number;
  lotIds: string[];
  coordinator: { id: string; name: string; nameKo: string | null } | null;
}
interface MockReport {
  affectedLotCount: number;
  upstreamLotCount: number;
  downstreamLotCount: number;
  hiddenLotCount: number;
  firmCount: number;
  totalMillis: number;
  steps: { name: string; millis: number; rowCount: number }[];
  exportReadiness: { ready: boolean; eventCount: number; incompleteEventCount: number };
}

/** Whether the person may declare recalls and run drills (the hub decides again on every call). */
export function coordinates(roles: string[]): boolean {
  return roles.includes('recall_coordinator');
}

function field(id: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
  return el(
    'div',
    { class: 'field' },
    el('label', { for: id }, label),
    control,
    hint ? el('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
  );
}

function lotIdsOf(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter(Boolean);
}

function declareForm(context: PageContext, initialLot: string): HTMLElement {
  const lots = el('textarea', {
    id: 'recall-lots',
    name: 'lots',
    rows: 2,
    required: true,
    'aria-describedby': 'recall-lots-hint',
  }) as HTMLTextAreaElement;
  lots.value = initialLot;
  const reason = el('input', { id: 'recall-reason', name: 'reason', type: 'text', required: true, maxlength: 500 }) as HTMLInputElement;
  const recallClass = el(
    'select',
    { id: 'recall-class', name: 'recallClass' },
    ['I', 'II', 'III'].map((value) => el('option', { value }, t('recall.class', { value }))),
  ) as HTMLSelectElement;
  const hold = el(
    'select',
    { id: 'recall-hold', name: 'hold' },
    el('option', { value: 'ON_HOLD' }, t('recall.hold.ON_HOLD')),
    el('option', { value: 'RECALLED' }, t('recall.hold.RECALLED')),
  ) as HTMLSelectElement;
  const status = el('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const report = el('div', { class: 'mock-report' });

  const input = (): Record<string, unknown> => ({
    lotIds: lotIdsOf(lots.value),
    reason: reason.value,
    recallClass: recallClass.value,
    hold: hold.value,
  });
  const failed = (error: unknown): void => {
    const message = error instanceof GraphQLFailure ? error.message : String(error);
    replace(status, el('p', { class: 'error', role: 'alert' }, t('recall.failed', { message })));
  };

  const form = el(
    'form',
    {
      class: 'declare',
      'aria-labelledby': 'declare-heading',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        if (!form.reportValidity()) return;
        replace(status, t('common.loading'));
        try {
          const { declareRecall } = await gql<{ declareRecall: { id: string } }>(DECLARE, { input: input() });
          announce(t('recall.declared'));
          context.navigate(`/recalls/${encodeURIComponent(declareRecall.id)}`);
        } catch (error) {
          failed(error);
        }
      },
    },
    el('h2', { id: 'declare-heading' }, t('recall.declareHeading')),
    field('recall-lots', t('recall.lots'), lots, t('recall.lotsHint')),
    field('recall-reason', t('recall.reason'), reason),
    field('recall-class', t('recall.classLabel'), recallClass),
    field('recall-hold', t('recall.holdLabel'), hold),
    el(
      'div',
      { class: 'actions' },
      el('button', { type: 'submit', class: 'primary' }, t('recall.declare')),
      el(
        'button',
        {
          type: 'button',
          onclick: async () => {
            if (!form.reportValidity()) return;
            replace(status, t('common.loading'));
            replace(report);
            try {
              const { mockRecall } = await gql<{ mockRecall: MockReport }>(MOCK, { input: input() });
              replace(status);
              replace(report, mockReport(mockRecall));
              announce(t('recall.mock.done', { millis: formatNumber(Math.round(mockRecall.totalMillis)) }));
            } catch (error) {
              failed(error);
            }
          },
        },
        t('recall.mock.run'),
      ),
    ),
    status,
    report,
  );
  return form;
}

function mockReport(report: MockReport): HTMLElement {
  return el(
    'section',
    { class: 'mock', 'aria-labelledby': 'mock-heading' },
    el('h3', { id: 'mock-heading' }, t('recall.mock.heading')),
    el('p', {}, t('recall.mock.note')),
    el(
      'dl',
      { class: 'figures' },
      [
        [t('recall.mock.affected'), report.affectedLotCount],
        [t('recall.mock.downstream'), report.downstreamLotCount],
        [t('recall.mock.upstream'), report.upstreamLotCount],
        [t('recall.mock.hidden'), report.hiddenLotCount],
        [t('recall.mock.firms'), report.firmCount],
        [t('recall.mock.export'), report.exportReadiness.ready ? t('recall.mock.ready') : t('recall.mock.incomplete', { count: report.exportReadiness.incompleteEventCount })],
      ].flatMap(([label, value]) => [el('dt', {}, String(label)), el('dd', {}, typeof value === 'number' ? formatNumber(value) : String(value))]),
    ),
    el(
      'table',
      { class: 'timings' },
      el('caption', {}, t('recall.mock.timings')),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('recall.mock.step')), el('th', { scope: 'col' }, t('recall.mock.millis')), el('th', { scope: 'col' }, t('recall.mock.rows')))),
      el(
        'tbody',
        {},
        report.steps.map((step) =>
          el('tr', { 'data-step': step.name }, el('th', { scope: 'row' }, STEP_LABELS[step.name] ? t(STEP_LABELS[step.name]) : step.name), el('td', {}, formatNumber(Math.round(step.millis))), el('td', {}, formatNumber(step.rowCount))),
        ),
        el('tr', { class: 'total' }, el('th', { scope: 'row' }, t('recall.mock.total')), el('td', {}, formatNumber(Math.round(report.totalMillis))), el('td', {}, '')),
      ),
    ),
  );
}

function recallTable(rows: RecallRow[]): HTMLElement {
  if (rows.length === 0) return el('p', {}, t('recall.none'));
  return el(
    'table',
    { class: 'recalls' },
    el('caption', { class: 'visually-hidden' }, t('recall.listHeading')),
    el(
      'thead',
      {},
      el('tr', {}, [t('recall.declaredAt'), t('recall.reason'), t('recall.classLabel'), t('recall.status'), t('recall.coordinator'), t('recall.held')].map((h) => el('th', { scope: 'col' }, h))),
    ),
    el(
      'tbody',
      {},
      rows.map((recall) =>
        el(
          'tr',
          {},
          el('td', {}, formatDate(recall.declaredAt)),
          el('td', {}, el('a', { href: `/recalls/${encodeURIComponent(recall.id)}`, 'data-route': true }, recall.reason)),
          el('td', {}, t('recall.class', { value: recall.recallClass })),
          el('td', {}, recall.status === 'OPEN' ? t('recall.statusValue.OPEN') : t('recall.statusValue.CLOSED')),
          el('td', {}, recall.coordinator ? localName(recall.coordinator) : ''),
          el('td', {}, formatNumber(recall.heldLotCount)),
        ),
      ),
    ),
  );
}

export default async function recalls(context: PageContext): Promise<void> {
  const { root, query } = context;
  replace(root, el('h1', {}, t('nav.recalls')), el('p', {}, t('common.loading')));
  const open = query.get('all') === '1' ? null : true;
  const data = await gql<{ me: { firmId: string; roles: string[] }; recalls: { totalCount: number; edges: { node: RecallRow }[] } }>(LIST, { open });
  if (context.signal.aborted) return;
  const toggle = el(
    'a',
    { href: open ? '/recalls?all=1' : '/recalls', 'data-route': true },
    open ? t('recall.showAll') : t('recall.showOpen'),
  );
  replace(
    root,
    el('h1', {}, t('nav.recalls')),
    coordinates(data.me.roles) ? declareForm(context, query.get('lot') ?? '') : null,
    el(
      'section',
      { 'aria-labelledby': 'recall-list-heading' },
      el('h2', { id: 'recall-list-heading' }, open ? t('recall.openHeading') : t('recall.listHeading')),
      el('p', {}, toggle),
      recallTable(data.recalls.edges.map((edge) => edge.node)),
    ),
  );
}
