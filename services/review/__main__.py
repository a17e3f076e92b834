"""`python -m services.review`: serves the review API, consumes intake's events and keeps the projections."""

from services.review.app import create_app
from services.review.settings import ReviewSettings
from shared.service import serve


def main() -> None:
    settings = ReviewSettings()
    serve("review", lambda: create_app(settings), settings.review_host, settings.review_port)


if __name__ == "__main__":
    main()
