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
    # only the newest N versions of a family (and its champion) can be named in a request
    model_recent_versions: int = Field(default=10, ge=1, le=1000)
    # at most one load of a named (non-champion) version per this many seconds; others get 429
    model_load_interval_s: float = Field(default=1.0, ge=0, le=3600)
    # at start-up, earlier versions tried when the champion does not load
    model_fallback_tries: int = Field(default=5, ge=0, le=100)
    # batch size of the dummy forward pass a model must pass before it serves
    smoke_batch: int = Field(default=2, ge=1, le=64)
    # torch.jit.freeze + optimize_for_inference after loading (kept only if it gives the same scores)
    optimize_model: bool = True

    # --- inference
    # intra-op threads per server process, torch's and faiss's (1 is fastest for batch-1 requests on a small machine)
    torch_threads: int = Field(default=1, ge=1, le=64)
    # also drop the items of the user's own history from the answer
    exclude_seen: bool = False
    # users whose representation each worker keeps (used only while their stored row is unchanged); 0 = off
    user_cache_size: int = Field(default=20_000, ge=0, le=10_000_000)
    # users whose finished answers (response bodies) each worker keeps, sent again only while the user's stored row,
    # the model version and the request (channel, k, exclude_items, explain) are the same; 0 = off
    answer_cache_size: int = Field(default=20_000, ge=0, le=10_000_000)
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
    # /readyz warns when more than this share of answers since the last champion change were no_known_items
    # fallbacks (the champion's vocabulary does not cover the users' items: trained on other data?)
    no_known_items_warn_share: float = Field(default=0.5, ge=0, le=1)
    no_known_items_min_answers: int = Field(default=20, ge=1)

    # --- HTTP
    # larger request bodies get 413
    max_body_bytes: int = Field(default=65_536, ge=256, le=16 * 2**20)
    # a request body not fully received within this many seconds gets 408 (slow-body clients)
    body_read_timeout_s: float = Field(default=5.0, gt=0, le=600)
    # comma-separated API keys; when set, every route but /healthz and /readyz needs one in the header below
    api_keys: str = ""
    api_key_header: str = "X-API-Key"
    # per-client token bucket (requests/s sustained, burst); 0 turns it off; loopback clients exempt if set
    rate_limit_per_s: float = Field(default=200.0, ge=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    rate_limit_exempt_loopback: bool = True
    # uvicorn worker processes (`omniseq serve`)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "info"

    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]
