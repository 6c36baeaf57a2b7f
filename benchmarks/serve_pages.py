"""Screenshots of the web pages for the README, and the explorer's frame time with 100k points.

Starts ``embedkit serve`` with the default model (multilingual-e5-small) over a store of KorSTS /
STS-B sentences (Korean and English, ``lang`` metadata) added through the service, then drives
Debian's chromium with Playwright: the search page (a Korean and an English query), the explorer
on the store (PCA, coloured by language, a point clicked for its neighbours) and on 100,000 tokens
of the model's vocabulary (PCA 3-D, coloured by k-means cluster), where it measures the time to
draw a frame while rotating (software WebGL: ANGLE on SwiftShader, no GPU).

    flock /tmp/embedkit-heavy.lock python benchmarks/serve_pages.py

Writes docs/serve/*.png and benchmarks/results/serve_pages.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import DATA, REPO, RESULTS, free_port, load_avg, wait_http  # noqa: E402
from serve_soak import sentences  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store-size", type=int, default=400)
    ap.add_argument("--vocabulary-points", type=int, default=100_000)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--shots", type=Path, default=REPO / "docs" / "serve")
    ap.add_argument("--out", type=Path, default=RESULTS / "serve_pages.json")
    args = ap.parse_args()
    import httpx
    from playwright.sync_api import sync_playwright

    pool = sentences(args.data)[: args.store_size]
    store = Path(tempfile.mkdtemp(prefix="embedkit-pages-")) / "sentences.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "embedkit", "serve", "--store", f"sentences={store}",
                             "--create", "--port", str(port), "--log-level", "warning"], env=env)
    result = {"load_before": load_avg(), "store_size": len(pool)}
    args.shots.mkdir(parents=True, exist_ok=True)
    try:
        wait_http(url, "/ready", proc)
        with httpx.Client(base_url=url, timeout=300) as http:
            for start in range(0, len(pool), 100):
                docs = [{"id": f"s{i}", "text": t, "metadata": {"lang": lang}}
                        for i, (t, lang) in enumerate(pool[start:start + 100], start)]
                http.post("/v1/stores/sentences/documents", json={"documents": docs}).raise_for_status()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 680})
            # queries drawn from the store's own sentences, so that each has matches to show
            ko = next(t for t, lang in pool if lang == "ko" and len(t.split()) >= 4)
            en = next(t for t, lang in pool[50:] if lang == "en" and len(t.split()) >= 6)
            ko_query = " ".join(ko.split()[:3])
            en_query = " ".join([w.strip(".,;") for w in en.split() if len(w) >= 5][:3])
            result["queries"] = [ko_query, en_query]
            page.goto(url + "/ui/search.html?store=sentences&q=" + ko_query)
            page.wait_for_selector("#results li")
            page.screenshot(path=str(args.shots / "search-ko.png"))
            page.check("input[name=mode][value=keyword]")
            page.fill("#q", en_query)
            page.keyboard.press("Enter")
            page.wait_for_function("document.querySelector('#status').textContent.includes('keyword')")
            page.screenshot(path=str(args.shots / "search-en.png"))
            page.set_viewport_size({"width": 1100, "height": 900})
            page.goto(url + "/ui/explorer.html?source=store:sentences&color=field:lang")
            page.wait_for_selector("body[data-state=ready]", timeout=120_000)
            x, y = page.evaluate("explorer.screenOf(3)")
            page.mouse.click(x, y)
            page.wait_for_selector("#neighbor-list li[data-index]")
            page.mouse.move(x + 1, y + 1)
            page.wait_for_timeout(300)  # let the hover tooltip show for the picture
            page.screenshot(path=str(args.shots / "explorer-store.png"))
            model = "multilingual-e5-small"
            t0 = time.perf_counter()
            page.goto(url + f"/ui/explorer.html?source=model:{model}&dim=3&color=cluster"
                            f"&limit={args.vocabulary_points}")
            page.wait_for_selector("body[data-state=ready]", timeout=600_000)
            result["vocabulary_map_s"] = round(time.perf_counter() - t0, 1)
            result["vocabulary_points"] = page.evaluate("explorer.state.n")
            result["frame_ms_3d_rotating"] = page.evaluate("explorer.benchmark(60)")
            page.fill("#query", "자동차")
            page.keyboard.press("Enter")
            page.wait_for_function("explorer.state.query !== null")
            page.screenshot(path=str(args.shots / "explorer-vocabulary.png"))
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    result["load_after"] = load_avg()
    result["screenshots"] = sorted(os.path.relpath(p, REPO) for p in args.shots.glob("*.png"))
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
