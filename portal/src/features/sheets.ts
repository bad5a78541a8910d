// A file's cells, read in the browser only to show the person their own rows with the hub's problems in place
// (the hub reads the file itself; nothing here decides anything). CSV through papaparse; XLSX unzipped by
// fflate and its sheets' XML read with the browser's DOMParser (shared strings and inline strings; numbers as
// written; dates stay serial numbers, as the hub reports them by row and column anyway).
import Papa from 'papaparse';
import { unzipSync, strFromU8 } from 'fflate';

export interface Sheet {
  name: string | null; // null for a CSV file
  rows: string[][]; // rows[0] is the header row (row 1 as the spreadsheet numbers it)
}

const MAX_ROWS = 2000; // a preview: the hub reports problems beyond it by row number all the same

export function readCsv(text: string): Sheet[] {
  const parsed = Papa.parse<string[]>(text.replace(/^\ufeff/, ''), { skipEmptyLines: false, preview: MAX_ROWS });
  return [{ name: null, rows: parsed.data }];
}

const NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

function xml(files: Record<string, Uint8Array>, path: string): Document | null {
  const data = files[path];
  return data ? new DOMParser().parseFromString(strFromU8(data), 'application/xml') : null;
}

function columnIndex(ref: string): number {
  let index = 0;
  for (const char of ref.replace(/\d+$/, '')) index = index * 26 + (char.charCodeAt(0) - 64);
  return index - 1;
}

export function readXlsx(data: Uint8Array): Sheet[] {
  const files = unzipSync(data, { filter: (file) => file.name.startsWith('xl/') && file.name.endsWith('.xml') || file.name.endsWith('.rels') });
  const strings = Array.from(xml(files, 'xl/sharedStrings.xml')?.getElementsByTagNameNS(NS, 'si') ?? []).map(
    (si) => Array.from(si.getElementsByTagNameNS(NS, 't')).map((node) => node.textContent ?? '').join(''),
  );
  const workbook = xml(files, 'xl/workbook.xml');
  const rels = xml(files, 'xl/_rels/workbook.xml.rels');
  const targets = new Map(Array.from(rels?.getElementsByTagName('Relationship') ?? []).map((r) => [r.getAttribute('Id'), r.getAttribute('Target') ?? '']));
  const sheets: Sheet[] = [];
  for (const node of Array.from(workbook?.getElementsByTagNameNS(NS, 'sheet') ?? [])) {
    const name = node.getAttribute('name') ?? '';
    const target = targets.get(node.getAttributeNS(REL, 'id')) ?? '';
    const path = target.startsWith('/') ? target.slice(1) : `xl/${target}`;
    const doc = xml(files, path);
    const rows: string[][] = [];
    for (const row of Array.from(doc?.getElementsByTagNameNS(NS, 'row') ?? [])) {
      const number = Number(row.getAttribute('r') ?? rows.length + 1);
      if (number > MAX_ROWS) break;
      const cells: string[] = [];
      for (const cell of Array.from(row.getElementsByTagNameNS(NS, 'c'))) {
        const type = cell.getAttribute('t');
        const value = cell.getElementsByTagNameNS(NS, 'v')[0]?.textContent ?? '';
        const text =
          type === 's' ? (strings[Number(value)] ?? '') : type === 'inlineStr' ? Array.from(cell.getElementsByTagNameNS(NS, 't')).map((t) => t.textContent ?? '').join('') : value;
        cells[columnIndex(cell.getAttribute('r') ?? 'A1')] = text;
      }
      rows[number - 1] = Array.from(cells, (c) => c ?? '');
    }
    sheets.push({ name, rows: Array.from(rows, (r) => r ?? []) });
  }
  return sheets;
}
