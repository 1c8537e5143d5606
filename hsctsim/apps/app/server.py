"""The page's HTTP side: routes, the simulation worker and the server.

:class:`App` answers a request as ``(status, content type, body, headers)`` from
plain arguments, so that the tests call it without a socket; :func:`serve` puts it
behind the standard library's threading HTTP server.
"""

import base64
import collections
import json
import sys
import threading
import traceback
import urllib.parse
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from . import core

__all__ = ["App", "Superseded", "Worker", "make_server", "serve", "url_of"]

STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "app.css": "text/css; charset=utf-8"}
MAX_BODY = 1 << 20  # a page's request is a few hundred bytes
LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
CACHED_RESULTS = 8  # the last few views, for their downloads


class Superseded(Exception):
    """A newer update from the page came in before this one started: it is dropped."""


class Worker:
    """One thread that runs every simulation, one at a time.

    The engine's threads and matplotlib are not for concurrent calls, and a slider
    dragged across its range sends a dozen updates: an update still waiting when a
    newer one arrives is dropped (:class:`Superseded`) rather than computed.
    """

    def __init__(self):
        self._jobs = collections.deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="hsctsim-app-worker",
                                        daemon=True)
        self._thread.start()

    def run(self, func, *args, supersedes=False):
        """``func(*args)`` on the worker thread; its result, or its exception raised here.

        ``supersedes``: drop the waiting jobs that were submitted with it too.
        """
        job = {"func": func, "args": args, "done": threading.Event(), "supersedes": supersedes}
        with self._ready:
            if supersedes:
                for old in [j for j in self._jobs if j["supersedes"]]:
                    self._jobs.remove(old)
                    old["error"] = Superseded()
                    old["done"].set()
            self._jobs.append(job)
            self._ready.notify()
        job["done"].wait()
        if "error" in job:
            raise job["error"]
        return job["result"]

    def _loop(self):
        while True:
            with self._ready:
                while not self._jobs:
                    self._ready.wait()
                job = self._jobs.popleft()
            try:
                job["result"] = job["func"](*job["args"])
            except BaseException as exc:  # handed to the waiting request, which answers
                job["error"] = exc
            job["done"].set()


def _json(status, data):
    return status, "application/json", json.dumps(data).encode(), {}


class App:
    """The page's routes.

    ``GET /``, ``/static/...``: the page; ``GET /api/arms``: the arms and their
    sliders; ``POST /api/update`` (a JSON state): the figures and tables, or the
    messages for the controls at fault; ``GET /download/figure.png``,
    ``figure.svg``, ``pilot.png``, ``pilot.svg``, ``table.csv`` and
    ``scenario.toml?arm=ARM`` with ``?state=JSON``: the downloads of that view;
    ``POST /api/cea`` and ``GET /download/cea.png``, ``cea.svg``, ``cea.csv``: the
    cost-effectiveness view, computed only when asked (it takes seconds).
    """

    def __init__(self, worker=None, local_only=False):
        self.worker = worker or Worker()
        # served to this machine only: another site's page in the same browser may
        # reach 127.0.0.1 under a name of its own (DNS rebinding); it is not answered
        self.local_only = local_only
        self._results = collections.OrderedDict()
        self._cea_views = collections.OrderedDict()
        self._lock = threading.Lock()

    def handle(self, method, path, query="", body=b"", host=None):
        """Answer one request: ``(status, content type, body bytes, extra headers)``.

        ``host``: the request's Host header; with ``local_only`` a name other than
        127.0.0.1, localhost or ::1 is refused (403).

        A problem with the input is a 422 whose JSON ``errors`` map each control's id
        to a message; anything unforeseen a 500 with one line (the traceback goes to
        the server's standard error, not to the page).
        """
        if self.local_only and host is not None and _hostname(host) not in LOCAL_NAMES:
            return _json(403, {"ok": False, "error": f"this page answers to "
                                                     f"{', '.join(LOCAL_NAMES)} only"})
        try:
            params = urllib.parse.parse_qs(query)
            if method == "GET" and path in ("/", "/index.html"):
                return self._static("index.html")
            if method == "GET" and path.startswith("/static/"):
                return self._static(path[len("/static/"):])
            if method == "GET" and path == "/api/arms":
                return _json(200, core.arm_catalogue())
            if method == "POST" and path == "/api/update":
                return self._update(body)
            if method == "POST" and path == "/api/cea":
                return self._cea(body)
            if method == "GET" and path.startswith("/download/"):
                return self._download(path[len("/download/"):], params)
            return _json(404, {"ok": False, "error": f"no page {path}"})
        except core.BadInput as exc:
            return _json(422, {"ok": False, "errors": exc.errors})
        except Superseded:
            return _json(409, {"ok": False, "superseded": True})
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            return _json(500, {"ok": False, "error": f"the server failed: "
                                                     f"{type(exc).__name__}: {exc}"})

    def _static(self, name):
        if name not in STATIC:
            return _json(404, {"ok": False, "error": f"no file {name}"})
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        return 200, STATIC[name], data, {"Cache-Control": "no-cache"}

    def _state(self, text):
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            raise core.BadInput({"form": "the request is not valid JSON"}) from None
        return core.parse_request(data)

    def result(self, request, supersedes=False):
        """The computed view of a checked request (cached: downloads repeat a view)."""
        key = json.dumps([request.arms, sorted(request.what_if.items()), request.patients,
                          request.seed, request.recalibrate, request.pilot])
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = self.worker.run(core.compute, request, supersedes=supersedes)
        with self._lock:
            self._results[key] = result
            while len(self._results) > CACHED_RESULTS:
                self._results.popitem(last=False)
        return result

    def cea(self, request):
        """The cost-effectiveness view of a checked request (cached as :meth:`result`)."""
        key = json.dumps([request.arms, sorted(request.what_if.items()), request.patients,
                          request.seed, request.recalibrate])
        with self._lock:
            if key in self._cea_views:
                return self._cea_views[key]
        view = self.worker.run(core.cea_view, request)
        with self._lock:
            self._cea_views[key] = view
            while len(self._cea_views) > CACHED_RESULTS:
                self._cea_views.popitem(last=False)
        return view

    def _cea(self, body):
        if len(body) > MAX_BODY:
            raise core.BadInput({"form": "the request is too large"})
        view = self.cea(self._state(body.decode("utf-8", "replace")))
        if not view["available"]:
            return _json(200, {"ok": True, **view})
        figure = self.worker.run(core.cea_figure_bytes, view, "png")
        arms, comparisons = core.cea_rows(view)
        return _json(200, {"ok": True, "available": True, "currency": view["currency"],
                           "price_year": view["price_year"], "wtp": view["wtp"],
                           "cohorts": arms, "comparisons": comparisons,
                           "caveats": view["caveats"], "commands": view["commands"],
                           "figure_png": base64.b64encode(figure).decode("ascii")})

    def _update(self, body):
        if len(body) > MAX_BODY:
            raise core.BadInput({"form": "the request is too large"})
        request = self._state(body.decode("utf-8", "replace"))
        result = self.result(request, supersedes=True)
        figure = self.worker.run(core.figure_bytes, result, "png")
        pilot = self.worker.run(core.pilot_figure_bytes, result, "png")
        data = core.page_data(result)
        data.update(ok=True, figure_png=base64.b64encode(figure).decode("ascii"),
                    pilot_png=base64.b64encode(pilot).decode("ascii"))
        return _json(200, data)

    def _download(self, name, params):
        request = self._state(params.get("state", [""])[0])
        if name.startswith("cea."):
            view = self.cea(request)
            if not view["available"]:
                raise core.BadInput({"cea": view["message"]})
            stem = f"hsctsim-{'-'.join(request.arms)}-cea"
            if name == "cea.csv":
                return (200, "text/csv; charset=utf-8", core.cea_csv(view).encode(),
                        _attachment(f"{stem}.csv"))
            if name in ("cea.png", "cea.svg"):
                fmt = name.rpartition(".")[2]
                data = self.worker.run(core.cea_figure_bytes, view, fmt)
                ctype = "image/png" if fmt == "png" else "image/svg+xml"
                return 200, ctype, data, _attachment(f"{stem}.{fmt}")
        result = self.result(request)
        if name in ("figure.png", "figure.svg", "pilot.png", "pilot.svg"):
            stem, _, fmt = name.partition(".")
            draw = core.figure_bytes if stem == "figure" else core.pilot_figure_bytes
            data = self.worker.run(draw, result, fmt)
            ctype = "image/png" if fmt == "png" else "image/svg+xml"
            suffix = "" if stem == "figure" else f"-pilot{request.pilot}"
            return 200, ctype, data, _attachment(
                f"hsctsim-{'-'.join(request.arms)}{suffix}.{fmt}")
        if name == "table.csv":
            return (200, "text/csv; charset=utf-8", core.table_csv(result).encode(),
                    _attachment(f"hsctsim-{'-'.join(request.arms)}.csv"))
        if name == "scenario.toml":
            arm = params.get("arm", [""])[0]
            text = self.worker.run(core.scenario_toml, request, arm)
            suffix = "-whatif" if request.what_if.get(arm) else ""
            return (200, "application/toml; charset=utf-8", text.encode(),
                    _attachment(f"{arm}{suffix}.toml"))
        return _json(404, {"ok": False, "error": f"no download {name}"})


def _hostname(host):
    """The name of a Host header: ``localhost`` of ``localhost:8050``, ``::1`` of
    ``[::1]:8050``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _attachment(filename):
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _handler(app):
    class Handler(BaseHTTPRequestHandler):
        server_version = "hsctsim-app"

        def _answer(self, method):
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            # more than MAX_BODY is refused by App.handle: no need to read it all
            body = self.rfile.read(min(length, MAX_BODY + 1)) if length else b""
            status, ctype, data, headers = app.handle(method, url.path, url.query, body,
                                                      self.headers.get("Host"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (the name http.server calls)
            self._answer("GET")

        def do_POST(self):  # noqa: N802
            self._answer("POST")

        def log_message(self, format, *args):  # quiet: one line per request is noise
            pass

    return Handler


def make_server(host="127.0.0.1", port=8050):
    """The page's server, listening but not yet serving (``serve_forever`` serves)."""
    server = ThreadingHTTPServer((host, port), _handler(App(local_only=host in LOCAL_NAMES)))
    server.daemon_threads = True
    return server


def url_of(server):
    """The address a browser opens for ``server``."""
    host, port = server.server_address[:2]
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}/"


def serve(host="127.0.0.1", port=8050, open_browser=False):
    """Serve the page until interrupted; print its address first.

    Parameters
    ----------
    host : str
        The address to listen on: ``127.0.0.1`` (this machine only) unless asked.
    port : int
        0 picks a free port.
    open_browser : bool
        Also open the page in this machine's browser.
    """
    server = make_server(host, port)
    url = url_of(server)
    print(f"hsctsim app: serving on {url} (Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"hsctsim app: listening on {host}: other machines on the network can "
              "reach the page", file=sys.stderr, flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
