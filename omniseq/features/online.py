"""Direct access to the Redis online store in exactly the format Feast's Redis online store uses.

The pipeline writes with :meth:`RedisOnlineStore.write`, serving reads with :meth:`RedisOnlineStore.read`, and
``feast.FeatureStore.get_online_features`` / ``write_to_online_store`` see the same data (tested both ways).

Feast's Redis data model (``feast/infra/online_stores/redis.py``, ``entity_key_serialization_version: 3``):

- one Redis hash per entity: key = ``serialize_entity_key(EntityKey(join_keys=["user_id"], values=[uid]))``
  followed by the project name (``omniseq``);
- one field per feature: ``murmur3_32("<view>:<feature>")`` as 4 little-endian bytes, value = a serialized
  ``feast.types.Value`` proto (``int64_list_val`` etc. for Array types; an empty proto means null);
- one field ``_ts:<view>`` = a serialized ``google.protobuf.Timestamp`` of the row's event time.

Several feature views of one user share the hash, so versions ``_v1``/``_v2`` live side by side.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final, NamedTuple

import mmh3
import redis
from google.protobuf.timestamp_pb2 import Timestamp

from feature_repo.views import PROJECT, USER_JOIN_KEY, Dtype, view
from omniseq.features.valueproto import LIST_FIELDS, messages

_STRING_TYPE: Final[int] = 2  # feast.types.ValueType.STRING


class Row(NamedTuple):
    """One feature row of a view: whose, the features by name, and its event time (epoch ms)."""

    user_id: str
    features: Mapping[str, Any]
    ts_ms: int


RowLike = Row | tuple[str, Mapping[str, Any], int]  # writers also take a plain (user_id, features, ts_ms)


def entity_key_prefix(join_key: str = USER_JOIN_KEY) -> bytes:
    """The bytes of ``serialize_entity_key`` (version 3) that precede the entity value (one string join key)."""
    k = join_key.encode()
    return struct.pack("<III", 1, _STRING_TYPE, len(k)) + k


def redis_key(user_id: str, project: str = PROJECT, join_key: str = USER_JOIN_KEY) -> bytes:
    """The Redis key Feast uses for one entity (version-3 entity key serialization + project)."""
    v = user_id.encode()
    return entity_key_prefix(join_key) + struct.pack("<II", _STRING_TYPE, len(v)) + v + project.encode()


def user_id_of_key(key: bytes, project: str = PROJECT, join_key: str = USER_JOIN_KEY) -> str | None:
    """The user id of a Redis key written by :func:`redis_key`, or None for any other key."""
    prefix, suffix = entity_key_prefix(join_key), project.encode()
    head = len(prefix) + 8
    if not (key.startswith(prefix) and key.endswith(suffix)) or len(key) < head + len(suffix):
        return None
    value_type, length = struct.unpack("<II", key[len(prefix) : head])
    if value_type != _STRING_TYPE or head + length + len(suffix) != len(key):
        return None
    return key[head : head + length].decode(errors="replace")


def field_hash(view_name: str, feature: str) -> bytes:
    """Feast's hash field name for a feature: murmur3_32 of ``view:feature``, 4 bytes little-endian."""
    return struct.pack("<I", mmh3.hash(f"{view_name}:{feature}", signed=False))


def ts_field(view_name: str) -> bytes:
    return f"_ts:{view_name}".encode()


def encode_ts(ts_ms: int) -> bytes:
    return Timestamp(seconds=ts_ms // 1000, nanos=(ts_ms % 1000) * 1_000_000).SerializeToString()


def decode_ts(raw: bytes) -> int:
    ts = Timestamp.FromString(raw)
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def _encoders() -> dict[Dtype, Callable[[Any], bytes]]:
    m = messages()
    value, i64, strs = m["Value"], m["Int64List"], m["StringList"]
    return {
        "int64": lambda x: value(int64_val=x).SerializeToString(),
        "float64": lambda x: value(double_val=x).SerializeToString(),
        "string": lambda x: value(string_val=x).SerializeToString(),
        "int64_list": lambda x: value(int64_list_val=i64(val=x)).SerializeToString(),
        "string_list": lambda x: value(string_list_val=strs(val=x)).SerializeToString(),
    }


_ENCODERS: dict[Dtype, Callable[[Any], bytes]] = {}


def decode_value(raw: bytes | None, parse: Callable[[bytes], Any] | None = None) -> Any:
    """A serialized ``feast.types.Value`` as a Python value: lists for Array types, None for null/missing."""
    if not raw:
        return None
    v = (parse or messages()["Value"].FromString)(raw)
    kind = v.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    if kind in LIST_FIELDS:
        return list(getattr(v, kind).val)
    return getattr(v, kind)


def encode_value(dtype: Dtype, value: Any) -> bytes:
    """A Python value as a serialized ``feast.types.Value`` (None -> empty proto, Feast's null)."""
    if value is None:
        return b""
    if not _ENCODERS:
        _ENCODERS.update(_encoders())
    try:
        return _ENCODERS[dtype](value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot encode {value!r} as {dtype}: {e}") from e


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    names: tuple[str, ...]
    fields: tuple[bytes, ...]  # feature hashes, then the _ts field last


class RedisOnlineStore:
    """Read/write feature rows of the ``omniseq`` Feast project directly in Redis (entity ``user``)."""

    def __init__(self, client: redis.Redis, project: str = PROJECT, batch_size: int = 500) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.client = client
        self.project = project
        self.batch_size = batch_size
        self._plans: dict[tuple[str, tuple[str, ...] | None], _ReadPlan] = {}
        self._hashes: dict[str, dict[str, bytes]] = {}

    @classmethod
    def from_url(cls, url: str, project: str = PROJECT) -> RedisOnlineStore:
        return cls(redis.Redis.from_url(url), project)

    def _field_hashes(self, view_name: str) -> dict[str, bytes]:
        hashes = self._hashes.get(view_name)
        if hashes is None:
            hashes = {f: field_hash(view_name, f) for f in view(view_name).feature_names}
            self._hashes[view_name] = hashes
        return hashes

    def _key(self, user_id: str) -> bytes:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
        return redis_key(user_id, self.project)

    def encode_row(self, view_name: str, features: Mapping[str, Any], ts_ms: int) -> dict[bytes, bytes]:
        """The hash fields of one row (Feast's layout); unknown feature names raise KeyError."""
        spec = view(view_name)
        dtypes = spec.dtypes()
        hashes = self._field_hashes(view_name)
        mapping = {ts_field(view_name): encode_ts(int(ts_ms))}
        for name, value in features.items():
            if name not in dtypes:
                raise KeyError(f"feature view {view_name!r} has no feature {name!r}")
            mapping[hashes[name]] = encode_value(dtypes[name], value)
        return mapping

    def write(self, view_name: str, rows: Iterable[RowLike], *, skip_older: bool = False) -> int:
        """Write :class:`Row` s, pipelined in batches; returns rows written.

        Last write wins by default (one round trip per batch; the pipeline writes each user's rows in order).
        ``skip_older=True`` first reads the stored ``_ts`` and skips rows strictly older than it (Feast skips
        equal timestamps too, which would lose late arrivals that do not move a sequence's newest timestamp)."""
        written = 0
        it = map(Row._make, rows)
        while batch := list(islice(it, self.batch_size)):
            written += self._write_batch(view_name, batch, skip_older)
        return written

    def _write_batch(self, view_name: str, batch: Sequence[Row], skip_older: bool) -> int:
        keys = [self._key(row.user_id) for row in batch]
        if skip_older:
            batch, keys = self._drop_older(view_name, batch, keys)
        with self.client.pipeline(transaction=False) as pipe:
            for key, row in zip(keys, batch, strict=True):
                pipe.hset(key, mapping=self.encode_row(view_name, row.features, row.ts_ms))  # type: ignore[arg-type]
            pipe.execute()
        return len(batch)

    def _drop_older(
        self, view_name: str, batch: Sequence[Row], keys: list[bytes]
    ) -> tuple[list[Row], list[bytes]]:
        tsf = ts_field(view_name)
        with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, tsf)
            stored = pipe.execute()
        latest: dict[bytes, int] = {}
        kept_rows: list[Row] = []
        kept_keys: list[bytes] = []
        for key, raw, row in zip(keys, stored, batch, strict=True):
            newest = latest.get(key, decode_ts(raw) if raw else -1)
            if row.ts_ms >= newest:
                latest[key] = row.ts_ms
                kept_rows.append(row)
                kept_keys.append(key)
        return kept_rows, kept_keys

    def _plan(self, view_name: str, feature_names: Sequence[str] | None) -> _ReadPlan:
        cache_key = (view_name, tuple(feature_names) if feature_names is not None else None)
        plan = self._plans.get(cache_key)
        if plan is None:
            hashes = self._field_hashes(view_name)
            names = tuple(feature_names) if feature_names is not None else tuple(hashes)
            unknown = [n for n in names if n not in hashes]
            if unknown:
                raise KeyError(f"feature view {view_name!r} has no feature(s) {unknown}")
            plan = _ReadPlan(names, (*(hashes[n] for n in names), ts_field(view_name)))
            self._plans[cache_key] = plan
        return plan

    def read(
        self,
        view_name: str,
        user_ids: Sequence[str],
        feature_names: Sequence[str] | None = None,
        *,
        with_ts: bool = False,
    ) -> list[dict[str, Any] | None]:
        """One pipelined HMGET round trip; per user a dict of features (None if the view has no row for it).

        ``with_ts=True`` adds ``"_ts_ms"``: the row's event time (serving uses it to judge staleness)."""
        replies = self.read_raw(view_name, user_ids, feature_names)
        return [self.decode_raw(view_name, r, feature_names, with_ts=with_ts) for r in replies]

    def read_raw(
        self, view_name: str, user_ids: Sequence[str], feature_names: Sequence[str] | None = None
    ) -> list[tuple[bytes | None, ...] | None]:
        """:meth:`read` without decoding: per user the stored bytes of each feature then of the row's ``_ts``
        (None when the view has no row). Equal replies are equal rows (serving's user cache compares them)."""
        plan = self._plan(view_name, feature_names)
        keys = [self._key(u) for u in user_ids]
        if len(keys) == 1:
            replies = [self.client.hmget(keys[0], plan.fields)]
        else:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(key, plan.fields)
                replies = pipe.execute()
        return [tuple(r) if r[-1] is not None else None for r in replies]

    def decode_raw(
        self,
        view_name: str,
        reply: tuple[bytes | None, ...] | None,
        feature_names: Sequence[str] | None = None,
        *,
        with_ts: bool = False,
    ) -> dict[str, Any] | None:
        """One reply of :meth:`read_raw` as :meth:`read` returns it."""
        if reply is None:
            return None
        plan = self._plan(view_name, feature_names)
        parse = messages()["Value"].FromString
        out = {name: decode_value(raw, parse) for name, raw in zip(plan.names, reply, strict=False)}
        if with_ts:
            out["_ts_ms"] = decode_ts(reply[-1])  # type: ignore[arg-type]
        return out
