"""`python -m services.review`: serves the review API, consumes intake's events and keeps the projections."""

from functools import partial

from services.review.app import create_app
from services.review.settings import ReviewSettings
from shared.personal_data.vault import check_master_key_before_start
from shared.service import serve


def main() -> None:
    settings = ReviewSettings()
    # A master key that is not the database's stops it before it serves (it could read no personal field).
    preflight = partial(
        check_master_key_before_start, settings.runtime_database_url, settings.master_key_file
    )
    serve("review", lambda: create_app(settings), settings.review_host, settings.review_port, preflight)


if __name__ == "__main__":
    main()
