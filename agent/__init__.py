"""Commune Monitor agent: probes on a commune office PC, store-and-forward publishing over MQTT."""

__version__ = "0.1.0"
