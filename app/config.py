"""Settings in one place: defaults, then environment variables (prefix SENTINEL_), then overrides; validated at start."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.roles import ROLES

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "SENTINEL_"


def shared_data_dir() -> Path:
    """The shared data folder (PhysioNet, sample FHIR patients): $SENTINEL_SHARED_DIR, else `../shared` beside the
    repository, else /work/shared (where a clone made elsewhere, e.g. by CI in /tmp, still finds it)."""
    candidates = [Path(p) for p in (os.environ.get("SENTINEL_SHARED_DIR"),) if p]
    candidates += [ROOT.parent / "shared", Path("/work/shared")]
    return next((c for c in candidates if (c / "data").is_dir()), candidates[0])


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _default_roles() -> dict[str, str]:
    # PractitionerRole.code -> app role. Keys are "system|code"; a bare code matches any system.
    # http://terminology.hl7.org/CodeSystem/practitioner-role; SNOMED CT role codes some EHRs send instead.
    hl7 = "http://terminology.hl7.org/CodeSystem/practitioner-role"
    return {
        f"{hl7}|doctor": "provider",
        f"{hl7}|nurse": "nurse",
        f"{hl7}|ict": "deployment",
        "http://snomed.info/sct|309343006": "provider",  # Physician
        "http://snomed.info/sct|224535009": "nurse",  # Registered nurse
        "http://snomed.info/sct|106292003": "nurse",  # Professional nurse
    }


# The model's longest feature window (app.model.features, the 72 h lab window; tests/test_architecture.py checks
# they agree). Kept here as a number so that reading settings never imports the model.
MIN_LOOKBACK_HOURS = 72
LOCATION_REF = re.compile(r"Location/[A-Za-z0-9\-.]{1,64}")  # a FHIR Location reference, as the census names them


@dataclass(frozen=True)
class Settings:
    # Where the data lives. SQLite by default; PostgreSQL with postgresql+psycopg://...
    database_url: str = f"sqlite:///{ROOT / 'instance' / 'sentinel.db'}"
    # Signs the CSRF tokens and encrypts OAuth tokens at rest. Required outside dev/test.
    secret_key: str = ""
    # SMART registration (client id, redirect URI, scopes).
    smart_launch_file: str = str(ROOT / "smart_launch.json")
    # The only FHIR servers this app will launch from (iss values). Exact match after stripping "/".
    iss_allowlist: tuple[str, ...] = ()
    # Public URL of this app, used to build the redirect URI when smart_launch.json leaves it relative.
    public_url: str = ""
    # Who may embed the app in a frame (CSP frame-ancestors). The EHR's origin(s).
    frame_ancestors: tuple[str, ...] = ("'self'",)
    # Cookies: Secure + SameSite=None under HTTPS (needed inside a cross-site EHR iframe).
    cookie_secure: bool = False
    session_idle_minutes: int = 60
    session_max_hours: int = 12
    pending_launch_minutes: int = 10
    # FHIR access.
    fhir_connect_timeout: float = 3.05
    fhir_read_timeout: float = 10.0
    fhir_time_budget: float = 20.0
    observation_lookback_hours: int = 72
    page_size: int = 200
    max_pages: int = 20
    roles: dict[str, str] = field(default_factory=_default_roles)
    # Mail to the deployment team (feedback notifications). Empty host = no mail.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "sepsis-sentinel@localhost"
    deployment_team_email: str = ""
    smtp_timeout: float = 10.0  # seconds per SMTP session; the feedback is saved before mail is tried
    # The hospital's time zone (IANA name, e.g. "America/New_York") for every time shown or typed. Empty: the
    # server's zone, which in a container is usually UTC, so set it.
    site_timezone: str = ""
    # When an alert fires: SEP-1 organ-dysfunction signs by default. JSON, see app/alerts/policy.Policy.from_dict.
    alert_policy: dict = field(default_factory=dict)
    # Background screening (app.screening): the Location references whose in-progress encounters are screened
    # (comma-separated, e.g. "Location/icu-4,Location/icu-5"; empty: no screening), how often, and by what.
    # The FHIR base and the token come from the Backend Services client settings.
    screen_locations: tuple[str, ...] = ()
    screen_interval_minutes: int = 15
    screen_worker_concurrency: int = 4  # patients one `sentinel worker` process screens at once
    screen_retries: int = 3  # attempts per patient job when the EHR fails, with exponential backoff
    # Environment name; "production" forbids dev defaults.
    # Apply migrations at start (dev, demo, tests). Production runs `sentinel db upgrade` as a deploy step.
    auto_migrate: bool = True
    # SMART Backend Services: the background screening's own (system) access to the EHR, no user involved.
    # Empty client id: no backend access. The FHIR base must be on SENTINEL_ISS_ALLOWLIST. The private key (EC
    # P-384 for ES384, or RSA for RS384; PEM or JWK) comes from a file or this variable, never from the repository.
    backend_client_id: str = ""
    backend_fhir_base: str = ""
    backend_key_file: str = ""
    backend_key: str = field(default="", repr=False)
    backend_scopes: str = "system/Patient.rs system/Encounter.rs system/Observation.rs system/Location.rs"
    # Key rotation: more key files (public or private) whose public halves the JWKS also publishes, unused for signing.
    backend_also_publish: tuple[str, ...] = ()
    # CDS Hooks (app/cds/): the EHRs (CDS clients) allowed to call the hook, as JSON {"<iss>": "<jwks url>"}: the
    # `iss` their signed JWT carries and where their public keys are. Empty: every hook call is refused (403).
    cds_clients: dict = field(default_factory=dict)
    # A screening or chart scoring at most this old (clinical time) answers the hook from the database alone;
    # older, the hook scores the EHR's prefetch.
    cds_fresh_minutes: int = 30
    # Seconds to wait for a CDS client's JWKS (connect, read); it is cached for an hour.
    cds_jwks_timeout: float = 2.0
    # Write-back (app/writeback.py): each screening result as a FHIR RiskAssessment and each alert as a Flag, with
    # the backend client's token (add system/RiskAssessment.c system/Flag.c to SENTINEL_BACKEND_SCOPES). Off.
    writeback: bool = False
    env: str = "development"
    testing: bool = False
    log_level: str = "INFO"
    # -- safe on a shared workstation and across several EHRs ---------------------------------------------------
    # A file holding the secret key, when SENTINEL_SECRET_KEY is not set (`sentinel serve` with several workers
    # creates one, 0600, so that every worker encrypts with the same key).
    secret_key_file: str = ""
    # Bounds on what an EHR or authorization server may send: bytes per answer, entries per search page.
    fhir_max_response_bytes: int = 20 * 1024 * 1024
    fhir_max_entries_per_page: int = 1000
    # Pending launches (between /launch and /callback) kept at once, per client address and in all: an
    # unauthenticated flood of /launch cannot fill the database.
    pending_launches_per_client: int = 20
    pending_launches_max: int = 5000
    # Reverse proxies in front of the app that append to X-Forwarded-For (0: none). Behind a TLS proxy, set 1, or
    # every workstation shares the proxy's address and the per-client launch bound counts the whole hospital.
    proxy_hops: int = 0
    # Operations (app/ops/; README "Deploying at a hospital").
    # Log lines: "json" (one object a line, for a log store) or "text" (the demo's plain lines).
    log_format: str = "text"
    # Bearer token Prometheus sends to scrape GET /metrics. Empty: /metrics answers 404.
    metrics_token: str = ""
    # Where `sentinel serve` keeps the workers' metric files (emptied at start). Empty: a folder under the
    # system temp dir named after the bind address.
    metrics_dir: str = ""
    # How long gunicorn keeps an idle client connection open. Longer than the balancer's idle timeout (60 s
    # is common), so the balancer, not the app, closes idle connections and never reuses one the app closed.
    keepalive_seconds: int = 75

    def validate(self) -> Settings:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"SENTINEL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if self.env == "production":
            if len(self.secret_key) < 32:
                raise ConfigError("SENTINEL_SECRET_KEY must be set to at least 32 random characters in production")
            if not self.cookie_secure:
                raise ConfigError("SENTINEL_COOKIE_SECURE must be true in production (the app runs in an HTTPS iframe)")
            if not self.iss_allowlist:
                raise ConfigError("SENTINEL_ISS_ALLOWLIST must name your EHR's FHIR base URL in production")
            if not self.public_url.startswith("https://"):
                raise ConfigError("SENTINEL_PUBLIC_URL must be this app's https:// address in production")
            if not looks_random(self.secret_key):
                raise ConfigError("SENTINEL_SECRET_KEY looks hand-made (too few different characters); use e.g. "
                                  "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` in production")
            if "*" in self.frame_ancestors:
                raise ConfigError("SENTINEL_FRAME_ANCESTORS must name the EHR's origin(s), not *, in production "
                                  "(any site could frame the app)")
            if any(not i.strip().lower().startswith("https://") for i in self.iss_allowlist):
                raise ConfigError("SENTINEL_ISS_ALLOWLIST must hold only https:// FHIR base URLs in production")
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise ConfigError("SENTINEL_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL")
        if self.site_timezone:
            try:
                ZoneInfo(self.site_timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(f"SENTINEL_SITE_TIMEZONE {self.site_timezone!r} is not an IANA time zone name") from None
        if self.observation_lookback_hours < MIN_LOOKBACK_HOURS:
            raise ConfigError(f"SENTINEL_OBSERVATION_LOOKBACK_HOURS must be at least {MIN_LOOKBACK_HOURS}: the model's "
                              "lab features look back that far, and a shorter read would silently change them")
        for name in ("fhir_max_response_bytes", "fhir_max_entries_per_page", "pending_launches_per_client",
                     "pending_launches_max"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SENTINEL_{name.upper()} must be at least 1")
        if not 0 <= self.proxy_hops <= 5:
            raise ConfigError("SENTINEL_PROXY_HOPS must be between 0 and 5 (the reverse proxies in front of the app)")
        if self.log_format not in ("json", "text"):
            raise ConfigError(f"SENTINEL_LOG_FORMAT must be json or text, not {self.log_format!r}")
        if self.metrics_token and len(self.metrics_token) < 16:
            raise ConfigError("SENTINEL_METRICS_TOKEN must be at least 16 random characters (or empty: no /metrics)")
        if not 1 <= self.keepalive_seconds <= 3600:
            raise ConfigError("SENTINEL_KEEPALIVE_SECONDS must be between 1 and 3600")
        self._validate_backend()
        self._validate_screening()
        self._validate_cds()
        self._validate_writeback()
        bad = sorted(set(self.roles.values()) - set(ROLES))
        if bad:
            raise ConfigError(f"SENTINEL_ROLES maps to unknown roles: {', '.join(bad)}")
        return self

    def _validate_screening(self) -> None:
        if not 1 <= self.screen_interval_minutes <= 24 * 60:
            raise ConfigError("SENTINEL_SCREEN_INTERVAL_MINUTES must be between 1 and 1440")
        if not 1 <= self.screen_worker_concurrency <= 64:
            raise ConfigError("SENTINEL_SCREEN_WORKER_CONCURRENCY must be between 1 and 64")
        if not 1 <= self.screen_retries <= 10:
            raise ConfigError("SENTINEL_SCREEN_RETRIES must be between 1 and 10")
        bad = [loc for loc in self.screen_locations if not LOCATION_REF.fullmatch(loc)]
        if bad:
            raise ConfigError(f"SENTINEL_SCREEN_LOCATIONS must be Location references (Location/<id>), not "
                              f"{bad[0]!r}")

    def _validate_writeback(self) -> None:
        if not self.writeback:
            return
        missing = [s for s in ("system/RiskAssessment.c", "system/Flag.c") if s not in self.backend_scopes.split()]
        if not self.backend_client_id or missing:
            raise ConfigError("SENTINEL_WRITEBACK needs the backend client with "
                              + " ".join(missing or ["its scopes"]) + " in SENTINEL_BACKEND_SCOPES")

    def _validate_cds(self) -> None:
        if not 1 <= self.cds_fresh_minutes <= 24 * 60:
            raise ConfigError("SENTINEL_CDS_FRESH_MINUTES must be between 1 and 1440")
        if not 0.1 <= self.cds_jwks_timeout <= 30:
            raise ConfigError("SENTINEL_CDS_JWKS_TIMEOUT must be between 0.1 and 30 seconds")
        for iss, url in self.cds_clients.items():
            if not isinstance(iss, str) or not iss or not isinstance(url, str) or "://" not in url:
                raise ConfigError('SENTINEL_CDS_CLIENTS must be a JSON object {"<client iss>": "<its JWKS URL>"}')
            if self.env == "production" and not url.startswith("https://"):
                raise ConfigError(f"SENTINEL_CDS_CLIENTS: the JWKS URL of {iss!r} must be https:// in production")

    def _validate_backend(self) -> None:
        if not self.backend_client_id:
            return
        base = self.backend_fhir_base.strip().rstrip("/")
        if not base:
            raise ConfigError("SENTINEL_BACKEND_FHIR_BASE must name the FHIR base the screening reads")
        if base not in {a.strip().rstrip("/") for a in self.iss_allowlist}:
            raise ConfigError("SENTINEL_BACKEND_FHIR_BASE must be on SENTINEL_ISS_ALLOWLIST")
        if not (self.backend_key_file or self.backend_key):
            raise ConfigError("SENTINEL_BACKEND_CLIENT_ID needs a key: set SENTINEL_BACKEND_KEY_FILE (a PEM or JWK "
                              "file) or SENTINEL_BACKEND_KEY")
        bad = [s for s in self.backend_scopes.split() if not s.startswith("system/")]
        if bad or not self.backend_scopes.split():
            raise ConfigError("SENTINEL_BACKEND_SCOPES must be system/ scopes, e.g. system/Observation.rs")


ENVIRONMENTS = ("production", "development", "test")
MIN_SECRET_BITS = 128  # what secrets.token_urlsafe(16) gives; token_urlsafe(32) gives about 190 by this estimate


def looks_random(secret: str) -> bool:
    """A rough entropy check (Shannon entropy of the characters times the length): it refuses "x" * 40 or
    "abcabc..." but not a generated key. It cannot prove randomness; it catches the typed-in key."""
    if not secret:
        return False
    counts = Counter(secret)
    per_char = -sum(c / len(secret) * math.log2(c / len(secret)) for c in counts.values())
    return len(counts) >= 12 and per_char * len(secret) >= MIN_SECRET_BITS


def read_secret_key_file(path: str) -> str:
    """The key in `path` (stripped). The file must not be readable by others: it encrypts every token at rest."""
    try:
        mode = os.stat(path).st_mode
        if mode & 0o077:
            raise ConfigError(f"SENTINEL_SECRET_KEY_FILE {path} is readable by other users; chmod 600 it")
        with open(path, encoding="utf-8") as f:
            key = f.read().strip()
    except OSError as exc:
        raise ConfigError(f"SENTINEL_SECRET_KEY_FILE {path} cannot be read ({exc.strerror})") from None
    if len(key) < 32:
        raise ConfigError(f"SENTINEL_SECRET_KEY_FILE {path} holds fewer than 32 characters")
    return key


def create_secret_key_file(path: str) -> bool:
    """Write a new random key to `path` (mode 0600) unless it exists; True when this call made it. The key is
    written to a private temporary file first and linked into place (atomic, and refused if `path` exists), so
    two starts at once agree on one key and neither ever reads a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        os.link(temporary, target)
        return True
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)


def _coerce(current, raw: str, name: str):
    if isinstance(current, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if isinstance(current, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if isinstance(current, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(current, dict):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(f"{name} must be a JSON object") from None
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a JSON object")
        return value
    return raw


def load_settings(overrides: dict | None = None, environ: dict | None = None) -> Settings:
    """Defaults, then SENTINEL_* environment variables (DATABASE_URL also accepted bare), then overrides."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    values = {}
    for f in fields(Settings):
        name = PREFIX + f.name.upper()
        raw = environ.get(name)
        if raw is None and f.name == "database_url":
            raw = environ.get("DATABASE_URL")
        if raw is not None:
            values[f.name] = _coerce(getattr(settings, f.name), raw, name)
    settings = replace(settings, **values, **(overrides or {}))
    if not settings.secret_key and settings.secret_key_file:
        settings = replace(settings, secret_key=read_secret_key_file(settings.secret_key_file))
    if not settings.secret_key:
        if settings.env == "production":
            settings.validate()  # raises with a clear message
        # Development and tests: a random key per process start. Two processes must share a key
        # (tokens are encrypted with it), so multi-process deployments set SENTINEL_SECRET_KEY.
        settings = replace(settings, secret_key=secrets.token_urlsafe(32))
    return settings.validate()
