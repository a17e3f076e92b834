"""`python -m services.intake`: serves the intake API and relays its outbox to the broker."""

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.service import serve


def main() -> None:
    settings = IntakeSettings()
    serve("intake", lambda: create_app(settings), settings.intake_host, settings.intake_port)


if __name__ == "__main__":
    main()
