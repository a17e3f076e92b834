"""API keys for tests, created straight in the test database (as `kipp keys create` does)."""

from dataclasses import dataclass

from shared.access import Role, create_key
from shared.db import create_pool


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True)
class Keys:
    submitter: str
    other_submitter: str
    reviewer: str
    other_reviewer: str
    auditor: str
    revoked: str
    reviewer_id: str
    reviewer_holder_id: str


async def make_keys(database_url: str) -> Keys:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        made = {}
        for label, role, name in [
            ("submitter", Role.SUBMITTER, "Portal Diskominfo"),
            ("other_submitter", Role.SUBMITTER, "Portal PDAM"),
            ("reviewer", Role.REVIEWER, "Rina (Bagian Organisasi)"),
            ("other_reviewer", Role.REVIEWER, "Budi (Bagian Organisasi)"),
            ("auditor", Role.AUDITOR, "Inspektorat"),
            ("revoked", Role.REVIEWER, "Former reviewer"),
        ]:
            made[label] = await create_key(pool, role, name)
        await pool.execute("UPDATE access.api_keys SET revoked_at = now() WHERE id = $1", made["revoked"][0])
        holder = await pool.fetchval(
            "SELECT holder_id FROM access.api_keys WHERE id = $1", made["reviewer"][0]
        )
        return Keys(
            **{label: key for label, (_, key) in made.items()},
            reviewer_id=str(made["reviewer"][0]),
            reviewer_holder_id=str(holder),
        )
    finally:
        await pool.close()
