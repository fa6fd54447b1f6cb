"""``omniseq demo`` (what ``make demo`` runs): the whole loop on local processes.

Kafka + Redis (``LocalStack``) → ``feast apply`` → the PyFlink job (``omniseq pipeline``) → replay of the simulator
(or a dataset) into Kafka with in-store Parquet drops → features flow into Redis and the Parquet offline store →
a model trained from the offline store, registered and promoted (:mod:`lifecycle.retrain`) → the API
(``omniseq serve``) → a few ``POST /recommend`` calls for users with online-only and with online + in-store
histories. It stays up until Ctrl-C and then stops every process it started.

Stream state (Kafka, Redis, offline store, landing folder, Flink checkpoints) is fresh on every run; the model
registry is kept, so a second run reuses the champion instead of training again (``OMNISEQ_DEMO_RETRAIN=true``
trains anyway) -- unless the champion was trained on another data source than this run's dataset (the manifest's
``train_data_range.data_source``): then a model is trained on this run's data and promoted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import httpx
import redis
from pydantic import Field
from pydantic_settings import SettingsConfigDict
from rich.console import Console
from rich.table import Table

from lifecycle.retrain import RetrainConfig, retrain_once
from models.registry import ModelRegistry
from omniseq.data import load
from omniseq.features.behaviour_log import newest_ts
from omniseq.features.online import RedisOnlineStore
from omniseq.features.store import apply
from omniseq.infra.stack import LocalStack
from omniseq.schema import StoreTransaction
from omniseq.settings import OmniseqSettings, StackSettings
from serving.verify import verify_version

console = Console()
FRESH_DIRS = ("kafka", "redis", "landing", "offline", "quarantine", "pipeline", "feast")


class DemoSettings(OmniseqSettings):
    """Env ``OMNISEQ_DEMO_<FIELD>``; unknown keys rejected."""

    model_config = SettingsConfigDict(env_prefix="OMNISEQ_DEMO_", extra="forbid", validate_default=True)

    dataset: str = "simulator"  # any omniseq.data.load name: simulator, hm, sim:<dir>, ...
    users: int = Field(default=300, ge=10)  # simulator users
    rate: float = Field(default=5000.0, gt=0)  # replayed online events per second
    model: str = "sasrec_attne"
    epochs: int = Field(default=8, ge=1)
    retrain: bool = False  # train even when the registry already has a champion
    retrain_cron: str | None = None  # also run scheduled retraining in the background
    feature_timeout_s: float = Field(default=300.0, gt=0)
    stay_up: bool = True  # wait for Ctrl-C at the end


def _python_bin() -> str:
    return str(Path(sys.executable).with_name("omniseq"))


class Processes:
    """Child processes with log files; all stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir, self.env = log_dir, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen([_python_bin(), *args], stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                start_new_session=True)  # fmt: skip
        self.procs[name] = proc
        return proc

    def check(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}; last log lines:\n{tail}")

    def check_exit(self, name: str) -> None:
        """``name`` must have finished, successfully."""
        code = self.procs[name].poll()
        if code is None:
            raise RuntimeError(f"{name} is still running")
        if code:
            tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} failed with exit code {code}; last log lines:\n{tail}")

    def stop_all(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT if name == "pipeline" else signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_until(what: str, check: Callable[[], bool], timeout: float, poll: float = 1.0,
               alive: Callable[[], None] = lambda: None) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    with console.status(f"waiting for {what}"):
        while not check():
            alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(poll)


def expected_users(demo: DemoSettings) -> tuple[dict[str, int], set[str]]:
    """Of the replayed data: each user with online events -> the time of their newest behaviour, and the users
    with in-store baskets."""
    ds = load(demo.dataset, None, **({"users": demo.users} if demo.dataset == "simulator" else {}))
    newest: dict[str, int] = {}
    online: set[str] = set()
    store: set[str] = set()
    for b in ds.behaviours():
        (store if isinstance(b, StoreTransaction) else online).add(b.user_id)
        newest[b.user_id] = max(newest.get(b.user_id, 0), b.ts_ms)
    return {u: newest[u] for u in online}, store


def caught_up(settings: StackSettings, newest: dict[str, int], view: str) -> bool:
    """Every user's sequence in Redis holds their newest behaviour."""
    users = sorted(newest)
    rows = sequences_in_redis(settings, users, view)
    return all(r is not None and int(r["last_ts"]) >= newest[u] for u, r in zip(users, rows, strict=True))


def offline_caught_up(settings: StackSettings, newest: dict[str, int]) -> bool:
    """Every user's newest behaviour is in the offline behaviour log (its files are committed on checkpoints)."""
    seen = newest_ts(settings.dir("offline"))
    return all(seen.get(u, 0) >= ts for u, ts in newest.items())


def sequences_in_redis(settings: StackSettings, users: list[str], view: str) -> list[dict[str, Any] | None]:
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port, password=settings.redis_password)
    try:
        return RedisOnlineStore(client).read(view, users)
    finally:
        client.close()


def pick_users(
    settings: StackSettings, online: Collection[str], store: set[str], view: str
) -> dict[str, list[str]]:
    users = sorted(online)
    rows = sequences_in_redis(settings, users, view)
    picks: dict[str, list[str]] = {"online only": [], "online + in-store": []}
    for user, row in zip(users, rows, strict=True):
        if row is None:
            continue
        group = "online + in-store" if 4 in (row.get("tok_types") or []) else "online only"
        if len(picks[group]) < 2:
            picks[group].append(user)
    return picks


def fresh_state(settings: StackSettings) -> None:
    for name in FRESH_DIRS:
        shutil.rmtree(settings.run_dir / name, ignore_errors=True)
    for name in ("landing", "offline", "quarantine"):
        shutil.rmtree(settings.dir(name), ignore_errors=True)


def data_source_of(manifest: dict[str, Any]) -> str | None:
    """The data a registered version was trained on (``train_data_range.data_source``), None when unrecorded."""
    rng = manifest.get("train_data_range")
    return str(rng["data_source"]) if isinstance(rng, dict) and rng.get("data_source") else None


def ensure_model(demo: DemoSettings, settings: StackSettings) -> str:
    registry = ModelRegistry(settings.dir("registry"))
    champion = registry.champion()
    source = data_source_of(champion.manifest) if champion is not None else None
    if champion is not None and not demo.retrain and source == demo.dataset:
        console.print(
            f"reusing champion [bold]{champion.version}[/] (OMNISEQ_DEMO_RETRAIN=true to train again)"
        )
        return champion.version
    if champion is not None and source != demo.dataset:
        console.print(f"champion {champion.version} was trained on {source or 'unrecorded data'}, this run "
                      f"replays {demo.dataset}: training on {demo.dataset}")  # fmt: skip
    cfg = RetrainConfig(model=demo.model, epochs=demo.epochs, margin=0.0, min_users=10,
                        end_ms=int(time.time() * 1000), data_source=demo.dataset)  # fmt: skip
    decision = retrain_once(cfg, settings)
    console.print(f"trained {decision.challenger}: {decision.reason}")
    current = registry.champion()
    if current is None or data_source_of(current.manifest) != demo.dataset:
        verify_version(registry.get(decision.challenger))  # raises when it does not load: nothing promoted
        registry.promote(decision.challenger)
        registry.record_decision({"promote": True, "challenger": decision.challenger,
                                  "reason": f"demo: the champion was trained on other data than {demo.dataset}"})  # fmt: skip
        current = registry.champion()
    assert current is not None
    return current.version


def show_recommendations(base: str, picks: dict[str, list[str]]) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        for group, users in picks.items():
            for user in users:
                body = http.post("/recommend", json={"user_id": user, "k": 5}).json()
                table = Table(title=f"{group}: {user}", caption=f"model {body.get('model_version')}, "
                              f"fallback={body.get('fallback')}")  # fmt: skip
                table.add_column("rank")
                table.add_column("item_id")
                table.add_column("score", justify="right")
                for i, item in enumerate(body.get("items", []), 1):
                    table.add_row(str(i), item["item_id"], f"{item['score']:.3f}")
                console.print(table)
        cold = http.post("/recommend", json={"user_id": "a-user-never-seen", "k": 3}).json()
        console.print(f"new user -> fallback={cold['fallback']}: {[i['item_id'] for i in cold['items']]}")


@contextlib.contextmanager
def local_stack(settings: StackSettings) -> Iterator[Any]:
    stack = LocalStack(settings).start(handle_signals=False)
    try:
        yield stack
    finally:
        stack.stop()


def settings_env(settings: StackSettings) -> dict[str, str]:
    """The environment that gives a child process the same StackSettings (``OMNISEQ_<FIELD>`` variables)."""
    env = dict(os.environ)
    for name in StackSettings.model_fields:
        value = getattr(settings, name)
        if value is not None:
            env[f"OMNISEQ_{name.upper()}"] = (
                str(Path(value).resolve()) if isinstance(value, Path) else str(value)
            )
    return env


class Loop:
    """The steps of the loop on an already running Kafka + Redis; shared by the demo and the end-to-end tests."""

    view = "user_hybrid_seq_v2"

    def __init__(self, demo: DemoSettings, settings: StackSettings) -> None:
        self.demo, self.settings = demo, settings
        self.procs = Processes(settings.run_dir / "logs", settings_env(settings))
        self.base = f"http://{settings.api_host}:{settings.api_port}"

    def start_pipeline(self) -> None:
        apply(self.settings)
        self.procs.start("pipeline", ["pipeline", "--fresh"])

    def replay(self) -> tuple[dict[str, int], set[str]]:
        online, store = expected_users(self.demo)
        args = ["replay", self.demo.dataset, "--rate", str(self.demo.rate), "--no-progress"]
        if self.demo.dataset == "simulator":
            args += ["--users", str(self.demo.users)]
        self.procs.start("replay", args)
        return online, store

    def wait_for_features(self, newest: dict[str, int]) -> None:
        """Until every user's newest behaviour is in Redis and in the offline store."""
        alive = lambda: self.procs.check("pipeline")  # noqa: E731
        timeout = self.demo.feature_timeout_s
        wait_until("the replay to finish", lambda: self.procs.procs["replay"].poll() is not None, timeout)
        self.procs.check_exit("replay")
        wait_until("every user's newest behaviour in Redis", lambda: caught_up(self.settings, newest, self.view),
                   timeout, alive=alive)  # fmt: skip
        wait_until("the offline store to catch up", lambda: offline_caught_up(self.settings, newest),
                   timeout, alive=alive)  # fmt: skip

    def start_api(self) -> str:
        self.procs.start("api", ["serve", "--port", str(self.settings.api_port), "--no-access-log"])
        wait_until(
            "the API to be ready", lambda: _ready(self.base), 120, alive=lambda: self.procs.check("api")
        )
        return self.base

    def stop(self) -> None:
        self.procs.stop_all()


def run_demo(demo: DemoSettings | None = None, settings: StackSettings | None = None) -> int:
    demo, settings = demo or DemoSettings(), settings or StackSettings()
    t0 = time.monotonic()
    fresh_state(settings)
    loop = Loop(demo, settings)
    try:
        with local_stack(settings):
            console.rule("[bold]1. Kafka (KRaft) and Redis are up; feast apply; starting the PyFlink job")
            loop.start_pipeline()
            online, store = loop.replay()
            console.rule(
                f"[bold]2. replaying {demo.dataset} ({len(online)} online users, {len(store)} in-store)"
            )
            loop.wait_for_features(online)
            console.rule("[bold]3. features are in Redis and the Parquet offline store")
            version = ensure_model(demo, settings)
            console.rule(f"[bold]4. champion {version}; starting the API")
            base = loop.start_api()
            console.rule("[bold]5. POST /recommend")
            picks = pick_users(settings, online, store, loop.view)
            show_recommendations(base, picks)
            if demo.retrain_cron:
                loop.procs.start("trainer", ["retrain", "--schedule", "--cron", demo.retrain_cron])
            _where_to_look(
                base, settings, time.monotonic() - t0, next(iter(picks["online + in-store"]), None)
            )
            while demo.stay_up:
                for name in ("pipeline", "api"):
                    loop.procs.check(name)
                time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        loop.stop()
    return 0


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _some_items(base: str, user: str) -> list[str]:
    """Two items of the catalogue (ranks 9 and 10 of the user's recommendations) to put in a demo basket."""
    try:
        body = httpx.post(f"{base}/recommend", json={"user_id": user, "k": 10}, timeout=5).json()
        return [i["item_id"] for i in body.get("items", [])][-2:]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return []


def _where_to_look(base: str, settings: StackSettings, elapsed: float, user: str | None = None) -> None:
    console.print(f"demo ready in {elapsed:.0f}s")
    page = f"{base}/storefront" + (f"?user={user}" if user else "")
    console.print(f"  storefront:    {page}   (one customer's two channels and recommendations, live)")
    if user:
        items = ",".join(_some_items(base, user)) or "ITEM,ITEM"
        console.print(f"                 drop a store basket, watch the page change: omniseq drop --user {user} "
                      f"--items {items}", soft_wrap=True)  # fmt: skip
    console.print(f"  API docs:      {base}/docs")
    console.print(f"  metrics:       {base}/metrics   (pipeline: omniseq pipeline --metrics json)")
    console.print(f"  model registry {settings.dir('registry')}  (omniseq models list)")
    console.print(f"  offline store  {settings.dir('offline')}")
    console.print(f"  logs           {settings.run_dir / 'logs'}")
    console.print("  benchmarks     bench/results/*.json (omniseq bench all)")
