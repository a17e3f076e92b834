from shared.settings import CommonSettings


class IntakeSettings(CommonSettings):
    intake_port: int = 8001
    intake_host: str = "127.0.0.1"
