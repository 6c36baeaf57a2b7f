"""Korean: morpheme tokenisation (kiwipiepy) and jamo decomposition for subword n-grams.

Jamo decomposition follows Park et al. (ACL 2018, "Subword-level Word Vector Representations for
Korean"): every Hangul syllable becomes its initial, medial and final jamo, with
:data:`EMPTY_FINAL` standing for a missing final so that every syllable has three positions.
It is plain arithmetic on the code points (a syllable is ``0xAC00 + (initial * 21 + medial) * 28 +
final``); characters that are not Hangul syllables pass through unchanged.

>>> to_jamo("한국")
'ㅎㅏㄴㄱㅜㄱ'
>>> to_jamo("나")
'ㄴㅏ∅'
>>> from_jamo(to_jamo("한국어 OK"))
'한국어 OK'
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from ..errors import require

__all__ = ["to_jamo", "from_jamo", "morphemes", "keyword_terms", "keyword_terms_many",
           "KoreanTokenizer", "EMPTY_FINAL",
           "KEYWORD_TAGS"]

log = logging.getLogger(__name__)

#: Stands for the missing final consonant of a syllable such as 나 (Park et al. use a marker too).
EMPTY_FINAL = "\u2205"

_BASE, _LAST = 0xAC00, 0xD7A3
# Compatibility jamo, so that the decomposed text stays readable.
INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
FINALS = EMPTY_FINAL + "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
_DECOMPOSE = {
    chr(code): INITIALS[(code - _BASE) // 588] + MEDIALS[(code - _BASE) % 588 // 28]
    + FINALS[(code - _BASE) % 28]
    for code in range(_BASE, _LAST + 1)
}


def to_jamo(text: str) -> str:
    """Decompose each Hangul syllable into initial, medial and final jamo (∅ for no final)."""
    get = _DECOMPOSE.get
    return "".join([get(ch, ch) for ch in text])


def from_jamo(jamo: str) -> str:
    """Invert :func:`to_jamo`: rebuild syllables from initial-medial-final triples."""
    out: list[str] = []
    i = 0
    while i < len(jamo):
        a = jamo[i]
        if i + 2 < len(jamo) and a in INITIALS and jamo[i + 1] in MEDIALS and jamo[i + 2] in FINALS:
            code = _BASE + (INITIALS.index(a) * 21 + MEDIALS.index(jamo[i + 1])) * 28
            out.append(chr(code + FINALS.index(jamo[i + 2])))
            i += 3
        else:
            out.append(a)
            i += 1
    return "".join(out)


_KIWI = None
_KIWI_LOCK = threading.Lock()


def _shared_kiwi():
    """One Kiwi instance per process: loading its model takes seconds."""
    global _KIWI
    with _KIWI_LOCK:
        if _KIWI is None:
            kiwipiepy = require("kiwipiepy", "korean", "Korean morpheme tokenisation")
            log.info("loading the kiwipiepy model")
            _KIWI = kiwipiepy.Kiwi()
    return _KIWI


class KoreanTokenizer:
    """Split text into kiwipiepy morpheme forms (the Kiwi model ships inside the wheel).

    >>> KoreanTokenizer()("한국어를 배웁니다")        # doctest: +SKIP
    ['한국어', '를', '배우', 'ㅂ니다']

    Args:
        lowercase: also lower-case Latin letters.
        drop_punctuation: drop symbols and punctuation (kiwi tags starting with ``S`` except
            ``SL`` foreign words, ``SH`` hanja and ``SN`` numbers).
    """

    def __init__(self, *, lowercase: bool = True, drop_punctuation: bool = True):
        self.lowercase = lowercase
        self.drop_punctuation = drop_punctuation
        self._kiwi = None

    def _model(self):
        if self._kiwi is None:
            self._kiwi = _shared_kiwi()
        return self._kiwi

    def _forms(self, tokens) -> list[str]:
        keep = ("SL", "SH", "SN")
        out = []
        for t in tokens:
            if self.drop_punctuation and t.tag.startswith("S") and t.tag not in keep:
                continue
            out.append(t.form.lower() if self.lowercase else t.form)
        return out

    def __call__(self, text: str) -> list[str]:
        if not text.strip():
            return []
        return self._forms(self._model().tokenize(text))

    def batch(self, texts: list[str]) -> list[list[str]]:
        """Tokenise many texts (kiwipiepy works on them together)."""
        return list(self.stream(texts))

    def stream(self, texts) -> Iterator[list[str]]:
        """Tokenise an iterable of texts lazily, in order, on all of kiwipiepy's threads.

        kiwipiepy reads ahead from ``texts`` and analyses many at once (one thread per core by
        default), so a corpus streams through without being held in memory.
        """
        for tokens in self._model().tokenize(iter(texts)):
            yield self._forms(tokens)

    @property
    def cache_key(self) -> str:
        """Names this tokenizer and its settings (for token caches)."""
        import kiwipiepy

        return (f"korean:kiwipiepy-{kiwipiepy.__version__}:lowercase={self.lowercase}:"
                f"drop_punctuation={self.drop_punctuation}")


_default: KoreanTokenizer | None = None


def morphemes(text: str) -> list[str]:
    """Morpheme forms of ``text`` with the default :class:`KoreanTokenizer`."""
    global _default
    if _default is None:
        _default = KoreanTokenizer()
    return _default(text)


#: kiwipiepy tags kept as keyword terms: nouns (general, proper, numerals), roots, verb and adjective
#: stems, general adverbs, foreign words, hanja and numbers. Particles (J*), endings (E*), suffixes
#: (XS*), pronouns, bound nouns and punctuation are dropped.
KEYWORD_TAGS = ("NNG", "NNP", "NR", "XR", "VV", "VA", "MAG", "SL", "SH", "SN")


def _content_forms(tokens) -> list[str]:
    # VV-R / VV-I (regular / irregular) are verbs too
    return [t.form.lower() for t in tokens if t.tag.split("-", 1)[0] in KEYWORD_TAGS]


def keyword_terms_many(texts: list[str]) -> list[list[str]]:
    """:func:`keyword_terms` of many texts, analysed together (kiwipiepy's threads: about twice
    as fast as one at a time on two cores)."""
    out: list[list[str]] = [[] for _ in texts]
    todo = [i for i, t in enumerate(texts) if t.strip()]
    if todo:
        for i, tokens in zip(todo, _shared_kiwi().tokenize([texts[i] for i in todo])):
            out[i] = _content_forms(tokens)
    return out


def keyword_terms(text: str) -> list[str]:
    """The content morphemes of ``text`` for a keyword index (see :data:`KEYWORD_TAGS`).

    >>> keyword_terms("전기자동차를 빨리 샀어요")       # doctest: +SKIP
    ['전기', '자동차', '빨리', '사']
    """
    if not text.strip():
        return []
    return _content_forms(_shared_kiwi().tokenize(text))
