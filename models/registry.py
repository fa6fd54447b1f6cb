"""The versioned model registry: a folder layout that works on a local disk and on a shared volume.

```
<root>/versions/<version>/model.pt         TorchScript
<root>/versions/<version>/manifest.json    model_name, config, input_spec, feature_versions, train_data_range,
                                            metrics, created_at
<root>/versions/<version>/vocab.json       raw item ids in index order ("<pad>", "<basket>", items...)
<root>/versions/<version>/popularity.json  optional: training item frequencies (the serving fallback)
<root>/champion.json                       {"version": ...} of the "next_item" family, replaced atomically
<root>/champions/<family>.json             the same for every other model family (basket completion, ...)
<root>/decisions.jsonl                     one line per promotion decision
```

A version is assembled in ``<root>/.staging/<version>-<random>/`` and moved into ``versions/`` with one
``os.replace`` (atomic on one filesystem), so readers never see a half-written version. Version names are
``YYYYMMDDTHHMMSS-<model_name>-<6 hex>`` (sortable by creation time, unique across writers).

Each version belongs to one model *family* (manifest key ``family``, default ``next_item``: the SASRec family that
answers ``POST /recommend``); every family has its own champion, so promoting a basket-completion model never
replaces the next-item champion.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_FILE = "model.pt"
MANIFEST_FILE = "manifest.json"
VOCAB_FILE = "vocab.json"
CHAMPION_FILE = "champion.json"
DECISIONS_FILE = "decisions.jsonl"
REQUIRED_FILES = (MODEL_FILE, VOCAB_FILE)
DEFAULT_FAMILY = "next_item"
MANIFEST_KEYS = ("model_name", "config", "input_spec", "feature_versions", "train_data_range", "metrics")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FAMILY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class RegistryError(RuntimeError):
    """A registry operation failed (unknown version, missing file, bad manifest)."""


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: Path
    manifest: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def vocab_path(self) -> Path:
        return self.path / VOCAB_FILE

    def vocab(self) -> list[str]:
        data = json.loads(self.vocab_path.read_text())
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise RegistryError(f"{self.vocab_path}: expected a JSON list of strings")
        return data

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.manifest.get("metrics") or {})

    @property
    def family(self) -> str:
        return family_of(self.manifest)


def family_of(manifest: Mapping[str, Any]) -> str:
    """The model family a manifest belongs to (``next_item`` when it names none)."""
    return str(manifest.get("family") or DEFAULT_FAMILY)


def _check_family(family: str) -> str:
    if not _FAMILY_RE.match(family):
        raise RegistryError(f"invalid model family {family!r} (lower-case letters, digits and '_')")
    return family


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_manifest(manifest: Mapping[str, Any]) -> None:
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise RegistryError(f"manifest is missing keys {missing} (required: {list(MANIFEST_KEYS)})")
    if not isinstance(manifest["model_name"], str) or not manifest["model_name"]:
        raise RegistryError("manifest model_name must be a non-empty string")
    family = _check_family(family_of(manifest))
    fv = manifest["feature_versions"]
    if not isinstance(fv, Mapping) or not all(isinstance(v, str) for v in fv.values()):
        raise RegistryError("manifest feature_versions must map feature roles to feature view names")
    if family == DEFAULT_FAMILY and not isinstance(fv.get("sequence"), str):
        raise RegistryError("manifest feature_versions must map 'sequence' to a feature view name")


def _source_files(artifacts: Path | Mapping[str, Path]) -> dict[str, Path]:
    if isinstance(artifacts, Mapping):
        files = {str(k): Path(v) for k, v in artifacts.items()}
    else:
        root = Path(artifacts)
        if not root.is_dir():
            raise RegistryError(f"artifact folder not found: {root}")
        files = {p.name: p for p in root.iterdir() if p.is_file() and p.name != MANIFEST_FILE}
    for name in REQUIRED_FILES:
        if name not in files or not files[name].is_file():
            raise RegistryError(f"artifacts lack {name} (given: {sorted(files)})")
    return files


class ModelRegistry:
    """``register`` / ``versions`` / ``get`` / ``champion`` / ``promote`` / ``record_decision`` over ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def _new_version(self, model_name: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9_]+", "_", model_name)[:40] or "model"
        return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{safe}-{secrets.token_hex(3)}"

    def register(
        self, artifacts: Path | Mapping[str, Path], manifest: Mapping[str, Any], version: str | None = None
    ) -> str:
        """Copy ``model.pt``, ``vocab.json`` (and any other files) into a new version; returns its name."""
        _check_manifest(manifest)
        files = _source_files(artifacts)
        version = version or self._new_version(str(manifest["model_name"]))
        if not _VERSION_RE.match(version):
            raise RegistryError(f"invalid version name {version!r}")
        staging = self.root / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{version}-", dir=staging))
        try:
            for name, src in files.items():
                shutil.copyfile(src, tmp / name)
            full = {**manifest, "version": version}
            full.setdefault("created_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            (tmp / MANIFEST_FILE).write_text(json.dumps(full, indent=2, sort_keys=True, default=str))
            target = self.versions_dir / version
            if target.exists():
                raise RegistryError(f"version {version} already exists")
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return version

    def get(self, version: str) -> ModelVersion:
        path = self.versions_dir / version
        manifest_path = path / MANIFEST_FILE
        if not _VERSION_RE.match(version) or not manifest_path.is_file():
            known = ", ".join(self._version_names()[-5:]) or "none"
            raise RegistryError(f"unknown model version {version!r} (latest: {known})")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"version {version}: {MANIFEST_FILE} is not readable JSON: {exc}") from exc
        if not isinstance(manifest, dict):
            raise RegistryError(f"version {version}: {MANIFEST_FILE} is not a JSON object")
        return ModelVersion(version=version, path=path, manifest=manifest)

    def versions(self, family: str | None = None) -> list[ModelVersion]:
        """All complete, readable versions (of one family when ``family`` is given), oldest first. A version whose
        manifest is not valid JSON is skipped here and listed by :meth:`broken`."""
        found = []
        for name in self._version_names():
            try:
                found.append(self.get(name))
            except RegistryError:
                continue
        return found if family is None else [mv for mv in found if mv.family == family]

    def broken(self) -> dict[str, str]:
        """Version folders that :meth:`versions` skips, with the reason (e.g. a manifest that is not JSON)."""
        out = {}
        for name in self._version_names():
            try:
                self.get(name)
            except RegistryError as exc:
                out[name] = str(exc)
        return out

    def _version_names(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir() if (p / MANIFEST_FILE).is_file())

    def champion_path(self, family: str = DEFAULT_FAMILY) -> Path:
        """The pointer file of one family's champion."""
        if _check_family(family) == DEFAULT_FAMILY:
            return self.root / CHAMPION_FILE
        return self.root / "champions" / f"{family}.json"

    def champion(self, family: str = DEFAULT_FAMILY) -> ModelVersion | None:
        path = self.champion_path(family)
        if not path.is_file():
            return None
        try:
            version = json.loads(path.read_text())["version"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise RegistryError(f'{path}: expected {{"version": ...}}: {exc}') from exc
        return self.get(str(version))

    def promote(self, version: str) -> ModelVersion:
        """Point the champion file of the version's family at ``version`` (tmp file + ``os.replace``: readers
        see old or new, never half)."""
        mv = self.get(version)
        for name in REQUIRED_FILES:
            if not (mv.path / name).is_file():
                raise RegistryError(f"version {version} lacks {name}; refusing to promote")
        target = self.champion_path(mv.family)
        target.parent.mkdir(parents=True, exist_ok=True)
        record = {"version": version, "promoted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_atomic(target, json.dumps(record))
        return mv

    def record_decision(self, decision: Mapping[str, Any]) -> None:
        """Append one JSON line to ``decisions.jsonl`` (a single ``write`` in append mode)."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **decision}, default=str)
        with (self.root / DECISIONS_FILE).open("a") as fh:
            fh.write(line + "\n")

    def decisions(self) -> list[dict[str, Any]]:
        path = self.root / DECISIONS_FILE
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
