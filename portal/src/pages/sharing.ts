// Sharing settings: what my firm shares with whom (scope x level x grantee, until when), grant and revoke (the
// firm's admin only), a preview of what a grant would open before it is given, and who read my firm's data.
import { el, replace, announce } from '../dom';
import { gql } from '../graphql';
import { formatDate, formatNumber, t, type MessageKey } from '../i18n';
import type { PageContext } from '../router';

const SCOPES = ['TRACE', 'INVENTORY', 'SALES', 'CCP', 'ORDERS'] as const;
const LEVELS = ['DETAIL', 'SUMMARY'] as const;
const ROLES = ['ANCHOR', 'OEM', 'FARM', 'PLANT', 'DISTRIBUTOR', 'RETAILER', 'MARKETER', 'AGENCY'] as const;

interface Grant {
  id: string;
  scope: string;
  level: string;
  toFirmId: string | null;
  toRole: string | null;
  toCluster: boolean;
  until: string | null;
  createdAt: string | null;
  owner?: { id: string; name: string } | null;
}
interface FirmRef { id: string; name: string }
interface PreviewGrantee {
  firmId: string;
  firm: FirmRef | null;
  newRecordsInDetail: number | null;
  lotsInDetailNow: number | null;
  lotsInDetailAfter: number | null;
  lotsInSummaryAfter: number | null;
  sampleLotNumbers: string[];
}
interface Preview { firmCount: number; grantees: PreviewGrantee[] }
interface LogEntry { at: string; accessorFirmId: string; operation: string; recordCount: number }

const GRANT_FIELDS = 'id scope level toFirmId toRole toCluster until createdAt';
const PAGE = `query SharingPage {
  me { firmId roles }
  sharingGrantsGiven { ${GRANT_FIELDS} }
  sharingGrantsReceived { ${GRANT_FIELDS} owner { id name } }
  firms(first: 100) { edges { node { id name } } }
}`;
// the access log is for the firm's admins and auditors only
const LOG = `query SharingAccessLog {
  accessLog(first: 50) { totalCount edges { node { at accessorFirmId operation recordCount } } }
}`;
const PREVIEW = `query SharingPreview($input: SharingGrantInput!) { sharingPreview(input: $input) {
  firmCount grantees { firmId firm { id name } newRecordsInDetail lotsInDetailNow lotsInDetailAfter lotsInSummaryAfter
  sampleLotNumbers } } }`;
const GRANT = `mutation GrantSharing($input: SharingGrantInput!) { grantSharing(input: $input) { id } }`;
const REVOKE = `mutation RevokeSharing($id: ID!) { revokeSharing(id: $id) }`;

interface PageData {
  me: { firmId: string; roles: string[] };
  sharingGrantsGiven: Grant[];
  sharingGrantsReceived: Grant[];
  firms: { edges: { node: FirmRef }[] };
}
interface LogData {
  accessLog: { totalCount: number; edges: { node: LogEntry }[] };
}

/** A scope's or level's name in the current language. */
function named(kind: 'scope' | 'level', value: string): string {
  return t(`${kind}.${value}` as MessageKey);
}

function grantee(grant: Grant, firms: Map<string, string>): string {
  if (grant.toCluster) return t('sharing.cluster');
  if (grant.toRole) return t('sharing.role', { role: grant.toRole });
  return firms.get(grant.toFirmId ?? '') ?? grant.toFirmId ?? '';
}

function table(caption: string, headers: string[], rows: (string | Node)[][], empty: string): HTMLElement {
  if (rows.length === 0) return el('p', { class: 'notice' }, empty);
  return el(
    'table',
    {},
    el('caption', { class: 'visually-hidden' }, caption),
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map((c) => el('td', {}, c))))),
  );
}

function select(id: string, label: string, options: [string, string][]): [HTMLLabelElement, HTMLSelectElement] {
  const control = el('select', { id, name: id }, options.map(([value, text]) => el('option', { value }, text)));
  return [el('label', { for: id }, label), control];
}

export default async function sharing(context: PageContext): Promise<void> {
  const { root, signal } = context;
  replace(root, el('h1', {}, t('sharing.heading')), el('p', {}, t('common.loading')));
  const data = await gql<PageData>(PAGE);
  if (signal.aborted) return;
  const firms = new Map(data.firms.edges.map(({ node }) => [node.id, node.name]));
  const admin = data.me.roles.includes('admin');
  const readsLog = admin || data.me.roles.includes('auditor');
  const logData = readsLog ? await gql<LogData>(LOG) : null;
  if (signal.aborted) return;
  const status = el('p', { role: 'status', class: 'status' });

  const given = table(
    t('sharing.givenHeading'),
    [t('sharing.scope'), t('sharing.level'), t('sharing.grantee'), t('sharing.until'), t('sharing.since'), ...(admin ? [t('sharing.actions')] : [])],
    data.sharingGrantsGiven.map((grant) => [
      named('scope', grant.scope),
      named('level', grant.level),
      grantee(grant, firms),
      grant.until ? formatDate(grant.until) : t('sharing.noEnd'),
      formatDate(grant.createdAt),
      ...(admin
        ? [
            el(
              'button',
              {
                type: 'button',
                'data-grant': grant.id,
                onclick: async () => {
                  await gql(REVOKE, { id: grant.id });
                  announce(t('sharing.revoked'));
                  await sharing(context);
                },
              },
              t('sharing.revoke'),
            ),
          ]
        : []),
    ]),
    t('sharing.noneGiven'),
  );

  const received = table(
    t('sharing.receivedHeading'),
    [t('sharing.owner'), t('sharing.scope'), t('sharing.level'), t('sharing.until')],
    data.sharingGrantsReceived.map((grant) => [
      grant.owner?.name ?? '',
      named('scope', grant.scope),
      named('level', grant.level),
      grant.until ? formatDate(grant.until) : t('sharing.noEnd'),
    ]),
    t('sharing.noneReceived'),
  );

  const log = logData === null ? el('p', { class: 'notice' }, t('sharing.logRoles')) : table(
    t('sharing.logHeading'),
    [t('sharing.when'), t('sharing.reader'), t('sharing.operation'), t('sharing.records')],
    logData.accessLog.edges.map(({ node }) => [
      formatDate(node.at),
      firms.get(node.accessorFirmId) ?? node.accessorFirmId,
      node.operation,
      formatNumber(node.recordCount),
    ]),
    t('sharing.noReads'),
  );

  replace(
    root,
    el('h1', {}, t('sharing.heading')),
    el('p', {}, t('sharing.intro')),
    status,
    el('section', { 'aria-labelledby': 'given' }, el('h2', { id: 'given' }, t('sharing.givenHeading')), given),
    admin ? grantForm(context, data, firms, status) : el('p', { class: 'notice' }, t('sharing.adminOnly')),
    el('section', { 'aria-labelledby': 'received' }, el('h2', { id: 'received' }, t('sharing.receivedHeading')), received),
    el(
      'section',
      { 'aria-labelledby': 'log' },
      el('h2', { id: 'log' }, t('sharing.logHeading')),
      logData && el('p', {}, t('sharing.logTotal', { count: formatNumber(logData.accessLog.totalCount) })),
      log,
    ),
  );
}

function grantForm(context: PageContext, data: PageData, firms: Map<string, string>, status: HTMLElement): HTMLElement {
  const [scopeLabel, scope] = select('share-scope', t('sharing.scope'), SCOPES.map((s) => [s, named('scope', s)]));
  const [levelLabel, level] = select('share-level', t('sharing.level'), LEVELS.map((l) => [l, named('level', l)]));
  const [kindLabel, kind] = select('share-kind', t('sharing.granteeKind'), [
    ['firm', t('sharing.kindFirm')],
    ['role', t('sharing.kindRole')],
    ['cluster', t('sharing.cluster')],
  ]);
  const others = [...firms.entries()].filter(([id]) => id !== data.me.firmId);
  const [firmLabel, firm] = select('share-firm', t('sharing.firm'), others.map(([id, name]) => [id, name]));
  const [roleLabel, role] = select('share-role', t('sharing.roleLabel'), ROLES.map((r) => [r, r]));
  const untilLabel = el('label', { for: 'share-until' }, t('sharing.untilLabel'));
  const until = el('input', { id: 'share-until', name: 'share-until', type: 'date' });
  const preview = el('div', { class: 'preview', 'aria-live': 'polite' });
  const grantButton = el('button', { type: 'button', class: 'primary', disabled: true }, t('sharing.grant'));

  const input = (): Record<string, unknown> => {
    const value: Record<string, unknown> = { scope: scope.value, level: level.value };
    if (kind.value === 'firm') value.toFirmId = firm.value;
    else if (kind.value === 'role') value.toRole = role.value;
    else value.toCluster = true;
    if (until.value) value.until = new Date(`${until.value}T23:59:59+09:00`).toISOString();
    return value;
  };
  const changed = (): void => {
    grantButton.disabled = true; // a grant is given only after its preview was seen
    replace(preview);
  };
  for (const control of [scope, level, kind, firm, role, until]) control.addEventListener('change', changed);

  const previewButton = el(
    'button',
    {
      type: 'button',
      onclick: async () => {
        try {
          const answer = await gql<{ sharingPreview: Preview }>(PREVIEW, { input: input() });
          drawPreview(preview, answer.sharingPreview);
          grantButton.disabled = false;
        } catch (error) {
          replace(preview, el('p', { role: 'alert', class: 'error' }, String((error as Error).message)));
        }
      },
    },
    t('sharing.preview'),
  );
  grantButton.addEventListener('click', async () => {
    try {
      await gql(GRANT, { input: input() });
      announce(t('sharing.granted'));
      await sharing(context);
    } catch (error) {
      status.textContent = String((error as Error).message);
    }
  });
  return el(
    'section',
    { 'aria-labelledby': 'share' },
    el('h2', { id: 'share' }, t('sharing.shareHeading')),
    el('div', { class: 'form-grid' }, scopeLabel, scope, levelLabel, level, kindLabel, kind, firmLabel, firm, roleLabel, role, untilLabel, until),
    el('p', {}, previewButton, ' ', grantButton),
    preview,
  );
}

function drawPreview(target: HTMLElement, preview: Preview): void {
  replace(
    target,
    el('h3', {}, t('sharing.previewHeading', { count: formatNumber(preview.firmCount) })),
    table(
      t('sharing.previewHeading', { count: formatNumber(preview.firmCount) }),
      [t('sharing.firm'), t('sharing.lotsNow'), t('sharing.lotsAfter'), t('sharing.lotsSummary'), t('sharing.newRecords'), t('sharing.sample')],
      preview.grantees.map((g) => [
        g.firm?.name ?? g.firmId,
        g.lotsInDetailNow === null ? '–' : formatNumber(g.lotsInDetailNow),
        g.lotsInDetailAfter === null ? '–' : formatNumber(g.lotsInDetailAfter),
        g.lotsInSummaryAfter === null ? '–' : formatNumber(g.lotsInSummaryAfter),
        g.newRecordsInDetail === null ? t('sharing.totalsOnly') : formatNumber(g.newRecordsInDetail),
        g.sampleLotNumbers.join(', '),
      ]),
      t('sharing.reachesNobody'),
    ),
  );
}
