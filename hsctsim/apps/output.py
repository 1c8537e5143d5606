"""How a command's result document reaches the terminal: JSON, CSV or a table."""

import csv
import io
import json

import click

__all__ = ["csv_text", "emit"]


def csv_text(rows):
    """Rows of dicts as CSV text."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def emit(document, fmt, table, rows=None, notes=(), out_dir=None):
    """Print ``document`` in ``fmt`` and say where its files went.

    Parameters
    ----------
    document : dict
        The command's result, printed as is for ``json``.
    fmt : {"json", "csv", "table"}
    table : callable
        ``document`` to the text table.
    rows : callable, optional
        ``document`` to rows of dicts, for ``csv``.
    notes : iterable of str
        Lines the CSV rows have no place for, sent to standard error with them.
    out_dir : str, optional
        The results folder, named on standard error.
    """
    if fmt == "json":
        click.echo(json.dumps(document, indent=1))
    elif fmt == "csv":
        click.echo(csv_text(rows(document)), nl=False)
        for line in notes:
            click.echo(line, err=True)
    else:
        click.echo(table(document), nl=False)
    if out_dir:
        click.echo(f"results written to {out_dir}", err=True)


def text_table(rows):
    """Lines of a plain-text table: the header row, a rule, the rest (columns padded)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out
