"""The collector's exception hierarchy."""


class CollectorError(Exception):
    """Base class of every error the collector raises on purpose."""


class ConfigError(CollectorError):
    """Invalid collector config or fleet inventory; the message names the file and the field."""


class WriteError(CollectorError):
    """InfluxDB did not accept a write. ``kind`` says what the writer may do about it:

    - ``content``: InfluxDB rejected a line's content (400: partial write, field type conflict, unable to parse,
      invalid ...). The only kind that may be bisected and quarantined.
    - ``blocked``: the write cannot succeed until an operator acts (401/403 wrong token or rights, 404 missing
      database or bucket, other 4xx): keep the data, stop acking, alert, retry with back-off.
    - ``too_large``: 413; split the write into smaller writes (never quarantine).
    - ``retry``: 5xx, 429, timeouts, connection errors: keep the data and retry.

    ``retryable`` is True for every kind except ``content``. ``reason`` is a short metric label.
    """

    def __init__(self, message: str, *, status: int = 0, retryable: bool = True, kind: str = "",
                 reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind or ("retry" if retryable else "content")
        self.retryable = self.kind != "content"
        self.reason = reason or self.kind

