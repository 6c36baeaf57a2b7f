"""The web pages in a real headless Chromium (Debian's chromium, driven by Playwright for Python)."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from .conftest import Server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        # WebGL without a GPU: ANGLE on SwiftShader (software), asked for explicitly
        "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, errors


def non_white_colours(png: bytes) -> tuple[float, int]:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    coloured = img[(img < 235).any(axis=1)]
    distinct = {tuple(c // 32) for c in coloured}
    return len(coloured) / len(img), len(distinct)


def test_search_page_finds_korean_and_english(server, page):
    page.goto(server.url + "/")  # redirects to the search page
    page.wait_for_selector("#store option[value=docs]", state="attached")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("자동차")
    page.keyboard.press("Alt+3")  # keyword mode (searches at once)
    page.wait_for_selector("#results li")
    texts = page.locator("#results li .text").all_inner_texts()
    assert texts and all("자동차" in t for t in texts)
    assert page.locator("#results li mark").first.inner_text() == "자동차"
    assert "keyword" in page.locator("#status").inner_text()
    # English, keyword again, with a filter on lang = en
    page.fill("#q", "a loan from the bank")
    page.click("#add-filter")
    page.select_option(".filter select", "lang")
    page.fill(".filter input", "en")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#status').textContent.includes('result')"
                           " && document.querySelector('#results li').dataset.id.startsWith('en')")
    first = page.locator("#results li").first
    assert first.get_attribute("data-id") == "en-2"
    assert {m.lower() for m in page.locator("#results li").first.locator("mark").all_inner_texts()} \
        >= {"loan", "bank"}
    ids = page.locator("#results li").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids and all(i.startswith("en-") for i in ids)
    # keyboard: arrow down moves into the results
    page.focus("#q")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.id") == "en-2"
    # hybrid search in Korean (a mode change searches at once)
    page.fill("#q", "바다에 가는 자동차")
    page.fill(".filter input", "ko")
    page.check("input[name=mode][value=hybrid]")
    page.wait_for_function("document.querySelector('#status').textContent.includes('hybrid')")
    assert "자동차" in page.locator("#results li mark").first.inner_text()
    ids = page.locator("#results li").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids and all(i.startswith("ko-") for i in ids)


def test_explorer_renders_points_and_fills_neighbours_on_click(server, page):
    page.goto(server.url + "/ui/explorer.html?source=store:docs&color=field:lang")
    page.wait_for_selector("body[data-state=ready]")
    assert page.evaluate("explorer.webgl") and page.evaluate("explorer.state.n") == 7
    share, colours = non_white_colours(page.locator("#map").screenshot())
    assert share > 0.0005 and colours >= 2, (share, colours)  # points in two colours (en, ko)
    legend = page.locator("#legend span").all_inner_texts()
    assert sorted(legend) == ["en", "ko"]
    x, y = page.evaluate("explorer.screenOf(0)")
    page.mouse.move(x, y)
    page.wait_for_selector("#tooltip", state="visible")
    assert "en-1" in page.locator("#tooltip").inner_text()
    page.mouse.click(x, y)
    page.wait_for_selector("#neighbor-list li[data-index]")
    items = page.locator("#neighbor-list li[data-index]")
    assert items.count() == 6  # every other point, nearest first
    scores = [float(t.split()[0]) for t in items.all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    assert page.evaluate("explorer.state.selected") == 0
    # a query typed in the page is embedded and placed on the map
    page.fill("#query", "자동차를 타고")
    page.keyboard.press("Enter")
    page.wait_for_function("explorer.state.query !== null")
    assert "query: 자동차를 타고" in page.locator("#neighbor-list").inner_text()
    # 3-D, coloured by cluster
    page.select_option("#dim", "3")
    page.select_option("#color", "cluster")
    page.click("#draw")
    page.wait_for_function("document.body.dataset.state === 'ready' && explorer.state.dim === 3")
    assert non_white_colours(page.locator("#map").screenshot())[0] > 0.0005


def test_explorer_stays_fluid_with_100k_points(page):
    from embedkit.serve import create_app
    from embedkit.text.word_vectors import WordVectors

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 8, 100_000)
    vectors = rng.normal(size=(8, 16))[groups] + 0.4 * rng.normal(size=(100_000, 16))
    words = WordVectors([f"w{i}" for i in range(100_000)], vectors, name="random-100k")
    srv = Server(create_app(model=words))
    try:
        page.goto(srv.url + "/ui/explorer.html?source=model:random-100k&color=cluster")
        page.wait_for_selector("body[data-state=ready]", timeout=60_000)
        assert page.evaluate("explorer.state.n") == 100_000
        assert non_white_colours(page.locator("#map").screenshot())[0] > 0.05
        frames = page.evaluate("explorer.benchmark(20)")
        print("100k points, ms per frame:", frames)
        # software WebGL (SwiftShader) on a small shared CPU: well under a frame budget of 1/10 s
        assert frames["p95"] < 100, frames
        x, y = page.evaluate("explorer.screenOf(123)")
        page.mouse.click(x, y)
        page.wait_for_selector("#neighbor-list li[data-index]")
        assert page.locator("#neighbor-list li[data-index]").count() == 10
    finally:
        srv.stop()


def test_vocabulary_map_places_queries_in_the_token_space(server, tiny_encoder):
    import httpx

    name = httpx.get(server.url + "/v1/models").json()["data"][0]["id"]
    m = httpx.post(server.url + "/v1/explore/map", json={"source": f"model:{name}", "dim": 3},
                   timeout=60).json()
    assert m["n"] > 200 and m["dim"] == 3
    tokens = httpx.post(server.url + "/v1/explore/texts", json={"map_id": m["map_id"],
                        "indices": list(range(m["n"]))}, timeout=60).json()["data"]
    word = next(t["text"] for t in tokens if t["text"].isalpha() and len(t["text"]) >= 4
                and len(tiny_encoder.tokenizer.encode(t["text"], add_special_tokens=False).ids) == 1)
    r = httpx.post(server.url + "/v1/explore/neighbors",
                   json={"map_id": m["map_id"], "query": word, "k": 3}, timeout=60).json()
    assert r["data"][0]["text"] == word and abs(r["data"][0]["score"] - 1) < 1e-5
    assert len(r["position"]) == 3
