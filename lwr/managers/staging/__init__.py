"""Server-side file staging for remote actions: fetch inputs before launch, push outputs after."""
from lwr.managers.staging.pre import preprocess
from lwr.managers.staging.post import postprocess, needs_postprocess, realized_dynamic_file_sources

__all__ = ["preprocess", "postprocess", "needs_postprocess", "realized_dynamic_file_sources"]
