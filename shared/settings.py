"""Configuration read from the environment (KIPP_*), with defaults that work on a developer machine."""

from urllib.parse import urlsplit, urlunsplit

from pydantic_settings import BaseSettings, SettingsConfigDict

RUNTIME_ROLE = "kipp_app"


def with_user(url: str, user: str) -> str:
    """The same database URL for another user (without the first user's password)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class CommonSettings(BaseSettings):
    """What every process of the ledger needs: where the database and the broker are, and the name prefix."""

    model_config = SettingsConfigDict(env_prefix="KIPP_", extra="ignore")

    # The database and its owner: only `kipp migrate` (and the CLI's operator commands) connect as it.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/kipp"
    # The services' own role: neither the owner of the event store nor a superuser. Unset, it is the
    # owner's URL with the user kipp_app (a server that needs passwords sets it in full).
    app_database_url: str | None = None
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Every exchange and queue name starts with this, so tests and tenants can share one broker.
    prefix: str = "kipp"
    # The Ed25519 key that signs audit digests (PEM, created on first use). Keep it out of the database:
    # whoever can rewrite the database should not also be able to sign digests of the rewrite.
    audit_key_file: str = ".kipp/audit-signing-key.pem"
    # A directory of kipp-<year>.json round files that add to or replace the rounds shipped in
    # shared/rounds/: how an operator extends a deadline or adds a round without changing code.
    rounds_dir: str | None = None
    # The keys that sign messages: each service holds its own private key and its peer's public key.
    intake_signing_key_file: str = ".kipp/intake-signing-key.pem"
    intake_public_key_file: str = ".kipp/intake-signing-key.pub"
    review_signing_key_file: str = ".kipp/review-signing-key.pem"
    review_public_key_file: str = ".kipp/review-signing-key.pub"
    # The master key that wraps every person's data key (shared/personal_data). Outside the database: a
    # copy of the database alone, a backup included, then opens no personal field.
    master_key_file: str = ".kipp/master-key"

    # The transparency log: its origin (the name in its checkpoints and its key), the Ed25519 key that signs
    # its checkpoints, where signed checkpoints are kept outside the database, and how often one is signed
    # while the log grows.
    log_origin: str = "localhost/kipp"
    log_key_file: str = ".kipp/log-signing-key.pem"
    log_vkey_file: str = ".kipp/log-key.vkey"  # its public verifier key, for anyone who checks
    checkpoint_dir: str = ".kipp/checkpoints"
    checkpoint_seconds: float = 60.0

    @property
    def runtime_database_url(self) -> str:
        return self.app_database_url or with_user(self.database_url, RUNTIME_ROLE)

    @property
    def runtime_role(self) -> str:
        return urlsplit(self.runtime_database_url).username or RUNTIME_ROLE
