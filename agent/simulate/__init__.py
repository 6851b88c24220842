"""Province simulator (``commune-agent simulate``): virtual agents for every commune of a province.

Each commune gets one or more sites; each site has a gateway agent (role ``gateway``, always on) and a
configurable number of office PCs (on in office hours, Asia/Ho_Chi_Minh). Every virtual agent speaks the real
wire protocol over its own MQTT connection with its own identity (the broker's ACL lets a user publish only
its own topics). A scenario file schedules faults with a start and an end; the same model drives a live run
and a fast backfill of a past period (agent timestamps). docs/simulator.md describes it.

Modules: ``province`` (communes), ``fleet`` (sites and agents from a seed), ``scenario`` (the YAML file),
``model`` (the measurements of one agent at one instant), ``session`` (one MQTT connection), ``engine``
(live and backfill runs), ``command`` (the CLI).
"""
