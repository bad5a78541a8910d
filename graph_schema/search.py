"""Search by name over firm, site and product profiles (public to members), on the full-text indexes.

The caller's text is never Lucene syntax: it is lower-cased (the analyzer folds case anyway, and AND/OR/NOT
stop being operators) and every character Lucene's query parser treats specially is escaped, so a member's
``*:*`` or ``name:x~`` is searched as words. A lone CJK character (one syllable: 두) is searched as a prefix of
the indexed bigrams (두*), since the ``cjk`` analyzer indexes pairs only.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Final

from graph_schema.db import Graph, Row
from graph_schema.model import FULLTEXT_INDEXED, Label

_LUCENE_SPECIAL: Final = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
MAX_SEARCH_TEXT: Final = 100


class SearchKind(StrEnum):
    """What a search looks through."""

    FIRM = "FIRM"
    SITE = "SITE"
    PRODUCT = "PRODUCT"


_INDEX_OF: Final[dict[SearchKind, str]] = {
    SearchKind.FIRM: next(name for name, label, _ in FULLTEXT_INDEXED if label is Label.FIRM),
    SearchKind.SITE: next(name for name, label, _ in FULLTEXT_INDEXED if label is Label.SITE),
    SearchKind.PRODUCT: next(name for name, label, _ in FULLTEXT_INDEXED if label is Label.PRODUCT),
}

# One index per kind asked for ($indexes), best first; ties by kind and key so a page is stable.
SEARCH: Final = """
UNWIND $indexes AS idx
CALL db.index.fulltext.queryNodes(idx.name, $query, {limit: $limit}) YIELD node, score
WITH idx.kind AS kind, node, score
RETURN kind, score, CASE kind WHEN 'FIRM' THEN node.id WHEN 'SITE' THEN node.gln ELSE node.gtin END AS key
ORDER BY score DESC, kind, key
LIMIT $limit
"""


def is_cjk(char: str) -> bool:
    """Hangul, Han, Hiragana or Katakana: the scripts the ``cjk`` analyzer cuts into bigrams."""
    name = unicodedata.name(char, "")
    return name.startswith(("HANGUL", "CJK", "HIRAGANA", "KATAKANA"))


def lucene_query(text: str) -> str:
    """The caller's text as a query of plain words (escaped, lower-cased); empty when nothing is left to search."""
    words = [_LUCENE_SPECIAL.sub(r"\\\1", word) for word in text.lower().split()]
    words = [word + "*" if len(word) == 1 and is_cjk(word) else word for word in words]
    return " ".join(word for word in words if word)


async def search_names(graph: Graph, *, text: str, kinds: list[SearchKind], limit: int) -> list[Row]:
    """Firms, sites and products whose names match ``text``, best first: rows {kind, score, key}."""
    query = lucene_query(text)
    if not query or not kinds or limit == 0:
        return []
    indexes = [{"name": _INDEX_OF[kind], "kind": kind.value} for kind in SearchKind if kind in kinds]
    return await graph.read(SEARCH, {"indexes": indexes, "query": query, "limit": limit})
