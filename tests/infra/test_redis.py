"""RedisServer: the shared session fixture, password and persistence options, and clear start-up errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import redis

from omniseq.infra.process import InfraError, pid_alive
from omniseq.infra.redis import RedisServer
from omniseq.infra.stack import isolated_settings


def test_command_line_reflects_settings(tmp_path: Path) -> None:
    plain = RedisServer(isolated_settings(tmp_path)).command()
    assert plain[plain.index("--save") + 1] == "" and plain[plain.index("--appendonly") + 1] == "no"
    settings = isolated_settings(tmp_path, redis_persistence=True, redis_password="hunter2")
    cmd = RedisServer(settings).command()
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert cmd[cmd.index("--port") + 1] == str(settings.redis_port)
    assert "hunter2" not in " ".join(cmd)  # the password goes to a 0600 file, not the command line
    secret = Path(cmd[1])
    assert secret.read_text() == 'requirepass "hunter2"\n' and secret.stat().st_mode & 0o777 == 0o600


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="'no-such-redis' not found on PATH"):
        RedisServer(isolated_settings(tmp_path), binary="no-such-redis").start()


def test_bad_password_characters_rejected(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match="redis_password must not contain"):
        RedisServer(isolated_settings(tmp_path, redis_password='a"b')).command()


@pytest.mark.integration
def test_session_fixture_serves_commands(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.set("infra:k", "v")
    assert client.get("infra:k") == b"v"
    assert redis_server.port == redis_server.settings.redis_port


@pytest.mark.integration
def test_password_and_persistence(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, redis_password="s3cret", redis_persistence=True)
    with RedisServer(settings) as server:
        pid = server.pid
        server.client().set("k", "v")
        anonymous = redis.Redis(host=settings.redis_host, port=settings.redis_port)
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("k")
        anonymous.close()
    assert pid is not None and not pid_alive(pid)
    with RedisServer(settings) as again:  # the AOF brings the key back
        assert again.client().get("k") == b"v"


@pytest.mark.integration
def test_port_taken_fails_fast(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with socket.socket() as sock:
        sock.bind((settings.redis_host, settings.redis_port))
        sock.listen()
        with pytest.raises(InfraError, match=f"Redis port .*:{settings.redis_port} is already in use"):
            RedisServer(settings).start()
