"""Deprecated alias kept so 2014 ``server.ini`` files that name ``lwr.app:app_factory`` still work."""
from lwr.web.wsgi import app_factory

__all__ = ["app_factory"]
