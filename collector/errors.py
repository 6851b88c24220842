"""The collector's exception hierarchy."""


class CollectorError(Exception):
    """Base class of every error the collector raises on purpose."""


class ConfigError(CollectorError):
    """Invalid collector config or fleet inventory; the message names the file and the field."""


class WriteError(CollectorError):
    """InfluxDB did not accept a write. ``retryable`` tells whether trying again can help."""

    def __init__(self, message: str, *, status: int = 0, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable

