"""The dev stack's one error."""


class StackError(Exception):
    """A local service could not be found, started or stopped; the message says what to do."""
