"""Security of the dashboard: safe recording names, tokens, Host/Origin/Content-Type checks,
bounded JSON bodies, security headers.

Every request goes through `check_request` (a `before_request` hook), in this order:

1. the Host header must name the app (DNS rebinding): 400;
2. a write (POST, PUT, PATCH, DELETE) must come from the app's own origin: an `Origin` that is
   another site or `null` (sandboxed frames, some redirects) is refused, and so is a missing
   `Origin` when `Sec-Fetch-Site` says another site sent it: 403;
3. a write that carries a body must be `Content-Type: application/json` (plain-text and form
   posts, which any page can send without a CORS preflight, are refused): 415. A write with no
   body at all (the original tool's `POST /api/record/stop`) needs no content type;
4. the token, when the app has one: every write needs it, and so does every read when the app
   is reachable beyond loopback without `public_read`: 401.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import BadRequest, Forbidden, NotFound, Unauthorized, UnsupportedMediaType

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")
TOKEN_HEADER = "X-Evlog-Token"
TOKEN_COOKIE = "evlog_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_JSON_DEPTH = 64          # nesting of objects and arrays in a request body
MAX_FILTER_CHARS = 4096      # a filter expression in a query or a body
PUBLIC_PATHS = ("/static/",)

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


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


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


class HostPolicy:
    """Which Host headers the app answers (DNS rebinding defence).

    A DNS rebinding attack needs a *name* the attacker controls, so: loopback names when the
    app is bound to loopback or to every address, the names given with `--allowed-host`, and
    IP literals (the bound address, or any when bound to every address: 0.0.0.0, ::).
    `port` None accepts any port (tests bind port 0)."""

    def __init__(self, bind_host: str, port: int | None = None, extra: list[str] | None = None) -> None:
        bind = bind_host.strip("[]").lower()
        self.wildcard = bind in ("0.0.0.0", "::", "")
        self.port = port
        self.names = {n.strip("[]").lower() for n in (extra or []) if n}
        self.names.add(bind)
        if is_loopback(bind) or self.wildcard:
            self.names |= LOOPBACK_NAMES

    def allows(self, host_header: str) -> bool:
        host, port = split_host(host_header)
        if self.port is not None and port is not None and port != self.port:
            return False
        if host in self.names:
            return True
        return self.wildcard and _ip(host) is not None


def split_host(value: str) -> tuple[str, int | None]:
    """("name", port or None) of a Host header or an Origin's netloc, lower-cased."""
    value = (value or "").strip().lower()
    if value.startswith("["):
        end = value.find("]")
        host, rest = value[1:end], value[end + 1:]
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, ""
    try:
        return host, int(port) if port else None
    except ValueError:
        return host, -1


def _same_origin(origin: str, host_header: str) -> bool:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    oh, op = split_host(parts.netloc)
    hh, hp = split_host(host_header)
    default = 443 if parts.scheme == "https" else 80
    return oh == hh and (op or default) == (hp or default)


def check_request() -> None:
    """The before_request hook: Host, then cross-site writes, then content type, then token."""
    policy: HostPolicy | None = current_app.config.get("EVLOG_HOST_POLICY")
    host = request.headers.get("Host") or ""
    if policy is not None and not policy.allows(host):
        raise BadRequest(f"unexpected Host header {host[:100]!r} (start evlog serve with --allowed-host NAME "
                         "to answer another name)")
    if request.method in WRITE_METHODS:
        check_same_origin(host)
        check_content_type()
        if not token_ok():
            raise Unauthorized("missing or wrong token (send it in the X-Evlog-Token header)")
    elif current_app.config.get("EVLOG_READ_TOKEN") and not request.path.startswith(PUBLIC_PATHS):
        if not token_ok(cookie=True):
            raise Unauthorized("this dashboard needs its token to be read: open the link with ?token=... "
                               "that `evlog serve` printed, or send the X-Evlog-Token header")


def check_same_origin(host: str) -> None:
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin.strip().lower() == "null":
            raise Forbidden("writes from an opaque origin (Origin: null) are refused")
        if not _same_origin(origin, host):
            raise Forbidden("cross-origin requests may not write")
        return
    site = (request.headers.get("Sec-Fetch-Site") or "").lower()
    if site and site not in ("same-origin", "none"):
        raise Forbidden(f"writes sent by another site (Sec-Fetch-Site: {site}) are refused")


def check_content_type() -> None:
    mime = (request.mimetype or "").lower()
    has_body = bool(request.content_length) or "chunked" in (request.headers.get("Transfer-Encoding") or "").lower()
    if mime == "application/json":
        return
    if not mime and not has_body:
        return   # nothing to parse: a bare POST such as the original's /api/record/stop
    raise UnsupportedMediaType("writes take a JSON body: send Content-Type: application/json")


def token_ok(*, cookie: bool = False) -> bool:
    token: str | None = current_app.config.get("EVLOG_TOKEN")
    if not token:
        return True
    given = request.headers.get(TOKEN_HEADER, "")
    auth = request.headers.get("Authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not given and cookie:
        given = request.cookies.get(TOKEN_COOKIE, "") or link_token()
    return hmac.compare_digest(given.encode(), token.encode())


def link_token() -> str:
    """The token of the link `evlog serve` prints (`/?token=...`), on pages only (GET)."""
    if request.method != "GET" or request.path.startswith("/api/"):
        return ""
    return request.args.get("token", "")


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks an endpoint that writes. `check_request` already refused a wrong token for every
    write method; this repeats the check for a view reached some other way."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not token_ok():
            raise Unauthorized("missing or wrong token (send it in the X-Evlog-Token header)")
        return view(*args, **kwargs)
    return wrapper


def add_headers(response: Any) -> Any:
    token = current_app.config.get("EVLOG_TOKEN")
    given = link_token()
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        # the printed link: later page loads and reads carry the token as a same-site cookie
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    return response


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if `value` nests objects and arrays at most `limit` deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            items: Any = v.values()
        elif isinstance(v, list):
            items = v
        else:
            continue
        if depth > limit:
            return False
        stack.extend((x, depth + 1) for x in items if isinstance(x, (dict, list)))
    return True


def json_body(*, allow_list: bool = False) -> Any:
    """The request's JSON body ({} when there is none), or a 400 with a message."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BadRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None
    if not json_depth_ok(data):
        raise BadRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(data, dict) and not (allow_list and isinstance(data, list)):
        raise BadRequest("request body must be a JSON object")
    return data


def filter_text(value: Any, what: str = "filter") -> str | None:
    """A filter expression from a request: a string of bounded length, or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string")
    if len(value) > MAX_FILTER_CHARS:
        raise BadRequest(f"{what} is longer than {MAX_FILTER_CHARS} characters")
    return value
