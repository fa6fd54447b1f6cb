"""The user-representation cache, ANN retrieval and explanations of ``POST /recommend`` with a real exported SASRec
attnE (``user_repr``/``item_embeddings``), a real redis-server and a real registry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import torch
from fastapi.testclient import TestClient

from models.ann import IndexParams
from models.inputs import InputSpec, encode_sequence
from models.registry import ModelRegistry
from omniseq.features.online import RedisOnlineStore
from omniseq.features.sequence import HybridSequence, Token
from serving.app import create_app
from tests.serving.conftest import (
    BASKET,
    HISTORY,
    SEQ_VIEW,
    RedisProcess,
    export_sasrec_version,
    make_sequence,
    settings_for,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass
class Served:
    client: TestClient
    registry: ModelRegistry
    version: str
    store: RedisOnlineStore


def write(store: RedisOnlineStore, seq: HybridSequence) -> None:
    store.write(SEQ_VIEW, [(seq.user_id, seq.to_features(), seq.last_ts)])


@pytest.fixture
def served(redis_proc: RedisProcess, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    registry = ModelRegistry(tmp_path / "registry")
    index_params = getattr(request, "param", None)
    version = export_sasrec_version(registry, tmp_path, index_params=index_params)
    registry.promote(version)
    store = RedisOnlineStore(redis.Redis(port=redis_proc.port))
    write(store, make_sequence("alice", HISTORY, basket=BASKET))
    app = create_app(settings_for(redis_proc.port, registry.root, explain_top=20, user_cache_size=100))
    with TestClient(app) as client:
        yield Served(client, registry, version, store)
    store.client.close()


def offline_scores(registry: ModelRegistry, version: str, seq: HybridSequence) -> torch.Tensor:
    """Training-side scoring of ``seq``: the shared encoder and the exported forward pass (no serving code)."""
    mv = registry.get(version)
    index = {item: i for i, item in enumerate(mv.vocab())}
    tokens, baskets = encode_sequence(seq, index, InputSpec.from_dict(mv.manifest["input_spec"]))
    with torch.inference_mode():
        return torch.jit.load(str(mv.model_path))(tokens[None], baskets[None])[0]


def top_ids(served: Served, seq: HybridSequence, k: int) -> list[str]:
    vocab = served.registry.get(served.version).vocab()
    return [
        vocab[i] for i in torch.topk(offline_scores(served.registry, served.version, seq), k).indices.tolist()
    ]


def recommend(served: Served, **body: Any) -> dict[str, Any]:
    r = served.client.post("/recommend", json={"user_id": "alice", "k": 10, **body})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def cache_count(served: Served, result: str, cache: str = "user") -> float:
    for line in served.client.get("/metrics").text.splitlines():
        if line.startswith(f'omniseq_{cache}_cache_total{{result="{result}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_cache_hits_while_the_row_is_unchanged_and_a_new_behaviour_changes_the_next_answer(
    served: Served,
) -> None:
    seq = make_sequence("alice", HISTORY, basket=BASKET)
    first = recommend(served)
    assert [i["item_id"] for i in first["items"]] == top_ids(served, seq, 10)
    assert recommend(served)["items"] == first["items"]  # the same request again: the answer cache's
    assert (cache_count(served, "miss", "answer"), cache_count(served, "hit", "answer")) == (1, 1)
    assert (cache_count(served, "miss"), cache_count(served, "hit")) == (1, 0)
    assert recommend(served, k=5)["items"] == first["items"][:5]  # another shape: the user cache's
    assert (cache_count(served, "miss"), cache_count(served, "hit")) == (1, 1)

    newer = make_sequence(
        "alice", [*HISTORY, "item40"], basket=BASKET
    )  # a new behaviour: newest timestamp moves
    write(served.store, newer)
    after = recommend(served)
    assert [i["item_id"] for i in after["items"]] == top_ids(served, newer, 10)
    assert after["items"] != first["items"]
    assert cache_count(served, "miss") == 2 and cache_count(served, "miss", "answer") == 3

    # a late behaviour inserted behind the newest one: same newest timestamp, different row -> not served stale
    late = HybridSequence("alice", 50, list(newer.tokens))
    late.add(Token(3, newer.tokens[1].ts_ms + 1, "item50", key="late"))
    assert late.last_ts == newer.last_ts
    write(served.store, late)
    again = recommend(served)
    assert [i["item_id"] for i in again["items"]] == top_ids(served, late, 10)
    assert cache_count(served, "miss") == 3


def test_caches_off_give_the_same_answers(redis_proc: RedisProcess, tmp_path: Path, served: Served) -> None:
    app = create_app(
        settings_for(redis_proc.port, served.registry.root, user_cache_size=0, answer_cache_size=0)
    )
    with TestClient(app) as client:
        for _ in range(2):
            r = client.post("/recommend", json={"user_id": "alice", "k": 10})
            assert r.json()["items"] == recommend(served)["items"]


def test_explanations_shape_weights_and_the_basket(served: Served) -> None:
    assert all("because" not in item for item in recommend(served)["items"])  # off by default
    body = recommend(served, k=40, explain=True)
    seq = make_sequence("alice", HISTORY, basket=BASKET)
    full = offline_scores(served.registry, served.version, seq)
    without_basket = offline_scores(
        served.registry, served.version, HybridSequence("alice", 50, seq.tokens[1:])
    )
    index = {v: i for i, v in enumerate(served.registry.get(served.version).vocab())}
    baskets_seen = 0
    for item in body["items"]:
        drivers = item["because"]
        assert len(drivers) <= 5  # 5 behaviours: 4 online events and 1 basket
        weights = [d["weight"] for d in drivers]
        assert weights == sorted(weights, reverse=True) and all(0 < w <= 1 for w in weights)
        if drivers:  # every positive driver is shown (explain_top=20): the shares add up to 1
            assert sum(weights) == pytest.approx(1.0, abs=1e-4)
        for d in drivers:
            assert d["score_drop"] > 0
            if d["kind"] == "in_store":  # the basket is explained as one behaviour, with its items
                baskets_seen += 1
                assert d["items"] == list(BASKET) and d["store_id"] == "store-1"
                i = index[item["item_id"]]
                assert d["score_drop"] == pytest.approx(float(full[i] - without_basket[i]), abs=1e-4)
            else:
                assert d["item_id"] in HISTORY and d["event_type"] == "view"
    assert baskets_seen > 0


@pytest.mark.parametrize("served", [IndexParams(nlist=4, nprobe=4, candidates=20)], indirect=True)
def test_ann_retrieval_scans_every_cell_and_matches_exact_scoring(served: Served) -> None:
    seq = make_sequence("alice", HISTORY, basket=BASKET)
    body = recommend(served, exclude_items=["item59", top_ids(served, seq, 1)[0]])
    exact = [x for x in top_ids(served, seq, 12) if x not in ("item59", top_ids(served, seq, 1)[0])][:10]
    assert [i["item_id"] for i in body["items"]] == exact


def test_answer_cache_resends_an_answer_only_for_the_same_row_model_and_request(
    served: Served, tmp_path: Path
) -> None:
    explained = recommend(served, explain=True)
    assert recommend(served, explain=True) == explained  # the same request again: the cached answer
    hits = cache_count(served, "hit", "answer")
    plain = recommend(served)  # another shape of the same user and row: its own answer
    assert "because" not in plain["items"][0] and cache_count(served, "hit", "answer") == hits
    seq = make_sequence("alice", HISTORY, basket=BASKET)
    without = recommend(served, exclude_items=[plain["items"][0]["item_id"]])
    assert [i["item_id"] for i in without["items"]] == top_ids(served, seq, 11)[1:]

    newer = export_sasrec_version(served.registry, tmp_path / "newer", seed=1)
    served.registry.promote(newer)  # a new champion: nothing cached under the old version is sent

    def from_newer() -> dict[str, Any] | None:
        body = recommend(served)
        return body if body["model_version"] == newer else None

    body = wait_until(from_newer, 10, "an answer from the new champion")
    now = Served(served.client, served.registry, newer, served.store)
    assert [i["item_id"] for i in body["items"]] == top_ids(now, seq, 10)
