"""`host:port` addresses of the services, checked by syntax before anything dials them.

gRPC takes any text as a target: `127.0.0.1:99999` was dialled as port 34463 (the number
wraps), `127.0.0.1:abc` as port 0, and `nonsense` went to the system resolver. Settings
and command-line flags that name a service check it here, so a typo fails at start-up
with one line, and no DNS query is sent for text that cannot be a host name.
"""

from __future__ import annotations

import ipaddress
import re

# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_address(text: str) -> str:
    """`text` if it is HOST:PORT (an IPv4 address, [IPv6] or a host name, and a port
    1-65535); ValueError naming what is wrong otherwise."""
    host, port = split_address(text)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_address(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r} is not HOST:PORT (an IPv6 address is written [::1]:50051)")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:50051)")
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:50051")
        if not _is_host(host):
            raise ValueError(f"{text!r}: {host!r} is not an IP address or a host name")
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"{text!r}: the port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: the port {port} is outside 1-65535")
    return host, port


def _is_host(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
        return True
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", host):
        return False  # digits and dots that are not an IPv4 address: 1.2.3.999
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))
