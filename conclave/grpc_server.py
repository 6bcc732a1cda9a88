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
        self.server = grpc.aio.server(
            options=[("grpc.so_reuseport", 0), *options],
            interceptors=security.server_interceptors(),
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
        target = f"{host}:{port}"
        if self._credentials is None:
            self.port = self.server.add_insecure_port(target)
        else:
            self.port = self.server.add_secure_port(target, self._credentials)
        if not self.port:
            raise OSError(f"cannot bind {host}:{port}")
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", self._service_name):
            await self._health.set(name, status)

    async def start(self) -> None:
        await self.server.start()

    async def stop(self, grace: float) -> None:
        await self.server.stop(grace)
