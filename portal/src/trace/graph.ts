// The trace drawn with Cytoscape.js and a layered layout (dagre, left to right in the direction material flows):
// firms are boxes holding their sites' boxes holding the lots; transformation steps are solid arrows, shipments
// dashed arrows to the receiving site; a redacted lot is a grey node that says only "redacted" and its owner's
// role. Held, recalled and deviation lots are coloured, and say so in their label (colour is never the only cue).
import cytoscape, { type ElementDefinition } from 'cytoscape';
import dagre from 'cytoscape-dagre';

import { localName, t } from '../i18n';
import type { Trace, TracedLot } from './model';

cytoscape.use(dagre);

const FIRM = 'firm:';
const SITE = 'site:';

function lotLabel(traced: TracedLot): string {
  if (traced.redacted || !traced.lot) {
    return traced.ownerRole ? `${t('trace.redacted')} · ${traced.ownerRole}` : t('trace.redacted');
  }
  const marks = [
    traced.lot.status === 'RECALLED' ? t('lot.status.RECALLED') : null,
    traced.lot.status === 'ON_HOLD' ? t('lot.status.ON_HOLD') : null,
    traced.madeDuringDeviation ? t('trace.deviation') : null,
  ].filter(Boolean);
  const product = traced.lot.product ? localName(traced.lot.product) : traced.lot.productGtin;
  return [traced.lot.lotNumber, product, marks.join(' · ')].filter(Boolean).join('\n');
}

/** Cytoscape elements for a trace: compound firm and site nodes, lot nodes, link and shipment edges. */
export function traceElements(trace: Trace): ElementDefinition[] {
  const elements: ElementDefinition[] = [];
  const firms = new Map<string, string>();
  const sites = new Map<string, string>();
  const addSite = (site: { gln: string; name: string; firm: { id: string; name: string; nameKo?: string | null } | null }): string => {
    const siteId = SITE + site.gln;
    if (site.firm && !firms.has(site.firm.id)) {
      firms.set(site.firm.id, FIRM + site.firm.id);
      elements.push({ group: 'nodes', data: { id: FIRM + site.firm.id, label: localName(site.firm) }, classes: 'firm' });
    }
    if (!sites.has(site.gln)) {
      sites.set(site.gln, siteId);
      elements.push({
        group: 'nodes',
        data: { id: siteId, label: site.name, parent: site.firm ? FIRM + site.firm.id : undefined },
        classes: 'site',
      });
    }
    return siteId;
  };
  for (const traced of trace.lots) {
    const classes = ['lot'];
    let parent: string | undefined;
    if (traced.redacted || !traced.lot) classes.push('redacted');
    else {
      if (traced.lot.status === 'ON_HOLD') classes.push('held');
      if (traced.lot.status === 'RECALLED') classes.push('recalled');
      if (traced.madeDuringDeviation) classes.push('deviation');
      if (traced.lot.site) parent = addSite(traced.lot.site);
    }
    if (traced.id === trace.origin.id) classes.push('origin');
    elements.push({ group: 'nodes', data: { id: traced.id, label: lotLabel(traced), parent, depth: traced.depth }, classes: classes.join(' ') });
  }
  for (const link of trace.links) {
    elements.push({ group: 'edges', data: { id: `link:${link.inputId}>${link.outputId}`, source: link.inputId, target: link.outputId }, classes: 'link' });
  }
  for (const shipment of trace.shipments) {
    if (shipment.redacted || !shipment.toSite) continue; // nothing is known of where it went
    const target = addSite(shipment.toSite);
    // one arrow per lot a shipment carries (a shipment of several lots is several rows of the trace)
    elements.push({ group: 'edges', data: { id: `ship:${shipment.id}:${shipment.lotId}`, source: shipment.lotId, target }, classes: 'shipment' });
  }
  return elements;
}

const STYLE: cytoscape.StylesheetJson = [
  {
    selector: 'node.lot',
    style: {
      shape: 'round-rectangle',
      'background-color': '#e8f1ea',
      'border-width': 1,
      'border-color': '#1f5c31',
      label: 'data(label)',
      'text-wrap': 'wrap',
      'text-valign': 'center',
      'font-size': 10,
      width: 120,
      height: 44,
      color: '#1d2520',
    },
  },
  { selector: 'node.origin', style: { 'border-width': 4, 'border-color': '#1a56b0' } },
  { selector: 'node.held', style: { 'background-color': '#ffe2b8', 'border-color': '#8a4b00' } },
  { selector: 'node.recalled', style: { 'background-color': '#ffd0d4', 'border-color': '#a3121f', 'border-width': 3 } },
  { selector: 'node.deviation', style: { 'border-style': 'double', 'border-width': 5, 'border-color': '#6b2a8c' } },
  {
    selector: 'node.redacted',
    style: { 'background-color': '#e4e5e4', 'border-style': 'dashed', 'border-color': '#5b5f5c', color: '#3b3f3c' },
  },
  {
    selector: 'node.site',
    style: {
      label: 'data(label)',
      'text-valign': 'top',
      'font-size': 10,
      'background-color': '#ffffff',
      'border-color': '#9aa59e',
      'border-width': 1,
      padding: '8px',
      color: '#4a564e',
    },
  },
  {
    selector: 'node.firm',
    style: {
      label: 'data(label)',
      'text-valign': 'top',
      'font-size': 12,
      'font-weight': 'bold',
      'background-color': '#f4f7f5',
      'border-color': '#1f5c31',
      'border-width': 2,
      padding: '10px',
      color: '#1f5c31',
    },
  },
  {
    selector: 'edge.link',
    style: { width: 1.5, 'line-color': '#4a564e', 'target-arrow-shape': 'triangle', 'target-arrow-color': '#4a564e', 'curve-style': 'bezier' },
  },
  {
    selector: 'edge.shipment',
    style: { width: 1.5, 'line-style': 'dashed', 'line-color': '#1a56b0', 'target-arrow-shape': 'vee', 'target-arrow-color': '#1a56b0', 'curve-style': 'bezier' },
  },
  { selector: 'node:selected', style: { 'overlay-color': '#1a56b0', 'overlay-opacity': 0.15 } },
];

const LARGE_STYLE: cytoscape.StylesheetJson = [
  ...STYLE,
  { selector: 'node', style: { 'min-zoomed-font-size': 7 } },
  { selector: 'edge', style: { 'curve-style': 'straight' } },
];

const LAYERED = { name: 'dagre', rankDir: 'LR', nodeSep: 12, rankSep: 60, animate: false } as cytoscape.LayoutOptions;
// dagre lays out lots inside their sites' boxes in time that grows much faster than the lots (2,000 lots took
// some 50 s in headless Chromium); past this many the lots stand in columns by their steps from the origin, each
// column grouped by site, which is placed in one pass.
const LAYERED_UP_TO = 300;

function columnsByDepth(trace: Trace): cytoscape.LayoutOptions {
  const columns = new Map<number, TracedLot[]>();
  for (const traced of trace.lots) {
    const column = columns.get(traced.depth) ?? [];
    column.push(traced);
    columns.set(traced.depth, column);
  }
  const positions = new Map<string, { x: number; y: number }>();
  const siteOf = (traced: TracedLot): string => traced.lot?.site?.gln ?? '';
  for (const [depth, column] of columns) {
    column.sort((a, b) => siteOf(a).localeCompare(siteOf(b)) || a.id.localeCompare(b.id));
    column.forEach((traced, row) => positions.set(traced.id, { x: depth * 240, y: row * 56 }));
  }
  return {
    name: 'preset',
    positions: (node: cytoscape.NodeSingular) => positions.get(node.id()) ?? { x: 0, y: 0 },
    fit: true,
    animate: false,
  } as cytoscape.LayoutOptions;
}

/** Draws the trace in ``container``; ``onOpen`` is called with a visible lot's id when it is tapped. */
export function drawTrace(container: HTMLElement, trace: Trace, onOpen: (lotId: string) => void): cytoscape.Core {
  const cy = cytoscape({
    container,
    elements: traceElements(trace),
    layout: trace.lots.length > LAYERED_UP_TO ? columnsByDepth(trace) : LAYERED,
    // a large trace: straight arrows (bezier ones cost far more to draw) and labels drawn only once zoomed in
    // enough to read them
    style: trace.lots.length > LAYERED_UP_TO ? LARGE_STYLE : STYLE,
    wheelSensitivity: 0.3,
    minZoom: 0.05,
    maxZoom: 3,
    textureOnViewport: true,
    hideEdgesOnViewport: trace.lots.length > 500,
  });
  cy.on('tap', 'node.lot', (event) => {
    const node = event.target as cytoscape.NodeSingular;
    if (!node.hasClass('redacted')) onOpen(node.id());
  });
  return cy;
}
