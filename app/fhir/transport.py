"""A hardened HTTP transport for one FHIR base: timeouts, retries within a time budget, one 401 refresh, typed errors.

fhirclient sends requests with no timeout and does not check that a `next` link stays on the server, so every
FHIR request of the app goes through here instead. What an answer holds is read in `answers`; where the token
comes from, in `tokens`.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests

from .answers import created_resource, json_or_none, outcome_codes, resource_of
from .bounded import BoundedReadError, read_body
from .bounded import install as bound_responses
from .errors import (
    FhirBadResponse,
    FhirError,
    FhirForbidden,
    FhirNotFound,
    FhirRequestRejected,
    FhirUnauthorized,
    FhirUnavailable,
)
from .tokens import TokenSource

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")


# Told of every round trip: (resource type, method, outcome, seconds). The app's factory sets it to its metrics
# recorder, so this package needs neither Flask nor a metrics library. It must not raise.
RoundTripObserver = Callable[[str, str, str, float], None]
_observer: RoundTripObserver | None = None


def observe_round_trips(observer: RoundTripObserver | None) -> None:
    """Report every FHIR round trip of this process to `observer` (None: to nobody)."""
    global _observer
    _observer = observer


MAX_RESPONSE_BYTES = 20 * 1024 * 1024
MAX_ENTRIES_PER_PAGE = 1000


def http_session(environ: dict | None = None, *, max_bytes: int = MAX_RESPONSE_BYTES,
                 seconds: float = 20.0) -> requests.Session:
    """The app's HTTP session for the EHR. requests reads the proxy variables, ~/.netrc and the CA-bundle variables
    from the environment on every request (about 0.5 ms each, with its proxy-bypass checks). Without proxies or a
    netrc there is nothing to look up per request, so the CA bundle (REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE) is
    read once, here, and the per-request lookups stop. With proxies or a netrc, requests reads them as usual."""
    environ = os.environ if environ is None else environ
    session = requests.Session()
    # One session serves every user: a cookie one EHR answer sets (a balancer's, a JSESSIONID) must never ride
    # along on another user's requests. Authorization is the bearer token alone.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=()))
    # Every answer bounded in size and time, none followed to another address (app.fhir.bounded).
    bound_responses(session, max_bytes=max_bytes, seconds=seconds)
    netrc = environ.get("NETRC") or any((Path.home() / name).exists() for name in (".netrc", "_netrc"))
    if not netrc and not _proxy_variables(environ):
        session.trust_env = False
        bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle  # what requests would take from the environment on each request
    return session


def _proxy_variables(environ: dict) -> bool:
    """Any *_proxy variable (as urllib's getproxies_environment reads them, any case), set and non-empty."""
    return any(value and name.lower().endswith("_proxy") for name, value in environ.items())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _port(parts) -> int | None:
    port = parts.port  # raises ValueError on a malformed port
    if port is None:
        return {"http": 80, "https": 443}.get(parts.scheme.lower())
    return port


def on_base(url: str, base: str) -> bool:
    """True when `url` is on the FHIR base's origin (scheme, host, port) and under its path.

    A `next` link or any other URL that fails this is never requested, so the bearer token cannot leak.
    """
    try:
        u, b = urlsplit(url), urlsplit(base)
        if u.scheme.lower() != b.scheme.lower() or u.scheme.lower() not in ("http", "https"):
            return False
        if (u.hostname or "").lower() != (b.hostname or "").lower() or not u.hostname:
            return False
        if _port(u) != _port(b) or u.username is not None or u.password is not None:
            return False
    except ValueError:
        return False
    segments = unquote(u.path).split("/")
    if any(s in (".", "..") for s in segments) or "\\" in unquote(u.path):
        return False
    base_path = b.path.rstrip("/")
    return not base_path or u.path == base_path or u.path.startswith(base_path + "/")


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds to wait: delay-seconds or an HTTP-date (RFC 9110, section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class Transport:
    """GET JSON resources from one FHIR base. Counts round trips; raises only `FhirError` subclasses.

    The time budget covers the transport's whole life (one page load): a retry whose wait would overrun it
    fails at once with FhirUnavailable instead of keeping a clinician waiting.
    """

    def __init__(self, base: str, token_source: TokenSource | None = None, *,
                 session: requests.Session | None = None, connect_timeout: float = 3.05,
                 read_timeout: float = 10.0, time_budget: float = 20.0, max_attempts: int = 4,
                 backoff: float = 0.5, max_backoff: float = 8.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 wallclock: Callable[[], datetime] = _utc_now, max_bytes: int = MAX_RESPONSE_BYTES,
                 max_entries: int = MAX_ENTRIES_PER_PAGE):
        base = base.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("FHIR base must be an http(s) URL")
        self.base = base
        self.token_source = token_source
        self.session = session or requests.Session()
        self.connect_timeout, self.read_timeout, self.time_budget = connect_timeout, read_timeout, time_budget
        self.max_attempts, self.backoff, self.max_backoff = max(1, max_attempts), backoff, max_backoff
        self.sleep, self.clock, self.wallclock = sleep, clock, wallclock
        self.round_trips = 0
        # Bounds on each answer: its size (read while it streams in) and, for searches, entries per page.
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._last = threading.local()  # per thread: the Patient read beside a search must not move its URL
        self._started: float | None = None
        self._lock = threading.Lock()  # two reads of one page may run at once (searches.fetch_patient_record)
        self._refresh_lock = threading.Lock()  # ... and both get 401: one refresh, the other uses its token

    # -- public -------------------------------------------------------------------------------------------

    def url(self, target: str) -> str:
        """An absolute URL on this base for a relative path ("Patient/1") or an absolute URL (checked)."""
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", target):
            if not on_base(target, self.base):
                raise FhirBadResponse(detail="refused to request a URL outside the FHIR base")
            return target
        return f"{self.base}/{target.lstrip('/')}"

    def get_json(self, target: str, params: dict | None = None, *, expect: str | tuple[str, ...],
                 headers: dict | None = None) -> dict:
        """GET and return the JSON resource, whose resourceType must be one of `expect`. `headers` are sent too
        (e.g. `Prefer: handling=strict`); never Authorization, which comes from the token source."""
        expected = (expect,) if isinstance(expect, str) else tuple(expect)
        url = self.url(target)
        kind = self._kind(url)
        resp = self._exchange("GET", url, kind, params=params, resend=True,
                              headers={k: v for k, v in (headers or {}).items() if k.lower() != "authorization"})
        return resource_of(resp, expected, kind)

    @property
    def last_url(self) -> str | None:
        """The final URL of this thread's last request (after redirects): a paging loop guard's first entry."""
        return getattr(self._last, "url", None)

    def _start_budget(self) -> None:
        """The time budget starts at the first request (under the lock: two reads of a page may start at once)."""
        with self._lock:
            if self._started is None:
                self._started = self.clock()

    def create(self, resource_type: str, resource: dict, *, if_none_exist: str | None = None) -> dict:
        """POST a new resource and return it as stored (with its server id).

        With `if_none_exist` (a search query, e.g. "identifier=system|value") this is a conditional create
        (FHIR R4 http.html#ccreate): a server that already holds a match returns it (200) instead of making a
        duplicate, so a retry after a lost answer is safe. Only then are 429/5xx and refused connections
        retried; a plain create is sent once, since a retry could create the resource twice. A read timeout
        is never retried: the server may have stored the resource.
        """
        if not _RESOURCE_TYPE.fullmatch(resource_type) or resource.get("resourceType") != resource_type:
            raise ValueError("resource_type must match the resource's resourceType")
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        resp = self._exchange("POST", self.url(resource_type), resource_type, body=json.dumps(resource).encode(),
                              headers=headers, resend=bool(if_none_exist))
        return created_resource(resp, resource_type)

    # -- internals ----------------------------------------------------------------------------------------

    def _kind(self, url: str) -> str:
        """The resource type for logs ("Observation"), or "page" for a paging link; never ids or query values."""
        rest = urlsplit(url).path[len(urlsplit(self.base).path.rstrip("/")):].strip("/")
        first = rest.split("/", 1)[0] if rest else ""
        return first if _RESOURCE_TYPE.fullmatch(first) else "page"

    def _exchange(self, method: str, url: str, kind: str, *, headers: dict, resend: bool,
                  params: dict | None = None, body: bytes | None = None) -> requests.Response:
        """Send one request until it is answered 2xx (a POST: 200 or 201) and return that answer; raise the
        FhirError its status means otherwise. A 401 refreshes the token once. Connection failures and
        429/502/503/504 are sent again within the budget only when `resend` (a GET, a conditional create); a
        POST's 404 is a rejection, not a missing resource."""
        label = kind if method == "GET" else f"{method} {kind}"
        self._start_budget()
        token = self.token_source.access_token() if self.token_source else None
        refreshed, attempt = False, 0
        while True:
            attempt += 1
            resp = self._send(url, params, token, kind, attempt, method=method, body=body, extra_headers=headers,
                              retry_connection=resend)
            if resp is None:  # the connection failed and the request may be sent again within the budget
                continue
            status = resp.status_code
            if (200 <= status < 300) if method == "GET" else status in (200, 201):
                return resp
            if status == 401:
                if refreshed or self.token_source is None:
                    raise FhirUnauthorized(detail=f"HTTP 401 on {label}" + (" after refresh" if refreshed else ""))
                token = self._refresh(kind, used=token)
                refreshed = True
                continue
            if status == 403:
                raise FhirForbidden(detail=f"HTTP 403 on {label}")
            if status == 404 and method == "GET":
                raise FhirNotFound(detail=f"HTTP 404 on {kind}")
            if status in RETRY_STATUSES and resend:
                self._wait_or_fail(resp, attempt, kind)
                continue
            if status >= 500 or status in RETRY_STATUSES:
                raise FhirUnavailable(detail=f"HTTP {status} on {label}")
            if 300 <= status < 400:
                raise FhirBadResponse(detail=f"HTTP {status} redirect on {label}: check the FHIR base URL")
            codes = outcome_codes(json_or_none(resp))
            raise FhirRequestRejected(detail=f"HTTP {status} on {label}" + (f" ({codes})" if codes else ""),
                                      http_status=status)

    def _remaining(self) -> float:
        return self.time_budget - (self.clock() - (self.clock() if self._started is None else self._started))

    def _send(self, url: str, params: dict | None, token: str | None, kind: str,
              attempt: int, *, method: str = "GET", body: bytes | None = None,
              extra_headers: dict | None = None, retry_connection: bool = True) -> requests.Response | None:
        remaining = self._remaining()
        if remaining <= 0:
            raise FhirUnavailable(detail=f"time budget of {self.time_budget:g} s spent before {kind}")
        headers = {"Accept": FHIR_JSON, **(extra_headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))
        started = self.clock()
        with self._lock:
            self.round_trips += 1
        try:
            resp = self._round_trip(method, url, kind, params=params, data=body, headers=headers, timeout=timeout,
                                    allow_redirects=False, stream=True)
            self._read(resp, kind)
        except requests.exceptions.ConnectTimeout:
            if not retry_connection:
                raise FhirUnavailable(detail=f"connect timeout on {method} {kind}, not retried") from None
            return self._connection_retry(kind, attempt, "connect timeout")
        except requests.exceptions.ReadTimeout:
            log.warning("FHIR GET %s: no answer within %.1f s (attempt %d)", kind, timeout[1], attempt)
            raise FhirUnavailable(
                "The EHR's data service did not answer in time, so Sepsis Sentinel cannot show a risk score "
                "right now. Please try again in a few minutes.",
                detail=f"read timeout after {timeout[1]:g} s on {kind}") from None
        except requests.exceptions.ConnectionError:
            if not retry_connection:  # a reset may come after the server stored the resource: never resend
                raise FhirUnavailable(detail=f"connection refused or reset on {method} {kind}, not retried") from None
            return self._connection_retry(kind, attempt, "connection refused or reset")
        except requests.RequestException as exc:
            raise FhirUnavailable(detail=f"{type(exc).__name__} on {kind}") from None
        self._last.url = resp.url or url
        log.info("FHIR %s %s -> %d in %d ms (attempt %d)", method, kind, resp.status_code,
                 int((self.clock() - started) * 1000), attempt)
        return resp

    def _round_trip(self, method: str, url: str, kind: str, **kwargs) -> requests.Response:
        """The one network call. Every round trip, answered or not, is reported to the observer (if any) with
        its resource type, method, outcome (the HTTP status, "timeout" or "connection_error") and seconds."""
        started, outcome = self.clock(), "error"
        try:
            resp = self.session.request(method, url, **kwargs)
            outcome = str(resp.status_code)
            return resp
        except requests.exceptions.Timeout:
            outcome = "timeout"
            raise
        except requests.exceptions.ConnectionError:
            outcome = "connection_error"
            raise
        finally:
            observer = _observer
            if observer is not None:
                observer(kind, method, outcome, self.clock() - started)

    def _connection_retry(self, kind: str, attempt: int, what: str) -> None:
        log.warning("FHIR GET %s: %s (attempt %d)", kind, what, attempt)
        wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        if attempt >= self.max_attempts or wait >= self._remaining():
            raise FhirUnavailable(
                "Sepsis Sentinel could not reach the EHR's data service, so no risk score is shown. "
                "Please try again in a few minutes; if this keeps happening, contact the deployment team.",
                detail=f"{what} on {kind} after {attempt} attempt(s)")
        self.sleep(wait)
        return None

    def _wait_or_fail(self, resp: requests.Response, attempt: int, kind: str) -> None:
        status = resp.status_code
        asked = retry_after_seconds(resp.headers.get("Retry-After"), self.wallclock())
        wait = asked if asked is not None else min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        if asked is not None and asked > self.time_budget:
            raise FhirUnavailable(
                "The EHR's data service is busy and asked Sepsis Sentinel to wait longer than it can. "
                "Please try again in a few minutes.",
                detail=f"HTTP {status} on {kind} with Retry-After {asked:g} s (budget {self.time_budget:g} s)")
        if attempt >= self.max_attempts:
            raise FhirUnavailable(detail=f"HTTP {status} on {kind} after {attempt} attempts")
        if wait >= self._remaining():
            raise FhirUnavailable(detail=f"HTTP {status} on {kind}; waiting {wait:g} s more would overrun the "
                                         f"{self.time_budget:g} s budget")
        log.info("FHIR GET %s -> %d, retrying in %.1f s", kind, status, wait)
        self.sleep(wait)

    def _refresh(self, kind: str, used: str | None) -> str:
        """After a 401 on `used`: the token a parallel read refreshed meanwhile, else a refresh of our own."""
        with self._refresh_lock:
            try:
                current = self.token_source.access_token()
                token = current if current != used else self.token_source.refresh()
            except FhirError:
                raise
            except Exception as exc:  # the token source's own failure (e.g. the EHR refused the refresh)
                log.warning("FHIR GET %s -> 401; token refresh failed (%s)", kind, type(exc).__name__)
                raise FhirUnauthorized(detail=f"HTTP 401 on {kind}; refresh failed") from exc
        if not token:
            log.warning("FHIR GET %s -> 401; token cannot be refreshed", kind)
            raise FhirUnauthorized(detail=f"HTTP 401 on {kind}; no refresh possible")
        log.info("FHIR GET %s -> 401; token refreshed, retrying once", kind)
        return token

    def _read(self, resp: requests.Response, kind: str) -> None:
        """Read the streamed body within the size cap and what is left of the time budget (a Patient sent a byte
        a second must not outlast the budget; a 400 MB one must not fill the worker's memory)."""
        try:
            read_body(resp, max_bytes=self.max_bytes, deadline=self._started + self.time_budget, clock=self.clock)
        except BoundedReadError as exc:
            if "byte limit" in exc.reason:
                raise FhirBadResponse(detail=f"{kind}: {exc.reason}") from None
            raise FhirUnavailable(
                "The EHR's data service did not finish answering in time, so Sepsis Sentinel cannot show a risk "
                "score right now. Please try again in a few minutes.",
                detail=f"{kind}: {exc.reason} (budget {self.time_budget:g} s)") from None
