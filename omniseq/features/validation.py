"""Validation of feature rows before they are written (online and offline), with a quarantine for rejects.

A row is ``(user_id, features, event_ts_ms)`` for one feature view of :mod:`feature_repo.views`. Checks:
the user id, the timestamp (an integer in the schema's range, not later than now + ``max_clock_skew_ms``), every
feature present with its type (no unknown names), numeric ranges, and per view kind the structure:

- sequence: ``seq_len <= max_len``; ``tok_*`` lists of length ``seq_len``; types 0..4; ``tok_ts`` non-decreasing
  and ``last_ts`` its last value (0 when empty) and equal to the row's event time; online tokens carry an item id,
  basket tokens ``""``; CSR ``basket_offsets`` start at 0, strictly increase (no empty basket), have one more
  entry than there are baskets and end at ``len(basket_items)``; one ``basket_stores`` entry per basket.
- online aggregates: ``n_events`` is the sum of the per-type counts; ``last_online_ts`` <= event time.
- in-store aggregates: ``store_items >= store_visits``, ``mean_basket_size`` = items / visits,
  ``last_store_ts`` <= event time.

Rejected rows are never dropped silently: :class:`Quarantine` appends them with the reason to
``<quarantine_dir>/features/<view>/<pid>.jsonl`` and :class:`RejectCounter` counts them per (view, reason).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feature_repo.views import BASKET_CODE, Dtype, ViewSpec, view
from omniseq.features.online import Row
from omniseq.schema import MAX_ID_LEN, MIN_TS_MS
from omniseq.settings import OmniseqSettings, StackSettings


class FeatureValidationSettings(OmniseqSettings):
    """``OMNISEQ_FEATURE_MAX_CLOCK_SKEW_MS``: how far in the future an event time may be (clock skew)."""

    feature_max_clock_skew_ms: int = 60_000


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a row was rejected: a short ``code`` (metric label) and a ``detail`` naming the offending value."""

    code: str
    detail: str


class RowError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.invalid = Invalid(code, detail)


def _fail(code: str, detail: str) -> RowError:
    return RowError(code, detail)


_SCALAR_TYPES: dict[str, tuple[type, ...]] = {"int64": (int,), "float64": (int, float), "string": (str,)}


def _check_scalar(name: str, base: str, value: Any, low: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, _SCALAR_TYPES[base]):
        raise _fail("type", f"{name}: expected {base}, got {type(value).__name__} {value!r:.60}")
    num: float = value if base != "string" else 0.0  # type: ignore[assignment]
    if base == "float64" and not math.isfinite(num):
        raise _fail("range", f"{name}: not finite ({value})")
    if low is not None and base != "string" and num < low:
        raise _fail("range", f"{name}: {value} < {low}")


def _check_value(name: str, dtype: Dtype, value: Any, low: float | None) -> None:
    if not dtype.endswith("_list"):
        _check_scalar(name, dtype, value, low)
        return
    if not isinstance(value, list | tuple):
        raise _fail("type", f"{name}: expected a list ({dtype}), got {type(value).__name__}")
    base = dtype.removesuffix("_list")
    for i, v in enumerate(value):
        _check_scalar(f"{name}[{i}]", base, v, low)


def _check_sequence(spec: ViewSpec, f: Mapping[str, Any], ts_ms: int) -> None:
    n = f["seq_len"]
    if spec.max_len is not None and n > spec.max_len:
        raise _fail("list_length", f"seq_len {n} > max_len {spec.max_len}")
    for name in ("tok_items", "tok_types", "tok_ts"):
        if len(f[name]) != n:
            raise _fail("list_length", f"len({name}) = {len(f[name])} != seq_len {n}")
    types, ts, items = f["tok_types"], f["tok_ts"], f["tok_items"]
    for i, (code, item) in enumerate(zip(types, items, strict=True)):
        if not 0 <= code <= BASKET_CODE:
            raise _fail("range", f"tok_types[{i}] = {code} not in 0..{BASKET_CODE}")
        if (code == BASKET_CODE) != (item == "") or len(item) > MAX_ID_LEN:
            raise _fail("sequence", f"tok_items[{i}] = {item!r:.40} does not fit token type {code}")
    if any(b < a for a, b in zip(ts, ts[1:], strict=False)):
        raise _fail("sequence", "tok_ts is not non-decreasing")
    last = ts[-1] if ts else 0
    if f["last_ts"] != last:
        raise _fail("sequence", f"last_ts {f['last_ts']} != last tok_ts {last}")
    if n and last != ts_ms:
        raise _fail(
            "timestamp", f"event time {ts_ms} != last_ts {last} (a row is stamped with its newest token)"
        )
    _check_csr(types, f)


def _check_csr(types: list[int], f: Mapping[str, Any]) -> None:
    n_baskets = sum(1 for c in types if c == BASKET_CODE)
    off, b_items, stores = f["basket_offsets"], f["basket_items"], f["basket_stores"]
    if len(off) != n_baskets + 1 or off[0] != 0:
        raise _fail("csr", f"basket_offsets {list(off)[:8]} must be [0, ...] with {n_baskets + 1} entries")
    if any(b <= a for a, b in zip(off, off[1:], strict=False)):
        raise _fail("csr", "basket_offsets must strictly increase (no empty basket)")
    if off[-1] != len(b_items):
        raise _fail("csr", f"basket_offsets end at {off[-1]} but basket_items has {len(b_items)} items")
    if len(stores) != n_baskets:
        raise _fail("list_length", f"len(basket_stores) = {len(stores)} != {n_baskets} basket tokens")
    if any(not s for s in (*b_items, *stores)):
        raise _fail("sequence", "empty item or store id in a basket")


def _check_online_agg(f: Mapping[str, Any], ts_ms: int) -> None:
    total = f["n_view"] + f["n_click"] + f["n_add_to_cart"] + f["n_purchase"]
    if f["n_events"] != total:
        raise _fail("aggregate", f"n_events {f['n_events']} != sum of per-type counts {total}")
    if f["last_online_ts"] > ts_ms:
        raise _fail(
            "timestamp", f"last_online_ts {f['last_online_ts']} is after the row's event time {ts_ms}"
        )


def _check_instore_agg(f: Mapping[str, Any], ts_ms: int) -> None:
    visits, items = f["store_visits"], f["store_items"]
    if items < visits:
        raise _fail("aggregate", f"store_items {items} < store_visits {visits} (baskets are non-empty)")
    mean = items / visits if visits else 0.0
    if not math.isclose(f["mean_basket_size"], mean, rel_tol=1e-9, abs_tol=1e-9):
        raise _fail(
            "aggregate", f"mean_basket_size {f['mean_basket_size']} != store_items/store_visits {mean}"
        )
    if f["last_store_ts"] > ts_ms:
        raise _fail("timestamp", f"last_store_ts {f['last_store_ts']} is after the row's event time {ts_ms}")


_KIND_CHECKS: dict[str, Callable[..., None]] = {
    "sequence": lambda spec, f, ts: _check_sequence(spec, f, ts),
    "online_agg": lambda spec, f, ts: _check_online_agg(f, ts),
    "instore_agg": lambda spec, f, ts: _check_instore_agg(f, ts),
}


def check_row(
    view_name: str, user_id: Any, features: Any, ts_ms: Any, now_ms: int, max_skew_ms: int = 60_000
) -> Invalid | None:
    """None when the row is valid, else why not (an unknown view raises KeyError: that is a programming error)."""
    spec = view(view_name)
    try:
        _check_header(user_id, features, ts_ms, now_ms, max_skew_ms)
        names = set(features)
        if missing := [n for n in spec.feature_names if n not in names]:
            raise _fail("missing_feature", f"missing {missing}")
        if unknown := sorted(names - set(spec.feature_names)):
            raise _fail("unknown_feature", f"{view_name} has no feature(s) {unknown}")
        for fs in spec.features:
            _check_value(fs.name, fs.dtype, features[fs.name], fs.min_value)
        _KIND_CHECKS[spec.kind](spec, features, ts_ms)
    except RowError as e:
        return e.invalid
    return None


def _check_header(user_id: Any, features: Any, ts_ms: Any, now_ms: int, max_skew_ms: int) -> None:
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_ID_LEN:
        raise _fail("user_id", f"user_id must be a 1..{MAX_ID_LEN} character string, got {user_id!r:.60}")
    if not isinstance(features, Mapping):
        raise _fail("type", f"features must be a mapping, got {type(features).__name__}")
    if isinstance(ts_ms, bool) or not isinstance(ts_ms, int):
        raise _fail("timestamp", f"event time must be integer epoch ms, got {type(ts_ms).__name__}")
    if ts_ms < MIN_TS_MS:
        raise _fail("timestamp", f"event time {ts_ms} before {MIN_TS_MS} (epoch milliseconds?)")
    if ts_ms > now_ms + max_skew_ms:
        raise _fail(
            "future", f"event time {ts_ms} is {ts_ms - now_ms} ms in the future (skew {max_skew_ms} ms)"
        )


class RejectCounter:
    """Thread-safe counts of accepted and rejected rows per (view, reason code); expose them as metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted: Counter[str] = Counter()
        self.rejected: Counter[tuple[str, str]] = Counter()

    def add(self, view_name: str, accepted: int, rejects: Iterable[Invalid]) -> None:
        with self._lock:
            self.accepted[view_name] += accepted
            for r in rejects:
                self.rejected[(view_name, r.code)] += 1

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "accepted": dict(self.accepted),
                "rejected": {f"{v}:{code}": n for (v, code), n in sorted(self.rejected.items())},
            }


class Quarantine:
    """Append-only JSONL of rejected rows with their reason, one file per view and process."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_settings(cls, settings: StackSettings) -> Quarantine:
        return cls(settings.dir("quarantine") / "features")

    def path(self, view_name: str) -> Path:
        return self.root / view_name / f"{os.getpid()}.jsonl"

    def put(self, view_name: str, rejects: list[tuple[Row, Invalid]]) -> None:
        if not rejects:
            return
        path = self.path(view_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        now = int(time.time() * 1000)
        lines = [
            json.dumps(
                {
                    "view": view_name,
                    "user_id": row[0],
                    "event_ts_ms": row[2],
                    "features": row[1],
                    "reason": inv.code,
                    "detail": inv.detail,
                    "quarantined_at_ms": now,
                },
                default=repr,
            )  # fmt: skip
            for row, inv in rejects
        ]
        with path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    def read(self, view_name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in sorted((self.root / view_name).glob("*.jsonl")):
            out.extend(json.loads(line) for line in p.read_text().splitlines() if line)
        return out


class FeatureValidator:
    """Splits rows into valid ones (returned) and rejects (quarantined + counted)."""

    def __init__(
        self,
        quarantine: Quarantine,
        counter: RejectCounter | None = None,
        settings: FeatureValidationSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.quarantine = quarantine
        self.counter = counter or RejectCounter()
        self.settings = settings or FeatureValidationSettings()
        self.clock = clock

    def filter(self, view_name: str, rows: Iterable[Row]) -> list[Row]:
        now_ms = int(self.clock() * 1000)
        skew = self.settings.feature_max_clock_skew_ms
        good: list[Row] = []
        bad: list[tuple[Row, Invalid]] = []
        for row in rows:
            invalid = check_row(view_name, row[0], row[1], row[2], now_ms, skew)
            if invalid is None:
                good.append(row)
            else:
                bad.append((row, invalid))
        self.quarantine.put(view_name, bad)
        self.counter.add(view_name, len(good), (inv for _, inv in bad))
        return good
