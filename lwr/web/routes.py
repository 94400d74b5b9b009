"""Handlers for the job and cache routes of spec §1.3, each named after its row in
:data:`lwr.lwr_client.route_table.ROUTES` (which also serves it under ``/managers/{manager_name}``)."""
import errno
import json
import logging
import os
import shutil

from webob import Response

import lwr
from lwr import file_digests, paths
from lwr.health import health_response
from lwr.metrics.route import metrics_response
from lwr.lwr_client.digests import digest_wanted
from lwr.lwr_client.path_type import OUTPUT_PATH_TYPES
from lwr.lwr_client.setup_handler import build_job_config as client_job_config
from lwr.manager_endpoint_util import status_dict, submit_job
from lwr.lwr_client.util import ReplacingFile
from lwr.util import CHUNK_SIZE, JsonTooDeep, asbool, loads_bounded
from lwr.web import resumable
from lwr.web.files import file_response, request_body, write_body_to_path
from lwr.web.framework import HttpError

__all__ = ["build_job_config"]

log = logging.getLogger(__name__)


def _json_param(name, text, default):
    if text is None or text == "":
        return default
    try:
        return loads_bounded(text)
    except JsonTooDeep as exc:
        raise HttpError(400, "parameter %r is %s" % (name, exc))
    except ValueError as exc:
        raise HttpError(400, "parameter %r is not valid JSON: %s" % (name, exc))


def _job_directory(manager, job_id):
    paths.check_job_id(job_id)
    job_directory = manager.job_directory(job_id)
    if not job_directory.exists():
        raise HttpError(404, "unknown job %s" % job_id)
    return job_directory


def _known_job(manager, job_id) -> bool:
    paths.check_job_id(job_id)
    if manager.job_directory(job_id).exists():
        return True
    log.info("job %s: not known here (never set up, or cleaned); nothing to do", job_id)
    return False


def build_job_config(job_id, job_directory, system_properties, tool_id=None, tool_version=None):
    """The setup response: where each kind of file goes on this server (same shape as a local setup)."""
    config = client_job_config(job_id, job_directory, system_properties, tool_id, tool_version)
    config["path_separator"] = os.sep  # legacy name; system_properties.separator is the current one
    config["lwr_version"] = lwr.__version__
    config["pulsar_version"] = lwr.PULSAR_VERSION
    return config


def setup(manager, job_id, tool_id=None, tool_version=None, use_metadata=None,
          preserve_galaxy_python_environment=None):
    """``use_metadata`` (current clients always send true) and ``preserve_galaxy_python_environment``
    (tools that need Galaxy's own Python) are remembered for the job script."""
    paths.check_job_id(job_id)
    preserve = _boolean("preserve_galaxy_python_environment", preserve_galaxy_python_environment)
    job_id = manager.setup_job(job_id, tool_id, tool_version,
                               use_metadata=_boolean("use_metadata", use_metadata),
                               preserve_galaxy_python_environment=preserve)
    config = build_job_config(job_id, manager.job_directory(job_id), manager.system_properties(),
                              tool_id, tool_version)
    config["preserve_galaxy_python_environment"] = preserve
    return config


def _boolean(name, text):
    try:
        return asbool(text, False)
    except ValueError:
        raise HttpError(400, "parameter %r must be true or false, not %r" % (name, text))


def clean(manager, job_id):
    """Cleaning a job LWR does not have is done already (Pulsar answers OK too)."""
    if _known_job(manager, job_id):
        manager.clean(job_id)


def submit(manager, job_id, command_line, params="{}", dependencies_description="null",
           setup_params="{}", remote_staging="{}", env="[]", submit_extras="{}",
           dynamic_file_sources="null", token_endpoint=None, cvmfsexec="null"):
    """Current clients also send ``submit_extras`` (``touch_outputs``), ``dynamic_file_sources``,
    ``token_endpoint`` (kept, unused) and, when the destination sets it, ``cvmfsexec`` (refused)."""
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
        "dynamic_file_sources": _json_param("dynamic_file_sources", dynamic_file_sources, None),
        "token_endpoint": _token_endpoint(token_endpoint),
        "cvmfsexec": _json_param("cvmfsexec", cvmfsexec, None),
    }
    extras = _json_param("submit_extras", submit_extras, {})
    for name, kind in (("submit_params", dict), ("setup_params", dict), ("env", list)):
        if not isinstance(submit_config[name], kind):
            raise HttpError(400, "parameter %r must be a JSON %s" % (name, kind.__name__))
    if not isinstance(extras, dict):
        raise HttpError(400, "parameter 'submit_extras' must be a JSON dict")
    for name, value in extras.items():
        if name == "touch_outputs":
            submit_config[name] = value
        else:
            log.debug("job %s: submit_extras key %r accepted and ignored", job_id, name)
    submit_job(manager, submit_config)


def _token_endpoint(text):
    """Galaxy sends ``{"token_endpoint": url}`` as JSON; older clients a bare URL."""
    if text is None or text == "":
        return None
    try:
        value = loads_bounded(text)
    except ValueError:
        return text
    return value.get("token_endpoint") if isinstance(value, dict) else value


def status(manager, job_id):
    """An unknown job is ``lost`` (as Pulsar answers), not a 404: Galaxy then fails the job
    instead of polling for ever."""
    paths.check_job_id(job_id)
    return status_dict(manager, job_id)


def cancel(manager, job_id):
    """Nothing to cancel for a job LWR does not have: OK, as Pulsar answers.  Galaxy's Pulsar
    runners cancel a failed job after it was cleaned, and treat an error there as fatal."""
    if _known_job(manager, job_id):
        manager.kill(job_id)


def upload_file(manager, file_cache, environ, app, job_id, name, type, cache_token=None, upload_id=None,
                commit=None):
    """Store the body as the job's ``type`` file ``name``; answers its path and SHA-256.

    Without ``upload_id`` the body is the whole file (as 2014 clients send it). With one, the
    body is the ``Content-Range`` of a resumable upload and ``commit=true`` renames the complete
    partial into place, verified against the client's ``Repr-Digest`` when it sends one; a part
    that completes the file and carries the whole file's ``Repr-Digest`` is committed at once
    (``docs/transfers.rst``).
    """
    job_directory = _job_directory(manager, job_id)
    path = job_directory.calculate_path(name, type)
    try:
        if cache_token:
            _copy_from_cache(file_cache, cache_token, path)
            return {"path": path}
        if upload_id is None:
            size, digest = write_body_to_path(environ, path)
            _record_digest(job_directory.path, path, digest)
            return _digest_answer({"path": path, "size": size}, digest)
        return _resumable_upload(job_directory.path, environ, app, path, name, type, upload_id,
                                 _boolean("commit", commit))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "LWR ran out of disk space while receiving %s file %r" % (type, name)
            manager.record_failure(job_id, reason)
            raise HttpError(507, reason)
        raise


def _digest_answer(answer, digest, status=200):
    answer["sha256"] = digest
    response = Response(body=json.dumps(answer).encode("utf-8"), status=status,
                        content_type="application/json", charset=None)
    if digest:
        response.headers["Repr-Digest"] = resumable.repr_digest(digest)
    return response


def _record_digest(job_directory_path, path, digest):
    try:
        file_digests.record_digest(job_directory_path, path, digest)
    except OSError as exc:
        log.warning("could not record the digest of %s: %s", path, exc)


def _idle_timeout(app):
    return getattr(app, "partial_upload_idle_timeout", resumable.DEFAULT_IDLE_TIMEOUT)


def _resumable_upload(job_directory_path, environ, app, path, name, type, upload_id, commit):
    resumable.check_upload_id(upload_id)
    resumable.sweep_partials(job_directory_path, _idle_timeout(app))
    partial = resumable.partial_path(job_directory_path, type, name, upload_id)
    content_range = resumable.parse_content_range(environ.get("HTTP_CONTENT_RANGE"))
    client_digest = None
    if environ.get("HTTP_REPR_DIGEST"):
        client_digest = resumable.parse_repr_digest(environ["HTTP_REPR_DIGEST"])
        if client_digest is None:
            raise HttpError(400, "Repr-Digest: expected sha-256=:<base64 of 32 bytes>:")
    try:
        if commit:
            total = content_range[2] if content_range else None
            return _commit_upload(job_directory_path, partial, path, name, type, upload_id, client_digest, total)
        stream, length = request_body(environ)
        if content_range is None:
            first, total = 0, length
            if total is None:
                raise HttpError(411, "a resumable upload needs a Content-Length or a Content-Range")
        else:
            first, last, total = content_range
            if first is None:
                raise HttpError(400, "Content-Range 'bytes */TOTAL' is only for commit=true")
            if length is not None and length != last - first + 1:
                raise HttpError(400, "Content-Range %d-%d does not match the Content-Length %d"
                                % (first, last, length))
        offset, digest = resumable.append_to_partial(partial, stream, length, first, total,
                                                     abort=environ.get("lwr.abort_connection"))
        if offset == total and client_digest is not None:  # the last part, with the whole file's digest
            return _commit_upload(job_directory_path, partial, path, name, type, upload_id, client_digest, total)
    except resumable.OffsetMismatch as exc:
        response = Response(body=json.dumps({"error": exc.message, "offset": exc.offset}).encode("utf-8"),
                            status=409, content_type="application/json", charset=None)
        return response
    return _digest_answer({"offset": offset, "size": total, "complete": False}, digest)


def _commit_upload(job_directory_path, partial, path, name, type, upload_id, client_digest, total):
    """Rename the complete partial into place, checked against ``client_digest`` when given."""
    try:
        digest = resumable.commit_partial(partial, path, client_digest, total)
    except HttpError as exc:
        if exc.status == 422:
            exc.message = "%s file %r: %s" % (type, name, exc.message)
            log.warning("upload %s of %s file %r: %s", upload_id, type, name, exc.message)
        raise
    _record_digest(job_directory_path, path, digest)
    return _digest_answer({"path": path, "size": os.path.getsize(path), "complete": True}, digest)


def upload_offset(manager, app, job_id, name, type, upload_id):
    """How many bytes of upload ``upload_id`` of the job's ``type`` file ``name`` the server holds."""
    job_directory = _job_directory(manager, job_id)
    job_directory.calculate_path(name, type)  # the same checks on name and type as the upload
    resumable.check_upload_id(upload_id)
    resumable.sweep_partials(job_directory.path, _idle_timeout(app))
    # settled: a request of this upload still writing (its connection cut) is finished or stopped first
    return {"offset": resumable.settled_offset(
        resumable.partial_path(job_directory.path, type, name, upload_id))}


def _copy_from_cache(file_cache, cache_token, path):
    if file_cache is None:
        raise HttpError(400, "cache_token given but this LWR has no file_cache_dir")
    try:
        source = file_cache.destination(cache_token)
    except (KeyError, ValueError) as exc:
        raise HttpError(400, "invalid cache_token: %s" % exc)
    if not os.path.exists(source):
        raise HttpError(404, "no cached file for that cache_token")
    with open(source, "rb") as cached, ReplacingFile(path, prefix=".cache-") as copy:
        shutil.copyfileobj(cached, copy, CHUNK_SIZE)


def path(manager, job_id, name, type):
    job_directory = _job_directory(manager, job_id)
    if type in OUTPUT_PATH_TYPES:
        return {"path": job_directory.output_path(name, type)}
    return {"path": job_directory.calculate_path(name, type)}


def download_output(manager, environ, job_id, name, type="output"):
    """The job's file, with its SHA-256 as ``Repr-Digest`` unless the client's
    ``Want-Repr-Digest`` says it does not want one (then no hashing is done for it)."""
    job_directory = _job_directory(manager, job_id)
    output_path = job_directory.output_path(name, type)
    digest = None
    if digest_wanted(environ.get("HTTP_WANT_REPR_DIGEST")):
        digest = lambda handle: file_digests.cached_digest(job_directory.path, output_path, handle)  # noqa: E731
    return file_response(environ, output_path, "job %s has no %s file %r" % (job_id, type, name),
                         root=job_directory.path, digest=digest)


def healthz(app):
    """200 with each component's state when all work, 503 with the reasons otherwise (lwr.health)."""
    return health_response(app)


def metrics(app):
    """The Prometheus text exposition of this process's metrics (lwr.metrics); 404 with ``metrics = false``."""
    return metrics_response(app)


# -- experimental file cache (spec §8) -------------------------------------------------------------
def _cache(file_cache):
    if file_cache is None:
        raise HttpError(404, "file caching is not enabled on this LWR (set file_cache_dir)")
    return file_cache


def file_available(file_cache, ip, path):
    return _cache(file_cache).file_available(ip, path)


def cache_required(file_cache, ip, path):
    return _cache(file_cache).cache_required(ip, path)


def cache_insert(file_cache, environ, ip, path):
    stream, length = request_body(environ)
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
