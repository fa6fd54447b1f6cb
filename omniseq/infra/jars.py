"""Resolve the stack's Java jars from Maven Central with the small Maven projects in ``infra/maven/<group>``.

``mvn dependency:copy-dependencies`` copies each group's runtime dependencies into ``<cache_dir>/jars/<group>``:
``kafka`` (the Kafka 4.x broker, KRaft, with a Log4j2 binding) and ``flink`` (Kafka SQL connector + Parquet format
for the apache-flink 2.2.1 wheel). A stamp file records the pom's hash and the jar list, so a second call is a fast
no-op; editing a pom re-resolves. Maven's local repository (``~/.m2``) makes later resolutions work offline.
Nothing is downloaded as a tarball and no jar is committed.

The repository's own Maven module ``jvm/`` (the feature job's hot path: validation, the keyed hybrid-sequence
operator, the Redis writer) is built with ``mvn package`` into ``<cache_dir>/jars/omniseq`` and appended to the
``flink`` jars; its stamp hashes the pom and every source file, so editing the Java code rebuilds it.

``python -m omniseq.infra.jars`` resolves everything (the Makefile's ``jars`` target).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from omniseq.infra.process import InfraError
from omniseq.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
MAVEN_DIR = INFRA_DIR / "maven"
GROUPS = ("kafka", "flink")
JVM_MODULE = REPO_ROOT / "jvm"
MODULE_GROUP = "omniseq"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
STAMP = ".resolved.json"


@dataclass(frozen=True)
class Jars:
    """Resolved jar files: the Kafka broker's class path and the extra jars for Flink's ``pipeline.jars``."""

    kafka_classpath: list[Path]
    flink: list[Path]

    @property
    def flink_urls(self) -> list[str]:
        """``file://`` URLs of :attr:`flink` (the form ``pipeline.jars`` wants)."""
        return [p.resolve().as_uri() for p in self.flink]

    def check(self) -> None:
        """Raise :class:`InfraError` when a listed jar file is gone."""
        missing = [p for p in [*self.kafka_classpath, *self.flink] if not p.is_file()]
        if missing:
            raise InfraError(f"jar(s) missing: {', '.join(map(str, missing[:5]))}; run 'make jars'")


def jar_dir(settings: StackSettings, group: str) -> Path:
    return Path(settings.cache_dir).resolve() / "jars" / group


def pom_path(group: str) -> Path:
    if group not in GROUPS:
        raise ValueError(f"unknown jar group {group!r}; expected one of {GROUPS}")
    return MAVEN_DIR / group / "pom.xml"


def _pom_hash(group: str) -> str:
    return hashlib.sha256(pom_path(group).read_bytes()).hexdigest()


def cached_jars(settings: StackSettings, group: str) -> list[Path] | None:
    """The group's jars when the cache is complete and matches the current pom, else None."""
    folder = jar_dir(settings, group)
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("pom_sha256") != _pom_hash(group):
        return None
    jars = [folder / name for name in stamp.get("jars", [])]
    if not jars or not all(p.is_file() for p in jars):
        return None
    return jars


def resolve_group(
    settings: StackSettings, group: str, offline: bool = False, quiet: bool = True
) -> list[Path]:
    """Run Maven for one group into a temporary folder, then swap it in (a failed run leaves no half cache)."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("Maven ('mvn') is needed to resolve the Kafka/Flink jars but is not on PATH")
    folder = jar_dir(settings, group)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [mvn, "-B", "-f", str(pom_path(group)), DEPENDENCY_PLUGIN]
    cmd += [f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"]
    cmd += ["-q"] if quiet else []
    cmd += ["-o"] if offline else []
    print(f"resolving {group} jars with Maven into {folder} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        out = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise InfraError(f"Maven failed to resolve the {group} jars ({' '.join(cmd)}):\n{out}")
    names = sorted(p.name for p in tmp.glob("*.jar"))
    if not names:
        raise InfraError(f"Maven resolved no jars for {group} from {pom_path(group)}")
    (tmp / STAMP).write_text(json.dumps({"pom_sha256": _pom_hash(group), "jars": names}, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return [folder / n for n in names]


def _module_hash() -> str:
    h = hashlib.sha256()
    for p in sorted([JVM_MODULE / "pom.xml", *(JVM_MODULE / "src").rglob("*")]):
        if p.is_file():
            h.update(str(p.relative_to(JVM_MODULE)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def build_module(settings: StackSettings, offline: bool = False, quiet: bool = True) -> Path:
    """The jar of the repository's ``jvm/`` module, built with Maven when its sources changed."""
    folder = jar_dir(settings, MODULE_GROUP)
    digest = _module_hash()
    try:
        stamp = json.loads((folder / STAMP).read_text())
        jar = folder / stamp["jars"][0]
        if stamp.get("pom_sha256") == digest and jar.is_file():
            return jar
    except (OSError, ValueError, KeyError, IndexError):
        pass
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("Maven ('mvn') is needed to build the jvm/ module but is not on PATH")
    cmd = [mvn, "-B", "-f", str(JVM_MODULE / "pom.xml"), "package", "-DskipTests"]
    cmd += ["-q"] if quiet else []
    cmd += ["-o"] if offline else []
    print(f"building the jvm/ module with Maven into {folder} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=JVM_MODULE)
    built = sorted((JVM_MODULE / "target").glob("omniseq-flink-*.jar"))  # jvm/target is git-ignored
    if proc.returncode != 0 or not built:
        out = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise InfraError(f"Maven failed to build jvm/ ({' '.join(cmd)}):\n{out}")
    folder.mkdir(parents=True, exist_ok=True)
    jar = folder / "omniseq-flink.jar"
    tmp = folder / ".omniseq-flink.jar.tmp"
    shutil.copyfile(built[-1], tmp)
    tmp.replace(jar)
    (folder / STAMP).write_text(json.dumps({"pom_sha256": digest, "jars": [jar.name]}, indent=1))
    return jar


def ensure_jars(settings: StackSettings | None = None, offline: bool = False, quiet: bool = True) -> Jars:
    """Resolve (or find in the cache) every jar group; fast no-op when the cache is complete."""
    settings = settings or StackSettings()
    found: dict[str, list[Path]] = {}
    for group in GROUPS:
        jars = cached_jars(settings, group)
        found[group] = jars if jars is not None else resolve_group(settings, group, offline, quiet)
    module = build_module(settings, offline, quiet)
    return Jars(kafka_classpath=found["kafka"], flink=[*found["flink"], module])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m omniseq.infra.jars", description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true", help="use only Maven's local repository (~/.m2)")
    parser.add_argument("--force", action="store_true", help="re-resolve even when the cache is complete")
    parser.add_argument("--verbose", action="store_true", help="show Maven's output")
    args = parser.parse_args(argv)
    settings = StackSettings()
    try:
        if args.force:
            for group in GROUPS:
                resolve_group(settings, group, args.offline, quiet=not args.verbose)
        jars = ensure_jars(settings, offline=args.offline, quiet=not args.verbose)
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"kafka: {len(jars.kafka_classpath)} jars in {jar_dir(settings, 'kafka')}")
    print(
        f"flink: {len(jars.flink)} jars in {jar_dir(settings, 'flink')} and {jar_dir(settings, MODULE_GROUP)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
