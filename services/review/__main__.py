"""`python -m services.review`: serves the review API and consumes intake's events."""

import uvicorn

from services.review.app import create_app
from services.review.settings import ReviewSettings
from shared.observability import configure_logging
from shared.rounds import RoundFileError
from shared.runtime import tune_garbage_collection


def main() -> None:
    configure_logging("review")
    tune_garbage_collection()
    settings = ReviewSettings()
    try:
        app = create_app(settings)
    except RoundFileError as error:
        raise SystemExit(f"review: {error}") from None
    uvicorn.run(
        app,
        host=settings.review_host,
        port=settings.review_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
