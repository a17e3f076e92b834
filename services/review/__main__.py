"""`python -m services.review`: serves the review API and consumes intake's events."""

import uvicorn

from services.review.app import create_app
from services.review.settings import ReviewSettings
from shared.observability import configure_logging
from shared.runtime import tune_garbage_collection


def main() -> None:
    configure_logging("review")
    tune_garbage_collection()
    settings = ReviewSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.review_host,
        port=settings.review_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
