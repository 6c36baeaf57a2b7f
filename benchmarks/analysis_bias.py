"""Bias audit and debiasing, before / after, with WEFE as the side-by-side reference.

Word vectors (one model per language, trained by embedkit's engine):

- WEAT effect size and p-value on every shipped test of the language, ours next to WEFE's
  ``WEAT`` on the same vectors and the same word lists (words missing from the vocabulary are
  dropped the same way for both: we pass WEFE only the words we found);
- direct bias over the profession list, and the doctor / nurse (의사 / 간호사) example: their
  projection on the gender direction and their cosine to he / she (그 / 그녀);
- hard debias (neutralise + equalise), then the same numbers again, and the cost: word
  similarity (WS353 / ko-WS353 Spearman) and analogies (Google / Korean analogy accuracy);
- the Gonen & Goldberg (2019) check on the debiased vectors.

Sentence encoders (``--seat``): SEAT on the same tests for multilingual-e5-small (English and
Korean) and all-MiniLM-L6-v2 (English), before and after the linear-projection debias, and the
cost on STS-B dev (KorSTS dev for Korean).

    embedkit train word2vec ../shared/data/enwiki_sample/enwiki_sample.txt.xz -o models/en-w2v
    flock /tmp/embedkit-heavy.lock python benchmarks/analysis_bias.py --en-model models/en-w2v \
        --ko-model models/ko-w2v --seat

Writes benchmarks/results/analysis_bias.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
DATA = (ROOT / ".." / "shared" / "data").resolve()
OUT = ROOT / "benchmarks" / "results" / "analysis_bias.json"

import numpy as np  # noqa: E402

from embedkit.analysis import bias  # noqa: E402
from embedkit.text.word_vectors import WordVectors  # noqa: E402

PAIRS = {"en": [("doctor", "nurse"), ("he", "she"), ("man", "woman")],
         "ko": [("의사", "간호사"), ("그", "그녀"), ("남자", "여자")]}


def wefe_weat(wv: WordVectors, result: bias.WeatResult) -> float:
    """WEFE's WEAT effect size on the same vectors and the found words of our run."""
    if not hasattr(np, "float_"):
        np.float_ = np.float64  # wefe 0.4.1 annotates with np.float_, removed in NumPy 2
    from gensim.models import KeyedVectors
    from wefe.metrics import WEAT
    from wefe.query import Query
    from wefe.word_embedding_model import WordEmbeddingModel

    words = sorted({w for ws in result.found.values() for w in ws})
    kv = KeyedVectors(vector_size=wv.dim)
    kv.add_vectors(words, np.vstack([wv.get_vector(w) for w in words]))
    model = WordEmbeddingModel(kv, "embedkit")
    n = result.names
    q = Query([result.found["X"], result.found["Y"]], [result.found["A"], result.found["B"]],
              [n[0], n[1]], [n[2], n[3]])
    out = WEAT().run_query(q, model, return_effect_size=True, lost_vocabulary_threshold=0.5)
    if abs(result.statistic) < 1e-6 and result.effect_size == 0.0:
        return None  # every s(w) ~ 0: WEFE divides rounding noise by rounding noise
    return float(out["effect_size"])


def quality(wv: WordVectors, lang: str) -> dict:
    from embedkit.evaluate.words import evaluate_analogies, evaluate_similarity

    sim = DATA / ("word_similarity/wordsim353.tsv" if lang == "en" else "ko_word_eval/ko_ws353.tsv")
    ana = DATA / ("analogy/questions-words.txt" if lang == "en" else "ko_word_eval/ko_analogy.txt")
    s = evaluate_similarity(wv, sim)
    a = evaluate_analogies(wv, ana, restrict_vocab=30000)
    return {"similarity": sim.name, "spearman": s.spearman, "pairs_found": s.found_pairs,
            "pairs": s.pairs, "analogy": ana.name, "analogy_accuracy": a.accuracy,
            "analogy_coverage": a.coverage}


def examples(wv: WordVectors, lang: str, g) -> dict:
    out = {}
    she, he = ("she", "he") if lang == "en" else ("그녀", "그")
    for w in (PAIRS[lang][0]):
        if w in wv:
            out[w] = {"gender_projection": float(bias.gender_projection(wv.get_vector(w)[None], g)[0]),
                      f"cos_{he}": wv.similarity(w, he) if he in wv else None,
                      f"cos_{she}": wv.similarity(w, she) if she in wv else None}
    return out


def word_audit(path: str, lang: str, permutations: int) -> dict:
    wv = WordVectors.load(path)
    tests = [t for t in bias.weat_tests() if t.startswith("ko-") == (lang == "ko")]
    g = bias.gender_direction(wv, language=lang)
    t0 = time.perf_counter()
    deb, info = bias.hard_debias(wv, language=lang)
    info["seconds"] = time.perf_counter() - t0
    doc = {"model": str(path), "words": len(wv), "dim": wv.dim, "debias": info, "weat": {},
           "direct_bias": {}, "examples": {}, "quality": {}}
    for tag, model in (("before", wv), ("after", deb)):
        doc["direct_bias"][tag] = bias.direct_bias(model, direction=g, language=lang)["direct_bias"]
        doc["examples"][tag] = examples(model, lang, g)
        doc["quality"][tag] = quality(model, lang)
    for t in tests:
        try:
            before = bias.run_weat(wv, t, permutations=permutations)
        except Exception as exc:  # a test whose words are all missing: say so
            doc["weat"][t] = {"error": str(exc)}
            continue
        after = bias.run_weat(deb, t, permutations=permutations)
        doc["weat"][t] = {
            "effect_before": before.effect_size, "p_before": before.p_value,
            "effect_after": after.effect_size, "p_after": after.p_value,
            "statistic_before": before.statistic, "statistic_after": after.statistic,
            "wefe_effect_before": wefe_weat(wv, before),
            "wefe_effect_after": wefe_weat(deb, after),
            "found": {k: len(v) for k, v in before.found.items()},
            "missing": before.missing}
    doc["gonen_goldberg"] = bias.recoverability(wv, deb, language=lang)
    return doc


class Memo:
    """An encoder that remembers every sentence's embedding (the after-debias runs re-encode)."""

    def __init__(self, enc):
        self.enc, self.dim, self.modality, self.name, self.cache = enc, enc.dim, "text", enc.name, {}

    def encode(self, items, **kw):
        new = [t for t in dict.fromkeys(items) if t not in self.cache]
        if new:
            self.cache.update(zip(new, self.enc.encode(new, batch_size=64)))
        return np.vstack([self.cache[t] for t in items]).astype(np.float32)


def seat_audit(spec: str, lang: str, permutations: int, sts_pairs: int) -> dict:
    import embedkit
    from embedkit.evaluate.sentences import StsData, evaluate_sts, read_sts

    enc = Memo(embedkit.load(spec))
    tests = [t for t in bias.weat_tests() if t.startswith("ko-") == (lang == "ko")]
    B = bias.sentence_gender_subspace(enc, language=lang)
    deb = bias.DebiasedEncoder(enc, B)
    doc = {"model": spec, "language": lang, "seat": {}}
    for t in tests:
        b = bias.seat(enc, t, permutations=permutations)
        a = bias.seat(deb, t, permutations=permutations)
        doc["seat"][t] = {"effect_before": b.effect_size, "p_before": b.p_value,
                          "effect_after": a.effect_size, "p_after": a.p_value}
    path = DATA / ("stsb/sts-dev.tsv" if lang == "en" else "korsts/sts-dev.tsv")
    full = read_sts(path)
    sts = StsData(full.sentences1[:sts_pairs], full.sentences2[:sts_pairs], full.scores[:sts_pairs],
                  name=path.name)
    doc["sts"] = {"dataset": f"{path.relative_to(DATA)} (first {len(sts.scores)} pairs)",
                  "before": evaluate_sts(enc, sts).metrics["spearman"],
                  "after": evaluate_sts(deb, sts).metrics["spearman"]}
    doc["examples"] = {}
    he, she = ("man", "woman") if lang == "en" else ("남자", "여자")
    for w in PAIRS[lang][0]:
        E = enc.encode([w, he, she])
        D = deb.encode([w, he, she])
        doc["examples"][w] = {"before": {he: float(E[0] @ E[1]), she: float(E[0] @ E[2])},
                              "after": {he: float(D[0] @ D[1]), she: float(D[0] @ D[2])}}
    return doc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--en-model", default=None)
    ap.add_argument("--ko-model", default=None)
    ap.add_argument("--seat", action="store_true", help="Also SEAT / sentence debias (slow: encodes).")
    ap.add_argument("--permutations", type=int, default=10000)
    ap.add_argument("--sts-pairs", type=int, default=500, help="STS dev pairs for the cost.")
    args = ap.parse_args()
    doc = json.loads(OUT.read_text()) if OUT.is_file() else {}
    doc["load_before"] = os.getloadavg()[0]
    for lang, path in (("en", args.en_model), ("ko", args.ko_model)):
        if path:
            print(f"word vectors {lang}: {path}", flush=True)
            doc[f"words_{lang}"] = word_audit(path, lang, args.permutations)
            print(json.dumps(doc[f"words_{lang}"]["weat"], indent=1, ensure_ascii=False)[:3000])
    if args.seat:
        for spec, lang in (("multilingual-e5-small", "en"), ("multilingual-e5-small", "ko"),
                           ("all-MiniLM-L6-v2", "en")):
            print(f"SEAT {spec} {lang}", flush=True)
            doc[f"seat_{spec}_{lang}"] = seat_audit(spec, lang, args.permutations, args.sts_pairs)
            print(json.dumps(doc[f"seat_{spec}_{lang}"], indent=1, ensure_ascii=False))
    doc["load_after"] = os.getloadavg()[0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
