"""The browser session, as the HTTP routes (atlas_app/api) and the Reflex states (atlas_app/ui) both read it: the
cookie's name, the token in a ``Cookie`` header, which "next page" addresses are safe to send a browser to, and the
client's address behind trusted proxies. No web framework, so both layers can import it without importing each
other."""

from __future__ import annotations

import ipaddress
from http.cookies import SimpleCookie

from atlas_app.settings import get_settings

SESSION_COOKIE = "atlas_session"


def session_token_from_cookie_header(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # a malformed Cookie header means no session, never an error page
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


def safe_next(path: str | None, default: str = "/") -> str:
    """Only local paths, never another site (no open redirects)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address, networks) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in networks)


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The address of the person making the request, for throttles and the sign-in log.

    ``peer`` is the address of the direct connection. Only when that is one of ``TRUSTED_PROXIES`` is
    ``X-Forwarded-For`` believed, and then the client is the rightmost address in it that is not itself a trusted
    proxy: each trusted proxy appends the address it was connected from, so everything to the left of that was
    written by the client and may be forged. Without trusted proxies the header is ignored entirely."""
    networks = get_settings().trusted_proxies
    peer_ip = _parse_ip(peer or "")
    if not forwarded_for or not _trusted(peer_ip, networks):
        return str(peer_ip) if peer_ip is not None else (peer or "")
    last_trusted = peer_ip
    for entry in reversed(forwarded_for.split(",")):
        address = _parse_ip(entry)
        if address is None:
            # Trusted proxies write only addresses: what lies here came from the client, so the hop that passed it
            # on is the nearest address known for certain.
            return str(last_trusted)
        if not _trusted(address, networks):
            return str(address)
        last_trusted = address
    return str(last_trusted)


def forwarded_scheme(peer: str, forwarded_proto: str | None) -> str | None:
    """``http`` or ``https`` as a trusted proxy reports the client's connection (X-Forwarded-Proto), else None."""
    if not forwarded_proto or not _trusted(_parse_ip(peer or ""), get_settings().trusted_proxies):
        return None
    scheme = forwarded_proto.split(",")[0].strip().lower()
    return scheme if scheme in ("http", "https") else None
