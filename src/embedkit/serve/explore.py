"""The explorer's routes: a 2-D / 3-D map of a store or a model's vocabulary, neighbours, queries.

A map is computed once (PCA / UMAP / t-SNE on the server, :mod:`.projection`) and cached under an
id; the page then asks for hover texts, nearest neighbours in the full space (cosine over the
mapped vectors, not the 2-D distance) and the position of a typed query: the score-weighted mean
of its nearest neighbours' map positions, which works for every projection method alike.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InvalidInput, ModelNotFound
from ..similarity import l2_normalize, topk
from .projection import available_methods, project
from .service import Service, TooLarge

__all__ = ["router"]

_MAX_LEGEND = 12
_MAX_MAPS = 4  # cached maps (oldest dropped)


class MapRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="'store:NAME' or 'model:NAME' (the model's vocabulary)")
    method: Literal["pca", "umap", "tsne"] = "pca"
    dim: Literal[2, 3] = 2
    limit: int = Field(100_000, description="Points at most (the first ones of the source).")
    color: str | None = Field(None, description="None, 'cluster', or 'field:NAME' (metadata).")
    clusters: int = Field(8, description="Clusters for color='cluster' (2 to 12).")
    seed: int = 0


class NeighborsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    map_id: str
    index: int | None = Field(None, description="A point of the map ...")
    query: str | None = Field(None, description="... or a text to embed and place on the map.")
    k: int = Field(10, description="1 to 100")


class TextsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    map_id: str
    indices: list[int]


@dataclass
class Map:
    id: str
    source: str
    model: str | None
    ids: list[str]
    texts: list[str]
    vectors: np.ndarray  # unit rows, full dimension
    coords: np.ndarray
    labels: np.ndarray | None
    legend: list[str]
    #: for a transformer's vocabulary: queries are placed by the mean of their input-token vectors
    #: (the map's space), not by the model's sentence vectors (another space)
    token_space: tuple | None = None


def _store_items(svc: Service, name: str, limit: int):
    store = svc.store(name)
    rows = store._query("SELECT items.id, items.text, items.metadata, vectors.vector FROM items "
                        "JOIN vectors USING (key) ORDER BY items.key LIMIT ?", [limit])
    if not rows:
        raise InvalidInput(f"the store {name!r} is empty: there is nothing to map")
    ids = [r[0] for r in rows]
    texts = [r[1] for r in rows]
    metas = [json.loads(r[2]) for r in rows]
    vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return ids, texts, metas, vectors, store.model, None


def _vocabulary(svc: Service, model: str, limit: int):
    batcher = svc.batcher(model)
    enc = batcher.encoder
    words = getattr(enc, "index_to_key", None)  # word vectors
    if words is not None and getattr(enc, "vectors", None) is not None:
        n = min(limit, len(words))
        return (list(words[:n]), list(words[:n]), [{}] * n, np.asarray(enc.vectors[:n]), batcher.name,
                None)
    tok, net = getattr(enc, "tokenizer", None), getattr(enc, "model", None)
    if tok is None or net is None or not hasattr(net, "get_input_embeddings"):
        raise InvalidInput(f"the model {batcher.name!r} has no vocabulary to map (it is not a "
                           "word-vector or torch transformer model)")
    weight = net.get_input_embeddings().weight.detach().float().cpu().numpy()
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    special = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>", "<pad>", "<unk>",
               "<mask>"}
    keep = [(t, i) for t, i in vocab if t not in special and i < len(weight)][:limit]
    tokens = [t for t, _ in keep]
    return (tokens, tokens, [{}] * len(keep), weight[[i for _, i in keep]], batcher.name,
            (tok, weight))


def _colour(req: MapRequest, metas: list[dict], vectors: np.ndarray):
    if req.color in (None, "", "none"):
        return None, []
    if req.color == "cluster":
        if not 2 <= req.clusters <= _MAX_LEGEND:
            raise InvalidInput(f"clusters must be from 2 to {_MAX_LEGEND}, got {req.clusters}")
        from sklearn.cluster import MiniBatchKMeans

        k = min(req.clusters, len(vectors))
        labels = MiniBatchKMeans(n_clusters=k, random_state=req.seed, n_init=3,
                                 batch_size=4096).fit_predict(vectors)
        return labels.astype(np.int32), [f"cluster {i}" for i in range(k)]
    if req.color.startswith("field:") and len(req.color) > 6:
        field = req.color[6:]
        values = ["(none)" if m.get(field) is None else str(m.get(field)) for m in metas]
        common = [v for v, _ in Counter(values).most_common(_MAX_LEGEND - 1)]
        legend = common + (["(other)"] if len(set(values)) > len(common) else [])
        index = {v: i for i, v in enumerate(common)}
        other = len(common)
        return np.array([index.get(v, other) for v in values], dtype=np.int32), legend
    raise InvalidInput(f"color must be none, 'cluster' or 'field:NAME', got {req.color!r}")


def router(svc: Service):
    from fastapi import APIRouter

    api = APIRouter(prefix="/v1/explore", tags=["explorer"])
    maps: dict[str, Map] = {}
    lock = threading.Lock()

    def get_map(map_id: str) -> Map:
        try:
            return maps[map_id]
        except KeyError:
            raise InvalidInput(f"unknown map {map_id!r}: make one with POST /v1/explore/map") from None

    @api.get("/sources", summary="What can be mapped: stores and model vocabularies")
    def sources():
        out = [{"source": f"store:{n}", "kind": "store", "count": s.count()}
               for n, s in sorted(svc.stores.items())]
        if svc.ready.is_set():
            out += [{"source": f"model:{n}", "kind": "vocabulary", "count": None}
                    for n in sorted(svc.batchers)]
        return {"data": out, "methods": available_methods()}

    @api.post("/map", summary="Project a store or a vocabulary to 2-D or 3-D")
    def make_map(req: MapRequest):
        if not 2 <= req.limit <= svc.limits.max_map_points:
            raise TooLarge(f"limit must be from 2 to {svc.limits.max_map_points}, got {req.limit}")
        kind, _, name = req.source.partition(":")
        if kind == "store":
            store = svc.store(name)
            version = (store.count(), store._seq())
            loader = _store_items
        elif kind == "model":
            version = ()
            loader = _vocabulary
        else:
            raise InvalidInput(f"source must be 'store:NAME' or 'model:NAME', got {req.source!r}")
        key = json.dumps([req.model_dump(), version], sort_keys=True, default=str)
        map_id = hashlib.sha256(key.encode()).hexdigest()[:16]
        with lock:
            found = maps.get(map_id)
        if found is None:
            ids, texts, metas, vectors, model, token_space = loader(svc, name, req.limit)
            vectors = l2_normalize(np.asarray(vectors, dtype=np.float32))
            coords = project(vectors, req.method, req.dim, req.seed)
            lo, hi = coords.min(0), coords.max(0)
            coords = (coords - (lo + hi) / 2) / np.maximum((hi - lo).max() / 2, 1e-9)
            labels, legend = _colour(req, metas, vectors)
            found = Map(map_id, req.source, model, ids, texts, vectors, coords.astype(np.float32),
                        labels, legend, token_space)
            with lock:
                maps[map_id] = found
                while len(maps) > _MAX_MAPS:
                    maps.pop(next(iter(maps)))
        return {"map_id": found.id, "source": found.source, "n": len(found.ids), "dim": req.dim,
                "method": req.method,
                "coords": base64.b64encode(found.coords.astype("<f4").tobytes()).decode(),
                "labels": None if found.labels is None else found.labels.tolist(),
                "legend": found.legend}

    @api.post("/texts", summary="Ids and texts of map points (for hover)")
    def texts(req: TextsRequest):
        m = get_map(req.map_id)
        if len(req.indices) > 1000:
            raise TooLarge("at most 1000 indices per request")
        bad = [i for i in req.indices if not 0 <= i < len(m.ids)]
        if bad:
            raise InvalidInput(f"index {bad[0]} is not a point of this map (0 to {len(m.ids) - 1})")
        return {"data": [{"index": i, "id": m.ids[i], "text": m.texts[i][:500]}
                         for i in req.indices]}

    @api.post("/neighbors", summary="Nearest neighbours in the full space of a point or a query")
    async def neighbors(req: NeighborsRequest):
        m = get_map(req.map_id)
        if not 1 <= req.k <= 100:
            raise InvalidInput(f"k must be from 1 to 100, got {req.k}")
        if (req.index is None) == (req.query is None):
            raise InvalidInput("send exactly one of index (a point) or query (a text)")
        position = None
        if req.index is not None:
            if not 0 <= req.index < len(m.ids):
                raise InvalidInput(f"index {req.index} is not a point of this map "
                                   f"(0 to {len(m.ids) - 1})")
            q = m.vectors[req.index]
        else:
            if not req.query.strip():
                raise InvalidInput("the query is empty")
            if m.token_space is not None:
                tok, weight = m.token_space
                token_ids = tok.encode(req.query, add_special_tokens=False).ids
                if not token_ids:
                    raise InvalidInput(f"the query {req.query!r} has no tokens in this vocabulary")
                vec = weight[token_ids].mean(0, keepdims=True)
                batcher = None
            elif m.source.startswith("model:"):
                batcher = svc.batcher(m.source[6:])
            else:
                name = m.model or None
                try:
                    batcher = svc.batcher(name)
                except ModelNotFound:
                    batcher = svc.batcher(None)
            if batcher is not None:
                vec = await asyncio.wrap_future(batcher.submit([req.query], role="query"))
            q = l2_normalize(vec)[0]
            if len(q) != m.vectors.shape[1]:
                raise InvalidInput("this map's vectors have another dimension than the query's model")
        k = min(req.k + (req.index is not None), len(m.ids))
        found = await asyncio.to_thread(topk, q[None, :], m.vectors, k)
        idx, scores = found.indices[0].tolist(), found.scores[0].tolist()
        if req.index is not None:
            pairs = [(i, s) for i, s in zip(idx, scores) if i != req.index][:req.k]
        else:
            pairs = list(zip(idx, scores))
            top = pairs[:10]
            w = np.exp((np.array([s for _, s in top]) - top[0][1]) * 20.0)
            position = (w[:, None] * m.coords[[i for i, _ in top]]).sum(0) / w.sum()
            position = position.astype(float).tolist()
        return {"position": position, "data": [
            {"index": i, "id": m.ids[i], "text": m.texts[i][:300], "score": float(s)}
            for i, s in pairs]}

    return api
