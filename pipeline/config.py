"""Typed settings of the feature pipeline (env ``OMNISEQ_<FIELD>``, unknown keys rejected).

Every knob of the Flink job and of the producer lives here so the local runner, the tests, the benchmark and
docker-compose use the same names. Durations are in milliseconds unless the name says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from omniseq.settings import StackSettings

MINUTE_MS = 60_000


class WindowSpec(BaseModel):
    """One sliding (HOP) window: the feature view it feeds, its size and its slide."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view: str
    size_ms: int = Field(gt=0)
    slide_ms: int = Field(gt=0)

    @model_validator(mode="after")
    def _slide_divides(self) -> WindowSpec:
        if self.size_ms % self.slide_ms:
            raise ValueError(f"window {self.view}: size_ms {self.size_ms} must be a multiple of slide_ms")
        return self


def default_windows() -> list[WindowSpec]:
    return [
        WindowSpec(view="user_online_agg_10m_v1", size_ms=10 * MINUTE_MS, slide_ms=MINUTE_MS),
        WindowSpec(view="user_online_agg_1h_v1", size_ms=60 * MINUTE_MS, slide_ms=5 * MINUTE_MS),
    ]


class PipelineSettings(StackSettings):
    """The Flink feature job and the replay producer."""

    # sources
    kafka_group_id: str = "omniseq-pipeline"
    kafka_startup_mode: Literal["earliest-offset", "latest-offset", "group-offsets"] = "earliest-offset"
    instore_monitor_ms: int = Field(
        default=1_000, gt=0
    )  # how often the landing folder is scanned for new drops
    landing_settle_s: float = Field(
        default=2.0, ge=0
    )  # a drop is read once its size and mtime held this long
    landing_incomplete_grace_s: float = Field(
        default=60.0, ge=0
    )  # an unreadable drop waits this long for its end
    # event time
    out_of_orderness_ms: int = Field(default=5_000, ge=0)  # watermark delay = allowed lateness of the windows
    idle_timeout_ms: int = Field(
        default=1_000, gt=0
    )  # an idle Kafka partition stops holding the watermark back
    windows: list[WindowSpec] = Field(default_factory=default_windows)
    # validation (omniseq.flink.ValidateEvents): guards that keep one bad message from stalling the job
    max_message_bytes: int = Field(default=16_384, gt=0)  # larger clickstream messages are dead-lettered
    dlq_max_payload_bytes: int = Field(default=16_384, gt=0)  # a dead letter keeps at most this much payload
    max_future_skew_ms: int = Field(default=60 * MINUTE_MS, ge=0)  # events after now + skew are dead-lettered
    # the keyed hybrid-sequence operator
    seq_views: dict[str, int] = Field(
        default_factory=lambda: {"user_hybrid_seq_v1": 50, "user_hybrid_seq_v2": 90}
    )
    instore_view: str = "user_instore_agg_v1"
    dedup_ttl_ms: int = Field(default=24 * 60 * MINUTE_MS, gt=0)  # event-time horizon of the duplicate filter
    # idle users' whole state expires after this many days (processing time); 0 = never. Off by default: Flink's
    # TTL wrapper cost about a quarter of the keyed operator's throughput in a micro-benchmark here
    state_ttl_days: int = Field(default=0, ge=0)
    # sinks
    redis_flush_ms: int = Field(default=100, gt=0)  # coalesce Redis writes per user for this long at most
    redis_batch_rows: int = Field(default=2_000, gt=0)  # ... or until this many distinct rows are buffered
    offline_enabled: bool = True  # the append-only behaviour log and the window views' offline rows
    # also one offline snapshot row per behaviour and sequence/in-store view (for Feast's own point-in-time joins
    # of those views); off: training rebuilds them from the behaviour log (omniseq.features.behaviour_log)
    offline_snapshots: bool = False
    offline_rollover_s: int = Field(default=60, gt=0)
    # runtime
    checkpoint_interval_ms: int = Field(default=5_000, gt=0)
    buffer_timeout_ms: int = Field(default=10, ge=0)
    job_name: str = "omniseq-features"
    dlq_delivery: Literal["at-least-once", "exactly-once"] = "at-least-once"
    # the local mini-cluster's REST endpoint: loopback only; jar upload/run through REST and the dashboard's cancel
    # button are off (Flink 2.2 serves PATCH /jobs/<id> whatever the settings: loopback is what protects it)
    rest_bind_address: str = "127.0.0.1"
    rest_cancel_enabled: bool = False
    rest_upload_enabled: bool = False
    # the runner exits non-zero when the job fails or restarts more than this many times in a row
    max_restarts: int = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _check_views(self) -> PipelineSettings:
        for view, n in self.seq_views.items():
            if n <= 0:
                raise ValueError(f"seq_views[{view!r}] must be a positive length, got {n}")
        if not self.seq_views:
            raise ValueError("seq_views must name at least one hybrid-sequence view")
        return self

    @property
    def pipeline_dir(self) -> Path:
        return self.run_dir / "pipeline"

    @property
    def accepted_dir(self) -> Path:
        """Validated in-store drops the Flink file source reads (the landing folder is the inbox)."""
        return self.pipeline_dir / "accepted"

    @property
    def checkpoint_dir(self) -> Path:
        return self.pipeline_dir / "checkpoints"

    @property
    def max_seq_len(self) -> int:
        return max(self.seq_views.values())
