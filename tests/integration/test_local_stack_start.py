"""`rooms up` as a newcomer meets it: busy ports, what it prints, the state file a second shell reads."""

from __future__ import annotations

import socket
import uuid
from dataclasses import replace

import pytest

from rooms_local import cli
from rooms_local.config import LocalConfig, PortInUse
from rooms_local.stack import LocalStack


@pytest.fixture
def busy_port():
    """A port something listens on (and never answers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _config(**ports) -> LocalConfig:
    return replace(LocalConfig(table_name=f"rooms-start-{uuid.uuid4().hex[:6]}").with_free_ports(), **ports)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("part", "env_var"), [("moto_port", "MOTO_PORT"), ("livekit_port", "LIVEKIT_DEV_PORT"),
                                               ("api_port", "ROOMS_API_PORT")])
def test_a_busy_port_fails_fast_naming_the_port_and_its_setting(busy_port, part, env_var):
    with pytest.raises(PortInUse) as err:
        LocalStack(_config(**{part: busy_port})).start()
    assert str(busy_port) in str(err.value) and env_var in str(err.value)


@pytest.mark.timeout(60)
def test_rooms_up_with_a_busy_moto_port_exits_with_the_reason(busy_port, monkeypatch, capsys, tmp_path):
    config = LocalConfig().with_free_ports()
    monkeypatch.setenv("ROOMS_STATE_FILE", str(tmp_path / "state.json"))
    monkeypatch.setenv("ROOMS_API_PORT", str(config.api_port))
    monkeypatch.setenv("LIVEKIT_DEV_PORT", str(config.livekit_port))
    monkeypatch.setenv("MOTO_PORT", str(busy_port))
    assert cli.main(["up", "--no-demo", "--exit-after-demo"]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{busy_port}" in err and "MOTO_PORT" in err
