"""`python -m services.intake`: serves the intake API and relays its outbox to the broker."""

from functools import partial

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.personal_data.vault import check_master_key_before_start
from shared.service import serve


def main() -> None:
    settings = IntakeSettings()
    # A master key that is not the database's stops it before it serves (it could read no personal field).
    preflight = partial(
        check_master_key_before_start, settings.runtime_database_url, settings.master_key_file
    )
    serve("intake", lambda: create_app(settings), settings.intake_host, settings.intake_port, preflight)


if __name__ == "__main__":
    main()
