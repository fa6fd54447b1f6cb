"""One call for a writer of features (the pipeline): validate, then write online (Redis) and offline (Parquet).

Rejected rows go to the quarantine and the counter (see :mod:`omniseq.features.validation`); the valid rows are
written to both stores, so online and offline hold the same rows (no training/serving skew).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from omniseq.features.offline import OfflineWriter
from omniseq.features.online import RedisOnlineStore, Row
from omniseq.features.validation import FeatureValidator, Quarantine, RejectCounter
from omniseq.settings import StackSettings


@dataclass
class WriteReport:
    accepted: int = 0
    rejected: int = 0
    files: list[str] = field(default_factory=list)


class FeatureSink:
    """``write(view, rows)``: validate, write the valid rows to Redis (Feast's format) and to the Parquet store."""

    def __init__(
        self, online: RedisOnlineStore | None, offline: OfflineWriter | None, validator: FeatureValidator
    ) -> None:
        if online is None and offline is None:
            raise ValueError("a FeatureSink needs an online store, an offline writer or both")
        self.online, self.offline, self.validator = online, offline, validator

    @classmethod
    def from_settings(
        cls,
        settings: StackSettings,
        *,
        online: bool = True,
        offline: bool = True,
        counter: RejectCounter | None = None,
    ) -> FeatureSink:
        client = (
            redis.Redis(host=settings.redis_host, port=settings.redis_port, password=settings.redis_password)
            if online
            else None
        )
        return cls(
            RedisOnlineStore(client) if client is not None else None,
            OfflineWriter(settings.dir("offline")) if offline else None,
            FeatureValidator(Quarantine.for_settings(settings), counter),
        )

    @property
    def counter(self) -> RejectCounter:
        return self.validator.counter

    def write(self, view_name: str, rows: Iterable[Row], created_ms: int | None = None) -> WriteReport:
        rows = list(rows)
        good = self.validator.filter(view_name, rows)
        report = WriteReport(accepted=len(good), rejected=len(rows) - len(good))
        if not good:
            return report
        if self.online is not None:
            self.online.write(view_name, good)
        if self.offline is not None:
            report.files = [str(p) for p in self.offline.write(view_name, good, created_ms)]
        return report
