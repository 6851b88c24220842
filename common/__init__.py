"""What agent and collector share besides the wire contract: backoff, supervision, MQTT/TLS helpers,
config-error messages, secret files and sequence ranges. Imports nothing from ``agent`` or ``collector``."""
