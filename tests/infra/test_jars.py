"""Jar resolution: cache stamp logic (unit), the real cache (fast no-op) and an offline re-resolution (slow)."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest

from omniseq.infra import jars as jars_mod
from omniseq.infra.jars import GROUPS, InfraError, Jars, cached_jars, ensure_jars, jar_dir, pom_path
from omniseq.settings import StackSettings


def _fake_cache(settings: StackSettings, group: str, names: list[str], pom_sha: str | None = None) -> Path:
    folder = jar_dir(settings, group)
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b"PK")
    sha = pom_sha or jars_mod._pom_hash(group)
    (folder / jars_mod.STAMP).write_text(json.dumps({"pom_sha256": sha, "jars": names}))
    return folder


def test_cached_jars_follows_the_stamp(tmp_path: Path) -> None:
    settings = StackSettings(cache_dir=tmp_path)
    assert cached_jars(settings, "kafka") is None
    folder = _fake_cache(settings, "kafka", ["a.jar", "b.jar"])
    assert cached_jars(settings, "kafka") == [folder / "a.jar", folder / "b.jar"]
    (folder / "b.jar").unlink()
    assert cached_jars(settings, "kafka") is None  # a jar went missing: re-resolve


def test_stale_pom_hash_means_re_resolve(tmp_path: Path) -> None:
    settings = StackSettings(cache_dir=tmp_path)
    _fake_cache(settings, "flink", ["x.jar"], pom_sha="0" * 64)
    assert cached_jars(settings, "flink") is None


def test_unknown_group_and_missing_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown jar group 'spark'"):
        pom_path("spark")
    monkeypatch.setattr(jars_mod.shutil, "which", lambda name: None)
    with pytest.raises(InfraError, match="Maven \\('mvn'\\) is needed"):
        ensure_jars(StackSettings(cache_dir=tmp_path))


def test_jars_check_names_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="jar\\(s\\) missing: .*gone.jar"):
        Jars(kafka_classpath=[tmp_path / "gone.jar"], flink=[]).check()
    jars = Jars(kafka_classpath=[], flink=[tmp_path / "c.jar"])
    assert jars.flink_urls == [(tmp_path / "c.jar").as_uri()]


def test_real_cache_has_the_expected_artifacts_and_is_a_fast_no_op() -> None:
    ensure_jars()  # resolves on a fresh clone ('make jars' normally did it already)
    t0 = time.perf_counter()
    jars = ensure_jars()
    assert time.perf_counter() - t0 < 1.0
    kafka = {p.name for p in jars.kafka_classpath}
    flink = {p.name for p in jars.flink}
    assert any(n.startswith("kafka_2.13-4.") for n in kafka)
    assert any(n.startswith("log4j-slf4j2-impl-") for n in kafka)
    assert any(n.startswith("slf4j-api-2.") for n in kafka)
    assert any(n.startswith("flink-sql-connector-kafka-") and n.endswith("-2.2.jar") for n in flink)
    assert any(n.startswith("flink-parquet-2.2.") for n in flink)
    assert any(n.startswith("hadoop-common-") for n in flink)
    assert "omniseq-flink.jar" in flink  # the repository's jvm/ module, built by the same step
    with zipfile.ZipFile(next(p for p in jars.flink if p.name == "omniseq-flink.jar")) as jar:
        assert "omniseq/flink/HybridFeatures.class" in jar.namelist()
    # every jar is a real zip archive, no placeholder
    for path in [*jars.kafka_classpath, *jars.flink]:
        assert zipfile.is_zipfile(path), path


@pytest.mark.slow
def test_second_resolution_works_offline_from_m2(tmp_path: Path) -> None:
    ensure_jars()  # first (online) resolution fills ~/.m2
    settings = StackSettings(cache_dir=tmp_path)
    for group in GROUPS:
        resolved = jars_mod.resolve_group(settings, group, offline=True)
        assert {p.name for p in resolved} == {p.name for p in cached_jars(StackSettings(), group) or []}
    assert jars_mod.build_module(settings, offline=True).is_file()  # the jvm/ module builds offline too


def test_module_hash_follows_the_java_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "jvm"
    (module / "src").mkdir(parents=True)
    (module / "pom.xml").write_text("<project/>")
    (module / "src" / "A.java").write_text("class A {}")
    monkeypatch.setattr(jars_mod, "JVM_MODULE", module)
    before = jars_mod._module_hash()
    (module / "src" / "A.java").write_text("class A { int x; }")
    assert jars_mod._module_hash() != before
