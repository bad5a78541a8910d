"""CBV 2.0 standard vocabularies: the terms each EPCIS field accepts, and their three equivalent spellings.

A standard value may be written as the compact term of the JSON-LD binding (``shipping``), as the CBV 1.x URN
(``urn:epcglobal:cbv:bizstep:shipping``) or as the CBV 2.0 web URI (``https://ref.gs1.org/cbv/BizStep-shipping``,
also as the CURIE ``cbv:BizStep-shipping``); all of them normalise to the compact term. A value outside the
standard is accepted only as a full URI outside the CBV's own namespace for that vocabulary (the schema's
``vocab-uri``), so a misspelt or invented bare word such as ``transforming`` is rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

CBV_WEB: Final = "https://ref.gs1.org/cbv/"
GS1_VOC: Final = "https://gs1.org/voc/"

# The prefixes the GS1 EPCIS 2.0 JSON-LD context declares itself: a document may use them without declaring them.
STANDARD_PREFIXES: Final[dict[str, str]] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV_WEB,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1_VOC,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# An absolute URI: a scheme, a colon, and no whitespace (RFC 3986 section 3.1 for the scheme).
_ABSOLUTE_URI: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")


def is_absolute_uri(value: str) -> bool:
    """True when ``value`` is written as an absolute URI (``scheme:rest``, no whitespace)."""
    return _ABSOLUTE_URI.fullmatch(value) is not None


@dataclass(frozen=True)
class Vocabulary:
    """One CBV vocabulary: its terms and the URN and web URI namespaces they live in."""

    name: str  # for messages: "business step"
    terms: frozenset[str]
    urn_prefix: str | None  # "urn:epcglobal:cbv:bizstep:"
    web_prefix: str  # "https://ref.gs1.org/cbv/BizStep-"
    # Every term written in the JSON-LD compact form maps onto this prefix in the event hash (CBV 2.0 8.9 rule 16).
    hash_prefix: str

    def normalise(self, value: str, namespaces: dict[str, str]) -> str:
        """Return the compact term of a standard value, or the full URI of a custom one; raise ValueError else."""
        if value in self.terms:
            return value
        expanded = expand_curie(value, namespaces)
        for prefix in (self.urn_prefix, self.web_prefix):
            if prefix is not None and expanded.startswith(prefix):
                term = expanded[len(prefix) :]
                if term in self.terms:
                    return term
                raise ValueError(
                    f"'{value}' is in the CBV {self.name} namespace but '{term}' is not a CBV {self.name}; "
                    f"use one of the CBV terms ({_sample(self.terms)}) or a URI of your own"
                )
        if is_absolute_uri(expanded):
            return expanded
        raise ValueError(
            f"'{value}' is not a CBV {self.name} (standard terms are {_sample(self.terms)}); "
            "a value of your own must be a full URI such as 'https://example.com/voc/my_value'"
        )


def _sample(terms: frozenset[str]) -> str:
    listed = sorted(terms)
    if len(listed) <= 8:
        return ", ".join(listed)
    return ", ".join(listed[:8]) + f", ... ({len(listed)} in all)"


def expand_curie(value: str, namespaces: dict[str, str]) -> str:
    """Expand ``prefix:local`` when the prefix is declared (in the document or by the EPCIS context)."""
    prefix, sep, local = value.partition(":")
    if not sep or local.startswith("//"):
        return value
    iri = namespaces.get(prefix) or STANDARD_PREFIXES.get(prefix)
    return iri + local if iri is not None else value


def context_namespaces(context: object) -> dict[str, str]:
    """The prefixes a JSON-LD ``@context`` (a URL, an object, or a list of both) declares: prefix -> IRI."""
    found: dict[str, str] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, dict):
            for prefix, iri in entry.items():
                if isinstance(prefix, str) and not prefix.startswith("@") and isinstance(iri, str):
                    found[prefix] = iri
    return found


BIZ_STEP: Final = Vocabulary(
    name="business step",
    terms=frozenset(
        {
            "accepting",
            "arriving",
            "assembling",
            "collecting",
            "commissioning",
            "consigning",
            "creating_class_instance",
            "cycle_counting",
            "decommissioning",
            "departing",
            "destroying",
            "disassembling",
            "dispensing",
            "encoding",
            "entering_exiting",
            "holding",
            "inspecting",
            "installing",
            "killing",
            "loading",
            "other",
            "packing",
            "picking",
            "receiving",
            "removing",
            "repackaging",
            "repairing",
            "replacing",
            "reserving",
            "retail_selling",
            "sampling",
            "sensor_reporting",
            "shipping",
            "staging_outbound",
            "stock_taking",
            "stocking",
            "storing",
            "transporting",
            "unloading",
            "unpacking",
            "void_shipping",
        }
    ),
    urn_prefix="urn:epcglobal:cbv:bizstep:",
    web_prefix=CBV_WEB + "BizStep-",
    hash_prefix=CBV_WEB + "BizStep-",
)

DISPOSITION: Final = Vocabulary(
    name="disposition",
    terms=frozenset(
        {
            "active",
            "available",
            "completeness_inferred",
            "completeness_verified",
            "conformant",
            "container_closed",
            "container_open",
            "damaged",
            "destroyed",
            "dispensed",
            "disposed",
            "encoded",
            "expired",
            "in_progress",
            "in_transit",
            "inactive",
            "mismatch_class",
            "mismatch_instance",
            "mismatch_quantity",
            "needs_replacement",
            "no_pedigree_match",
            "non_conformant",
            "non_sellable_other",
            "partially_dispensed",
            "recalled",
            "reserved",
            "retail_sold",
            "returned",
            "sellable_accessible",
            "sellable_not_accessible",
            "stolen",
            "unavailable",
            "unknown",
        }
    ),
    urn_prefix="urn:epcglobal:cbv:disp:",
    web_prefix=CBV_WEB + "Disp-",
    hash_prefix=CBV_WEB + "Disp-",
)

BIZ_TRANSACTION_TYPE: Final = Vocabulary(
    name="business transaction type",
    terms=frozenset(
        {"bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma", "testprd", "testres"}
    ),
    urn_prefix="urn:epcglobal:cbv:btt:",
    web_prefix=CBV_WEB + "BTT-",
    hash_prefix=CBV_WEB + "BTT-",
)

SOURCE_DESTINATION_TYPE: Final = Vocabulary(
    name="source/destination type",
    terms=frozenset({"owning_party", "possessing_party", "location"}),
    urn_prefix="urn:epcglobal:cbv:sdt:",
    web_prefix=CBV_WEB + "SDT-",
    hash_prefix=CBV_WEB + "SDT-",
)

ERROR_REASON: Final = Vocabulary(
    name="error reason",
    terms=frozenset({"did_not_occur", "incorrect_data"}),
    urn_prefix="urn:epcglobal:cbv:er:",
    web_prefix=CBV_WEB + "ER-",
    hash_prefix=CBV_WEB + "ER-",
)

# The hash generator's published CBV 2.0 examples expand bare sensor terms (and gs1: CURIEs) under
# https://ref.gs1.org/voc/, so the event hash uses that namespace for them (see hashing.py).
_GS1_REF_VOC: Final = "https://ref.gs1.org/voc/"

SENSOR_ALERT_TYPE: Final = Vocabulary(
    name="sensor alert type",
    terms=frozenset({"ALARM_CONDITION", "ERROR_CONDITION"}),
    urn_prefix=None,
    web_prefix=GS1_VOC,
    hash_prefix=_GS1_REF_VOC,
)

COMPONENT: Final = Vocabulary(
    name="sensor component",
    terms=frozenset(
        {
            "x",
            "y",
            "z",
            "axial_distance",
            "azimuth",
            "height",
            "spherical_radius",
            "polar_angle",
            "elevation_angle",
            "easting",
            "northing",
            "latitude",
            "longitude",
            "altitude",
            "geocoordinate",
        }
    ),
    urn_prefix=None,
    web_prefix=CBV_WEB + "Comp-",
    hash_prefix=CBV_WEB + "Comp-",
)

# Measurement types (sensorReport.type) are not checked against a list: the schema's enumeration lags the GS1
# web vocabulary, and real capture documents (openepcis' valid examples) use names outside it such as
# 'EffectiveDoseRate'. The hash still expands a bare name, as it does for the other sensor terms.
MEASUREMENT_TYPE_HASH_PREFIX: Final = _GS1_REF_VOC

# Which vocabulary governs a field, by the field's JSON path with list indexes removed.
FIELD_VOCABULARIES: Final[dict[str, Vocabulary]] = {
    "bizStep": BIZ_STEP,
    "disposition": DISPOSITION,
    "persistentDisposition.set": DISPOSITION,
    "persistentDisposition.unset": DISPOSITION,
    "bizTransactionList.type": BIZ_TRANSACTION_TYPE,
    "sourceList.type": SOURCE_DESTINATION_TYPE,
    "destinationList.type": SOURCE_DESTINATION_TYPE,
    "errorDeclaration.reason": ERROR_REASON,
    "sensorElementList.sensorReport.exception": SENSOR_ALERT_TYPE,
    "sensorElementList.sensorReport.component": COMPONENT,
}
