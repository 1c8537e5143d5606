"""The ``hsctsim app`` command: start the page (its work is in :mod:`.server`)."""

import click

from ..common import UserError, user_errors

__all__ = ["app"]

APP_EXAMPLES = """\b
Examples:
  hsctsim app                        # http://127.0.0.1:8050/, this machine only
  hsctsim app --port 0 --open        # any free port, opened in this machine's browser
"""


@click.command(epilog=APP_EXAMPLES)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 127.0.0.1 serves this machine only (0.0.0.0 "
                   "would serve the network: the page has no login).")
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True,
              help="Port; 0 picks a free one.")
@click.option("--open", "open_browser", is_flag=True,
              help="Also open the page in this machine's web browser.")
@user_errors
def app(host, port, open_browser):
    """Start a local page: pick arms, move the reported ranges, see the curves and table.

    Prints the page's address and serves it until Ctrl-C; nothing is fetched from
    the internet.
    """
    from .server import serve  # matplotlib and the simulator: only once the page starts

    try:
        serve(host, port, open_browser)
    except OSError as exc:
        if exc.filename:
            raise
        raise UserError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}"
                        "); give another --port, or --port 0 for any free one") from None
