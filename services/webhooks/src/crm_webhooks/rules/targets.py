"""Where a delivery may go (SSRF): http(s) URLs whose every resolved address is public.

Refused unless inside a range the administrator allows (`WEBHOOKS_ALLOWED_CIDRS`): loopback,
private (RFC 1918, CGNAT), link-local, unique-local (fc00::/7), multicast, reserved and
unspecified addresses, and IPv4 addresses hidden in IPv6 (mapped ::ffff:a.b.c.d, NAT64
64:ff9b::/96, 6to4 2002::/16) are judged as the IPv4 address they carry. Cloud metadata
addresses are refused even inside an allowed range: no integration needs them.

The check runs at creation and before each delivery (DNS may have changed), and the connection
goes to the address that was checked, never to a fresh lookup (no rebinding in between)."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from crmkit import limits
from crmkit.errors import InvalidArgument

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",   # AWS, GCP, Azure, Alibaba Cloud (ECS also answers on 100.100.100.200)
    "100.100.100.200",
    "fd00:ec2::254",     # AWS over IPv6
    "169.254.170.2",     # ECS task metadata
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ULA = ipaddress.ip_network("fc00::/7")
MAX_URL = limits.MAX_URL


@dataclass(frozen=True)
class Target:
    scheme: str   # http | https
    host: str     # as written (the TLS server name and the Host header)
    port: int
    path: str     # path and query, at least "/"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse_target(url: str, field: str = "target_url") -> Target:
    """The URL's parts, or INVALID_ARGUMENT naming the field (a URL the API would never send to)."""
    if not url:
        raise InvalidArgument("required", field=field)
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in url) or "\\" in url:
        raise InvalidArgument("not a valid URL", field=field)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument("only http and https URLs are allowed", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument("credentials in the URL are not allowed; sign with the secret instead", field=field)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise InvalidArgument("not a valid port", field=field) from None
    if not host:
        raise InvalidArgument("the URL names no host", field=field)
    if parts.fragment:
        raise InvalidArgument("a fragment is never sent; remove it", field=field)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def parse_cidrs(raw: str) -> tuple[Network, ...]:
    """`WEBHOOKS_ALLOWED_CIDRS`: comma-separated ranges (ValueError naming the bad one)."""
    found: list[Network] = []
    for item in (part.strip() for part in raw.split(",")):
        if item:
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"WEBHOOKS_ALLOWED_CIDRS: {item!r} is not an IP range") from None
    return tuple(found)


def embedded_ipv4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def refusal(address: str, allowed: Sequence[Network] = ()) -> str:
    """Why a delivery may not go to this address ("" when it may)."""
    try:
        ip: IP = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    inner = embedded_ipv4(ip)
    for candidate in (ip, inner):
        if candidate is not None and candidate in METADATA:
            return f"{address} is a cloud metadata address"
    judged = inner or ip
    if any(judged.version == net.version and judged in net for net in allowed):
        return ""
    for kind, hit in (("loopback", judged.is_loopback), ("link-local", judged.is_link_local),
                      ("unspecified", judged.is_unspecified), ("multicast", judged.is_multicast),
                      ("unique-local", isinstance(judged, ipaddress.IPv6Address) and judged in _ULA),
                      ("private", judged.is_private), ("reserved", judged.is_reserved),
                      ("non-public", not judged.is_global)):
        if hit:
            return f"{address} is {'an' if kind == 'unspecified' else 'a'} {kind} address"
    return ""



def check_addresses(addresses: Iterable[str], allowed: Sequence[Network] = ()) -> str:
    """The address to connect to: the first one, once every address the name resolves to is
    allowed (a name with one private address among public ones is refused: which one a client
    picks is not ours to choose). ValueError with the reason otherwise."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise ValueError("the host does not resolve")
    for address in found:
        reason = refusal(address, allowed)
        if reason:
            raise ValueError(f"refused: {reason}")
    return found[0]
