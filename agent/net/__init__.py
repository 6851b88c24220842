"""Network helpers the probes share: timed HTTP (httptiming), DNS over UDP (dnswire), SNTP (sntp), and
this machine's routes and addresses (netinfo). They raise ``agent.probes.base.ProbeFailure``."""

# The helpers raise agent.probes.base.ProbeFailure, and the probe registry imports the helpers: loading
# the probes package first keeps one import order (probes -> net) whichever side is imported first.
import agent.probes.base  # noqa: F401
