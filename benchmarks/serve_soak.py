"""Soak test of ``embedkit serve``: 10 minutes of mixed embedding, search and writes; no error, no growth.

The server runs the default model (multilingual-e5-small) over a store of 600 KorSTS / STS-B
sentences (Korean and English, ``lang`` metadata) that the run first adds through the service
itself. Then 8 concurrent clients send, at random: an embedding request (1-4 texts, 45 %), a search
(vector, keyword or hybrid, a third with a ``lang`` filter, 45 %) or an upsert of one document
(10 %). Every minute it records requests, errors, p50 / p99 latency and the server's RSS; the store
is checked at the end (its item count and SQLite's integrity check, after a clean SIGTERM).

    flock /tmp/embedkit-heavy.lock python benchmarks/serve_soak.py               # 10 minutes
    python benchmarks/serve_soak.py --minutes 1                                   # a quick look

Writes benchmarks/results/serve_soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import (  # noqa: E402
    DATA, REPO, RESULTS, env_pairs, free_port, load_avg, rss_mb, rss_parts_mb, wait_http)


def sentences(data: Path) -> list[tuple[str, str]]:
    rows = (data / "ko_en_parallel" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    out, seen = [], set()
    for row in rows:
        ko, en = row.split("\t")[:2]
        for text, lang in ((ko, "ko"), (en, "en")):
            if text not in seen:
                seen.add(text)
                out.append((text, lang))
    random.Random(1).shuffle(out)
    return out


async def soak(url: str, pid: int, pool: list[tuple[str, str]], n_store: int, minutes: float,
               clients: int) -> dict:
    import httpx

    rng = random.Random(2)
    minute_stats: list[dict] = []
    current = {"latencies": [], "errors": [], "kinds": {"embed": 0, "search": 0, "upsert": 0}}
    stop = time.perf_counter() + 60 * minutes
    upserted = set()

    async def one(http):
        r = rng.random()
        if r < 0.45:
            kind = "embed"
            texts = [rng.choice(pool)[0] for _ in range(rng.randint(1, 4))]
            req = http.post(url + "/v1/embeddings", json={"model": "default", "input": texts})
        elif r < 0.90:
            kind = "search"
            text, lang = rng.choice(pool)
            body = {"query": text, "mode": rng.choice(["vector", "keyword", "hybrid"]), "k": 10}
            if rng.random() < 1 / 3:
                body["where"] = {"lang": lang}
            req = http.post(url + "/v1/stores/soak/search", json=body)
        else:
            kind = "upsert"
            i = rng.randrange(n_store)
            text, lang = pool[i]
            upserted.add(i)
            req = http.put(url + "/v1/stores/soak/documents", json={"documents": [
                {"id": f"s{i}", "text": text, "metadata": {"lang": lang, "rev": rng.randint(1, 9)}}]})
        t0 = time.perf_counter()
        try:
            resp = await req
            if resp.status_code >= 300:
                current["errors"].append(f"{kind} {resp.status_code}: {resp.text[:200]}")
                return
        except httpx.HTTPError as exc:
            current["errors"].append(f"{kind} {type(exc).__name__}: {exc}")
            return
        current["latencies"].append(time.perf_counter() - t0)
        current["kinds"][kind] += 1

    async def client(http):
        while time.perf_counter() < stop:
            await one(http)

    async def recorder():
        nonlocal current
        minute = 0
        while time.perf_counter() < stop:
            await asyncio.sleep(min(60.0, max(stop - time.perf_counter(), 0.1)))
            minute += 1
            lat = sorted(current["latencies"])
            q = (lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1)) if lat \
                else (lambda p: None)
            minute_stats.append({"minute": minute, "requests": len(lat), "errors": len(current["errors"]),
                                 "first_errors": current["errors"][:3], "p50_ms": q(0.5),
                                 "p99_ms": q(0.99), "rss_mb": round(rss_mb(pid), 1),
                                 **rss_parts_mb(pid),
                                 **current["kinds"]})
            print(json.dumps(minute_stats[-1]), flush=True)
            current = {"latencies": [], "errors": [], "kinds": {"embed": 0, "search": 0, "upsert": 0}}

    async with httpx.AsyncClient(timeout=120.0) as http:
        await asyncio.gather(recorder(), *(client(http) for _ in range(clients)))
    return {"minutes": minute_stats, "upserted_ids": len(upserted)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--store-size", type=int, default=600)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="an environment variable for the server process (repeatable)")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_soak.json")
    args = ap.parse_args()
    import httpx

    pool = sentences(args.data)
    folder = Path(tempfile.mkdtemp(prefix="embedkit-soak-"))
    store = folder / "soak.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1",
           **env_pairs(args.server_env)}
    proc = subprocess.Popen([sys.executable, "-m", "embedkit", "serve", "--store", f"soak={store}",
                             "--create", "--port", str(port), "--log-level", "warning"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    result = {"clients": args.clients, "store_size": args.store_size, "load_before": load_avg(),
              "server_env": args.server_env, "command": " ".join(["python", *sys.argv])}
    try:
        wait_http(url, "/ready", proc)
        t0 = time.perf_counter()
        with httpx.Client(base_url=url, timeout=300) as http:
            for start in range(0, args.store_size, 100):
                docs = [{"id": f"s{i}", "text": pool[i][0], "metadata": {"lang": pool[i][1]}}
                        for i in range(start, min(start + 100, args.store_size))]
                http.post("/v1/stores/soak/documents", json={"documents": docs}).raise_for_status()
        result["ingest_s"] = round(time.perf_counter() - t0, 1)
        result["rss_mb_after_ingest"] = round(rss_mb(proc.pid), 1)
        result.update(asyncio.run(soak(url, proc.pid, pool, args.store_size, args.minutes, args.clients)))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            result["exit_code"] = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            result["exit_code"] = "killed after 60 s"
    sys.path.insert(0, str(REPO / "src"))
    from embedkit.store.sqlite import VectorStore

    with VectorStore(store, create=False) as vs:
        result["final_count"] = vs.count()
        result["integrity_problems"] = vs.integrity_check()
    minutes = result["minutes"]
    result["total_requests"] = sum(m["requests"] for m in minutes)
    result["total_errors"] = sum(m["errors"] for m in minutes)
    if len(minutes) >= 2:
        result["rss_growth_mb_after_first_minute"] = round(minutes[-1]["rss_mb"] - minutes[0]["rss_mb"], 1)
    result["load_after"] = load_avg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {result['total_requests']} requests, {result['total_errors']} errors, "
          f"{result['final_count']} items, integrity {result['integrity_problems'] or 'ok'}")


if __name__ == "__main__":
    main()
