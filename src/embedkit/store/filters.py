"""Metadata filters (``where=``) as parameterised SQL; keyword terms and queries for FTS5."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import InvalidInput

__all__ = ["where_sql", "fts_query", "analyze", "analyze_many", "has_hangul"]

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_WORD = re.compile(r"\w+", re.UNICODE)


def _json_path(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"metadata filter keys must be non-empty strings, got {key!r}")
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def where_sql(where: Mapping | None, table: str = "items") -> tuple[str, list]:
    """SQL conditions (parameterised) for metadata equality filters."""
    if not where:
        return "", []
    if not isinstance(where, Mapping):
        raise InvalidInput(f"where must be a dict of metadata field -> value, got {type(where).__name__}")
    parts, params = [], []
    for key, value in where.items():
        path = _json_path(key)
        if value is None:
            parts.append(f"json_type({table}.metadata, ?) = 'null'")
            params.append(path)
        elif isinstance(value, bool):  # JSON true/false, not the numbers 1/0
            parts.append(f"json_type({table}.metadata, ?) = ?")
            params.extend([path, "true" if value else "false"])
        elif isinstance(value, (int, float)):  # a JSON number, not true/false
            parts.append(f"(json_extract({table}.metadata, ?) = ? AND "
                         f"json_type({table}.metadata, ?) IN ('integer', 'real'))")
            params.extend([path, value, path])
        elif isinstance(value, str):
            parts.append(f"json_extract({table}.metadata, ?) = ?")
            params.extend([path, value])
        else:
            raise InvalidInput(
                f"metadata filter values must be str, int, float, bool or None; got "
                f"{type(value).__name__} for {key!r}"
            )
    return " AND ".join(parts), params


def has_hangul(text: str) -> bool:
    """Whether ``text`` has Hangul (syllables or jamo)."""
    return _HANGUL.search(text) is not None


def analyze(text: str) -> str:
    """The terms the keyword index holds for ``text``: Korean as morphemes, other text as it is.

    Korean attaches particles and endings to words (자동차를, 자동차가) and writes compounds as one
    word (전기자동차). Text with Hangul is therefore split by kiwipiepy into its content morphemes
    (nouns, verb and adjective stems, roots, adverbs, numbers and foreign words; particles and
    endings dropped), so that 자동차를 and 자동차의 both index and query as 자동차 and 전기자동차
    as 전기 자동차. FTS5 then tokenises the terms (unicode61) and stems English words (Porter), so
    English keeps "cars" -> "car". Matching stays literal: no synonyms.
    """
    if not has_hangul(text):
        return text
    from ..text.korean import keyword_terms

    return " ".join(keyword_terms(text))


def analyze_many(texts: list[str]) -> list[str]:
    """:func:`analyze` of many texts; the Korean ones are analysed together (faster)."""
    out = list(texts)
    korean = [i for i, t in enumerate(texts) if has_hangul(t)]
    if korean:
        from ..text.korean import keyword_terms_many

        for i, terms in zip(korean, keyword_terms_many([texts[i] for i in korean])):
            out[i] = " ".join(terms)
    return out


def fts_query(text: str) -> str:
    """An FTS5 query matching any term of ``text`` (analysed as the index is, see :func:`analyze`)."""
    terms = ['"' + word.replace('"', '""') + '"' for word in _WORD.findall(analyze(text).lower())]
    if not terms:
        raise InvalidInput(f"the keyword query {text!r} has no words to search for")
    return " OR ".join(dict.fromkeys(terms))
