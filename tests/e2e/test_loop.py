"""The whole loop with real parts: Kafka (KRaft), the PyFlink job, Redis, Feast, training from the offline store,
TorchScript export, the registry, promotion and the API -- on a small simulator run.

One module-scoped loop (its own Kafka and Redis on free ports, its own run folder) serves three tests:
the answers of ``/recommend``, an in-store drop changing a user's next answer, and a scheduled retraining cycle
promoting a better model while requests flow (zero failed requests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lifecycle.demo import DemoSettings, Loop, local_stack, sequences_in_redis
from lifecycle.retrain import RetrainConfig, retrain_once
from lifecycle.schedule import run_on_schedule
from models.inputs import SPECIAL_NAMES
from models.registry import ModelRegistry
from omniseq.infra.process import free_port
from omniseq.schema import StoreTransaction
from omniseq.settings import StackSettings
from pipeline.producer import write_drop
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
VIEW = Loop.view


def _settings(run_dir: Path) -> StackSettings:
    ports = {n: free_port() for n in ("kafka_port", "kafka_controller_port", "redis_port", "api_port")}
    return StackSettings(run_dir=run_dir, **ports)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    settings = _settings(tmp_path_factory.mktemp("e2e"))
    demo = DemoSettings(users=120, rate=4000, feature_timeout_s=240, stay_up=False)
    lp = Loop(demo, settings)
    with local_stack(settings):
        try:
            lp.start_pipeline()
            online, store = lp.replay()
            lp.wait_for_features(online)
            weak = RetrainConfig(model="sasrec_attne", feature_view=VIEW, epochs=1, hidden=8, max_len=90,
                                 min_users=10, progress=False, margin=0.0, end_ms=int(time.time() * 1000))  # fmt: skip
            first = retrain_once(weak, settings)
            assert first.promote
            base = lp.start_api()
            yield {"loop": lp, "settings": settings, "base": base, "online": online, "store": store,
                   "first": first.challenger}  # fmt: skip
        finally:
            lp.stop()


def _recommend(base: str, user: str, k: int = 10) -> dict[str, Any]:
    r = httpx.post(f"{base}/recommend", json={"user_id": user, "k": k}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_recommendations_for_online_and_hybrid_users(loop: dict[str, Any]) -> None:
    base, settings = loop["base"], loop["settings"]
    users = sorted(loop["online"])
    rows = sequences_in_redis(settings, users, VIEW)
    hybrid = [u for u, r in zip(users, rows, strict=True) if r and 4 in r["tok_types"]]
    online_only = [u for u, r in zip(users, rows, strict=True) if r and 4 not in r["tok_types"]]
    assert hybrid and online_only
    registry = ModelRegistry(settings.dir("registry"))
    vocab = set(registry.get(loop["first"]).vocab()) - set(SPECIAL_NAMES)
    for user in [*hybrid[:3], *online_only[:3]]:
        body = _recommend(base, user)
        assert body["user_id"] == user and body["fallback"] is False
        assert body["model_version"] == loop["first"]
        assert body["feature_versions"]["sequence"] == VIEW
        items = [i["item_id"] for i in body["items"]]
        assert len(items) == 10 and len(set(items)) == 10 and set(items) <= vocab
        scores = [i["score"] for i in body["items"]]
        assert scores == sorted(scores, reverse=True)
    cold = _recommend(base, "nobody-ever")
    assert cold["fallback"] is True and cold["items"]


def test_online_features_equal_offline_features_after_the_pipeline(loop: dict[str, Any]) -> None:
    """No training/serving skew: for sampled users, what serving reads from Redis equals the point-in-time row
    training reads from the Parquet offline store, for both sequence versions."""
    import pandas as pd

    from omniseq.features.training import LABEL_TS, build_training_set

    settings, newest = loop["settings"], loop["online"]
    users = sorted(newest)[::7]
    for view in ("user_hybrid_seq_v1", "user_hybrid_seq_v2"):
        online = sequences_in_redis(settings, users, view)
        labels = pd.DataFrame({"user_id": users, LABEL_TS: [int(r["last_ts"]) + 1 for r in online if r]})
        offline = build_training_set(settings, labels, view).to_dict("records")
        for user, on, off in zip(users, online, offline, strict=True):
            assert on is not None and off["user_id"] == user
            assert {k: on[k] for k in on} == {k: off[k] for k in on}, (view, user)


def test_instore_drop_changes_the_next_answer(loop: dict[str, Any]) -> None:
    base, settings = loop["base"], loop["settings"]
    user = sorted(loop["online"])[0]
    before = _recommend(base, user, k=20)
    row = sequences_in_redis(settings, [user], VIEW)[0]
    assert row is not None
    registry = ModelRegistry(settings.dir("registry"))
    vocab = registry.get(loop["first"]).vocab()[len(SPECIAL_NAMES) :]
    basket = tuple(i for i in vocab[:40:4] if i not in {x["item_id"] for x in before["items"]})[:6]
    ts = int(row["last_ts"]) + 60_000
    dropped = time.monotonic()
    write_drop(
        [StoreTransaction("e2e-drop-1", user, basket, ts, "store-e2e")], settings.dir("landing"), "e2e-drop"
    )

    def basket_arrived() -> bool:
        r = sequences_in_redis(settings, [user], VIEW)[0]
        return r is not None and int(r["last_ts"]) == ts

    wait_until(basket_arrived, 60, "the dropped basket in the user's sequence", interval_s=0.2)
    freshness = time.monotonic() - dropped
    after = _recommend(base, user, k=20)
    assert after["model_version"] == before["model_version"]
    assert [i["item_id"] for i in after["items"]] != [i["item_id"] for i in before["items"]]
    # the landing folder is polled (instore monitor interval): the drop reaches serving within seconds
    assert freshness < 30


def test_scheduled_retrain_promotes_while_requests_flow(loop: dict[str, Any]) -> None:
    base, settings = loop["base"], loop["settings"]
    users = sorted(loop["online"])[:20]
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            i = 0
            while not stop.is_set():
                r = http.post("/recommend", json={"user_id": users[i % len(users)], "k": 5})
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.add(r.json()["model_version"])
                i += 1

    strong = RetrainConfig(model="sasrec_attne", feature_view=VIEW, epochs=6, hidden=32, max_len=90,
                           min_users=10, progress=False, margin=0.0, end_ms=int(time.time() * 1000))  # fmt: skip
    decisions: list[Any] = []
    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        stats = run_on_schedule("* * * * *", lambda: decisions.append(retrain_once(strong, settings)),
                                threading.Event(), max_runs=1)  # fmt: skip
        assert stats.runs == 1 and stats.failures == 0, stats.last_error
        assert decisions[0].promote, decisions[0].reason
        new = decisions[0].challenger
        wait_until(lambda: new in versions, 30, "the server to serve the new champion", interval_s=0.2)
    finally:
        stop.set()
        thread.join()
    assert statuses and all(s == 200 for s in statuses), {s for s in statuses if s != 200}
    assert {loop["first"], new} <= versions
    registry = ModelRegistry(settings.dir("registry"))
    assert registry.champion().version == new  # type: ignore[union-attr]
    assert [d["promote"] for d in registry.decisions()][-1] is True
