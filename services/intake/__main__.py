"""`python -m services.intake`: serves the intake API and relays its outbox to the broker."""

import uvicorn

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.observability import configure_logging
from shared.rounds import RoundFileError
from shared.runtime import tune_garbage_collection


def main() -> None:
    configure_logging("intake")
    tune_garbage_collection()
    settings = IntakeSettings()
    try:
        app = create_app(settings)
    except RoundFileError as error:
        raise SystemExit(f"intake: {error}") from None
    uvicorn.run(
        app,
        host=settings.intake_host,
        port=settings.intake_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
