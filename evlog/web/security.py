"""Security helpers of the dashboard: safe recording names, write tokens, Host/Origin checks, headers."""
from __future__ import annotations

import hmac
import ipaddress
import os
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import BadRequest, Forbidden, NotFound, Unauthorized

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")
TOKEN_HEADER = "X-Evlog-Token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")


def is_loopback(host: str) -> bool:
    """True if `host` (a name or an address) only reaches this machine."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_name(name: str) -> str:
    """A recording name from a URL or a request: one plain file name, or 400."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise BadRequest(f"invalid recording name {name!r}: use letters, digits, '_', '-' and '.' only")
    return name


def resolve(root: str, name: str, *, must_exist: bool = True) -> str:
    """The path of recording `name` inside `root`; never outside it (400/404)."""
    check_name(name)
    root_real = os.path.realpath(root)
    path = os.path.join(root_real, name)
    if os.path.islink(path):
        raise NotFound(f"no such recording: {name}")
    real = os.path.realpath(path)
    if os.path.dirname(real) != root_real:
        raise NotFound(f"no such recording: {name}")
    if must_exist and not os.path.exists(real):
        raise NotFound(f"no such recording: {name}")
    return real


def allowed_hosts(bind_host: str, port: int | None, extra: list[str] | None = None) -> set[str]:
    """Host header values accepted (DNS rebinding defence): the bound name, plus loopback names."""
    names = {bind_host.lower()} | {h.lower() for h in (extra or [])}
    if is_loopback(bind_host) or bind_host in ("0.0.0.0", "::"):
        names |= LOOPBACK_NAMES
    hosts = set()
    for n in names:
        n = f"[{n}]" if ":" in n and not n.startswith("[") else n
        hosts.add(n)
        hosts.add(f"{n}:{port}" if port is not None else f"{n}:*")
    return hosts


def check_host() -> None:
    """Reject a Host header the app was not bound to (400), and cross-site writes (403)."""
    allowed: set[str] | None = current_app.config.get("EVLOG_ALLOWED_HOSTS")
    host = (request.headers.get("Host") or "").lower()
    bare = host[:host.rindex(":")] if host.rfind(":") > host.rfind("]") else host
    if allowed is not None and host not in allowed and f"{bare}:*" not in allowed:
        raise BadRequest(f"unexpected Host header {host!r}")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("Origin")
        if origin and origin != "null" and urlsplit(origin).netloc.lower() != host:
            raise Forbidden("cross-origin requests may not write")


def token_ok() -> bool:
    token: str | None = current_app.config.get("EVLOG_TOKEN")
    if not token:
        return True
    given = request.headers.get(TOKEN_HEADER, "")
    auth = request.headers.get("Authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    return hmac.compare_digest(given.encode(), token.encode())


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Endpoints that write: a wrong or missing token gets 401 before anything happens."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not token_ok():
            raise Unauthorized("missing or wrong token (send it in the X-Evlog-Token header)")
        return view(*args, **kwargs)
    return wrapper


def add_headers(response: Any) -> Any:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    return response


def json_body(*, allow_list: bool = False) -> Any:
    """The request's JSON body, or a 400 with a message."""
    if not request.get_data(cache=True).strip():
        return {}
    data = request.get_json(silent=True, force=True)
    if data is None:
        raise BadRequest("request body is not valid JSON")
    if not isinstance(data, dict) and not (allow_list and isinstance(data, list)):
        raise BadRequest("request body must be a JSON object")
    return data
