"""How a client command reaches the server: over HTTP, or in process through the same routes."""
import io
import os
import sys
from urllib.parse import quote, urlencode

from lwr.lwr_client.route_table import ROUTES, fill_path
from lwr.lwr_client.transport.base import AtomicDownload, http_error

__all__ = ["LwrInterface", "HttpLwrInterface", "LocalLwrInterface", "COMMANDS"]

#: command -> (path template without the leading "/", HTTP method; None = GET), from the
#: declared route table the server serves.
COMMANDS = {route.name: (route.path[1:], route.method) for route in ROUTES}


#: Longer URLs send their parameters as a form body (LWR servers since 0.2.0.post1 accept it).
MAX_URL_LENGTH = 16 * 1024


def _command(command):
    try:
        return COMMANDS[command]
    except KeyError:
        raise ValueError("unknown LWR command %r" % (command,))


def _query(args, private_token=None):
    params = [(key, str(value)) for key, value in (args or {}).items() if value is not None]
    if private_token:
        params.append(("private_key", private_token))
    return urlencode(params)


def _path(command, args):
    template, method = _command(command)
    values = {key: quote(str(value), safe="") for key, value in (args or {}).items() if value is not None}
    return fill_path(template, values), method


class LwrInterface:
    """``execute(command, args, data, input_path, output_path)`` -> response text (or None)."""

    def execute(self, command, args=None, data=None, input_path=None, output_path=None):
        raise NotImplementedError


class HttpLwrInterface(LwrInterface):
    """Sends every argument in the query string (plus ``private_key``); bodies are raw file bytes."""

    def __init__(self, destination_params, transport):
        url = destination_params.get("url")
        if not url:
            raise ValueError("LWR destination has no url")
        if "://" not in url:
            url = "http://" + url
        if not url.endswith("/"):
            url += "/"
        self.remote_host = url
        self.private_token = destination_params.get("private_token")
        self.transport = transport

    def url(self, command, args=None) -> str:
        path, _method = _path(command, args)
        return "%s%s?%s" % (self.remote_host, path, _query(args, self.private_token))

    def execute(self, command, args=None, data=None, input_path=None, output_path=None):
        url = self.url(command, args)
        method = _command(command)[1] or "GET"
        headers = None
        if len(url) > MAX_URL_LENGTH and method == "POST" and data is None and input_path is None:
            # Too long for a request line (servers stop near 64 KiB): send the parameters as a
            # form body; the token and job id stay in the query string.
            path, _method = _path(command, args)
            keep = {k: v for k, v in (args or {}).items() if k == "job_id"}
            url = "%s%s?%s" % (self.remote_host, path, _query(keep, self.private_token))
            data = _query({k: v for k, v in args.items() if k != "job_id"}).encode("ascii")
            headers = {"content_type": "application/x-www-form-urlencoded"}
        kwargs = headers or {}
        resumable = self._resumable(command, args, input_path, output_path, url)
        if resumable is not None:
            response = resumable()
            if output_path is not None:
                return None
            return response.decode("utf-8") if isinstance(response, bytes) else response
        response = self.transport.execute(url, method=method, data=data, input_path=input_path,
                                          output_path=output_path, **kwargs)
        if output_path is not None:
            return None
        return response.decode("utf-8") if isinstance(response, bytes) else response


    def _resumable(self, command, args, input_path, output_path, url):
        """The resumed, verified transfer for a job file upload or download, when the
        transport has them (``lwr.lwr_client.transport.resumable``); None otherwise."""
        if command == "upload_file" and input_path is not None and hasattr(self.transport, "upload_resumable"):
            def urls(upload_id, commit):
                if commit is None:
                    keep = {k: args[k] for k in ("job_id", "name", "type") if k in args}
                    return self.url("upload_offset", dict(keep, upload_id=upload_id))
                extra = {"upload_id": upload_id} if upload_id is not None else {}  # None: one-shot
                if commit:
                    extra["commit"] = "true"
                return self.url("upload_file", dict(args, **extra))
            return lambda: self.transport.upload_resumable(urls, input_path)
        if command == "download_output" and output_path is not None and hasattr(self.transport, "download_resumable"):
            return lambda: self.transport.download_resumable(url, output_path)
        return None


class LocalLwrInterface(LwrInterface):
    """Calls the server's routes in process (``lwr.web.local``), without HTTP or token checks.

    Responses, error statuses and messages are exactly those of the HTTP app.
    """

    def __init__(self, destination_params, job_manager=None, file_cache=None, object_store=None):
        from lwr.web.local import local_app  # lazy: the client package imports no server module

        self.app = local_app(job_manager, file_cache=file_cache, object_store=object_store)

    def execute(self, command, args=None, data=None, input_path=None, output_path=None):
        path, method = _path(command, args)
        method = method or "GET"
        query = _query(args)
        body = None
        try:
            if input_path is not None:
                body = open(input_path, "rb")
                length = os.fstat(body.fileno()).st_size
            else:
                raw = data.encode("utf-8") if isinstance(data, str) else (data or b"")
                body = io.BytesIO(raw)
                length = len(raw)
            environ = {
                "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": "/" + path,
                "QUERY_STRING": query, "CONTENT_LENGTH": str(length),
                "CONTENT_TYPE": "application/octet-stream", "SERVER_NAME": "localhost",
                "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
                "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": body,
                "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }
            return self._call(environ, method, "local:/%s?%s" % (path, query), output_path)
        finally:
            if body is not None:
                body.close()

    def _call(self, environ, method, url, output_path):
        started = {}

        def start_response(status, headers, exc_info=None):
            started["status"] = status
            return lambda data: None

        result = self.app(environ, start_response)
        try:
            status_code = int(started["status"].split(" ", 1)[0])
            if status_code >= 400:
                raise http_error(method, url, status_code, started["status"].partition(" ")[2],
                                 b"".join(result))
            if output_path is None:
                return b"".join(result).decode("utf-8")
            download = AtomicDownload(output_path)
            try:
                for chunk in result:
                    download.write(chunk)
                download.commit()
            except BaseException:
                download.discard()
                raise
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
