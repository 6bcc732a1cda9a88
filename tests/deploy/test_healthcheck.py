"""The start check the units and images run: `python -m conclave.deploy.healthcheck`."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from conclave.deploy.healthcheck import local_address, main, wait_until

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def grpc_health() -> Iterator[tuple[str, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(grace=None)


@pytest.fixture
def http_health() -> Iterator[tuple[str, list[int]]]:
    status = [503]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status[0] if self.path == "/health" else 404
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"0.0.0.0:{server.server_port}", status
    finally:
        server.shutdown()
        server.server_close()


def test_grpc_serving_is_healthy(grpc_health) -> None:
    addr, servicer = grpc_health
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert main(["grpc", "--addr", addr]) == 0


def test_grpc_not_serving_times_out(grpc_health, capsys: pytest.CaptureFixture) -> None:
    addr, servicer = grpc_health
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert main(["grpc", "--addr", addr, "--wait", "0.3", "--interval", "0.1"]) == 1
    assert "NOT_SERVING" in capsys.readouterr().err


def test_grpc_waits_for_the_model_to_load(grpc_health) -> None:
    addr, servicer = grpc_health
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    timer = threading.Timer(0.3, servicer.set, ("", health_pb2.HealthCheckResponse.SERVING))
    timer.start()
    try:
        assert main(["grpc", "--addr", addr, "--wait", "10", "--interval", "0.1"]) == 0
    finally:
        timer.cancel()


def test_grpc_nobody_listening(capsys: pytest.CaptureFixture) -> None:
    assert main(["grpc", "--addr", "127.0.0.1:1", "--timeout", "0.5"]) == 1
    assert "UNREACHABLE" in capsys.readouterr().err


def test_http_health(http_health) -> None:
    addr, status = http_health
    assert main(["http", "--addr", addr, "--timeout", "2"]) == 1
    status[0] = 200
    assert main(["http", "--addr", addr]) == 0
    assert main(["http", "--addr", addr, "--path", "/nope"]) == 1


def test_wildcard_addresses_are_dialled_on_loopback() -> None:
    assert local_address("0.0.0.0:50051") == "127.0.0.1:50051"
    assert local_address("[::]:8080") == "[::1]:8080"
    assert local_address(":::8080") == "[::1]:8080"
    assert local_address("blade-01.local:50051") == "blade-01.local:50051"
    with pytest.raises(ValueError):
        local_address("no-port")


def test_wait_until_gives_up_at_the_deadline() -> None:
    now = [0.0]
    tries = []

    def probe() -> str:
        tries.append(now[0])
        return "NOT_SERVING"

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ok, status = wait_until(probe, "SERVING", 5, 1, clock=lambda: now[0], sleep=sleep)
    assert not ok and status == "NOT_SERVING" and tries == [0, 1, 2, 3, 4, 5]


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "conclave.deploy.healthcheck", "grpc", "--addr", "bad"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "HOST:PORT" in result.stderr


def test_a_tls_port_is_checked_with_the_services_own_certificates(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """What a unit's ExecStartPost does next to an mTLS agent: `--settings-env` names the
    agent's environment prefix, whose swarm_* settings the check dials with."""
    from conclave.deploy.certs import issue, make_ca
    from conclave.swarm_security import SwarmSecurity

    ca = make_ca()
    blade = issue(ca, "blade-01")
    for name, data in (("ca.pem", ca.cert_pem), ("blade.pem", blade.cert_pem)):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "blade.key").write_bytes(blade.key_pem)
    security = SwarmSecurity(ca_pem=ca.cert_pem, cert_pem=blade.cert_pem, key_pem=blade.key_pem)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_secure_port("127.0.0.1:0", security.server_credentials())
    server.start()
    try:
        addr = f"127.0.0.1:{port}"
        assert main(["grpc", "--addr", addr, "--timeout", "2"]) == 1  # plaintext: no answer
        assert "UNREACHABLE" in capsys.readouterr().err
        monkeypatch.setenv("CONCLAVE_AGENT_SWARM_CA", str(tmp_path / "ca.pem"))
        monkeypatch.setenv("CONCLAVE_AGENT_SWARM_CERT", str(tmp_path / "blade.pem"))
        monkeypatch.setenv("CONCLAVE_AGENT_SWARM_KEY", str(tmp_path / "blade.key"))
        assert main(["grpc", "--addr", addr, "--settings-env", "CONCLAVE_AGENT_"]) == 0
        monkeypatch.setenv("CONCLAVE_AGENT_SWARM_KEY", str(tmp_path / "missing.key"))
        assert main(["grpc", "--addr", addr, "--settings-env", "CONCLAVE_AGENT_"]) == 2
        assert "swarm_key" in capsys.readouterr().err
    finally:
        server.stop(grace=None)
