"""Subword tokenizers: training BPE, WordPiece and Unigram, and out-of-vocabulary reports.

:func:`train_tokenizer` trains with huggingface ``tokenizers`` (BPE, WordPiece, Unigram) or with
``sentencepiece`` (``backend="sentencepiece"``: Unigram or BPE the way SentencePiece does them,
over raw text with whitespace as ``▁`` and character coverage for scripts with many characters
such as Hangul). Either way the result is saved as a ``tokenizer.json`` that
``tokenizers.Tokenizer.from_file`` (and transformers) read.

:func:`oov_report` measures how a tokenizer handles a corpus, per language (by script): the share
of unknown tokens, the share of words split into single characters, and fertility (tokens per
word). It takes a tokenizer folder or file, a model folder (its ``tokenizer.json``) or a name
``embedkit.load`` knows.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "c.txt").write_text("low lower lowest newer newest wider\\n" * 50)
>>> tok = train_tokenizer(d / "c.txt", "bpe", 40, output=d / "tok")
>>> tok.encode("lowest").tokens
['low', 'est']
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import InvalidInput, ModelNotFound, require

__all__ = ["TYPES", "BACKENDS", "train_tokenizer", "load_tokenizer", "oov_report", "language_of",
           "read_lines"]

log = logging.getLogger(__name__)

TYPES = ("bpe", "wordpiece", "unigram")
BACKENDS = ("hf", "sentencepiece")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORD = re.compile(r"[^\W_]+|[^\w\s]", re.UNICODE)


def read_lines(corpus) -> Iterator[str]:
    """Non-empty lines of a text file (.gz/.xz too) or of every such file in a folder."""
    path = Path(corpus)
    if not path.exists():
        raise InvalidInput(f"no corpus at {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if f.suffix == ".xz":
            import lzma

            opener = lambda p: lzma.open(p, "rt", encoding="utf-8")  # noqa: E731
        elif f.suffix == ".gz":
            import gzip

            opener = lambda p: gzip.open(p, "rt", encoding="utf-8")  # noqa: E731
        else:
            opener = lambda p: open(p, encoding="utf-8")  # noqa: E731
        with opener(f) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    yield line


def _corpus_stats(lines: Iterable[str], limit: int | None) -> tuple[list[str], int, set[str]]:
    kept, chars, words = [], set(), set()
    for i, line in enumerate(lines):
        if limit is not None and i >= limit:
            break
        kept.append(line)
        chars.update(line)
        words.update(line.split())
    return kept, len(words), chars


def train_tokenizer(corpus, type: str = "bpe", vocab_size: int = 8000, *, output=None,
                    backend: str = "hf", min_frequency: int = 2, lowercase: bool = False,
                    max_lines: int | None = None, character_coverage: float = 0.9995,
                    seed: int = 0):
    """Train a subword tokenizer on ``corpus`` and return a ``tokenizers.Tokenizer``.

    Args:
        corpus: a text file (.txt, .gz, .xz) or a folder of them; one or more sentences a line.
        type: ``"bpe"``, ``"wordpiece"`` or ``"unigram"``.
        vocab_size: the vocabulary size, special tokens included.
        output: a folder to write ``tokenizer.json`` (and ``embedkit.json``) into.
        backend: ``"hf"`` (huggingface tokenizers) or ``"sentencepiece"`` (bpe / unigram).
        min_frequency: pairs / words seen fewer times are not merged (hf BPE and WordPiece).
        lowercase: lower-case text first (NFKC normalisation is always applied).
        max_lines: train on the first lines only.
        character_coverage: sentencepiece's share of characters to cover (rest becomes unknown).

    An empty corpus and a vocabulary larger than the corpus can fill are errors.

    """
    if type not in TYPES:
        raise InvalidInput(f"The 'type' parameter must be one of {', '.join(map(repr, TYPES))}. "
                           f"Got {type!r} instead.")
    if backend not in BACKENDS:
        raise InvalidInput(f"The 'backend' parameter must be one of {', '.join(map(repr, BACKENDS))}. "
                           f"Got {backend!r} instead.")
    if backend == "sentencepiece" and type == "wordpiece":
        raise InvalidInput("sentencepiece trains 'bpe' and 'unigram' models, not 'wordpiece'; "
                           "use backend='hf' for WordPiece")
    if not isinstance(vocab_size, int) or vocab_size < len(SPECIAL) + 1:
        raise InvalidInput(f"vocab_size must be an integer above {len(SPECIAL)}, got {vocab_size!r}")
    lines, n_words, chars = _corpus_stats(read_lines(corpus), max_lines)
    if not lines:
        raise InvalidInput(f"the corpus {corpus} is empty: no non-blank lines to train a tokenizer on")
    if lowercase:
        lines = [line.lower() for line in lines]
    # A vocabulary needs at least its alphabet; beyond that, at most every distinct word and
    # every distinct substring can become a token. Asking for more than the text holds is an error.
    limit = _max_vocab(lines) + len(SPECIAL)
    if vocab_size > limit:
        raise InvalidInput(f"vocab_size {vocab_size:,} is larger than this corpus allows: it has "
                           f"{n_words:,} distinct words and {len(chars):,} distinct characters, "
                           f"room for at most about {limit:,} tokens; lower --vocab-size or add text")
    if backend == "sentencepiece":
        tok = _train_sentencepiece(lines, type, vocab_size, lowercase, character_coverage, seed)
    else:
        tok = _train_hf(lines, type, vocab_size, lowercase, min_frequency)
    if tok.get_vocab_size() < vocab_size:
        log.warning("the corpus filled only %d of the %d tokens asked for (no more merges/pieces "
                    "above min_frequency)", tok.get_vocab_size(), vocab_size)
    if output is not None:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        tok.save(str(out / "tokenizer.json"))
        from .. import __version__

        (out / "embedkit.json").write_text(json.dumps({
            "kind": "tokenizer", "type": type, "backend": backend, "vocab_size": tok.get_vocab_size(),
            "lowercase": lowercase, "lines": len(lines), "embedkit_version": __version__},
            indent=2), encoding="utf-8")
    return tok


def _max_vocab(lines: list[str]) -> int:
    """An upper bound on the useful vocabulary: distinct characters plus distinct word n-grams."""
    words = Counter(w for line in lines for w in line.split())
    subs: set[str] = set()
    for w in words:
        n = len(w)
        for i in range(n):
            for j in range(i + 1, min(n, i + 16) + 1):
                subs.add(w[i:j])
                if len(subs) > 5_000_000:
                    return len(subs)
    return len(subs) + 1


def _train_hf(lines, type, vocab_size, lowercase, min_frequency):
    tokenizers = require("tokenizers", "text", "tokenizer training")
    from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers

    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    if type == "bpe":
        tok = tokenizers.Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                     pre_tokenizers.Metaspace()])
        tok.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=SPECIAL, show_progress=False)
    elif type == "wordpiece":
        tok = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=SPECIAL, show_progress=False)
    else:
        tok = tokenizers.Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                          unk_token="[UNK]", show_progress=False)
    tok.normalizer = normalizers.Sequence(norm)
    tok.train_from_iterator(lines, trainer, length=len(lines))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def _train_sentencepiece(lines, type, vocab_size, lowercase, coverage, seed):
    spm = require("sentencepiece", "analysis", "sentencepiece tokenizer training")
    require("tokenizers", "text", "tokenizer conversion")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "corpus.txt")
        with open(path, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line.replace("\n", " ") + "\n")
        prefix = os.path.join(tmp, "sp")
        spm.set_random_generator_seed(seed)
        try:
            spm.SentencePieceTrainer.train(
                input=path, model_prefix=prefix, model_type=type, vocab_size=vocab_size,
                character_coverage=coverage, pad_id=0, unk_id=1, bos_id=2, eos_id=3,
                pad_piece="[PAD]", unk_piece="[UNK]", bos_piece="[CLS]", eos_piece="[SEP]",
                user_defined_symbols=["[MASK]"], normalization_rule_name="nmt_nfkc_cf" if lowercase
                else "nmt_nfkc", num_threads=max(1, os.cpu_count() or 1),
                minloglevel=2, hard_vocab_limit=True, train_extremely_large_corpus=False)
        except RuntimeError as exc:
            msg = str(exc)
            if "Vocabulary size" in msg or "vocab_size" in msg:
                raise InvalidInput(f"vocab_size {vocab_size:,} is larger than this corpus allows "
                                   f"(sentencepiece: {msg.strip().splitlines()[-1]})") from None
            raise InvalidInput(f"sentencepiece could not train: {msg.strip().splitlines()[-1]}") from None
        return _sentencepiece_to_hf(prefix + ".model", type)


def _sentencepiece_to_hf(model_file: str, type: str):
    """Convert a trained sentencepiece model to a ``tokenizers.Tokenizer`` (same pieces, scores)."""
    import sentencepiece as spm
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    sp = spm.SentencePieceProcessor(model_file=model_file)
    pieces = [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())]
    unk = sp.unk_id()
    if type == "unigram":
        tok = Tokenizer(models.Unigram(pieces, unk_id=unk, byte_fallback=False))
    else:
        vocab = {p: i for i, (p, _) in enumerate(pieces)}
        # sentencepiece BPE: a piece's score orders its merge; rebuild merges from the pieces.
        merges = []
        ranked = sorted(((s, p) for p, s in pieces[4:] if len(p) > 1), key=lambda x: -x[0])
        for _, piece in ranked:
            best = None
            for k in range(1, len(piece)):
                a, b = piece[:k], piece[k:]
                if a in vocab and b in vocab:
                    r = max(vocab[a], vocab[b])
                    if best is None or r < best[0]:
                        best = (r, a, b)
            if best is not None:
                merges.append((best[1], best[2]))
        tok = Tokenizer(models.BPE(vocab, merges, unk_token="[UNK]", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens(["[MASK]"])
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def load_tokenizer(spec):
    """A ``tokenizers.Tokenizer`` from a ``tokenizer.json`` file, a folder holding one, or a model
    name ``embedkit.load`` resolves (``all-MiniLM-L6-v2``, ``multilingual-e5-small``, ...).
    """
    require("tokenizers", "text", "tokenizers")
    from tokenizers import Tokenizer

    path = Path(str(spec))
    if path.is_file():
        return Tokenizer.from_file(str(path))
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            return Tokenizer.from_file(str(path / "tokenizer.json"))
        raise ModelNotFound(f"{path} has no tokenizer.json")
    from ..models import default_model_path, minilm_path

    names = {"multilingual-e5-small": default_model_path, "intfloat/multilingual-e5-small":
             default_model_path, "default": default_model_path, "all-minilm-l6-v2": minilm_path,
             "sentence-transformers/all-minilm-l6-v2": minilm_path}
    if str(spec).lower() in names:
        return Tokenizer.from_file(str(names[str(spec).lower()]() / "tokenizer.json"))
    raise ModelNotFound(f"no tokenizer at {spec}: pass a tokenizer.json, a folder with one, or "
                        "all-MiniLM-L6-v2 / multilingual-e5-small")


_SCRIPTS = (("ko", re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")),
            ("ja", re.compile(r"[\u3040-\u30ff]")), ("zh", re.compile(r"[\u4e00-\u9fff]")),
            ("ru", re.compile(r"[\u0400-\u04ff]")), ("en", re.compile(r"[A-Za-z]")))


def language_of(word: str) -> str:
    """The language a word's script points to: ko, ja, zh, ru, en (Latin) or other."""
    for lang, rx in _SCRIPTS:
        if rx.search(word):
            return lang
    return "other"


def _strip_marker(token: str) -> str:
    for mark in ("##", "▁", "Ġ"):
        if token.startswith(mark):
            token = token[len(mark):]
    return token


def oov_report(tokenizer, corpus, *, max_lines: int | None = 20_000, by_language: bool = True) -> dict:
    """How a tokenizer handles a corpus: unknown-token share, single-character splits, fertility.

    Words are the corpus's whitespace/punctuation words (letters and digits runs). Per language
    (by script) and overall: ``words``, ``tokens``, ``fertility`` (tokens per word),
    ``unknown_share`` (tokens that are the unknown token), ``unknown_word_share`` (words with at
    least one), ``single_char_share`` (words of 2+ characters split entirely into 1-character
    pieces: letters or syllables, or jamo where the tokenizer decomposes Hangul as BERT's does) and ``unsplit_share`` (words kept as one token).
    """
    tok = tokenizer if hasattr(tokenizer, "encode_batch") else load_tokenizer(tokenizer)
    # A copy without padding or truncation (a model's tokenizer.json often pads to 128).
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tok.to_str())
    tok.no_padding()
    tok.no_truncation()
    unk_ids = set()
    for name in ("[UNK]", "<unk>", "<UNK>", "[unk]"):
        i = tok.token_to_id(name)
        if i is not None:
            unk_ids.add(i)
    lines = read_lines(corpus) if not isinstance(corpus, (list, tuple)) else iter(corpus)
    words_by_lang: dict[str, Counter] = defaultdict(Counter)
    n_lines = 0
    for line in lines:
        if max_lines is not None and n_lines >= max_lines:
            break
        n_lines += 1
        for w in _WORD.findall(unicodedata.normalize("NFC", line)):
            if w.isalnum():
                words_by_lang[language_of(w) if by_language else "all"][w] += 1
    if not words_by_lang:
        raise InvalidInput(f"the corpus {corpus if isinstance(corpus, (str, Path)) else ''} has no words")
    report: dict = {"lines": n_lines, "vocab_size": tok.get_vocab_size(), "languages": {}}
    totals = Counter()
    for lang, counts in sorted(words_by_lang.items(), key=lambda kv: -sum(kv[1].values())):
        uniq = list(counts)
        encs = tok.encode_batch(uniq, add_special_tokens=False)
        st = Counter()
        for w, enc in zip(uniq, encs):
            c = counts[w]
            ids = enc.ids
            n_tok = len(ids)
            n_unk = sum(1 for i in ids if i in unk_ids)
            pieces = [p for p in (_strip_marker(t) for t in enc.tokens) if p]
            st["words"] += c
            st["types"] += 1
            st["tokens"] += c * n_tok
            st["unk_tokens"] += c * n_unk
            st["unk_words"] += c * (n_unk > 0)
            st["unsplit"] += c * (n_tok == 1 and n_unk == 0)
            if len(w) >= 2:
                st["multi"] += c
                # every piece one character: letters, or jamo where a tokenizer decomposes Hangul
                st["single_char"] += c * (n_unk == 0 and len(pieces) >= 2 and
                                          all(len(p) == 1 for p in pieces))
        report["languages"][lang] = _rates(st)
        totals.update(st)
    report["all"] = _rates(totals)
    return report


def _rates(st: Counter) -> dict:
    words = max(st["words"], 1)
    return {"words": int(st["words"]), "distinct_words": int(st["types"]), "tokens": int(st["tokens"]),
            "fertility": st["tokens"] / words, "unknown_share": st["unk_tokens"] / max(st["tokens"], 1),
            "unknown_word_share": st["unk_words"] / words,
            "single_char_share": st["single_char"] / max(st["multi"], 1),
            "unsplit_share": st["unsplit"] / words}
