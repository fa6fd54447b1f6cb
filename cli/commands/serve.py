"""``omniseq serve``: run the FastAPI recommendation server under uvicorn (httptools + uvloop).

Settings come from ``OMNISEQ_*`` environment variables (see ``serving/settings.py``); the options below override
them by setting those variables before uvicorn starts, so every worker process sees the same configuration.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

import uvicorn

from serving.settings import ServingSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="listen address (OMNISEQ_API_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (OMNISEQ_API_PORT, default 8000)")
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (OMNISEQ_WORKERS, default 1)")
    parser.add_argument("--registry-dir", help="model registry folder (OMNISEQ_REGISTRY_DIR)")
    parser.add_argument("--redis-host", help="online store host (OMNISEQ_REDIS_HOST)")
    parser.add_argument("--redis-port", type=int, help="online store port (OMNISEQ_REDIS_PORT)")
    parser.add_argument(
        "--torch-threads", type=int, help="torch intra-op threads per worker (OMNISEQ_TORCH_THREADS)"
    )
    parser.add_argument("--log-level", help="uvicorn log level (OMNISEQ_LOG_LEVEL, default info)")
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request (faster)")


def _export_overrides(args: argparse.Namespace) -> None:
    names = {
        "host": "API_HOST",
        "port": "API_PORT",
        "workers": "WORKERS",
        "registry_dir": "REGISTRY_DIR",
        "redis_host": "REDIS_HOST",
        "redis_port": "REDIS_PORT",
        "torch_threads": "TORCH_THREADS",
        "log_level": "LOG_LEVEL",
    }
    for attr, env in names.items():
        value = getattr(args, attr, None)
        if value is not None:
            os.environ[f"OMNISEQ_{env}"] = str(value)


def run(args: argparse.Namespace) -> int:
    _export_overrides(args)
    settings = ServingSettings()  # validates the environment before any worker starts
    has = importlib.util.find_spec
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.workers,
        loop="uvloop" if has("uvloop") else "asyncio",
        http="httptools" if has("httptools") else "h11",
        log_level=settings.log_level,
        access_log=not args.no_access_log,
    )
    return 0
