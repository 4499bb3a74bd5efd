"""The YAML IVR around the pure core: loading flows from files, prompts, simulation, flow tests,
the ``callcenter ivr`` commands and the hot-reloading flow store."""
