"""Benchmarks (not tests): ``python -m bench.http_vs_curl``, ``python -m bench.ping_vs_ping``."""
