from shared.settings import CommonSettings


class ReviewSettings(CommonSettings):
    review_port: int = 8002
    review_host: str = "127.0.0.1"
    # How many intake messages are processed at once; also the broker prefetch.
    consumer_concurrency: int = 64
    # How long a decision waits for the status projection before answering from the stream instead.
    decision_wait_seconds: float = 5.0
    # How long a console session lasts after signing in (a working day); a revoked key ends it sooner.
    console_session_hours: float = 8.0
