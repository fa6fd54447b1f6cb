"""Fixtures of the server tests: a real redis-server we can stop and restart, a real TorchScript model that follows
the model I/O contract (``forward(tokens [B, L], baskets [B, L, M]) -> scores [B, V]``, specials -inf) registered
in a real registry folder, and users' hybrid sequences written to Redis in the online-store format."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import torch
from torch import nn

from feature_repo.views import BASKET_CODE
from models.base import ModelConfig
from models.c2rec import C2Rec
from models.export import export_torchscript
from models.inputs import InputSpec, build_vocab
from models.registry import ModelRegistry
from omniseq.features.online import RedisOnlineStore
from omniseq.features.sequence import HybridSequence, Token
from serving.settings import ServingSettings
from tests.waiting import wait_until

SEQ_VIEW = "user_hybrid_seq_v1"
HISTORY = ["item3", "item7", "item9", "item11"]
BASKET = ("item20", "item21")
N_ITEMS = 60
MAX_LEN = 12


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """A throwaway redis-server (no persistence) that a test may stop and start again on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed (Debian package redis-server)")
        cmd = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = self.proc
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:  # it answers a PING, or it has exited
            wait_until(
                lambda: proc.poll() is not None or client.ping(), 10, f"redis-server on port {self.port}"
            )
        finally:
            client.close()
        if proc.poll() is not None:
            raise RuntimeError(
                f"redis-server exited with {proc.returncode} instead of serving port {self.port}"
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    """A private redis-server per test (the store-down tests stop it)."""
    rp = RedisProcess(free_port())
    rp.start()
    try:
        yield rp
    finally:
        rp.stop()


class TinySeqModel(nn.Module):
    """A small SASRec-shaped scorer: item + position embeddings (basket tokens get the mean of their items), one
    transformer layer, the newest position scored against every item embedding."""

    def __init__(self, vocab_size: int, max_len: int, dim: int = 16, seed: int = 0, bad: str = "") -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.item = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(max_len, dim) * 0.1)
        self.layer = nn.TransformerEncoderLayer(dim, 2, dim * 2, dropout=0.0, batch_first=True)
        self.bad = bad  # "shape" / "nan": a model that must fail the smoke check

    def forward(self, tokens: torch.Tensor, baskets: torch.Tensor) -> torch.Tensor:
        x = self.item(tokens)
        mask = (baskets > 0).unsqueeze(-1).float()
        pooled = (self.item(baskets) * mask).sum(2) / mask.sum(2).clamp(min=1.0)
        h = self.layer(x + pooled + self.pos, src_key_padding_mask=tokens == 0)
        scores = h[:, -1] @ self.item.weight.t()
        scores[:, :2] = -math.inf
        if self.bad == "shape":
            return scores[:, 1:]
        if self.bad == "nan":
            return scores * float("nan")
        return scores


def item_ids(n: int = N_ITEMS) -> list[str]:
    return [f"item{i}" for i in range(n)]


def export_version(
    registry: ModelRegistry,
    tmp: Path,
    *,
    name: str = "tiny",
    seed: int = 0,
    bad: str = "",
    corrupt: bool = False,
    popularity: dict[str, float] | None = None,
    store_mode: str = "avg",
) -> str:
    """Script, save and register one model version; returns the version name."""
    vocab = build_vocab(item_ids())
    folder = tmp / f"artifact-{name}-{seed}-{bad}-{corrupt}-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    module = torch.jit.script(TinySeqModel(len(vocab), MAX_LEN, seed=seed, bad=bad).eval())
    module.save(str(folder / "model.pt"))
    if corrupt:
        (folder / "model.pt").write_bytes(b"this is not a TorchScript archive")
    (folder / "vocab.json").write_text(__import__("json").dumps(vocab))
    if popularity is not None:
        (folder / "popularity.json").write_text(__import__("json").dumps(popularity))
    manifest: dict[str, Any] = {
        "model_name": name,
        "config": {"dim": 16, "seed": seed},
        "input_spec": {"max_len": MAX_LEN, "max_basket": 4, "store_mode": store_mode},
        "feature_versions": {"sequence": SEQ_VIEW},
        "train_data_range": {"start_ms": 0, "end_ms": 1},
        "metrics": {},
    }
    return registry.register(folder, manifest)


def make_sequence(user_id: str, items: list[str], basket: tuple[str, ...] = ()) -> HybridSequence:
    """Online views of ``items`` (in order), preceded by one in-store basket when given."""
    t0 = 1_700_000_000_000
    tokens = [Token(BASKET_CODE, t0, "", basket, "store-1", "b0")] if basket else []
    tokens += [Token(0, t0 + 1000 * (i + 1), item, key=f"e{i}") for i, item in enumerate(items)]
    return HybridSequence(user_id, 50, tokens)


class ServerThread:
    """A real uvicorn server (httptools, the app's lifespan) on a free port in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", http="httptools")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), 30, "uvicorn to start")
        if not self.server.started:
            raise RuntimeError("uvicorn's thread ended before the server started")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def write_users(port: int) -> None:
    client = redis.Redis(port=port)
    store = RedisOnlineStore(client, project="omniseq")
    rows = [
        ("alice", make_sequence("alice", HISTORY, basket=BASKET).to_features(), 1_700_000_010_000),
        ("unknown-items", make_sequence("unknown-items", ["not-in-vocab"]).to_features(), 1_700_000_010_000),
    ]
    store.write(SEQ_VIEW, rows)
    client.close()


def settings_for(redis_port: int, registry_root: Path, **extra: object) -> ServingSettings:
    """Serving settings for tests: fast champion polling, and no rate limit on loading named versions unless a
    test sets one (``model_load_interval_s``): tests load several versions within a second."""
    defaults: dict[str, object] = {"champion_poll_s": 0.05, "model_load_interval_s": 0.0}
    return ServingSettings(
        redis_port=redis_port,
        registry_dir=registry_root,
        **{**defaults, **extra},  # type: ignore[arg-type]
    )


def export_sasrec_version(
    registry: ModelRegistry, tmp: Path, *, seed: int = 0, index_params: Any = None, name: str = "sasrec_attne"
) -> str:
    """A real SASRec attnE (``models.zoo`` + ``models.export``: exports ``user_repr``/``item_embeddings``) over
    the test vocabulary, registered; with ``index_params`` its ANN index is built and registered with it."""
    from models.ann import write_item_index
    from models.base import ModelConfig
    from models.export import export_torchscript
    from models.zoo import build_model

    vocab = build_vocab(item_ids())
    torch.manual_seed(seed)
    config = ModelConfig(
        name=name,
        n_items=len(vocab),
        hidden=16,
        max_len=MAX_LEN,
        max_basket=4,
        store_mode="attn",
        d_attn=16,
        dropout=0.0,
    )
    folder = tmp / f"artifact-{name}-{seed}-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    scripted = export_torchscript(build_model(config), folder / "model.pt")
    if index_params is not None:
        with torch.inference_mode():
            write_item_index(folder, scripted.item_embeddings(), index_params, min_items=0)
    (folder / "vocab.json").write_text(__import__("json").dumps(vocab))
    manifest: dict[str, Any] = {
        "model_name": name,
        "config": config.to_dict(),
        "input_spec": {"max_len": MAX_LEN, "max_basket": 4, "store_mode": "attn"},
        "feature_versions": {"sequence": SEQ_VIEW},
        "train_data_range": {"start_ms": 0, "end_ms": 1},
        "metrics": {},
    }
    return registry.register(folder, manifest)


def register_basket_version(registry: ModelRegistry, seed: int = 0) -> str:
    """Register an (untrained) PARSRec in the ``basket`` family the way training does; returns the version."""
    from models.basket_data import from_baskets
    from models.basket_train import TrainResult, register_parsrec
    from models.parsrec import PARSRec, PARSRecConfig

    items = item_ids()
    raw = {
        "alice": [tuple(items[i : i + 3]) for i in range(0, 15, 3)],
        "bob": [tuple(items[i : i + 2]) for i in range(20, 40, 2)],
    }
    data = from_baskets(raw)
    torch.manual_seed(seed)
    model = PARSRec(PARSRecConfig(n_items=data.n_items, n_users=data.n_users, dim=16)).eval()
    return register_parsrec(registry.root, TrainResult(model, 1, {}), data, {"sess_prec@10": 0.1}, SEQ_VIEW)


C2REC_SPEC = InputSpec(max_len=MAX_LEN, max_basket=4, store_mode="attn")


def register_c2rec(registry: ModelRegistry, tmp: Path, channel: str = "store") -> str:
    vocab = build_vocab(item_ids())
    torch.manual_seed(0)
    model = C2Rec(ModelConfig(name="c2rec", n_items=len(vocab), hidden=16, blocks=1, max_len=MAX_LEN,
                              max_basket=4, store_mode="attn", d_attn=8, dropout=0.0))  # fmt: skip
    folder = tmp / f"c2rec-{channel}"
    folder.mkdir()
    export_torchscript(model.eval(), folder / "model.pt", channel=channel)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "popularity.json").write_text(json.dumps({"item5": 3.0, "item6": 1.0}))
    manifest = {
        "model_name": "c2rec",
        "family": "cross_channel",
        "channel": channel,
        "config": model.config.to_dict(),
        "input_spec": C2REC_SPEC.to_dict(),
        "feature_versions": {"sequence": SEQ_VIEW},
        "train_data_range": {},
        "metrics": {},
    }
    return registry.register(folder, manifest)
