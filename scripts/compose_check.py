"""``make compose-check``: the docker-compose stack, really run, end to end; timings to bench/results/compose.json.

build the images (on ``BASE_IMAGE``, default the local Debian base of scripts/build-base-image.sh) -> ``up -d`` ->
every healthcheck healthy -> replay a small simulator data set (profile ``replay``) -> one retrain in the trainer
container (the API started without a model) -> the API picks up the promotion -> ``POST /recommend`` answers
``fallback: false`` -> ``down -v``. Run as root on a machine with Docker (scripts/ensure-docker.sh sets one up).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omniseq.data import load

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "compose.json"
PROJECT = "omniseqcheck"
HEALTHY = ("kafka", "redis", "flink-jobmanager", "flink-taskmanager", "api")
IMAGES = {"omniseq:latest": "docker/omniseq.Dockerfile", "omniseq-redis:latest": "docker/redis.Dockerfile"}


def log(msg: str) -> None:
    print(f"[compose-check {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd: list[str], env: dict[str, str] | None = None, check: bool = True, timeout: float = 3600) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}"
        )
    return proc.stdout


def wait_for(what: str, check: Callable[[], bool], timeout: float, poll: float = 2.0) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(poll)
    return time.monotonic() - start


def ca_bundle() -> str | None:
    """The host's system CA bundle (pip's ``cert`` setting, else Debian's), for HTTPS inside the build."""
    try:
        cert = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.cert"], capture_output=True,
                              text=True, timeout=30).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        cert = ""
    for path in (cert, "/etc/ssl/certs/ca-certificates.crt"):
        if path and Path(path).is_file():
            return path
    return None


def build(docker: str, base: str) -> dict[str, float]:
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    ca = ca_bundle()
    times = {}
    for tag, dockerfile in IMAGES.items():
        cmd = [docker, "build", "-f", dockerfile, "-t", tag, "--build-arg", f"BASE_IMAGE={base}"]
        if ca and "omniseq.Dockerfile" in dockerfile:
            cmd += ["--secret", f"id=ca,src={ca}"]
        log(f"building {tag} ({dockerfile}, base {base})")
        t0 = time.monotonic()
        sh([*cmd, "."], env=env)
        times[tag] = round(time.monotonic() - t0, 1)
    return times


def image_sizes(docker: str) -> dict[str, int]:
    return {tag: int(sh([docker, "image", "inspect", "-f", "{{.Size}}", tag]).strip()) for tag in IMAGES}


class Stack:
    def __init__(self, docker: str, compose: str, password: str, api_port: int) -> None:
        self.docker, self.compose = docker, compose
        self.api = f"http://127.0.0.1:{api_port}"
        self.env = {**os.environ, "OMNISEQ_REDIS_PASSWORD": password, "API_PUBLISH": f"127.0.0.1:{api_port}",
                    "COMPOSE_PROJECT_NAME": PROJECT, "DOCKER_HOST": os.environ.get("DOCKER_HOST", "")}  # fmt: skip
        self.env = {k: v for k, v in self.env.items() if v != "" or k == "OMNISEQ_REDIS_PASSWORD"}

    def run(self, *args: str, check: bool = True, timeout: float = 1800) -> str:
        return sh([self.compose, "-p", PROJECT, *args], env=self.env, check=check, timeout=timeout)

    def health(self) -> dict[str, str]:
        out = {}
        for service in HEALTHY:
            cid = self.run("ps", "-q", service, check=False).strip()
            state = "missing"
            if cid:
                fmt = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
                state = sh([self.docker, "inspect", "-f", fmt, cid], check=False).strip() or "unknown"
            out[service] = state
        return out

    def http(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api + path, data=data, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}


def simulator_users(users: int) -> list[str]:
    sys.path.insert(0, str(ROOT))

    ds = load("simulator", None, users=users)
    seen: dict[str, int] = {}
    for b in ds.behaviours():
        seen[b.user_id] = seen.get(b.user_id, 0) + 1
    return sorted(seen, key=lambda u: -seen[u])


def check(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    docker, compose = args.docker, shutil.which("docker-compose") or "docker-compose"
    result.update(base_image=args.base_image, replay_users=args.users, ok=False)
    t_all = time.monotonic()
    if not args.no_build:
        result["build_s"] = build(docker, args.base_image)
    result["image_bytes"] = image_sizes(docker)
    history = sh([docker, "history", "--format", "{{.Size}}\t{{.CreatedBy}}", "omniseq:latest"]).splitlines()
    result["omniseq_image_layers"] = [h[:90] for h in history if not h.startswith("0B")]
    result["load_average_1m_start"] = round(os.getloadavg()[0], 1)
    stack = Stack(docker, compose, secrets.token_hex(24), args.api_port)
    stack.run("down", "-v", "--remove-orphans", check=False)
    try:
        t0 = time.monotonic()
        log("docker-compose up -d")
        stack.run("up", "-d", "--no-build")
        wait_for(
            "every healthcheck healthy", lambda: set(stack.health().values()) == {"healthy"}, args.timeout
        )
        result["up_to_healthy_s"] = round(time.monotonic() - t0, 1)
        log(f"healthy: {stack.health()}")
        result["exposed_ports"] = sh([docker, "ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
                                      "--format", "{{.Names}} {{.Ports}}"]).strip().splitlines()  # fmt: skip
        t0 = time.monotonic()
        log(f"replaying {args.users} simulator users")
        stack.run("--profile", "replay", "run", "--rm", "--no-deps", "replay", "omniseq", "replay", "simulator", "--users",
                  str(args.users), "--rate", "2000", "--no-progress")  # fmt: skip
        result["replay_s"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()

        def retrained() -> bool:
            out = subprocess.run([compose, "-p", PROJECT, "exec", "-T", "trainer", "omniseq", "retrain", "--epochs",
                                  "3"], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=1800)  # fmt: skip
            if out.returncode != 0:
                log(f"retrain not yet possible: {(out.stdout + out.stderr).strip().splitlines()[-1:]}")
            return out.returncode == 0

        log("retraining in the trainer container (waits for the offline store to fill)")
        result["features_to_promotion_s"] = round(
            wait_for("a retrain that runs", retrained, args.timeout, 10), 1
        )
        log("waiting for the API to pick up the promotion")
        result["promotion_to_api_s"] = round(wait_for(
            "the API serving the promoted model", lambda: bool(stack.http("/readyz")[1].get("model_version")), 120, 0.5
        ), 1)  # fmt: skip
        users = simulator_users(args.users)
        answer: dict[str, Any] = {}

        def recommended() -> bool:
            nonlocal answer
            for user in users[:20]:
                status, answer = stack.http("/recommend", {"user_id": user, "k": 5})
                if status == 200 and answer.get("fallback") is False:
                    return True
            return False

        result["first_recommendation_s"] = round(wait_for("a fallback:false answer", recommended, 120, 1) +
                                                 (time.monotonic() - t0), 1)  # fmt: skip
        result["recommendation"] = answer
        result["readyz"] = stack.http("/readyz")[1]
        result["ok"] = True
        log(f"recommendation: {answer}")
    finally:
        if not result["ok"]:
            logs = stack.run("logs", "--tail", "40", check=False)
            (ROOT / "run").mkdir(exist_ok=True)
            (ROOT / "run" / "compose-check.log").write_text(logs)
            log("failed; last logs in run/compose-check.log")
        if not args.keep:
            stack.run("down", "-v", "--remove-orphans", check=False)
    result["total_s"] = round(time.monotonic() - t_all, 1)
    result["load_average_1m_end"] = round(os.getloadavg()[0], 1)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docker", default=os.environ.get("DOCKER", "docker"))
    p.add_argument("--base-image", default=os.environ.get("BASE_IMAGE", "omniseq-base:bookworm"))
    p.add_argument("--users", type=int, default=150, help="simulator users to replay")
    p.add_argument("--api-port", type=int, default=18000)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--no-build", action="store_true", help="use the images already built")
    p.add_argument("--keep", action="store_true", help="leave the stack up")
    p.add_argument("--out", type=Path, default=RESULT)
    args = p.parse_args(argv)
    result: dict[str, Any] = {}
    try:
        result = check(args, result)
    except Exception as exc:  # recorded: a failed check writes what it measured and why it stopped
        result.update(ok=False, error=f"{type(exc).__name__}: {exc}"[-3000:])
        log(f"error: {exc}")
    result["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"{'passed' if result['ok'] else 'FAILED'}; {args.out}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
