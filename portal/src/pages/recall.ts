// One recall. Its coordinator and the agency get the desk: consignees, who was notified and who acknowledged,
// updated live as it happens (recallActivity over graphql-ws), and the closing. A firm the recall reaches gets
// the notice: what is recalled, its own affected lots, and the acknowledge button.
import './operations.css';
import { announce, el, replace } from '../dom';
import { GraphQLFailure, gql, subscribe } from '../graphql';
import { formatDate, formatNumber, localName, t, type MessageKey } from '../i18n';
import type { PageContext } from '../router';

const RECALL = `query RecallPage($id: ID!) {
  me { firmId roles }
  recall(id: $id) {
    id reason recallClass status hold declaredAt closedAt lotIds affectedLotCount heldLotCount
    coordinator { id name nameKo }
    consignees { firmId firm { id name nameKo } lotCount notifiedAt acknowledged acknowledgedAt note }
    acknowledgements { firm { id name nameKo } acknowledgedAt note }
    affectedLots(first: 50, direction: DOWNSTREAM) {
      totalCount
      edges { node { id depth held recalled redacted ownerRole lot { id lotNumber quantity uom status owner { id name nameKo } product { name nameKo } } } }
    }
  }
}`;
const ACTIVITY = `subscription RecallDesk($id: ID!) {
  recallActivity(recallId: $id) { kind at firmIds firms { id name nameKo } }
}`;
const ACKNOWLEDGE = `mutation Acknowledge($id: ID!, $note: String) { acknowledgeRecall(id: $id, note: $note) { id } }`;
const CLOSE = `mutation CloseRecall($id: ID!) { closeRecall(id: $id) { id status } }`;

interface Named {
  id: string;
  name: string;
  nameKo: string | null;
}
interface Consignee {
  firmId: string;
  firm: Named | null;
  lotCount: number;
  notifiedAt: string | null;
  acknowledged: boolean;
  acknowledgedAt: string | null;
  note: string | null;
}
interface AffectedLot {
  id: string;
  depth: number;
  held: boolean;
  recalled: boolean;
  redacted: boolean;
  ownerRole: string | null;
  lot: { id: string; lotNumber: string; quantity: number; uom: string; status: string; owner: Named | null; product: { name: string; nameKo: string | null } | null } | null;
}
interface RecallData {
  id: string;
  reason: string;
  recallClass: string;
  status: string;
  hold: string | null;
  declaredAt: string | null;
  closedAt: string | null;
  lotIds: string[];
  affectedLotCount: number;
  heldLotCount: number;
  coordinator: Named | null;
  consignees: Consignee[];
  acknowledgements: { firm: Named | null; acknowledgedAt: string; note: string | null }[];
  affectedLots: { totalCount: number; edges: { node: AffectedLot }[] };
}
interface Activity {
  kind: string;
  at: string;
  firmIds: string[];
  firms: Named[];
}

const ACTIVITY_LABELS: Record<string, MessageKey> = {
  NOTIFIED: 'recall.activity.NOTIFIED',
  ACKNOWLEDGED: 'recall.activity.ACKNOWLEDGED',
  DISPOSITION_REPORTED: 'recall.activity.DISPOSITION_REPORTED',
  LOTS_JOINED: 'recall.activity.LOTS_JOINED',
  CLOSED: 'recall.activity.CLOSED',
};

function summary(recall: RecallData): HTMLElement {
  return el(
    'dl',
    { class: 'figures' },
    [
      [t('recall.reason'), recall.reason],
      [t('recall.classLabel'), t('recall.class', { value: recall.recallClass })],
      [t('recall.status'), recall.status === 'OPEN' ? t('recall.statusValue.OPEN') : t('recall.statusValue.CLOSED')],
      [t('recall.coordinator'), recall.coordinator ? localName(recall.coordinator) : ''],
      [t('recall.declaredAt'), formatDate(recall.declaredAt)],
      [t('recall.lots'), recall.lotIds.join(', ')],
      [t('recall.held'), formatNumber(recall.heldLotCount)],
    ].flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]),
  );
}

function consigneeTable(consignees: Consignee[]): HTMLElement {
  if (consignees.length === 0) return el('p', {}, t('recall.desk.noConsignees'));
  return el(
    'table',
    { class: 'consignees' },
    el('caption', {}, t('recall.desk.consignees')),
    el(
      'thead',
      {},
      el('tr', {}, [t('recall.desk.firm'), t('recall.desk.lots'), t('recall.desk.notified'), t('recall.desk.acknowledged'), t('recall.desk.note')].map((h) => el('th', { scope: 'col' }, h))),
    ),
    el(
      'tbody',
      {},
      consignees.map((c) =>
        el(
          'tr',
          { 'data-firm': c.firmId, class: c.acknowledged ? 'acknowledged' : null },
          el('th', { scope: 'row' }, c.firm ? localName(c.firm) : c.firmId),
          el('td', {}, formatNumber(c.lotCount)),
          el('td', {}, c.notifiedAt ? formatDate(c.notifiedAt) : t('recall.desk.notYet')),
          el('td', {}, c.acknowledgedAt ? formatDate(c.acknowledgedAt) : t('recall.desk.notYet')),
          el('td', {}, c.note ?? ''),
        ),
      ),
    ),
  );
}

function lotsTable(recall: RecallData, caption: string): HTMLElement {
  const lots = recall.affectedLots.edges.map((edge) => edge.node);
  return el(
    'table',
    { class: 'affected' },
    el('caption', {}, caption),
    el(
      'thead',
      {},
      el('tr', {}, [t('recall.lot'), t('recall.product'), t('recall.owner'), t('recall.quantity'), t('recall.lotStatus')].map((h) => el('th', { scope: 'col' }, h))),
    ),
    el(
      'tbody',
      {},
      lots.map((row) =>
        row.lot
          ? el(
              'tr',
              {},
              el('th', { scope: 'row' }, row.lot.lotNumber),
              el('td', {}, row.lot.product ? localName(row.lot.product) : ''),
              el('td', {}, row.lot.owner ? localName(row.lot.owner) : ''),
              el('td', {}, `${formatNumber(row.lot.quantity)} ${row.lot.uom}`),
              el('td', {}, row.lot.status),
            )
          : el('tr', { class: 'redacted' }, el('th', { scope: 'row' }, t('recall.redacted')), el('td', { colspan: 4 }, t('recall.redactedOwner', { role: row.ownerRole ?? '' }))),
      ),
    ),
  );
}

/** The desk: figures, consignees and the live activity log; redrawn from the hub on each activity. */
async function desk(
  context: PageContext,
  recall: RecallData,
  mayClose: boolean,
  reload: () => Promise<RecallData | null>,
): Promise<void> {
  const { root } = context;
  const log = el('ol', { class: 'activity', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const consignees = el('div', { class: 'consignee-table' }, consigneeTable(recall.consignees));
  const progress = el('p', { class: 'effectiveness' });
  const live = el('p', { class: 'live-state', role: 'status' }, t('recall.desk.connecting'));
  const status = el('div', { role: 'status' });
  const drawProgress = (r: RecallData): void => {
    const acknowledged = r.consignees.filter((c) => c.acknowledged).length;
    const notified = r.consignees.filter((c) => c.notifiedAt).length;
    replace(progress, t('recall.desk.progress', { acknowledged, notified, total: r.consignees.length }));
  };
  drawProgress(recall);
  const closeButton =
    recall.status === 'OPEN' && mayClose
      ? el(
          'button',
          {
            type: 'button',
            onclick: async () => {
              if (!window.confirm(t('recall.desk.closeConfirm'))) return;
              try {
                await gql(CLOSE, { id: recall.id });
              } catch (error) {
                replace(status, el('p', { class: 'error', role: 'alert' }, t('recall.failed', { message: (error as Error).message })));
              }
            },
          },
          t('recall.desk.close'),
        )
      : null;

  replace(
    root,
    el('h1', {}, t('recall.desk.heading', { reason: recall.reason })),
    summary(recall),
    el('section', { 'aria-labelledby': 'desk-consignees' }, el('h2', { id: 'desk-consignees' }, t('recall.desk.consignees')), progress, consignees),
    el('section', { 'aria-labelledby': 'desk-activity' }, el('h2', { id: 'desk-activity' }, t('recall.desk.activity')), live, log),
    el('div', { class: 'actions' }, closeButton, status),
    lotsTable(recall, t('recall.desk.affected', { count: recall.affectedLots.totalCount })),
  );

  const stop = subscribe<{ recallActivity: Activity }>(
    ACTIVITY,
    { id: recall.id },
    (data) => {
      const activity = data.recallActivity;
      if (activity.kind === 'WATCHING') {
        // the hub listens for this desk from now on; what happened before it is read again below
        replace(live, t('recall.desk.live'));
        live.setAttribute('data-live', 'true');
      } else {
        const names = activity.firms.map((f) => localName(f)).join(', ');
        const text = t(ACTIVITY_LABELS[activity.kind] ?? 'recall.activity.OTHER', { firms: names, time: formatDate(activity.at) });
        log.prepend(el('li', { 'data-kind': activity.kind }, text));
      }
      void reload().then((fresh) => {
        if (!fresh || context.signal.aborted) return;
        replace(consignees, consigneeTable(fresh.consignees));
        drawProgress(fresh);
        if (fresh.status !== 'OPEN') closeButton?.remove();
      });
    },
    (error: GraphQLFailure) => {
      replace(live, el('span', { class: 'error' }, t('recall.desk.liveFailed', { message: error.message })));
    },
  );
  context.signal.addEventListener('abort', stop);
}

/** The notice a firm the recall reaches sees: the recall, its own lots, and the acknowledgement. */
function notice(context: PageContext, recall: RecallData, firmId: string, canAnswer: boolean): void {
  const mine = recall.acknowledgements.find((a) => a.firm?.id === firmId) ?? null;
  const status = el('div', { role: 'status', 'aria-live': 'polite' });
  const note = el('textarea', { id: 'ack-note', name: 'note', rows: 2, maxlength: 1000 }) as HTMLTextAreaElement;
  const acknowledged = (at: string, text: string | null): HTMLElement =>
    el('p', { class: 'acknowledged' }, t('recall.notice.acknowledgedAt', { time: formatDate(at) }), text ? ` — ${text}` : '');
  const form =
    mine || recall.status !== 'OPEN'
      ? null
      : el(
          'form',
          {
            class: 'acknowledge',
            'aria-labelledby': 'ack-heading',
            onsubmit: async (event: Event) => {
              event.preventDefault();
              try {
                await gql(ACKNOWLEDGE, { id: recall.id, note: note.value.trim() || null });
                form?.replaceWith(acknowledged(new Date().toISOString(), note.value.trim() || null));
                announce(t('recall.notice.thanks'));
                replace(status, t('recall.notice.thanks'));
              } catch (error) {
                const message = error instanceof GraphQLFailure ? error.message : String(error);
                replace(status, el('p', { class: 'error', role: 'alert' }, t('recall.failed', { message })));
              }
            },
          },
          el('h2', { id: 'ack-heading' }, t('recall.notice.ackHeading')),
          el('p', {}, t('recall.notice.ackExplain')),
          el('div', { class: 'field' }, el('label', { for: 'ack-note' }, t('recall.notice.note')), note),
          el('button', { type: 'submit', class: 'primary', disabled: !canAnswer }, t('recall.notice.acknowledge')),
          canAnswer ? null : el('p', { class: 'hint' }, t('recall.notice.needsRole')),
        );
  replace(
    context.root,
    el('h1', {}, t('recall.notice.heading', { reason: recall.reason })),
    el('p', { class: 'notice-lead', role: 'note' }, t('recall.notice.lead', { coordinator: recall.coordinator ? localName(recall.coordinator) : '' })),
    summary(recall),
    mine ? acknowledged(mine.acknowledgedAt, mine.note) : form,
    status,
    lotsTable(recall, t('recall.notice.yourLots')),
  );
}

export default async function recallPage(context: PageContext): Promise<void> {
  const { root, params } = context;
  replace(root, el('h1', {}, t('nav.recalls')), el('p', {}, t('common.loading')));
  const load = async (): Promise<{ me: { firmId: string; roles: string[] }; recall: RecallData | null }> =>
    gql<{ me: { firmId: string; roles: string[] }; recall: RecallData | null }>(RECALL, { id: params.id });
  const data = await load();
  if (context.signal.aborted) return;
  if (!data.recall) {
    replace(root, el('h1', {}, t('nav.recalls')), el('p', { role: 'alert' }, t('recall.notFound')));
    return;
  }
  const coordinator = data.recall.coordinator?.id === data.me.firmId;
  // the coordinator's firm and the agency read the recall's answers in full (the hub decides who that is)
  if (coordinator || data.recall.consignees.length > 0) {
    const mayClose = coordinator && data.me.roles.includes('recall_coordinator');
    await desk(context, data.recall, mayClose, async () => (await load()).recall);
  } else {
    const canAnswer = data.me.roles.some((role) => ['admin', 'editor', 'recall_coordinator'].includes(role));
    notice(context, data.recall, data.me.firmId, canAnswer);
  }
}
