"""Galaxy's LWR job runner plugin.

Galaxy loads it from its job configuration as ``lwr.galaxy.runner:LwrJobRunner``.
Only :mod:`lwr.galaxy.runner` and :mod:`lwr.galaxy.compute_environment` import
Galaxy; this package and its other modules (parameter specs, status mapping)
use the standard library and :mod:`lwr.lwr_client` only, so LWR itself never
needs Galaxy installed.
"""
