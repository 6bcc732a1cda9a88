"""One gRPC server for one Conclave service, with what every service carries: standard
`grpc.health.v1` (overall and per service) and server reflection, so stock tools
(grpcurl, Evans, Postman, Kubernetes gRPC probes) work without our .proto files; and the
swarm's security (token check, TLS), so no service can be started without it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from conclave.grpc_decode import UndecodableRequests
from conclave.startup import check_port_free, port_unavailable
from conclave.swarm_security import NO_SECURITY, SwarmSecurity


class ServiceHost:
    def __init__(
        self,
        service_name: str,
        *,
        options: Sequence[tuple[str, Any]] = (),
        security: SwarmSecurity = NO_SECURITY,
    ) -> None:
        # so_reuseport off: otherwise two servers asking for port 0 can be handed the same
        # port and silently share its connections.
        # The token is checked first (a stranger learns nothing about its bytes); then an
        # undecodable request is INVALID_ARGUMENT, not UNKNOWN and a traceback each.
        self.server = grpc.aio.server(
            options=[("grpc.so_reuseport", 0), *options],
            interceptors=[*security.server_interceptors(), UndecodableRequests()],
        )
        self._credentials = security.server_credentials()
        self._service_name = service_name
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self.server)
        reflection.enable_server_reflection(
            (service_name, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port: int | None = None

    def bind(self, host: str, port: int) -> int:
        """Binds `host:port`; a taken port is a StartupError naming `--port`."""
        check_port_free(host, port)
        target = f"{host}:{port}"
        try:
            if self._credentials is None:
                self.port = self.server.add_insecure_port(target)
            else:
                self.port = self.server.add_secure_port(target, self._credentials)
        except RuntimeError as error:  # grpc's "Failed to bind to address"
            raise port_unavailable(host, port, error) from None
        if not self.port:
            raise port_unavailable(host, port, "nothing bound")
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", self._service_name):
            await self._health.set(name, status)

    async def set_service_serving(self, serving: bool) -> None:
        """Only the named service's status (the overall "" says the process is up)."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        await self._health.set(self._service_name, status)

    async def start(self) -> None:
        await self.server.start()

    async def stop(self, grace: float) -> None:
        await self.server.stop(grace)
