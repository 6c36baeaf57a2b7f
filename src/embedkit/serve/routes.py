"""The HTTP routes: OpenAI-compatible embeddings, similarity, stores (search, documents), health.

Encoding goes through each model's :class:`~embedkit.serve.batching.Batcher`; store work runs in
the thread pool (the store is thread-safe) and embeds through the same batcher.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..errors import InvalidInput, StaleResult
from ..similarity import cosine, l2_normalize
from .batching import count_tokens
from .service import Service, TooLarge

__all__ = ["router", "highlights"]

Scalar = Union[str, int, float, bool, None]


# -- request bodies ------------------------------------------------------------------------------

class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request, with embedkit's ``input_type`` and ``truncate``."""

    model_config = ConfigDict(extra="ignore")
    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="A text or a list of texts (token-id arrays are refused: send text).")
    model: str | None = Field(None, description="A model id from /v1/models ('default' works).")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, description="Only for models that allow truncation.")
    user: str | None = None
    input_type: Literal["query", "document"] = Field(
        "query", description="Embed as a search query (default; also for similarity) or a document.")
    truncate: bool = Field(False, description="Keep only the first window of over-long inputs.")


class SimilarityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: list[str] = Field(description="Texts compared with every text of b.")
    b: list[str] | None = Field(None, description="Defaults to a.")
    model: str | None = None
    input_type: Literal["query", "document"] = "query"


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str | None = Field(None, description="A text (needed for keyword and hybrid).")
    vector: list[float] | None = Field(None, description="A query vector instead of a text.")
    mode: Literal["vector", "keyword", "hybrid"] = "vector"
    k: int = Field(10, description="How many results (1 to the limit in /info).")
    where: dict[str, Scalar] | None = Field(None, description="Metadata equality filters.")


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    text: str = ""
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None


class WriteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    documents: list[Document]


class IdsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[str]
    include_vectors: bool = False


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[str] | None = None
    where: dict[str, Scalar] | None = None


# -- helpers ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


def highlights(text: str, query: str) -> list[list[int]]:
    """Character spans of ``text`` that match the keyword terms of ``query`` (merged, sorted).

    Terms are analysed as the keyword index does (Korean morphemes, so 자동차 matches 자동차를);
    an English term also matches its stem's forms (cars ~ car).
    """
    from ..store.filters import analyze

    lowered = text.lower()
    terms = set()
    for word in _WORD.findall(analyze(query).lower()):
        terms.add(word)
        for suffix in ("ies", "es", "s", "ing", "ed"):
            if word.isascii() and len(word) > len(suffix) + 2 and word.endswith(suffix):
                terms.add(word[: -len(suffix)])
    spans = []
    for term in terms:
        pattern = re.escape(term)
        if term.isascii():
            pattern = r"\b" + pattern + r"\w*"
        spans.extend([m.start(), m.end()] for m in re.finditer(pattern, lowered))
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


#: requests with at most this many characters are tokenised on the event loop (well under a
#: millisecond); longer ones in a worker thread, so that they cannot stall the other requests
_INLINE_CHARS = 4096


def _json(obj, status: int = 200):
    from fastapi.responses import Response

    return Response(json.dumps(obj, ensure_ascii=False).encode("utf-8"), status_code=status,
                    media_type="application/json")


def _check_count(what: str, n: int, limit: int) -> None:
    if n == 0:
        raise InvalidInput(f"{what} is empty: send at least one")
    if n > limit:
        raise TooLarge(f"{what} has {n} items; the limit is {limit} per request (see /info)")


def _hit(hit, query: str | None, mode: str) -> dict:
    out = {"id": hit.id, "score": float(hit.score), "text": hit.text, "metadata": hit.metadata}
    if query and mode in ("keyword", "hybrid"):
        out["highlights"] = highlights(hit.text, query)
    return out


def _record(rec, include_vector: bool) -> dict | None:
    if rec is None:
        return None
    out = {"id": rec.id, "text": rec.text, "metadata": rec.metadata}
    if include_vector:
        out["vector"] = rec.vector.astype(float).tolist()
    return out


# -- the router ----------------------------------------------------------------------------------

def router(svc: Service):
    from fastapi import APIRouter
    from starlette.concurrency import run_in_threadpool

    api = APIRouter()
    limits = svc.limits

    @api.get("/health", tags=["service"], summary="Alive (no API key needed)")
    def health():
        return {"status": "ok"}

    @api.get("/ready", tags=["service"], summary="Models loaded")
    def ready():
        if svc.load_error:
            return _json({"status": "failed", "error": svc.load_error}, 503)
        if not svc.ready.is_set():
            return _json({"status": "loading"}, 503)
        return {"status": "ready", "models": sorted(svc.batchers)}

    @api.get("/info", tags=["service"], summary="Version, limits, models and stores")
    def info():
        from dataclasses import asdict

        return {"version": __version__, "limits": asdict(limits), "ready": svc.ready.is_set(),
                "models": svc.model_info() if svc.ready.is_set() else [],
                "stores": sorted(svc.stores), "auth": bool(svc.api_keys)}

    @api.get("/metrics", tags=["service"], summary="Prometheus metrics")
    def metrics():
        from fastapi.responses import Response

        for name, b in svc.batchers.items():
            svc.metrics.queue_depth.labels(name).set(b.depth)
        body, ctype = svc.metrics.render()
        return Response(body, media_type=ctype)

    # -- OpenAI-compatible -----------------------------------------------------------------------

    @api.get("/v1/models", tags=["openai"], summary="The models (OpenAI's list format)")
    def list_models():
        svc.check_ready()
        return {"object": "list", "data": [
            {"id": m["id"], "object": "model", "created": 0, "owned_by": "embedkit", "dim": m["dim"]}
            for m in svc.model_info()]}

    @api.get("/v1/models/{model_id:path}", tags=["openai"], summary="One model")
    def get_model(model_id: str):
        b = svc.batcher(model_id)
        return {"id": b.name, "object": "model", "created": 0, "owned_by": "embedkit",
                "dim": b.encoder.dim}

    @api.post("/v1/embeddings", tags=["openai"], summary="Embed texts (OpenAI's format)")
    async def embeddings(body: EmbeddingRequest):
        batcher = svc.batcher(body.model)
        enc = batcher.encoder
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        _check_count("input", len(texts), limits.max_inputs)
        if not all(isinstance(t, str) for t in texts):
            raise InvalidInput("input holds token ids; this service takes text only: send a string "
                               "or a list of strings")
        dims = body.dimensions
        if dims is not None:
            if not 0 < dims <= enc.dim:
                raise InvalidInput(f"dimensions must be from 1 to {enc.dim} for {batcher.name}, "
                                   f"got {dims}")
            if dims != enc.dim and not svc.matryoshka:
                raise InvalidInput(f"the model {batcher.name} does not allow truncated vectors "
                                   f"(dimensions {dims}); omit dimensions or send {enc.dim}")
        if sum(len(t) for t in texts) <= _INLINE_CHARS:  # a few sentences: faster than a thread hop
            counts = count_tokens(enc, texts)
        else:
            counts = await run_in_threadpool(count_tokens, enc, texts)
        window = getattr(enc, "max_length", None)
        if not body.truncate:
            over = [i for i, c in enumerate(counts) if c > limits.max_input_tokens]
            if over:
                raise TooLarge(f"input {over[0]} has {counts[over[0]]} tokens; the limit is "
                               f"{limits.max_input_tokens} per input (see /info), or send "
                               "truncate: true to embed its first window only")
        elif window:
            counts = [min(c, window) for c in counts]
        total = int(sum(counts))
        future = batcher.submit(texts, role=body.input_type, truncate=body.truncate, tokens=total)
        vectors = await asyncio.wrap_future(future)
        if dims is not None and dims != enc.dim:
            vectors = l2_normalize(vectors[:, :dims])
        svc.metrics.tokens.labels(batcher.name).inc(total)
        svc.metrics.inputs.labels(batcher.name).inc(len(texts))
        if body.encoding_format == "base64":
            rows = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
        else:
            rows = vectors.tolist()
        return _json({"object": "list", "model": batcher.name,
                      "data": [{"object": "embedding", "index": i, "embedding": e}
                               for i, e in enumerate(rows)],
                      "usage": {"prompt_tokens": total, "total_tokens": total}})

    @api.post("/v1/similarity", tags=["embedkit"], summary="Cosine similarity of two lists of texts")
    async def similarity(body: SimilarityRequest):
        batcher = svc.batcher(body.model)
        b_texts = body.a if body.b is None else body.b
        _check_count("a", len(body.a), limits.max_inputs)
        _check_count("b", len(b_texts), limits.max_inputs)
        texts = list(body.a) + ([] if body.b is None else list(body.b))
        vectors = await asyncio.wrap_future(batcher.submit(texts, role=body.input_type))
        a = vectors[:len(body.a)]
        b = a if body.b is None else vectors[len(body.a):]
        return {"model": batcher.name, "scores": cosine(a, b).astype(float).tolist()}

    # -- stores --------------------------------------------------------------------------------

    def _info(name: str) -> dict:
        store = svc.store(name)
        out = store.info()
        out["name"] = name
        out["path"] = str(svc.store_paths.get(name, out["path"]))
        fields = store._query("SELECT DISTINCT key FROM (SELECT metadata FROM items LIMIT 2000), "
                              "json_each(metadata)")
        out["metadata_fields"] = sorted(str(r[0]) for r in fields)
        return out

    @api.get("/v1/stores", tags=["stores"], summary="Every store with its summary")
    def list_stores():
        return {"data": [_info(name) for name in sorted(svc.stores)]}

    @api.get("/v1/stores/{name}", tags=["stores"], summary="One store's summary")
    def store_info(name: str):
        return _info(name)

    @api.post("/v1/stores/{name}/search", tags=["stores"],
              summary="Search a store (vector, keyword or hybrid, with metadata filters)")
    def search(name: str, body: SearchRequest):
        store = svc.store(name)
        if not 0 < body.k <= limits.max_k:
            raise InvalidInput(f"k must be from 1 to {limits.max_k}, got {body.k}")
        if (body.query is None) == (body.vector is None):
            raise InvalidInput("send exactly one of query (a text) or vector")
        if body.vector is not None and body.mode != "vector":
            raise InvalidInput(f"{body.mode} search needs a text query, not a vector")
        if body.query is not None and body.mode != "keyword":
            svc.check_ready()
        if store.dim is None:
            return {"data": [], "mode": body.mode}
        query = body.query if body.query is not None else np.asarray(body.vector, dtype=np.float32)
        # A hit's text is read after the search; a concurrent upsert or delete can replace the
        # item in between. Search again (the next search sees the new state); give up after 3.
        for attempt in range(3):
            hits = store.search(query, k=body.k, mode=body.mode, where=body.where)
            try:
                data = [_hit(h, body.query, body.mode) for h in hits]
            except StaleResult:
                if attempt == 2:
                    raise
                continue
            return {"mode": body.mode, "data": data}

    def _write(name: str, body: WriteRequest, replace: bool):
        store = svc.store(name)
        docs = body.documents
        _check_count("documents", len(docs), limits.max_inputs)
        with_vectors = [d.vector is not None for d in docs]
        if any(with_vectors) and not all(with_vectors):
            raise InvalidInput("either every document has a vector or none has")
        ids = [d.id for d in docs]
        if replace and any(i is None for i in ids):
            raise InvalidInput("upsert needs an id for every document")
        if any(i is not None for i in ids) and any(i is None for i in ids):
            raise InvalidInput("either every document has an id or none has")
        vectors = np.asarray([d.vector for d in docs], dtype=np.float32) if all(with_vectors) \
            else None
        if vectors is None:
            svc.check_ready()
        kwargs = {"ids": ids if ids[0] is not None else None,
                  "metadata": [d.metadata or {} for d in docs], "vectors": vectors}
        texts = [d.text for d in docs]
        out = (store.upsert if replace else store.add)(texts, **kwargs)
        return _json({"ids": out, "count": len(out)}, 200 if replace else 201)

    @api.post("/v1/stores/{name}/documents", tags=["stores"], status_code=201,
              summary="Add documents (an id already stored is an error); durable when answered")
    def add_documents(name: str, body: WriteRequest):
        return _write(name, body, replace=False)

    @api.put("/v1/stores/{name}/documents", tags=["stores"],
             summary="Add or replace documents by id; durable when answered")
    def upsert_documents(name: str, body: WriteRequest):
        return _write(name, body, replace=True)

    @api.post("/v1/stores/{name}/documents/get", tags=["stores"], summary="Documents by id")
    def get_documents(name: str, body: IdsRequest):
        store = svc.store(name)
        _check_count("ids", len(body.ids), limits.max_inputs)
        return {"data": [_record(r, body.include_vectors) for r in store.get(body.ids)]}

    @api.get("/v1/stores/{name}/documents/{doc_id:path}", tags=["stores"], summary="One document")
    def get_document(name: str, doc_id: str, include_vector: bool = False):
        rec = svc.store(name).get([doc_id])[0]
        if rec is None:
            raise _NotFound(f"no document {doc_id!r} in the store {name!r}")
        return _record(rec, include_vector)

    @api.post("/v1/stores/{name}/documents/delete", tags=["stores"],
              summary="Delete documents by id or metadata filter; durable when answered")
    def delete_documents(name: str, body: DeleteRequest):
        store = svc.store(name)
        if (body.ids is None) == (body.where is None):
            raise InvalidInput("send exactly one of ids or where")
        if body.ids is not None:
            _check_count("ids", len(body.ids), limits.max_inputs)
            return {"deleted": store.delete(body.ids)}
        if not body.where:
            raise InvalidInput("where is empty: it would delete everything; send at least one field")
        return {"deleted": store.delete(where=body.where)}

    return api


class _NotFound(InvalidInput):
    status = 404
