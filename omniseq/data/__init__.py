"""Datasets as hybrid histories: adapters for public datasets and the omnichannel simulator.

``load(name, root, **opts)`` returns a :class:`Dataset` (``online_events()``, ``store_transactions()``,
``summary()``); :func:`histories` turns one into per-user time-ordered behaviour lists. See ``docs/DATA.md``.
"""

from omniseq.data.base import Dataset, Summary, default_root, histories
from omniseq.data.registry import NAMES, load
from omniseq.data.sim.config import SimulatorConfig
from omniseq.data.sim.io import SimulatedFiles, SimulatedUsers, read_manifest, write_dataset
from omniseq.data.sim.simulator import Simulator, SimUser, UserProfile

__all__ = [
    "NAMES",
    "Dataset",
    "SimUser",
    "SimulatedFiles",
    "SimulatedUsers",
    "Simulator",
    "SimulatorConfig",
    "Summary",
    "UserProfile",
    "default_root",
    "histories",
    "load",
    "read_manifest",
    "write_dataset",
]
