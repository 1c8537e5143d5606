"""``hsctsim app``: a local page for people who don't code.

A person picks arms, moves the figures that are reported as ranges (each slider
shows its range and its source) and sees the curves and the landmark table change,
beside the published figures; each view downloads as a figure, a table and the
scenario TOML that ``hsctsim run`` repeats it from.

Why the standard library's :mod:`http.server`, a page of plain HTML and JavaScript
and a figure drawn by matplotlib on the server: it adds no dependency at all
(matplotlib is already the core's), so the ``[app]`` extra installs nothing new and
can never break the core install; it needs no internet when it runs (no JavaScript
library, font or style from a CDN: the three static files ship in the package); and
there is no framework version to follow.  Shiny for Python, Panel or Dash would
bring a dozen packages and a websocket layer for a page whose state is a few
numbers; starlette with uvicorn would bring two packages for routing that is six
lines here.  What a framework would give, the page does in a few lines: a worker
thread runs the simulations one at a time (the page never blocks, shows
"updating…", and a dragged slider's stale requests are dropped), and a bad value
comes back as a message for the control it names.

Modules: :mod:`.core` (the page's logic, tested without a browser),
:mod:`.server` (routes, worker, server) and :mod:`.command` (the CLI command).
"""

__all__ = ["command", "core", "server"]
