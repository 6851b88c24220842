"""Local dev services, outside the product packages: the stack of the run command (Mosquitto, InfluxDB 1.x,
Alertmanager, a collector and an agent on 127.0.0.1) and the ``Service`` class the tests and benchmarks use.

``python -m devstack up|down|status``."""
