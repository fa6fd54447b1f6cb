"""The storefront page in a real browser: Debian's headless Chromium driven by Playwright, against a real uvicorn
server with a real redis-server and a real TorchScript model.

The page's timeline and recommendations must equal the API's answers; an in-store basket written into the online
store must show up on the page (and change its recommendations) without a reload; an unknown customer, a customer
without history and a store outage get clear messages. ``STOREFRONT_SCREENSHOT=1`` (``make screenshot``) also
saves the screenshot shown in the README as ``docs/storefront.png``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from feature_repo.views import BASKET_CODE
from models.registry import ModelRegistry
from omniseq.features.online import RedisOnlineStore
from omniseq.features.sequence import HybridSequence, Token
from serving.app import create_app
from tests.serving.conftest import SEQ_VIEW, RedisProcess, ServerThread, export_version, settings_for
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs"
T0 = int(time.time() * 1000) - 3 * 86_400_000  # three days ago
USER = "c-1042"


def history() -> HybridSequence:
    """Both channels: browsing online, a store visit, more browsing (one of each online event type)."""
    toks = [
        Token(0, T0, "item3", key="e1"),
        Token(1, T0 + 60_000, "item7", key="e2"),
        Token(BASKET_CODE, T0 + 86_400_000, "", ("item20", "item21", "item9"), "store-berlin-02", "b1"),
        Token(0, T0 + 90_000_000, "item11", key="e3"),
        Token(2, T0 + 90_100_000, "item11", key="e4"),
        Token(3, T0 + 90_200_000, "item11", key="e5"),
        Token(0, T0 + 170_000_000, "item14", key="e6"),
    ]
    return HybridSequence(USER, 50, toks)


def chromium() -> str:
    exe = os.environ.get("OMNISEQ_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed (Debian package chromium; scripts/install-system-deps.sh)")
    return exe


def eventually(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    wait_until(check, timeout, f"the page to show {what}", interval_s=0.1)


class Site:
    """The server, its Redis and the API's own answers."""

    def __init__(self, server: ServerThread, redis_proc: RedisProcess, store: RedisOnlineStore) -> None:
        self.server, self.redis_proc, self.store = server, redis_proc, store
        self.http = httpx.Client(base_url=server.url, timeout=5)

    def timeline(self, user: str) -> dict[str, Any]:
        r = self.http.get(f"/users/{user}/timeline")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def recommend(self, user: str) -> list[str]:
        r = self.http.post("/recommend", json={"user_id": user, "k": 10})
        assert r.status_code == 200, r.text
        return [i["item_id"] for i in r.json()["items"]]


@pytest.fixture
def site(redis_proc: RedisProcess, tmp_path: Path) -> Iterator[Site]:
    registry = ModelRegistry(tmp_path / "registry")
    registry.promote(export_version(registry, tmp_path, popularity={f"item{i}": i for i in range(60)}))
    store = RedisOnlineStore(redis.Redis(port=redis_proc.port))
    seq = history()
    store.write(SEQ_VIEW, [(USER, seq.to_features(), seq.last_ts)])
    store.write(SEQ_VIEW, [("newbie", HybridSequence("newbie", 50).to_features(), T0)])
    app = create_app(settings_for(redis_proc.port, registry.root, store_retry_s=0.05))
    with ServerThread(app) as server:
        s = Site(server, redis_proc, store)
        yield s
        s.http.close()
    store.client.close()


@pytest.fixture
def page(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 640})
        finally:
            browser.close()


def shown_timeline(page: Any) -> list[tuple[str, int]]:
    rows = page.eval_on_selector_all(
        "#timeline li[data-ts]", "els => els.map(e => [e.dataset.channel, Number(e.dataset.ts)])"
    )
    return [(c, t) for c, t in rows]


def shown_recs(page: Any) -> list[str]:
    return page.eval_on_selector_all("#rec-list li[data-item]", "els => els.map(e => e.dataset.item)")  # type: ignore[no-any-return]


def message(page: Any) -> str:
    return str(page.inner_text("#message"))


def test_storefront_in_a_browser(site: Site, page: Any, tmp_path: Path) -> None:
    page.goto(f"{site.server.url}/storefront")
    page.click("#random")  # the only customer with both channels
    api = site.timeline(USER)
    expected = [(e["channel"], e["ts_ms"]) for e in api["events"]]
    eventually("the timeline", lambda: shown_timeline(page) == expected)
    assert expected[0][1] > expected[-1][1] and len(expected) == len(history().tokens)
    basket_chips = page.eval_on_selector_all(
        "#timeline li[data-channel=store] .chip", "els => els.map(e => e.textContent)"
    )
    assert basket_chips == ["item20", "item21", "item9"]
    before = site.recommend(USER)
    eventually("the recommendations", lambda: shown_recs(page) == before)
    assert page.inner_text("#m-model") == site.http.get("/readyz").json()["model_version"]
    assert SEQ_VIEW in page.inner_text("#m-features") and "h ago" in page.inner_text("#m-fresh")
    assert page.get_attribute("#links a[href='/docs']", "href") == "/docs"
    assert page.get_attribute("#links a[href='/metrics']", "href") == "/metrics"

    # a store basket arrives in the online store: the page picks it up by itself
    seq = history()
    now = int(time.time() * 1000)
    seq.add(Token(BASKET_CODE, now, "", ("item40", "item41", "item42"), "store-paris-07", "b2"))
    site.store.write(SEQ_VIEW, [(USER, seq.to_features(), seq.last_ts)])
    after = site.recommend(USER)
    assert after != before, "the new basket should change this model's recommendations"
    eventually("the new basket on top", lambda: shown_timeline(page)[:1] == [("store", now)])
    assert "store-paris-07" in page.inner_text("#timeline li:first-child")
    eventually("the new recommendations", lambda: shown_recs(page) == after)
    assert "s ago" in page.inner_text("#m-fresh")
    shot = tmp_path / "storefront.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("STOREFRONT_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS / "storefront.png")

    # a customer without history, an unknown one, then the store goes away
    page.fill("#user", "newbie")
    page.press("#user", "Enter")
    eventually("the no-history message", lambda: "no history yet" in message(page))
    eventually("the fallback note", lambda: "popularity fallback" in page.inner_text("#rec-note"))
    assert shown_recs(page) == site.recommend("newbie") and shown_timeline(page) == []
    page.fill("#user", "nobody-at-all")
    page.press("#user", "Enter")
    eventually("the unknown-customer message", lambda: 'Unknown customer "nobody-at-all"' in message(page))
    assert shown_recs(page) == [] and shown_timeline(page) == []
    page.fill("#user", USER)
    page.press("#user", "Enter")
    eventually("the customer again", lambda: shown_recs(page) == after and message(page) == "")
    site.redis_proc.stop()
    eventually("the outage message", lambda: "online feature store is unreachable" in message(page))
    assert page.inner_text("#live-text") == "store outage"
    assert shown_recs(page) == after  # the last data stays on screen


def test_explanations_and_other_families_tabs(site: Site, page: Any) -> None:
    """The page against an API that explains and has another family's endpoint (config and answers stubbed in the
    browser: the page is under test), and against today's API, which rejects ``explain``: asked again without it."""
    real = site.recommend(USER)
    config = site.http.get("/storefront/config").json()
    config["explain"] = True
    config["tabs"][0]["body"]["explain"] = True
    config["tabs"].append(
        {"key": "next-basket", "label": "Next basket", "path": "/next-basket", "body": {"k": 3}}
    )
    page.route("**/storefront/config", lambda route: route.fulfill(json=config))
    page.route(
        "**/next-basket", lambda route: route.fulfill(json={"items": [{"item_id": "item5", "score": 0.5}]})
    )
    page.goto(f"{site.server.url}/storefront?user={USER}")
    eventually("the recommendations asked again without explain", lambda: shown_recs(page) == real)
    assert page.query_selector_all("#rec-list [data-why]") == []

    sent: list[Any] = []
    items = [{"item_id": i, "score": 1.0, "explanation": {"text": f"bought with {i}"}} for i in real]

    def explained(route: Any) -> None:
        sent.append(route.request.post_data_json)
        route.fulfill(json={"items": items, "model_version": "m", "feature_versions": {}, "fallback": False})

    page.route("**/recommend", explained)
    page.reload()
    eventually("the explanations", lambda: len(page.query_selector_all("#rec-list [data-why]")) == len(real))
    assert page.inner_text(f"#rec-list li[data-item='{real[0]}'] .why") == f"why: bought with {real[0]}"
    assert sent[0] == {"user_id": USER, "k": 10, "explain": True}
    page.click("#tabs button[data-tab='next-basket']")
    eventually("the other family's tab", lambda: shown_recs(page) == ["item5"])
