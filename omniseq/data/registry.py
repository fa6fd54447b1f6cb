"""``load(name, root, **opts) -> Dataset``: one entry point for every dataset adapter and the simulator.

Names: ``hm``, ``dunnhumby``, ``yoochoose``, ``diginetica``, ``tafeng``, ``beauty`` (Amazon Beauty),
``user-item:<path>`` (any ``user item`` file; a relative path is resolved against ``root``), ``sim:<dir>`` (the
output of ``omniseq generate``) and ``simulator`` (in memory; options ``users``, ``config`` (a YAML path) and
``seed``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from omniseq.data.base import Dataset, default_root
from omniseq.data.clickstream import Diginetica, UserItemFile, YooChoose
from omniseq.data.retail import Dunnhumby, HMSample, TaFeng
from omniseq.data.sim.config import SimulatorConfig
from omniseq.data.sim.io import SimulatedFiles, SimulatedUsers

BEAUTY_FILE = "amazon_beauty/beauty.txt"

_FIXED: dict[str, Callable[..., Dataset]] = {
    "hm": HMSample,
    "dunnhumby": Dunnhumby,
    "yoochoose": YooChoose,
    "diginetica": Diginetica,
    "tafeng": TaFeng,
    "beauty": lambda root, **opts: UserItemFile(root / BEAUTY_FILE, **opts),
}
NAMES: tuple[str, ...] = (*_FIXED, "user-item:<path>", "sim:<dir>", "simulator")


def _simulator(
    users: int = 1000, config: str | Path | None = None, seed: int | None = None
) -> SimulatedUsers:
    overrides: dict[str, Any] = {} if seed is None else {"seed": seed}
    cfg = SimulatorConfig.from_yaml(config, **overrides) if config else SimulatorConfig(**overrides)
    assert isinstance(cfg, SimulatorConfig)
    return SimulatedUsers(cfg, users=users)


def load(name: str, root: str | Path | None = None, **opts: Any) -> Dataset:
    """The dataset called ``name`` read from ``root`` (default: ``../shared/data`` beside the repository)."""
    base = Path(root) if root is not None else default_root()
    try:
        if name in _FIXED:
            return _FIXED[name](base, **opts)
        if name.startswith("user-item:"):
            path = Path(name.split(":", 1)[1])
            return UserItemFile(path if path.is_absolute() else base / path, **opts)
        if name.startswith("sim:"):
            return SimulatedFiles(Path(name.split(":", 1)[1]), **opts)
        if name == "simulator":
            return _simulator(**opts)
    except TypeError as exc:
        raise ValueError(f"bad options for dataset {name!r}: {exc}") from exc
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
