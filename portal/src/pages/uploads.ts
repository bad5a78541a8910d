// Uploads for small firms: a spreadsheet of lots, transformations and shipments (checked first, every problem
// shown in place on the person's own rows, then imported all or nothing), the template to start from, and an
// EPCIS 2.0 document captured as a job whose progress is followed until it is done.
import './operations.css';
import { announce, el, replace } from '../dom';
import { GraphQLFailure, download } from '../graphql';
import { formatNumber, t } from '../i18n';
import type { PageContext } from '../router';
import { readCsv, readXlsx, type Sheet } from '../features/sheets';

const IMPORT = `mutation ImportSpreadsheet($file: Upload!, $zone: String, $dry: Boolean!) {
  importSpreadsheet(file: $file, timeZone: $zone, dryRun: $dry) {
    written dryRun lots transformations shipments newLots errors { sheet row column code message }
  }
}`;

interface RowProblem {
  sheet: string | null;
  row: number | null;
  column: string | null;
  code: string;
  message: string;
}
interface ImportResult {
  written: boolean;
  dryRun: boolean;
  lots: number;
  transformations: number;
  shipments: number;
  newLots: number;
  errors: RowProblem[];
}
interface CaptureJob {
  captureID: string;
  running: boolean;
  success: boolean | null;
  eventCount: number;
  capturedCount: number;
  duplicateCount: number;
  errorCount: number;
  errors: { index: number | null; field: string; code: string; message: string }[];
  progress: { phase: string; processedCount: number; totalCount: number | null } | null;
}

/** A hub route called with the person's token; a 401 renews the session once and tries again. */
async function authorised(context: PageContext, path: string, init: RequestInit = {}): Promise<Response> {
  const call = (): Promise<Response> =>
    fetch(path, { ...init, headers: { ...(init.headers ?? {}), Authorization: `Bearer ${context.session.accessToken ?? ''}` } });
  let response = await call();
  if (response.status === 401 && (await context.session.renew(false))) response = await call();
  return response;
}

async function importFile(context: PageContext, file: File, zone: string, dryRun: boolean): Promise<ImportResult> {
  // the GraphQL multipart request: operations, map, then the file
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: IMPORT, variables: { file: null, zone, dry: dryRun } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, file.name);
  const response = await authorised(context, '/graphql', { method: 'POST', body: form, headers: { Accept: 'application/json' } });
  const payload = (await response.json()) as { data?: { importSpreadsheet: ImportResult } | null; errors?: { message: string; extensions?: { code?: string } }[] };
  if (payload.errors?.length) {
    const first = payload.errors[0];
    throw new GraphQLFailure(first.message, first.extensions?.code ?? 'ERROR', payload.errors, response.status);
  }
  if (!payload.data) throw new GraphQLFailure(`the hub answered ${response.status}`, 'ERROR', [], response.status);
  return payload.data.importSpreadsheet;
}

function normalise(header: string): string {
  return header.replace(/[\s_-]+/g, '').toLowerCase();
}

/** The file's sheets with each problem at its row and column; problems of no row (the file's) listed above. */
function problemsInPlace(sheets: Sheet[], problems: RowProblem[]): HTMLElement {
  const general = problems.filter((p) => p.row === null);
  const shown = new Set<RowProblem>(general);
  const sections = sheets.map((sheet, index) => {
    const own = problems.filter((p) => p.row !== null && (p.sheet ?? null) === sheet.name);
    if (own.length === 0) return null;
    const header = sheet.rows[0] ?? [];
    const width = Math.max(header.length, ...own.map(() => 0));
    const byRow = new Map<number, RowProblem[]>();
    for (const p of own) byRow.set(p.row as number, [...(byRow.get(p.row as number) ?? []), p]);
    const captionId = `sheet-${index}`;
    const rows = [...byRow.keys()].sort((a, b) => a - b).flatMap((rowNumber) => {
      const cells = sheet.rows[rowNumber - 1] ?? [];
      const rowProblems = byRow.get(rowNumber) ?? [];
      const messages: HTMLElement[] = [];
      const tds = Array.from({ length: width }, (_, col) => {
        const mine = rowProblems.filter((p) => p.column !== null && normalise(p.column) === normalise(header[col] ?? ''));
        mine.forEach((p) => shown.add(p));
        const id = `problem-${index}-${rowNumber}-${col}`;
        if (mine.length) messages.push(el('li', { id }, `${header[col]}: ${mine.map((p) => p.message).join('; ')}`));
        return el(
          'td',
          { class: mine.length ? 'invalid' : null, 'aria-invalid': mine.length ? 'true' : null, 'aria-describedby': mine.length ? id : null, 'data-column': header[col] ?? '' },
          cells[col] ?? '',
        );
      });
      const others = rowProblems.filter((p) => !shown.has(p));
      others.forEach((p) => shown.add(p));
      return [
        el('tr', { 'data-row': rowNumber, class: 'has-problem' }, el('th', { scope: 'row' }, String(rowNumber)), tds),
        el(
          'tr',
          { class: 'problems', 'data-problems-of': rowNumber },
          el('td', {}, ''),
          el('td', { colspan: width }, el('ul', {}, messages, others.map((p) => el('li', {}, p.column ? `${p.column}: ${p.message}` : p.message)))),
        ),
      ];
    });
    return el(
      'table',
      { class: 'sheet-problems', 'aria-labelledby': captionId },
      el('caption', { id: captionId }, sheet.name ? t('uploads.sheet', { name: sheet.name }) : t('uploads.file')),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('uploads.row')), header.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows),
    );
  });
  // problems on rows the preview could not show (a sheet not read, a row past the preview) are still listed
  const rest = problems.filter((p) => !shown.has(p) && p.row !== null);
  return el(
    'div',
    { class: 'problems-in-place' },
    general.length || rest.length
      ? el('ul', { class: 'file-problems' }, [...general, ...rest].map((p) => el('li', {}, [p.sheet, p.row ? t('uploads.rowN', { row: p.row }) : null, p.column].filter(Boolean).join(' · ') + (p.sheet || p.row || p.column ? ': ' : '') + p.message)))
      : null,
    sections,
  );
}

function spreadsheetSection(context: PageContext): HTMLElement {
  const input = el('input', { id: 'sheet-file', type: 'file', accept: '.csv,.xlsx', required: true }) as HTMLInputElement;
  const zone = el('input', { id: 'sheet-zone', type: 'text', value: 'Asia/Seoul', 'aria-describedby': 'sheet-zone-hint' }) as HTMLInputElement;
  const status = el('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const result = el('div', { class: 'import-result' });
  let checked: File | null = null;
  const importButton = el('button', { type: 'button', class: 'primary', disabled: true }, t('uploads.import')) as HTMLButtonElement;

  const run = async (dryRun: boolean): Promise<void> => {
    const file = input.files?.[0];
    if (!file) return;
    replace(status, t('common.loading'));
    replace(result);
    try {
      const outcome = await importFile(context, file, zone.value.trim(), dryRun);
      if (outcome.errors.length) {
        checked = null;
        importButton.disabled = true;
        const bytes = new Uint8Array(await file.arrayBuffer());
        let sheets: Sheet[] = [];
        try {
          sheets = file.name.toLowerCase().endsWith('.xlsx') ? readXlsx(bytes) : readCsv(new TextDecoder().decode(bytes));
        } catch {
          sheets = []; // the preview could not read it: the problems are listed by row and column instead
        }
        replace(status, el('p', { class: 'error', role: 'alert' }, t('uploads.problems', { count: outcome.errors.length })));
        replace(result, problemsInPlace(sheets, outcome.errors));
        return;
      }
      const counts = { lots: outcome.lots, transformations: outcome.transformations, shipments: outcome.shipments, newLots: outcome.newLots };
      if (dryRun) {
        checked = file;
        importButton.disabled = false;
        replace(status, el('p', { class: 'ok' }, t('uploads.checked', counts)));
      } else {
        checked = null;
        importButton.disabled = true;
        replace(status, el('p', { class: 'ok' }, t('uploads.imported', counts)));
      }
      announce(status.textContent ?? '');
    } catch (error) {
      const message = error instanceof GraphQLFailure ? error.message : String(error);
      replace(status, el('p', { class: 'error', role: 'alert' }, t('uploads.failed', { message })));
    }
  };
  input.addEventListener('change', () => {
    checked = null;
    importButton.disabled = true;
  });
  importButton.addEventListener('click', () => {
    if (checked && input.files?.[0] === checked) void run(false);
  });

  return el(
    'section',
    { 'aria-labelledby': 'sheet-heading' },
    el('h2', { id: 'sheet-heading' }, t('uploads.sheetHeading')),
    el('p', {}, t('uploads.sheetIntro')),
    el(
      'div',
      { class: 'actions' },
      el('span', {}, t('uploads.template')),
      ['ko', 'en'].flatMap((language) =>
        ['xlsx', 'csv'].map((format) =>
          el(
            'button',
            {
              type: 'button',
              'data-template': `${language}-${format}`,
              onclick: () =>
                void download(`/imports/template?lang=${language}&format=${format}`, `import-template.${format}`).catch((error: Error) =>
                  replace(status, el('p', { class: 'error', role: 'alert' }, t('uploads.failed', { message: error.message }))),
                ),
            },
            t(language === 'ko' ? 'uploads.templateKo' : 'uploads.templateEn', { format: format.toUpperCase() }),
          ),
        ),
      ),
    ),
    el(
      'form',
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          void run(true);
        },
      },
      el('div', { class: 'field' }, el('label', { for: 'sheet-file' }, t('uploads.file')), input),
      el('div', { class: 'field' }, el('label', { for: 'sheet-zone' }, t('uploads.zone')), zone, el('p', { class: 'hint', id: 'sheet-zone-hint' }, t('uploads.zoneHint'))),
      el('div', { class: 'actions' }, el('button', { type: 'submit' }, t('uploads.check')), importButton),
    ),
    status,
    result,
  );
}

function epcisSection(context: PageContext): HTMLElement {
  const input = el('input', { id: 'epcis-file', type: 'file', accept: '.json,.jsonld,application/ld+json,application/json', required: true }) as HTMLInputElement;
  const bar = el('progress', { id: 'epcis-progress', max: 1, value: 0, 'aria-labelledby': 'epcis-progress-label' }) as HTMLProgressElement;
  const label = el('span', { id: 'epcis-progress-label' }, t('uploads.epcis.idle'));
  const status = el('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const errors = el('div', { class: 'epcis-errors' });

  const show = (job: CaptureJob): void => {
    if (job.running) {
      const p = job.progress;
      if (p && p.totalCount) {
        bar.max = p.totalCount;
        bar.value = p.processedCount;
      } else bar.removeAttribute('value'); // indeterminate until the events are counted
      replace(label, p ? t(p.phase === 'VALIDATING' ? 'uploads.epcis.validating' : 'uploads.epcis.capturing', { done: formatNumber(p.processedCount), total: p.totalCount ? formatNumber(p.totalCount) : '?' }) : t('uploads.epcis.queued'));
      return;
    }
    bar.max = 1;
    bar.value = 1;
    const counts = { events: formatNumber(job.eventCount), captured: formatNumber(job.capturedCount), duplicates: formatNumber(job.duplicateCount), errors: formatNumber(job.errorCount) };
    replace(label, job.success ? t('uploads.epcis.done', counts) : t('uploads.epcis.failedJob', counts));
    replace(status, label.textContent ?? '');
    if (job.errors.length) {
      replace(
        errors,
        el(
          'table',
          {},
          el('caption', {}, t('uploads.epcis.errors')),
          el('thead', {}, el('tr', {}, [t('uploads.epcis.index'), t('uploads.epcis.field'), t('uploads.epcis.code'), t('uploads.epcis.message')].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', {}, job.errors.map((e) => el('tr', {}, el('td', {}, e.index === null ? '' : String(e.index)), el('td', {}, e.field), el('td', {}, e.code), el('td', {}, e.message)))),
        ),
      );
    }
  };

  const send = async (event: Event): Promise<void> => {
    event.preventDefault();
    const file = input.files?.[0];
    if (!file) return;
    replace(errors);
    replace(status, t('uploads.epcis.sending'));
    try {
      const response = await authorised(context, '/epcis/capture', { method: 'POST', body: file, headers: { 'Content-Type': 'application/ld+json' } });
      if (response.status !== 202) {
        const problem = (await response.json().catch(() => ({}))) as { detail?: string };
        replace(status, el('p', { class: 'error', role: 'alert' }, t('uploads.failed', { message: problem.detail ?? String(response.status) })));
        return;
      }
      const location = response.headers.get('Location') ?? '';
      for (;;) {
        if (context.signal.aborted) return;
        const job = (await (await authorised(context, location)).json()) as CaptureJob;
        show(job);
        if (!job.running) {
          announce(label.textContent ?? '');
          return;
        }
        await new Promise((resolve) => window.setTimeout(resolve, 1000));
      }
    } catch (error) {
      replace(status, el('p', { class: 'error', role: 'alert' }, t('uploads.failed', { message: String((error as Error).message ?? error) })));
    }
  };

  return el(
    'section',
    { 'aria-labelledby': 'epcis-heading' },
    el('h2', { id: 'epcis-heading' }, t('uploads.epcis.heading')),
    el('p', {}, t('uploads.epcis.intro')),
    el(
      'form',
      { onsubmit: (event: Event) => void send(event) },
      el('div', { class: 'field' }, el('label', { for: 'epcis-file' }, t('uploads.epcis.file')), input),
      el('button', { type: 'submit', class: 'primary' }, t('uploads.epcis.send')),
    ),
    el('div', { class: 'job' }, label, bar),
    status,
    errors,
  );
}

export default function uploads(context: PageContext): void {
  replace(context.root, el('h1', {}, t('nav.uploads')), spreadsheetSection(context), epcisSection(context));
}
