"""Configuration read from the environment (KIPP_*), with defaults that work on a developer machine."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """What every process of the ledger needs: where the database and the broker are, and the name prefix."""

    model_config = SettingsConfigDict(env_prefix="KIPP_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/kipp"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Every exchange and queue name starts with this, so tests and tenants can share one broker.
    prefix: str = "kipp"
    # The Ed25519 key that signs audit digests (PEM, created on first use). Keep it out of the database:
    # whoever can rewrite the database should not also be able to sign digests of the rewrite.
    audit_key_file: str = ".kipp/audit-signing-key.pem"
    # A directory of kipp-<year>.json round files that add to or replace the rounds shipped in
    # shared/rounds/: how an operator extends a deadline or adds a round without changing code.
    rounds_dir: str | None = None
