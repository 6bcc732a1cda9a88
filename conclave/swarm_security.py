"""Who may speak on the swarm's gRPC ports: a shared swarm token, and optional TLS/mTLS.

Every gRPC server (agent, leader) and every client that dials one (the leader's calls to
agents, the gateway, `conclave mcp`, `conclave ask`, `agent call`, the experiment runner,
the health check) gets its credentials from one `SwarmSecurity`, built once from that
deployable's settings (the `swarm_*` fields below) and passed in.

- The token travels as `authorization: Bearer TOKEN` metadata on every call (a client
  interceptor adds it, so no call site can forget it) and the server compares it in
  constant time. A call without it, or with another, ends UNAUTHENTICATED before the
  request is read. Health and reflection may be left open (settings).
- TLS: a server with `swarm_cert`/`swarm_key` listens with TLS; with `swarm_ca` as well it
  asks every client for a certificate signed by that CA (mTLS). A client with `swarm_ca`
  dials with TLS and accepts only servers whose certificate chains to it, presenting its
  own `swarm_cert` when it has one.
- Host names: blades are found by zeroconf and dialled by IP, so certificates cannot name
  every address a leader may use. As in Consul's `server.<dc>.consul`, every swarm
  certificate carries one shared name (`swarm_server_name`, "conclave-swarm" by default)
  and clients check that name; set it to "" to check the dialled host instead.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TOKEN_HEADER = "authorization"
SWARM_SERVER_NAME = "conclave-swarm"
# Methods a server may leave open to callers without the token (settings say which).
HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIXES = (
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
_NO_FLAG = {"flag": False}  # conclave.cli.flags: a secret on the command line shows in `ps`


class SwarmSecurityError(ValueError):
    """A swarm security setting cannot be used; the message names the setting."""


class SwarmClientFields(BaseModel):
    """The settings of a process that dials the swarm's gRPC ports."""

    swarm_token: SecretStr | None = Field(
        None,
        json_schema_extra=_NO_FLAG,
        description="Shared swarm token sent (and, on a gRPC server, required) as "
        "'authorization: Bearer TOKEN' on every gRPC call. From the environment (or a "
        "config file), never a flag: ps shows command lines. Unset: no token.",
    )
    swarm_token_file: Path | None = Field(
        None,
        description="File holding the swarm token (a systemd credential, a Kubernetes "
        "Secret volume); surrounding whitespace is ignored.",
    )
    swarm_ca: Path | None = Field(
        None,
        description="The swarm CA (PEM). Set: gRPC is dialled with TLS and only peers "
        "whose certificate it signed are accepted; a gRPC server with swarm_cert also "
        "requires client certificates it signed (mTLS).",
    )
    swarm_cert: Path | None = Field(
        None,
        description="This process's certificate (PEM, signed by the swarm CA): a gRPC "
        "server's TLS certificate, and the client certificate it presents when it dials.",
    )
    swarm_key: Path | None = Field(None, description="The private key of swarm_cert (PEM).")
    swarm_server_name: str = Field(
        SWARM_SERVER_NAME,
        description="Name every swarm certificate carries and clients check (agents are "
        "dialled by IP); '' checks the dialled host name instead.",
    )


class SwarmServerFields(SwarmClientFields):
    """...and of a process that serves them."""

    swarm_health_open: bool = Field(
        True,
        description="grpc.health.v1 answers callers without the token (Kubernetes and "
        "Docker probes carry none; it tells only SERVING or NOT_SERVING).",
    )
    swarm_reflection_open: bool = Field(
        False,
        description="Server reflection answers callers without the token (it lists the "
        "API, nothing else).",
    )


class SwarmClientSettings(BaseSettings, SwarmClientFields):
    """The command-line clients (`conclave ask`, `agent call`, `experiment run`), which
    have no settings class of their own: CONCLAVE_SWARM_TOKEN, CONCLAVE_SWARM_CA, ..."""

    model_config = SettingsConfigDict(env_prefix="CONCLAVE_", extra="forbid")


def swarm_fields_from_env(prefix: str) -> SwarmClientFields:
    """The swarm_* settings of the deployable whose environment prefix is `prefix` (e.g.
    CONCLAVE_AGENT_), as a client reads them: the health check a unit or an image runs
    next to its service dials it with that service's own token and certificates."""

    class FromEnvironment(BaseSettings, SwarmClientFields):
        model_config = SettingsConfigDict(env_prefix=prefix, extra="ignore")

    return FromEnvironment()


@dataclass(frozen=True)
class SwarmSecurity:
    """The credentials of one process, read from its settings once; injected."""

    token: str | None = None
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    server_name: str = SWARM_SERVER_NAME
    health_open: bool = True
    reflection_open: bool = False

    @classmethod
    def from_settings(
        cls, fields: SwarmClientFields, *, fallback_token_file: Path | None = None
    ) -> SwarmSecurity:
        """Reads the token and PEM files now, so a bad path fails the start with one line
        naming the setting. `fallback_token_file` (the local swarm's, for CLI clients) is
        read only when no token is configured and the file exists."""
        if fields.swarm_token is not None and fields.swarm_token_file is not None:
            raise SwarmSecurityError("swarm_token and swarm_token_file are both set; set one")
        token = None
        if fields.swarm_token is not None:
            token = _checked_token(fields.swarm_token.get_secret_value(), "swarm_token")
        elif fields.swarm_token_file is not None:
            token = _checked_token(_read(fields.swarm_token_file, "swarm_token_file"), "file")
        elif fallback_token_file is not None and fallback_token_file.expanduser().is_file():
            token = _checked_token(_read(fallback_token_file.expanduser(), "token"), "file")
        if (fields.swarm_cert is None) != (fields.swarm_key is None):
            raise SwarmSecurityError("swarm_cert and swarm_key go together; set both or neither")
        server = isinstance(fields, SwarmServerFields)
        security = cls(
            token=token,
            ca_pem=_pem(fields.swarm_ca, "swarm_ca"),
            cert_pem=_pem(fields.swarm_cert, "swarm_cert"),
            key_pem=_pem(fields.swarm_key, "swarm_key"),
            server_name=fields.swarm_server_name,
            health_open=fields.swarm_health_open if server else True,
            reflection_open=fields.swarm_reflection_open if server else False,
        )
        security._check_pems()
        return security

    def _check_pems(self) -> None:
        """gRPC reads PEMs only when a connection is made: a bad file would start a
        service that no one can reach. OpenSSL reads them now instead."""
        if self.ca_pem is not None:
            try:
                ssl.create_default_context(cadata=self.ca_pem.decode())
            except (ssl.SSLError, ValueError) as error:
                raise SwarmSecurityError(f"swarm_ca: not a CA certificate: {error}") from None
        if self.cert_pem is not None:
            try:
                _load_client_cert(
                    ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), self.cert_pem, self.key_pem
                )
            except ssl.SSLError as error:
                raise SwarmSecurityError(
                    f"swarm_cert/swarm_key: not a certificate and its private key: {error}"
                ) from None

    # -- clients ----------------------------------------------------------------------

    @property
    def tls(self) -> bool:
        return self.ca_pem is not None

    def aio_channel(self, address: str) -> grpc.aio.Channel:
        interceptors = _aio_token_interceptors(self.token) if self.token else None
        if not self.tls:
            return grpc.aio.insecure_channel(address, interceptors=interceptors)
        return grpc.aio.secure_channel(
            address, self._channel_credentials(), self._channel_options(), None, interceptors
        )

    def channel(self, address: str) -> grpc.Channel:
        """A blocking channel (plain threads: `conclave ask`, the experiment runner)."""
        if self.tls:
            channel = grpc.secure_channel(
                address, self._channel_credentials(), self._channel_options()
            )
        else:
            channel = grpc.insecure_channel(address)
        if self.token:
            return grpc.intercept_channel(channel, _SyncTokenInterceptor(self.token))
        return channel

    def _channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem, private_key=self.key_pem, certificate_chain=self.cert_pem
        )

    def _channel_options(self) -> list[tuple[str, str]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []

    def certificate_problem(self, address: str, *, timeout: float = 3.0) -> str | None:
        """Why the service at `address` would be refused over TLS (its certificate is
        missing, or does not chain to the swarm CA, or lacks the swarm's name), or None
        when it is accepted or cannot be reached now (then the channel checks later).
        Blocking: run it in a thread."""
        if not self.tls:
            return None
        host, port = split_address(address)
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        context.set_alpn_protocols(["h2"])
        context.check_hostname = True
        if self.cert_pem is not None:
            _load_client_cert(context, self.cert_pem, self.key_pem)
        name = self.server_name or host
        try:
            with (
                socket.create_connection((host, port), timeout=timeout) as raw,
                context.wrap_socket(raw, server_hostname=name),
            ):
                return None
        except ssl.SSLCertVerificationError as error:
            return f"its certificate is not accepted: {error.verify_message or error}"
        except ssl.SSLError as error:
            return f"no TLS with a swarm certificate: {error.reason or error}"
        except OSError:
            return None

    # -- servers ----------------------------------------------------------------------

    def server_credentials(self) -> grpc.ServerCredentials | None:
        """TLS for a server's port; None: plaintext."""
        if self.cert_pem is None:
            return None
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)],
            root_certificates=self.ca_pem,
            require_client_auth=self.ca_pem is not None,
        )

    def server_interceptors(self) -> Sequence[grpc.aio.ServerInterceptor]:
        if not self.token:
            return ()
        open_prefixes: tuple[str, ...] = ()
        if self.health_open:
            open_prefixes += (HEALTH_PREFIX,)
        if self.reflection_open:
            open_prefixes += REFLECTION_PREFIXES
        return (TokenCheck(self.token, open_prefixes),)


NO_SECURITY = SwarmSecurity()


class TokenCheck(grpc.aio.ServerInterceptor):
    """Refuses every call that does not carry the swarm token, before its request is
    read; `open_prefixes` are methods anyone may call."""

    def __init__(self, token: str, open_prefixes: tuple[str, ...]) -> None:
        self._expected = f"Bearer {token}".encode()
        self._open = open_prefixes

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method or ""
        if method.startswith(self._open) or self._carries_token(handler_call_details):
            return await continuation(handler_call_details)
        return _refusal(await continuation(handler_call_details))

    def _carries_token(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == TOKEN_HEADER:
                given = value.encode() if isinstance(value, str) else bytes(value)
                # Constant time: how much of a guess matched must not show in the timing.
                return hmac.compare_digest(given, self._expected)
        return False


_REFUSED = (
    "the swarm token is missing or wrong: send metadata 'authorization: Bearer TOKEN' "
    "(clients: the swarm_token or swarm_token_file setting)"
)


def _refusal(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` that ends the call UNAUTHENTICATED."""

    async def refuse(_request, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, _REFUSED)

    if handler is None or not (handler.request_streaming or handler.response_streaming):
        return grpc.unary_unary_rpc_method_handler(refuse)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    return grpc.unary_stream_rpc_method_handler(refuse)


def _with_token(metadata, token: str) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in (metadata or ()) if k != TOKEN_HEADER]
    return [*kept, (TOKEN_HEADER, f"Bearer {token}")]


def _aio_token_interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    def details(d: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return grpc.aio.ClientCallDetails(
            d.method,
            d.timeout,
            grpc.aio.Metadata(*_with_token(d.metadata, token)),
            d.credentials,
            d.wait_for_ready,
        )

    class UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, continuation, call_details, request):
            return await continuation(details(call_details), request)

    class UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
        async def intercept_unary_stream(self, continuation, call_details, request):
            return await continuation(details(call_details), request)

    class StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
        async def intercept_stream_unary(self, continuation, call_details, request_iterator):
            return await continuation(details(call_details), request_iterator)

    class StreamStream(grpc.aio.StreamStreamClientInterceptor):
        async def intercept_stream_stream(self, continuation, call_details, request_iterator):
            return await continuation(details(call_details), request_iterator)

    return [UnaryUnary(), UnaryStream(), StreamUnary(), StreamStream()]


@dataclass(frozen=True)
class _SyncDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: list[tuple[str, str]]
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _SyncTokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, token: str) -> None:
        self._token = token

    def _details(self, d) -> _SyncDetails:
        return _SyncDetails(
            d.method,
            d.timeout,
            _with_token(d.metadata, self._token),
            d.credentials,
            getattr(d, "wait_for_ready", None),
            getattr(d, "compression", None),
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise SwarmSecurityError(f"address {address!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def is_loopback(address: str) -> bool:
    host = split_address(address)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_token_file(address: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Where `conclave up` leaves the token of the local swarm service on `address`'s port,
    for local clients (`conclave ask`, `agent call`) to find with nothing configured:
    $XDG_STATE_HOME/conclave/local-swarm/PORT.token. None for an address that is not
    loopback: the token of a swarm on this machine is never sent to another one."""
    if not is_loopback(address):
        return None
    env = os.environ if env is None else env
    state = env.get("XDG_STATE_HOME", "")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local/state"
    return base / "conclave" / "local-swarm" / f"{split_address(address)[1]}.token"


def generate_token() -> str:
    """A fresh swarm token: 32 random bytes, URL-safe text."""
    import secrets

    return secrets.token_urlsafe(32)


def write_private(path: Path, data: bytes) -> Path:
    """Writes a token or key readable by its owner only (created 0600, so never readable
    by others in between), atomically."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _checked_token(token: str, setting: str) -> str:
    token = token.strip()
    if not token:
        raise SwarmSecurityError(f"swarm_token{'_file' if setting == 'file' else ''} is empty")
    if not token.isascii() or not token.isprintable() or " " in token:
        # gRPC metadata values are printable ASCII; a newline in the middle is a paste error.
        raise SwarmSecurityError("the swarm token must be printable ASCII without spaces")
    return token


def _read(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SwarmSecurityError(f"{setting}: cannot read {path}: {error}") from None


def _pem(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    text = _read(path, setting)
    if "-----BEGIN " not in text:
        raise SwarmSecurityError(f"{setting}: {path} is not a PEM file")
    return text.encode()


def _load_client_cert(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes | None) -> None:
    # ssl loads certificates only from files: a private temporary copy, removed at once.
    with tempfile.TemporaryDirectory() as folder:
        cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem or b"")
        context.load_cert_chain(cert, key)
