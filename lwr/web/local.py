"""The routes as an in-process WSGI callable: what ``LocalLwrInterface`` calls instead of HTTP."""
from lwr.web.wsgi import LwrWebApp

__all__ = ["local_app"]


class _LocalApp:
    private_key = None

    def __init__(self, job_manager, file_cache, object_store):
        self.managers = {"_default_": job_manager}
        self.file_cache = file_cache
        self.object_store = object_store


def local_app(job_manager, file_cache=None, object_store=None):
    """Route requests to ``job_manager`` exactly as the HTTP server would (no token check)."""
    return LwrWebApp(_LocalApp(job_manager, file_cache, object_store))
