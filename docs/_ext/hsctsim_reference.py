"""Sphinx directives that write the model reference from the code and the configs.

``{hsctsim-processes}``
    every clinical process of :data:`hsctsim.model.process_table.PROCESS_TABLE`: when
    it opens, what it opens and closes, the ties it applies, how it is reported.
``{hsctsim-ties}``
    every :class:`~hsctsim.model.process_table.Tie`: who applies it to whom, what it
    means, and its value and source in each bundled config that sets it.
``{hsctsim-parameters}``
    every figure of every bundled config (``configs/*.toml``, each file's own keys; a
    derived scenario inherits the rest from its ``base``), with its source.
``{hsctsim-posteriors}``
    every arm with calibration targets (``hsctsim/model/calibration_targets.toml``):
    its targets, which of them the calibration holds, and whether a posterior ships
    with the package (``hsctsim/model/posteriors/ARM/posterior.json``).

The tables are built at each build, so the manual cannot drift from the code.
"""

import json

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from hsctsim.analysis.validation import load_figures
from hsctsim.model import process_table
from hsctsim.model.posterior import BUNDLED_POSTERIORS, TARGETS_FILE
from hsctsim.model.scenario import bundled_names, load_scenario, read_toml, resolve_path
from hsctsim.sim.posterior import is_held

__all__ = ["setup"]

_META = ("kind", "name", "title", "population", "base", "source", "horizon_days", "chimerism",
         "clock")


def _cell(text, literal=False):
    entry = nodes.entry()
    para = nodes.paragraph()
    para += nodes.literal(text=text) if literal and text else nodes.Text(text)
    entry += para
    return entry


def _table(headers, rows, widths, literal_columns=(0,)):
    """A docutils table: ``rows`` of strings, the columns in ``literal_columns`` as code."""
    table = nodes.table(classes=["hsctsim-reference"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    for header in headers:
        row += _cell(header)
    head += row
    group += head
    body = nodes.tbody()
    for values in rows:
        row = nodes.row()
        for i, value in enumerate(values):
            row += _cell(value, literal=i in literal_columns)
        body += row
    group += body
    return table


def _names(items):
    return ", ".join(items) if items else "-"


class ProcessesDirective(SphinxDirective):
    """The process table, one row per clinical process."""

    def run(self):
        opened_by = {}
        for p in process_table.registered():
            for target in p.opens:
                opened_by.setdefault(target, []).append(p.name)
        rows = []
        for p in process_table.registered():
            if p.intervention:
                opens = "given (scheduled or triggered)"
            elif p.at_start:
                opens = "day 0"
            else:
                opens = "at " + " or ".join(opened_by.get(p.name, ["its model's event"]))
            kind = []
            if p.calibrated:
                kind.append("calibrated to an incidence")
            if not p.configured:
                kind.append("derived (no table of its own)")
            if p.terminal:
                kind.append("ends the course")
            if p.donor_only:
                kind.append("needs donor cells")
            if p.clock_reset:
                kind.append("clock from its opening")
            ties = _names([f"{tie} on {target}" for target, tie in p.multiplies])
            endpoint = p.endpoint_label if p.endpoint else "-"
            rows.append((p.name, p.label, opens, _names(p.opens), _names(p.closes), ties,
                         "; ".join(kind) or "-", endpoint))
        return [_table(["process", "label", "opens", "its event opens", "its event closes",
                        "ties it applies", "kind", "reported as"], rows,
                       [12, 14, 12, 16, 16, 24, 20, 24])]


def _config_files():
    return [(name, resolve_path(name)) for name in bundled_names("all")]


def _fmt(value):
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return repr(value)


class TiesDirective(SphinxDirective):
    """The ties, with their value and source in every bundled config that sets one."""

    def run(self):
        applied = {}
        for p in process_table.registered():
            for target, tie in p.multiplies:
                applied.setdefault(tie, set()).add(target)
        rows = []
        for tie in process_table.ties():
            values = []
            for name, path in _config_files():
                entry = read_toml(path).get("effects", {}).get(tie.name)
                if isinstance(entry, dict):
                    shown = {k: v for k, v in entry.items() if k != "source"}
                    values.append(f"{name}: {_fmt(shown)} ({entry.get('source', 'no source')})")
            rows.append((tie.name, _names(tie.sources), _names(sorted(applied.get(tie.name, ()))),
                         tie.description, "; ".join(values) or "-"))
        return [_table(["tie ([effects] key)", "applied by", "to", "meaning",
                        "value and source, per config that sets it"], rows,
                       [14, 12, 8, 22, 44])]


def _rows(table, path, inherited=""):
    """``(key, value, source)`` for every figure of a TOML table, at any depth.

    A figure's source is, in this order: its own ``{value, source}``; the table's
    ``<key>_source``; ``timing_source`` for ``timing``; the table's ``source``; the
    source of the table it sits in.
    """
    own = table.get("source", inherited)
    for key, value in table.items():
        if key.endswith("source"):
            continue
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict) and "source" in value and ("value" in value or "hr" in value):
            shown = {k: v for k, v in value.items() if k != "source"}
            yield where, _fmt(shown), value["source"]
        elif isinstance(value, dict) and key != "timing":
            yield from _rows(value, where, own)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                label = f"{where}[{i + 1}]"
                if "from" in item and "to" in item:
                    label += f" ({item['from']} -> {item['to']})"
                yield from _rows({k: v for k, v in item.items() if k not in ("from", "to")},
                                 label, own)
        else:
            source = table.get(f"{key}_source") or (
                table.get("timing_source") if key == "timing" else None) or own
            yield where, _fmt(value), source


class ParametersDirective(SphinxDirective):
    """Every bundled config: what it is, its base, and each figure with its source."""

    def run(self):
        out = []
        for name, path in _config_files():
            data = read_toml(path)
            out.append(nodes.rubric(text=f"{name} ({path.name})"))
            lines = [data.get("title", ""), f"population: {data.get('population', '-')}"]
            if data.get("base"):
                lines.append(f"based on {data['base']}: every figure not listed here is "
                             f"{data['base']}'s")
            extra = [f"{k} = {_fmt(data[k])}" for k in ("kind", "horizon_days", "chimerism",
                                                        "clock") if k in data]
            if extra:
                lines.append("; ".join(extra))
            if data.get("source"):
                lines.append(f"source: {data['source']}")
            for line in lines:
                if line:
                    out.append(nodes.paragraph(text=line))
            body = {k: v for k, v in data.items() if k not in _META}
            rows, previous = [], None
            for key, value, source in _rows(body, ""):
                rows.append((key, value, "(as above)" if source == previous else source))
                previous = source
            out.append(_table(["key", "value", "source"], rows, [22, 18, 60]))
        return out


def _uncertainty(figure):
    if figure.ci95 is not None:
        return f"95% CI {figure.ci95[0]:g}-{figure.ci95[1]:g}"
    return f"n = {figure.n}" if figure.n is not None else f"SE {figure.se:g}"


class PosteriorsDirective(SphinxDirective):
    """Arms with calibration targets, their targets and whether a posterior ships."""

    def run(self):
        figures = load_figures(TARGETS_FILE)
        arms = list(dict.fromkeys(f.arm for f in figures))
        rows, shipped, pending = [], [], []
        for arm in arms:
            scenario = load_scenario(arm)
            targets = "; ".join(
                f"{f.endpoint} day {f.landmark_day:g}: {f.estimate:g} ({_uncertainty(f)})"
                + (", held" if is_held(f, scenario) else "")
                for f in figures if f.arm == arm)
            path = BUNDLED_POSTERIORS / arm / "posterior.json"
            if path.exists():
                sets = len(json.loads(path.read_text(encoding="utf-8"))["sets"])
                status = f"ships ({sets:,} sets)"
                shipped.append(arm)
            else:
                status = "not shipped: replicates draw the ranges"
                pending.append(arm)
            rows.append((arm, targets, status))
        sentence = (f"Posteriors ship for {', '.join(shipped) or 'no arm'}"
                    + (f"; {', '.join(pending)} have targets but no shipped posterior yet "
                       "(hsctsim calibrate ARM makes one of your own)." if pending
                       else "."))
        return [nodes.paragraph(text=sentence),
                _table(["arm", "calibration targets", "posterior"], rows, [12, 64, 24])]


def setup(app):
    app.add_directive("hsctsim-processes", ProcessesDirective)
    app.add_directive("hsctsim-ties", TiesDirective)
    app.add_directive("hsctsim-parameters", ParametersDirective)
    app.add_directive("hsctsim-posteriors", PosteriorsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
