"""The HTTP service over real uvicorn servers on loopback, with the official openai client."""

from __future__ import annotations

import base64
import socket
import threading
import time

import httpx
import numpy as np
import pytest

from .conftest import DOCS, Server

TEXTS = ["The quick brown fox jumps over the lazy dog.", "한국어 문장도 조금 넣어 둡니다.",
         "A man is playing a guitar on the street.", ""]


def model_name(server) -> str:
    return httpx.get(server.url + "/v1/models").json()["data"][0]["id"]


def test_openai_client_float_and_base64_match_in_process(server, tiny_encoder):
    import openai

    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    name = model_name(server)
    assert [m.id for m in client.models.list().data] == [name]
    expected = tiny_encoder.encode_queries(TEXTS)
    as_float = client.embeddings.create(model=name, input=TEXTS, encoding_format="float")
    got = np.array([d.embedding for d in as_float.data], dtype=np.float32)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    assert [d.index for d in as_float.data] == list(range(len(TEXTS)))
    # asked for base64, the client hands back the strings; by default it asks for base64 itself
    # and decodes them
    as_b64 = client.embeddings.create(model=name, input=TEXTS, encoding_format="base64")
    decoded = [np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in as_b64.data]
    np.testing.assert_allclose(np.stack(decoded), expected, atol=1e-6, rtol=0)
    default = client.embeddings.create(model=name, input=TEXTS)
    np.testing.assert_allclose(np.array([d.embedding for d in default.data]), expected, atol=1e-6, rtol=0)
    # the usage counts the model's own tokens ([CLS] and [SEP] included)
    tokens = sum(len(tiny_encoder.tokenizer.encode(t).ids) for t in TEXTS)
    assert as_float.usage.prompt_tokens == as_float.usage.total_tokens == tokens
    one = client.embeddings.create(model="default", input=TEXTS[1])  # a single string
    np.testing.assert_allclose(one.data[0].embedding, expected[1], atol=1e-6, rtol=0)


def test_raw_base64_is_little_endian_float32_and_documents_role(server, tiny_encoder):
    r = httpx.post(server.url + "/v1/embeddings", json={
        "input": TEXTS[:2], "encoding_format": "base64", "input_type": "document"})
    assert r.status_code == 200
    rows = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in r.json()["data"]]
    np.testing.assert_allclose(np.stack(rows), tiny_encoder.encode_documents(TEXTS[:2]), atol=1e-6)


def test_long_inputs_are_windowed_or_truncated_on_request(server, tiny_encoder):
    long = " ".join(["the river bank was muddy after the rain"] * 12)  # ~100 tokens, window 30
    assert len(tiny_encoder.tokenizer.encode(long).ids) > 64
    r = httpx.post(server.url + "/v1/embeddings", json={"input": [long]}).json()
    np.testing.assert_allclose(r["data"][0]["embedding"], tiny_encoder.encode_queries([long])[0], atol=1e-6)
    t = httpx.post(server.url + "/v1/embeddings", json={"input": [long], "truncate": True}).json()
    first = tiny_encoder.encode_queries([long[:tiny_encoder.chunk(long)[0].end]])[0]
    np.testing.assert_allclose(t["data"][0]["embedding"], first, atol=1e-5)
    assert t["usage"]["prompt_tokens"] == tiny_encoder.max_length
    too_long = " ".join(["bank"] * 300)  # over max_input_tokens (200)
    r = httpx.post(server.url + "/v1/embeddings", json={"input": [too_long]})
    assert r.status_code == 413 and "truncate" in r.json()["error"]["message"]
    assert httpx.post(server.url + "/v1/embeddings",
                      json={"input": [too_long], "truncate": True}).status_code == 200


def test_dimensions_only_for_models_that_allow_truncation(server, tiny_st_model, tiny_encoder):
    r = httpx.post(server.url + "/v1/embeddings", json={"input": ["a"], "dimensions": 8})
    assert r.status_code == 422 and "does not allow truncated" in r.json()["error"]["message"]
    assert httpx.post(server.url + "/v1/embeddings",
                      json={"input": ["a"], "dimensions": 32}).status_code == 200
    from embedkit.serve import create_app

    srv = Server(create_app(model=str(tiny_st_model), matryoshka=True))
    try:
        r = httpx.post(srv.url + "/v1/embeddings", json={"input": ["a red car"], "dimensions": 8})
        v = np.array(r.json()["data"][0]["embedding"])
        full = tiny_encoder.encode_queries(["a red car"])[0][:8]
        np.testing.assert_allclose(v, full / np.linalg.norm(full), atol=1e-6)
        assert httpx.post(srv.url + "/v1/embeddings",
                          json={"input": ["a"], "dimensions": 33}).status_code == 422
    finally:
        srv.stop()


def error_of(r, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()["error"]
    assert body["code"] == status and body["message"]
    return body["message"]


def test_bad_input_gets_4xx_json_and_the_service_keeps_serving(server):
    url = server.url
    post = lambda path, **kw: httpx.post(url + path, timeout=30, **kw)  # noqa: E731
    assert "not valid JSON" in error_of(post("/v1/embeddings", content=b'{"input": [',
                                             headers={"content-type": "application/json"}), 400)
    assert "input" in error_of(post("/v1/embeddings", json={"input": 5}), 422)
    assert "input" in error_of(post("/v1/embeddings", json={"inputs": ["a"]}), 422)
    assert "empty" in error_of(post("/v1/embeddings", json={"input": []}), 422)
    assert "token ids" in error_of(post("/v1/embeddings", json={"input": [[101, 2054]]}), 422)
    assert "encoding_format" in error_of(post("/v1/embeddings", json={"input": "a",
                                                                      "encoding_format": "int8"}), 422)
    # 100k inputs: over the body limit here (256 KiB); within it, over max_inputs (64)
    error_of(post("/v1/embeddings", json={"input": ["a"] * 100_000}), 413)
    assert "limit is 64" in error_of(post("/v1/embeddings", json={"input": ["a"] * 65}), 413)
    error_of(post("/v1/embeddings", json={"input": "x" * 10_000_000}), 413)
    assert "unknown model" in error_of(post("/v1/embeddings", json={"input": "a", "model": "gpt-9"}), 404)
    assert "unknown store" in error_of(post("/v1/stores/nope/search", json={"query": "bank"}), 404)
    error_of(httpx.get(url + "/v1/nothing-here"), 404)
    # NaN in a vector (JSON's NaN literal): a search and a write are refused, nothing stored
    nan = "[" + ", ".join(["NaN"] + ["0.1"] * 31) + "]"
    assert "NaN" in error_of(post("/v1/stores/docs/search", content=f'{{"vector": {nan}}}',
                                  headers={"content-type": "application/json"}), 422)
    before = httpx.get(url + "/v1/stores/docs").json()["count"]
    body = f'{{"documents": [{{"id": "nan-1", "text": "x", "vector": {nan}}}]}}'
    error_of(post("/v1/stores/docs/documents", content=body,
                  headers={"content-type": "application/json"}), 422)
    assert "dimension" in error_of(post("/v1/stores/docs/search", json={"vector": [0.1, 0.2]}), 422)
    assert httpx.get(url + "/v1/stores/docs").json()["count"] == before
    assert "k must be" in error_of(post("/v1/stores/docs/search", json={"query": "a", "k": 0}), 422)
    assert "mode" in error_of(post("/v1/stores/docs/search", json={"query": "a", "mode": "fuzzy"}), 422)
    assert "filter" in error_of(post("/v1/stores/docs/search",
                                     json={"query": "a", "where": {"": 1}}), 422)
    assert httpx.get(url + "/health").json() == {"status": "ok"}
    assert post("/v1/embeddings", json={"input": ["still serving"]}).status_code == 200


def test_slow_clients_do_not_block_others_and_slow_bodies_get_408(server):
    host, port = "127.0.0.1", server.port
    loris = []
    for _ in range(20):  # slowloris: headers that never end
        s = socket.create_connection((host, port))
        s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nX-a: ")
        loris.append(s)
    slow = socket.create_connection((host, port))  # a body that never arrives in full
    slow.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"input\": ")
    try:
        t0 = time.monotonic()
        r = httpx.post(server.url + "/v1/embeddings", json={"input": ["others are served"]}, timeout=10)
        assert r.status_code == 200 and time.monotonic() - t0 < 5
        slow.settimeout(10)
        chunks = []
        while chunk := slow.recv(4096):  # the server closes the connection after its answer
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
        assert answer.startswith("HTTP/1.1 408"), answer[:80]
        assert '"code": 408' in answer
    finally:
        for s in [*loris, slow]:
            s.close()


def test_stores_add_upsert_get_delete_search_over_http(server, tiny_encoder):
    url = server.url + "/v1/stores/scratch"
    docs = [{"id": i, "text": t, "metadata": m} for i, t, m in DOCS]
    r = httpx.post(url + "/documents", json={"documents": docs})
    assert r.status_code == 201 and r.json()["ids"] == [d["id"] for d in docs]
    # acknowledged means committed: another connection to the file sees it at once
    from embedkit.store.sqlite import VectorStore

    with VectorStore(server.app.state.service.store_paths["scratch"], create=False) as other:
        assert other.count() == len(docs)
        stored = other.get(["en-1"])[0].vector
    np.testing.assert_allclose(stored, tiny_encoder.encode_documents([DOCS[0][1]])[0], atol=1e-6)
    assert "already in the store" in error_of(httpx.post(url + "/documents",
                                                         json={"documents": docs[:1]}), 422)
    r = httpx.put(url + "/documents", json={"documents": [
        {"id": "en-1", "text": "A muddy river bank.", "metadata": {"lang": "en", "topic": "nature"}}]})
    assert r.status_code == 200
    got = httpx.get(url + "/documents/en-1").json()
    assert got["text"] == "A muddy river bank." and got["metadata"]["topic"] == "nature"
    error_of(httpx.get(url + "/documents/missing"), 404)
    many = httpx.post(url + "/documents/get", json={"ids": ["ko-2", "missing"], "include_vectors": True})
    assert many.json()["data"][1] is None and len(many.json()["data"][0]["vector"]) == 32
    # keyword search in Korean: 자동차 matches 자동차를 and 전기자동차, highlighted
    hits = httpx.post(url + "/search", json={"query": "자동차", "mode": "keyword"}).json()["data"]
    assert {h["id"] for h in hits} == {"ko-2", "ko-3"}
    for h in hits:
        (a, b), = h["highlights"]
        assert h["text"][a:b] == "자동차"
    hits = httpx.post(url + "/search", json={"query": "bank loans", "mode": "keyword"}).json()["data"]
    assert hits[0]["id"] == "en-2"
    top = hits[0]
    assert [top["text"][a:b] for a, b in top["highlights"]] == ["loan", "bank"]
    for mode in ("vector", "hybrid"):
        hits = httpx.post(url + "/search", json={"query": "river", "mode": mode, "k": 3,
                                                 "where": {"lang": "ko"}}).json()["data"]
        assert len(hits) == 3 and {h["metadata"]["lang"] for h in hits} == {"ko"}
    vec = tiny_encoder.encode_queries(["dogs in a field"])[0].tolist()
    by_vector = httpx.post(url + "/search", json={"vector": vec, "k": 7}).json()["data"]
    by_text = httpx.post(url + "/search", json={"query": "dogs in a field", "k": 7}).json()["data"]
    assert [h["id"] for h in by_vector] == [h["id"] for h in by_text]
    assert httpx.post(url + "/documents/delete", json={"where": {"topic": "money"}}).json() == {"deleted": 3}
    assert httpx.post(url + "/documents/delete", json={"ids": ["en-1", "x"]}).json() == {"deleted": 1}
    assert "exactly one" in error_of(httpx.post(url + "/documents/delete", json={}), 422)
    info = httpx.get(url).json()
    assert info["count"] == 3 and info["metadata_fields"] == ["lang", "topic"]
    assert info["model"] == tiny_encoder.name and info["dim"] == 32
    sim = httpx.post(server.url + "/v1/similarity", json={"a": ["a red car", "bank"], "b": ["a red car"]})
    scores = np.array(sim.json()["scores"])
    assert scores.shape == (2, 1) and abs(scores[0, 0] - 1) < 1e-5 and scores[1, 0] < 0.999


def test_health_ready_info_metrics_and_openapi(server):
    assert httpx.get(server.url + "/ready").json()["status"] == "ready"
    info = httpx.get(server.url + "/info").json()
    assert info["limits"]["max_inputs"] == 64 and info["limits"]["max_body_bytes"] == 256 * 1024
    assert info["stores"] == ["docs", "scratch"] and info["auth"] is False
    httpx.post(server.url + "/v1/embeddings", json={"input": ["for the metrics", "two"]})
    text = httpx.get(server.url + "/metrics").text
    for name in ("embedkit_requests_total", "embedkit_request_seconds_bucket", "embedkit_batch_size_bucket",
                 "embedkit_batch_tokens_bucket", "embedkit_queue_depth", "embedkit_tokens_total",
                 "embedkit_requests_in_flight"):
        assert name in text, name
    assert 'route="/v1/embeddings",status="200"' in text
    schema = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/embeddings", "/v1/models", "/v1/stores/{name}/search", "/health", "/ready",
            "/info", "/metrics"} <= set(schema["paths"])
    assert httpx.get(server.url + "/docs").status_code == 200


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_concurrent_requests_are_batched_together(tiny_st_model, tiny_encoder):
    from embedkit.serve import Limits, create_app

    srv = Server(create_app(model=str(tiny_st_model), limits=Limits(max_wait_ms=300)))
    try:
        texts = [f"sentence number {i} about a river bank" for i in range(12)]
        results = [None] * len(texts)
        start = threading.Barrier(len(texts))

        def call(i):
            start.wait()
            results[i] = httpx.post(srv.url + "/v1/embeddings", json={"input": texts[i]}, timeout=30).json()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        got = np.array([r["data"][0]["embedding"] for r in results], dtype=np.float32)
        np.testing.assert_allclose(got, tiny_encoder.encode_queries(texts), atol=1e-6)
        metrics = httpx.get(srv.url + "/metrics").text
        batches = _metric(metrics, "embedkit_batch_requests_count")
        assert _metric(metrics, "embedkit_batch_requests_sum") == len(texts)
        assert batches < len(texts) / 2, f"{batches} batches for {len(texts)} concurrent requests"
    finally:
        srv.stop()


class BlockingEncoder:
    """The tiny encoder behind a gate: encoding waits until the test opens it."""

    def __init__(self, inner):
        self.inner, self.entered, self.gate = inner, threading.Event(), threading.Event()
        self.name, self.dim, self.modality = "blocking", inner.dim, "text"

    def encode(self, items, **options):
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return self.inner.encode(items, **options)


def test_a_full_queue_answers_429_with_retry_after(tiny_encoder):
    from embedkit.serve import Limits, create_app

    enc = BlockingEncoder(tiny_encoder)
    srv = Server(create_app(model=enc, limits=Limits(max_queue=2, max_wait_ms=1)))
    statuses = []
    try:
        def call(text):
            statuses.append(httpx.post(srv.url + "/v1/embeddings", json={"input": text}, timeout=30).status_code)

        first = threading.Thread(target=call, args=("first",))
        first.start()
        assert enc.entered.wait(10)  # the worker holds the first request
        queued = [threading.Thread(target=call, args=(f"q{i}",)) for i in range(2)]
        for t in queued:
            t.start()
        batcher = srv.app.state.service.batchers["blocking"]
        deadline = time.monotonic() + 10
        while batcher.depth < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert batcher.depth == 2
        r = httpx.post(srv.url + "/v1/embeddings", json={"input": "one too many"})
        assert "queue is full" in error_of(r, 429) and int(r.headers["retry-after"]) >= 1
        enc.gate.set()
        for t in [first, *queued]:
            t.join(30)
        assert statuses == [200, 200, 200]
        assert 'embedkit_queue_rejected_total{model="blocking"} 1.0' in httpx.get(srv.url + "/metrics").text
    finally:
        enc.gate.set()
        srv.stop()


def test_api_keys_guard_every_route_but_health(tiny_st_model):
    import openai

    from embedkit.serve import create_app

    key = "k3y-for-tests-0123456789"
    srv = Server(create_app(model=str(tiny_st_model), api_keys=["another-key-abcdefghij", key]))
    try:
        assert httpx.get(srv.url + "/health").status_code == 200
        for path in ("/v1/models", "/ready", "/info", "/metrics", "/openapi.json", "/v1/stores"):
            assert httpx.get(srv.url + path).status_code == 401, path
            assert httpx.get(srv.url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert httpx.get(srv.url + path, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        r = httpx.post(srv.url + "/v1/embeddings", json={"input": "a"}, headers={"Authorization": key})
        assert "API key" in error_of(r, 401) and r.headers["www-authenticate"] == "Bearer"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=srv.url + "/v1", api_key="wrong", max_retries=0).embeddings.create(
                model="default", input="a")
        ok = openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0).embeddings.create(
            model="default", input="a")
        assert len(ok.data[0].embedding) == 32
        # no CORS unless configured
        r = httpx.get(srv.url + "/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in r.headers
    finally:
        srv.stop()


def test_cors_only_for_configured_origins(tiny_st_model):
    from embedkit.serve import create_app

    srv = Server(create_app(model=str(tiny_st_model), cors_origins=["http://app.example"]))
    try:
        ok = httpx.get(srv.url + "/health", headers={"Origin": "http://app.example"})
        assert ok.headers["access-control-allow-origin"] == "http://app.example"
        other = httpx.get(srv.url + "/health", headers={"Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    finally:
        srv.stop()


def test_ready_is_503_until_the_model_loads(tiny_encoder):
    from embedkit.serve import create_app

    app = create_app(model=tiny_encoder)
    gate = threading.Event()
    service = app.state.service
    original = service._load
    service._load = lambda: (gate.wait(30), original())
    srv = Server(app, wait_ready=False)
    try:
        r = httpx.get(srv.url + "/ready")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        r = httpx.post(srv.url + "/v1/embeddings", json={"input": "a"})
        assert "loading" in error_of(r, 503) and r.headers["retry-after"]
        gate.set()
        srv._wait("/ready")
        assert httpx.post(srv.url + "/v1/embeddings", json={"input": "a"}).status_code == 200
    finally:
        gate.set()
        srv.stop()


def test_search_searches_again_when_a_hit_is_deleted_before_its_text_is_read(
        tmp_path, tiny_st_model, tiny_encoder, monkeypatch):
    """The soak found it: a delete landing between a search and reading its hits gave a 500."""
    from embedkit.serve import create_app
    from embedkit.store.sqlite import VectorStore

    from .conftest import make_store

    path = make_store(tmp_path / "race.db", tiny_encoder)
    real = VectorStore.search
    deleted: list[str] = []

    def racing_search(self, *args, **kwargs):
        hits = real(self, *args, **kwargs)
        if not deleted:  # a concurrent delete, after the search, before the texts are read
            deleted.append(hits[0].id)
            self.delete([hits[0].id])
        return hits

    monkeypatch.setattr(VectorStore, "search", racing_search)
    srv = Server(create_app(model=str(tiny_st_model), stores={"race": path}))
    try:
        r = httpx.post(srv.url + "/v1/stores/race/search", json={"query": "river bank", "k": 3})
    finally:
        srv.stop()
    assert r.status_code == 200, r.text
    ids = [h["id"] for h in r.json()["data"]]
    assert deleted and deleted[0] not in ids and len(ids) == 3
