"""Settings of the recommendation server (env ``OMNISEQ_<FIELD>``, unknown keys rejected).

The stack-wide fields (Redis host/port/password, ``registry_dir``, ``api_host``/``api_port``) come from
:class:`omniseq.settings.StackSettings`; the fields below are the server's own knobs.
"""

from __future__ import annotations

from pydantic import Field

from omniseq.settings import StackSettings


class ServingSettings(StackSettings):
    """Everything ``create_app()`` and ``omniseq serve`` read."""

    # --- model registry watcher
    # how often champion.json is checked (seconds)
    champion_poll_s: float = Field(default=1.0, gt=0, le=3600)
    # loaded non-champion versions kept for requests that name a `model`
    model_cache_size: int = Field(default=4, ge=1, le=64)
    # batch size of the dummy forward pass a model must pass before it serves
    smoke_batch: int = Field(default=2, ge=1, le=64)
    # torch.jit.freeze + optimize_for_inference after loading (kept only if it gives the same scores)
    optimize_model: bool = True

    # --- inference
    # intra-op threads per server process (1 is fastest for batch-1 requests on a small machine)
    torch_threads: int = Field(default=1, ge=1, le=64)
    # also drop the items of the user's own history from the answer
    exclude_seen: bool = False
    # users whose representation each worker keeps (used only while their stored row is unchanged); 0 = off
    user_cache_size: int = Field(default=20_000, ge=0, le=10_000_000)
    # explain: true -- how many of the newest behaviours are tested as drivers, and how many are shown per item
    explain_behaviours: int = Field(default=20, ge=1, le=200)
    explain_top: int = Field(default=3, ge=1, le=20)

    # --- online store
    # Feast project the features were written under
    feature_project: str = "omniseq"
    # per Redis command / connect (seconds): a down store fails fast
    redis_socket_timeout_s: float = Field(default=0.25, gt=0, le=60)
    redis_connect_timeout_s: float = Field(default=0.25, gt=0, le=60)
    # after a failed read, answer "unavailable" without touching Redis for this long (seconds)
    store_retry_s: float = Field(default=0.5, ge=0, le=60)
    # store unreachable: answer the popularity fallback (fallback=true) instead of 503
    store_down_fallback: bool = False

    # --- HTTP
    # larger request bodies get 413
    max_body_bytes: int = Field(default=65_536, ge=256, le=16 * 2**20)
    # uvicorn worker processes (`omniseq serve`)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "info"
