// The trace as the API answers it, and what the picture and the table are built from.
export type LotStatus = 'ACTIVE' | 'ON_HOLD' | 'RECALLED';
export type Direction = 'UPSTREAM' | 'DOWNSTREAM';

export interface Named {
  id: string;
  name: string;
  nameKo?: string | null;
}

export interface SiteRef {
  gln: string;
  name: string;
  firm: Named | null;
}

export interface LotDetail {
  id: string;
  lotNumber: string;
  productGtin: string;
  quantity: number;
  uom: string;
  status: LotStatus;
  producedAt: string | null;
  product: { name: string; nameKo?: string | null } | null;
  site: SiteRef | null;
  owner: Named | null;
}

export interface TracedLot {
  id: string;
  depth: number;
  redacted: boolean;
  ownerRole: string | null;
  madeDuringDeviation: boolean;
  lot: LotDetail | null;
}

export interface TracedShipment {
  id: string;
  lotId: string;
  redacted: boolean;
  quantity: number | null;
  uom: string | null;
  shippedAt: string | null;
  fromSite: SiteRef | null;
  toSite: SiteRef | null;
}

export interface TraceSummary {
  lotCount: number;
  redactedCount: number;
  firmCount: number;
  siteCount: number;
  shipmentCount: number;
  maxDepth: number;
  quantities: { productGtin: string; uom: string; quantity: number; lotCount: number; product: { name: string; nameKo?: string | null } | null }[];
}

export interface Trace {
  origin: { id: string };
  direction: Direction;
  lots: TracedLot[];
  shipments: TracedShipment[];
  links: { inputId: string; outputId: string }[];
  summary: TraceSummary;
}

const LOT_FIELDS = `id lotNumber productGtin quantity uom status producedAt product { name nameKo }
  site { gln name firm { id name nameKo } } owner { id name nameKo }`;

export const TRACE_QUERY = `query PortalTrace($lotId: ID!, $direction: TraceDirection!, $maxDepth: Int!) {
  trace(lotId: $lotId, direction: $direction, maxDepth: $maxDepth) {
    origin { id }
    direction
    lots { id depth redacted ownerRole madeDuringDeviation lot { ${LOT_FIELDS} } }
    shipments { id lotId redacted quantity uom shippedAt
      fromSite { gln name firm { id name nameKo } } toSite { gln name firm { id name nameKo } } }
    links { inputId outputId }
    summary { lotCount redactedCount firmCount siteCount shipmentCount maxDepth
      quantities { productGtin uom quantity lotCount product { name nameKo } } }
  }
}`;

export const LOT_QUERY = `query PortalLot($id: ID!) {
  lot(id: $id) { ${LOT_FIELDS} expiresAt
    deviations { id kind status openedAt ccp { code name } } }
}`;

export const LOTS_QUERY = `query PortalLots($lotNumberPrefix: String, $productGtin: String, $siteGln: String,
    $status: LotStatus, $after: String) {
  lots(lotNumberPrefix: $lotNumberPrefix, productGtin: $productGtin, siteGln: $siteGln, status: $status,
      first: 25, after: $after, sort: PRODUCED_AT_DESC) {
    totalCount
    edges { node { ${LOT_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The path of a lot's page. */
export function lotPath(id: string): string {
  return `/lots/${encodeURIComponent(id)}`;
}
