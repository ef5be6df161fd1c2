"""Every setting comes from the environment, with an embedded default.

Nothing here imports Reflex, so services, the CLI, Alembic and tests can all use it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Connections each server process keeps open to PostgreSQL (and may exceed by twice as many at a peak).
POOL_CONNECTIONS = 10


def _data_dir() -> Path:
    path = Path(os.environ.get("ATLAS_DATA_DIR", PROJECT_ROOT / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and pick the drivers Atlas ships with (psycopg 3)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else generated once and stored beside the data."""
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class MissingSecretKey(RuntimeError):
    pass


def require_secret_key(production: bool) -> None:
    """A production start refuses to run without SECRET_KEY in its environment: two-factor secrets are sealed
    under a key derived from it and tracking links are signed with it, so a key made up on one machine (and lost
    with its data folder, or different on each server) would lock every enrolled user out."""
    if production and not (os.environ.get("SECRET_KEY") or "").strip():
        raise MissingSecretKey(
            "SECRET_KEY is not set. A production start needs a long random SECRET_KEY (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`), the same on every server and kept "
            "across upgrades: two-factor secrets are encrypted under it.")


def parse_trusted_proxies(value: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``TRUSTED_PROXIES``: comma-separated addresses or CIDR ranges of the reverse proxies in front of Atlas."""
    networks = []
    for entry in (value or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR range") from None
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    smtp_url: str | None
    base_url: str
    secret_key: str
    data_dir: Path
    mail_from: str
    session_idle_minutes: int
    session_absolute_hours: int
    password_reset_minutes: int
    # Stripe: with no secret key, card payments go through the labelled demo provider instead.
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    # Another address for the Stripe API (a test double); Stripe's own when unset.
    stripe_api_base: str | None = None
    # GOV.UK Pay, for organisations that choose it instead of Stripe: the account's API key, the webhook's signing
    # secret, and another address for its API (a local stand-in); GOV.UK Pay's own when unset.
    govuk_pay_api_key: str | None = field(default=None, repr=False)
    govuk_pay_webhook_secret: str | None = field(default=None, repr=False)
    govuk_pay_api_base: str = "https://publicapi.payments.service.gov.uk"
    govuk_pay_ledger_code: str = ""
    # How many SMTP connections one delivery pass sends over at once (each reused for the whole pass).
    smtp_connections: int = 4
    # How many API requests one server process works on at once (the rest wait their turn, in arrival order).
    api_threads: int = 4
    # Failed sign-ins from one address (any accounts) within 15 minutes before sign-in from it is paused.
    sign_in_failures_per_address: int = 10
    # Reverse proxies whose X-Forwarded-For is believed (none by default: the direct peer is the client).
    trusted_proxies: tuple = ()
    # ATLAS_DEMO_PAYMENTS=1: this deployment is a demo, so every organisation may pay through the labelled demo
    # card provider when no Stripe key is set. Off by default: then only organisations marked payments_demo may.
    demo_payments: bool = False
    # GOV.UK Notify: with an API key, emails with a Notify template, text messages and letters go through Notify
    # (SMTP stays the way for emails without one). Another address for its API (a test double) when set; the bearer
    # token Notify's delivery receipts must carry.
    notify_api_key: str | None = field(default=None, repr=False)
    notify_api_base: str | None = None
    notify_callback_token: str | None = field(default=None, repr=False)
    # MAP_TILE_URL: a map tile URL template ({z}/{x}/{y}) for the public report pages; unset: address search only.
    map_tile_url: str | None = None
    # MAP_ATTRIBUTION: the credit the tile provider of MAP_TILE_URL requires, shown on the map.
    map_attribution: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cookie_secure(self) -> bool:
        return self.is_https

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = _data_dir()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'atlas.db'}"
    return Settings(
        database_url=normalise_database_url(database_url),
        redis_url=os.environ.get("REDIS_URL") or None,
        smtp_url=os.environ.get("SMTP_URL") or None,
        base_url=(os.environ.get("BASE_URL") or "http://localhost:3000").rstrip("/"),
        secret_key=_secret_key(data_dir),
        data_dir=data_dir,
        mail_from=os.environ.get("MAIL_FROM") or "Atlas <no-reply@atlas.localhost>",
        session_idle_minutes=int(os.environ.get("SESSION_IDLE_MINUTES") or 30),
        session_absolute_hours=int(os.environ.get("SESSION_ABSOLUTE_HOURS") or 12),
        password_reset_minutes=int(os.environ.get("PASSWORD_RESET_MINUTES") or 60),
        stripe_secret_key=(os.environ.get("STRIPE_SECRET_KEY") or "").strip() or None,
        stripe_webhook_secret=(os.environ.get("STRIPE_WEBHOOK_SECRET") or "").strip() or None,
        stripe_api_base=(os.environ.get("STRIPE_API_BASE") or "").strip().rstrip("/") or None,
        govuk_pay_api_key=(os.environ.get("GOVUK_PAY_API_KEY") or "").strip() or None,
        govuk_pay_webhook_secret=(os.environ.get("GOVUK_PAY_WEBHOOK_SECRET") or "").strip() or None,
        govuk_pay_api_base=(os.environ.get("GOVUK_PAY_API_BASE") or "").strip().rstrip("/")
        or "https://publicapi.payments.service.gov.uk",
        govuk_pay_ledger_code=(os.environ.get("GOVUK_PAY_LEDGER_CODE") or "").strip()[:50],
        smtp_connections=max(1, min(16, int(os.environ.get("SMTP_CONNECTIONS") or 4))),
        api_threads=max(1, min(POOL_CONNECTIONS, int(os.environ.get("API_THREADS") or 4))),
        sign_in_failures_per_address=int(os.environ.get("SIGN_IN_FAILURES_PER_ADDRESS") or 10),
        trusted_proxies=parse_trusted_proxies(os.environ.get("TRUSTED_PROXIES")),
        demo_payments=(os.environ.get("ATLAS_DEMO_PAYMENTS") or "").strip().lower() in ("1", "true", "yes", "on"),
        notify_api_key=(os.environ.get("NOTIFY_API_KEY") or "").strip() or None,
        notify_api_base=(os.environ.get("NOTIFY_API_BASE") or "").strip().rstrip("/") or None,
        notify_callback_token=(os.environ.get("NOTIFY_CALLBACK_TOKEN") or "").strip() or None,
        map_tile_url=(os.environ.get("MAP_TILE_URL") or "").strip() or None,
        map_attribution=(os.environ.get("MAP_ATTRIBUTION") or "").strip() or None,
    )
