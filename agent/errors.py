"""The agent's exception hierarchy (small on purpose)."""


class AgentError(Exception):
    """Base class of every error the agent raises on purpose."""


class ConfigError(AgentError):
    """The configuration is invalid; the message names the file and the field."""


class QueueError(AgentError):
    """The on-disk queue could not store or read a batch (full disk, corrupt file)."""
