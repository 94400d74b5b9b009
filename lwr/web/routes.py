"""The REST routes of spec §1.3; each is also served under ``/managers/{manager_name}``."""
import errno
import json
import logging
import os

import lwr
from lwr import paths
from lwr.lwr_client.setup_handler import build_job_config as client_job_config
from lwr.manager_endpoint_util import full_status, submit_job
from lwr.web.files import file_response, write_body_to_path
from lwr.web.framework import HttpError, route

__all__ = ["build_job_config"]

log = logging.getLogger(__name__)


def _json_param(name, text, default):
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except ValueError as exc:
        raise HttpError(400, "parameter %r is not valid JSON: %s" % (name, exc))


def _job_directory(manager, job_id):
    paths.check_job_id(job_id)
    job_directory = manager.job_directory(job_id)
    if not job_directory.exists():
        raise HttpError(404, "unknown job %s" % job_id)
    return job_directory


def build_job_config(job_id, job_directory, system_properties, tool_id=None, tool_version=None):
    """The setup response: where each kind of file goes on this server (same shape as a local setup)."""
    config = client_job_config(job_id, job_directory, system_properties, tool_id, tool_version)
    config["path_separator"] = os.sep  # legacy name; system_properties.separator is the current one
    config["lwr_version"] = lwr.__version__
    return config


@route("POST", "/jobs", "json")
def setup(manager, job_id, tool_id=None, tool_version=None):
    paths.check_job_id(job_id)
    job_id = manager.setup_job(job_id, tool_id, tool_version)
    return build_job_config(job_id, manager.job_directory(job_id), manager.system_properties(),
                            tool_id, tool_version)


@route("DELETE", "/jobs/{job_id}")
def clean(manager, job_id):
    _job_directory(manager, job_id)
    manager.clean(job_id)


@route("POST", "/jobs/{job_id}/submit")
def submit(manager, job_id, command_line, params="{}", dependencies_description="null",
           setup_params="{}", remote_staging="[]", env="[]"):
    paths.check_job_id(job_id)
    setup_params = _json_param("setup_params", setup_params, {})
    if not setup_params:
        _job_directory(manager, job_id)
    submit_config = {
        "job_id": job_id,
        "command_line": command_line,
        "setup_params": setup_params,
        "submit_params": _json_param("params", params, {}),
        "dependencies_description": _json_param("dependencies_description", dependencies_description, None),
        "env": _json_param("env", env, []),
        "remote_staging": _json_param("remote_staging", remote_staging, {}),
    }
    for name, kind in (("submit_params", dict), ("setup_params", dict), ("env", list)):
        if not isinstance(submit_config[name], kind):
            raise HttpError(400, "parameter %r must be a JSON %s" % (name, kind.__name__))
    submit_job(manager, submit_config)


@route(None, "/jobs/{job_id}/status", "json")
def status(manager, job_id):
    _job_directory(manager, job_id)
    return full_status(manager, manager.get_status(job_id), job_id)


@route("PUT", "/jobs/{job_id}/cancel")
def cancel(manager, job_id):
    _job_directory(manager, job_id)
    manager.kill(job_id)


@route("POST", "/jobs/{job_id}/files", "json")
def upload_file(manager, file_cache, job_id, name, type, body, ip, cache_token=None):
    job_directory = _job_directory(manager, job_id)
    path = job_directory.calculate_path(name, type)
    try:
        if cache_token:
            _copy_from_cache(file_cache, cache_token, path)
        else:
            write_body_to_path(body, path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "LWR ran out of disk space while receiving %s file %r" % (type, name)
            manager.record_failure(job_id, reason)
            raise HttpError(507, reason)
        raise
    return {"path": path}


def _copy_from_cache(file_cache, cache_token, path):
    import shutil

    if file_cache is None:
        raise HttpError(400, "cache_token given but this LWR has no file_cache_dir")
    try:
        source = file_cache.destination(cache_token)
    except (KeyError, ValueError) as exc:
        raise HttpError(400, "invalid cache_token: %s" % exc)
    if not os.path.exists(source):
        raise HttpError(404, "no cached file for that cache_token")
    tmp = path + ".cache-part"
    shutil.copyfile(source, tmp)
    os.replace(tmp, path)


@route("GET", "/jobs/{job_id}/files/path", "json")
def path(manager, job_id, name, type):
    job_directory = _job_directory(manager, job_id)
    if type in ("output", "output_workdir", "output_metadata", "output_jobdir"):
        return {"path": job_directory.output_path(name, type)}
    return {"path": job_directory.calculate_path(name, type)}


@route("GET", "/jobs/{job_id}/files", "file")
def download_output(manager, environ, job_id, name, type="output"):
    job_directory = _job_directory(manager, job_id)
    output_path = job_directory.output_path(name, type)
    return file_response(environ, output_path, "job %s has no %s file %r" % (job_id, type, name))


@route("GET", "/healthz", "json")
def healthz():
    return {"status": "ok", "version": lwr.__version__}


# -- experimental file cache (spec §8) -------------------------------------------------------------
def _cache(file_cache):
    if file_cache is None:
        raise HttpError(404, "file caching is not enabled on this LWR (set file_cache_dir)")
    return file_cache


@route("GET", "/cache/status", "json")
def file_available(file_cache, ip, path):
    return _cache(file_cache).file_available(ip, path)


@route("PUT", "/cache", "json")
def cache_required(file_cache, ip, path):
    return _cache(file_cache).cache_required(ip, path)


@route("POST", "/cache", "json")
def cache_insert(file_cache, ip, path, body):
    from lwr.web.files import request_body

    stream, length = request_body(body)
    _cache(file_cache).cache_stream(_LimitedReader(stream, length), ip, path)
    return None


class _LimitedReader:
    """Reads at most ``length`` bytes (all of a chunked body when ``length`` is None)."""

    def __init__(self, stream, length):
        self.stream = stream
        self.remaining = length

    def read(self, size=-1):
        if self.remaining is None:
            return self.stream.read(size)
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.stream.read(size)
        self.remaining -= len(data)
        if not data and self.remaining > 0:
            raise HttpError(400, "request body ended early")
        return data
