"""RedisOnlineStore writes and reads exactly Feast's Redis format (checked against Feast itself, real Redis)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pandas as pd
import pytest
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3, _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Int64List, StringList, Value

from bench.feature_rows import T0, instore_features, sample_row, sequence_features
from feature_repo.views import VIEWS, feature_refs
from omniseq.features.online import (
    RedisOnlineStore,
    Row,
    decode_ts,
    decode_value,
    encode_ts,
    encode_value,
    field_hash,
    redis_key,
)


def sequence_row(user: str, n: int, max_len: int, seed: int) -> dict[str, Any]:
    return sequence_features(user, n, max_len, seed)


def instore_row(seed: int) -> dict[str, Any]:
    return instore_features(seed)


def rows_for(view_name: str, users: list[str]) -> list[Row]:
    return [sample_row(view_name, u, k, n_behaviours=5 + 17 * k) for k, u in enumerate(users)]


def feast_read(store: Any, view_name: str, users: list[str]) -> list[dict[str, Any]]:
    resp = store.get_online_features(
        features=feature_refs(view_name), entity_rows=[{"user_id": u} for u in users]
    )
    d = resp.to_dict()
    names = VIEWS[view_name].feature_names
    return [{n: d[n][i] for n in names} for i in range(len(users))]


def test_key_and_field_layout_match_feast() -> None:
    for uid in ["u1", "ü-ser/42", "x" * 300]:
        ek = EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=uid)])
        assert redis_key(uid) == _redis_key("omniseq", ek, 3)
        assert redis_key(uid).startswith(serialize_entity_key(ek, 3))
    assert field_hash("user_hybrid_seq_v1", "tok_items") == _mmh3("user_hybrid_seq_v1:tok_items")
    assert decode_ts(encode_ts(T0)) == T0


def test_value_roundtrip() -> None:

    for dtype, value in [("int64", -3), ("float64", 2.5), ("string", "é"), ("int64_list", [1, 2]),
                         ("string_list", ["a", ""]), ("int64_list", []), ("string", None)]:  # fmt: skip
        assert decode_value(encode_value(dtype, value)) == value  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int64"):
        encode_value("int64", "seven")


@pytest.mark.integration
@pytest.mark.parametrize("view_name", sorted(VIEWS))
def test_our_write_feast_read(applied_store: Any, redis_client: Any, view_name: str) -> None:
    users = [f"u{i}" for i in range(6)]
    rows = rows_for(view_name, users)
    assert RedisOnlineStore(redis_client, batch_size=4).write(view_name, rows) == len(rows)
    expected = [feats for _, feats, _ in rows]
    assert feast_read(applied_store, view_name, users) == expected
    assert RedisOnlineStore(redis_client).read(view_name, users) == expected


@pytest.mark.integration
@pytest.mark.parametrize("view_name", ["user_hybrid_seq_v2", "user_instore_agg_v1"])
def test_feast_write_our_read(applied_store: Any, redis_client: Any, view_name: str) -> None:
    users = [f"f{i}" for i in range(5)]
    rows = rows_for(view_name, users)
    df = pd.DataFrame([{"user_id": u, **f, "event_timestamp": pd.Timestamp(ts, unit="ms", tz="UTC"),
                        "created_timestamp": pd.Timestamp(ts, unit="ms", tz="UTC")} for u, f, ts in rows])  # fmt: skip
    applied_store.write_to_online_store(view_name, df)
    got = RedisOnlineStore(redis_client).read(view_name, users, with_ts=True)
    assert got == [{**f, "_ts_ms": ts} for _, f, ts in rows]


@pytest.mark.integration
def test_versions_side_by_side_and_missing(applied_store: Any, redis_client: Any) -> None:
    store = RedisOnlineStore(redis_client)
    v1 = sequence_row("u", 80, 50, 1)
    v2 = sequence_row("u", 80, 90, 1)
    store.write("user_hybrid_seq_v1", [Row("u", v1, T0)])
    store.write("user_hybrid_seq_v2", [Row("u", v2, T0)])
    assert (v1["seq_len"], v2["seq_len"]) == (50, 80)
    assert store.read("user_hybrid_seq_v1", ["u"]) == [v1]
    assert store.read("user_hybrid_seq_v2", ["u", "nobody"]) == [v2, None]
    assert feast_read(applied_store, "user_hybrid_seq_v2", ["u"]) == [v2]
    assert store.read("user_hybrid_seq_v1", ["u"], ["seq_len", "tok_ts"]) == [
        {"seq_len": 50, "tok_ts": v1["tok_ts"]}
    ]
    with pytest.raises(KeyError, match="no feature"):
        store.read("user_hybrid_seq_v1", ["u"], ["nope"])
    with pytest.raises(KeyError, match="unknown feature view"):
        store.read("user_hybrid_seq_v3", ["u"])


@pytest.mark.integration
def test_skip_older(redis_client: Any) -> None:
    store = RedisOnlineStore(redis_client)
    new, old = instore_row(1), instore_row(2)
    store.write("user_instore_agg_v1", [Row("u", new, T0 + 10)])
    store.write("user_instore_agg_v1", [Row("u", old, T0)], skip_older=True)
    assert store.read("user_instore_agg_v1", ["u"]) == [new]
    store.write(
        "user_instore_agg_v1", [Row("u", old, T0 + 10)], skip_older=True
    )  # equal time: late arrival wins
    assert store.read("user_instore_agg_v1", ["u"]) == [old]
    store.write("user_instore_agg_v1", [Row("u", new, T0)])  # default: last write wins
    assert store.read("user_instore_agg_v1", ["u"], with_ts=True) == [{**new, "_ts_ms": T0}]


def test_wire_copy_matches_feast_value_proto() -> None:

    cases = [
        ("int64", 7, Value(int64_val=7)),
        ("float64", 0.25, Value(double_val=0.25)),
        ("string", "ß", Value(string_val="ß")),
        ("int64_list", [3, -1, 2**40], Value(int64_list_val=Int64List(val=[3, -1, 2**40]))),
        ("string_list", ["a", ""], Value(string_list_val=StringList(val=["a", ""]))),
        ("int64_list", [], Value(int64_list_val=Int64List(val=[]))),
    ]
    for dtype, value, feast_proto in cases:
        assert encode_value(dtype, value) == feast_proto.SerializeToString()  # type: ignore[arg-type]
        assert decode_value(feast_proto.SerializeToString()) == value


def test_online_codec_does_not_import_feast() -> None:

    code = "import sys, omniseq.features.online, omniseq.features.offline; "
    code += "assert 'feast' not in sys.modules, 'feast imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
