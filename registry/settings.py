"""Settings, read once from the environment (CONTRACT.md, "Configuration")."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry.errors import Invalid

SECRET_KEY_FILE = "secret_key"
DATABASE_FILE = "registry.sqlite3"


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: str = field(repr=False)
    operator_agency: str | None = None
    dev_ca: bool = False
    # "auto" marks cookies Secure when the request came over HTTPS; "1" always; "0" never.
    cookie_secure: str = "auto"
    session_hours: int = 12
    # Sign-in throttling: this many failures within the window lock the user name for the window.
    login_max_failures: int = 5
    login_window_minutes: int = 15
    max_upload_bytes: int = 10 * 1024 * 1024
    # Renewal may be requested at most this many days before expiry (issue 3, configurable).
    renewal_window_days: int = 90
    # Addresses or networks of the TLS proxies in front of the registry: only from these are
    # X-Forwarded-Proto / X-Forwarded-For / X-Request-ID believed.
    trusted_proxies: tuple[str, ...] = ()
    # Where the registry is reached from outside (REGISTRY_PUBLIC_URL), for addresses written into what
    # leaves it: the test CA's CRL distribution point. Empty: the address `serve` listens on.
    public_url: str = ""

    @property
    def base_url(self) -> str:
        return (self.public_url or "http://127.0.0.1:8000").rstrip("/")

    @property
    def engine_name(self) -> str:
        return "postgresql" if self.database_url.startswith(("postgresql://", "postgres://")) else "sqlite"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("REGISTRY_DATA_DIR") or "./var").resolve()
        database_url = env.get("REGISTRY_DATABASE_URL") or f"sqlite:///{data_dir / DATABASE_FILE}"
        if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise Invalid("REGISTRY_DATABASE_URL must start with sqlite:/// or postgresql://")
        secret_key = env.get("REGISTRY_SECRET_KEY") or load_or_create_secret_key(data_dir)
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=secret_key,
            operator_agency=(env.get("REGISTRY_OPERATOR_AGENCY") or "").strip() or None,
            dev_ca=_flag(env.get("REGISTRY_DEV_CA")),
            cookie_secure=(env.get("REGISTRY_COOKIE_SECURE") or "auto").strip().lower(),
            renewal_window_days=int(env.get("REGISTRY_RENEWAL_WINDOW_DAYS") or 90),
            trusted_proxies=parse_addresses(env.get("REGISTRY_TRUSTED_PROXIES") or ""),
            public_url=(env.get("REGISTRY_PUBLIC_URL") or "").strip(),
        )

    def with_changes(self, **changes) -> Settings:
        return replace(self, **changes)


def parse_addresses(text: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (10.0.0.5, 10.0.0.0/24, ::1), each checked."""
    parsed = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            parsed.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise Invalid(f"REGISTRY_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
    return tuple(parsed)


def ensure_data_dir(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def load_or_create_secret_key(data_dir: Path) -> str:
    """The key in DATA_DIR/secret_key, created once with mode 0600 (safe when several workers start together)."""
    path = ensure_data_dir(data_dir) / SECRET_KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key
