"""Multi-state transition data in mstate's ``msprep`` long layout, read and checked.

One row per transition a patient is at risk of, per stay in a state: ``id, from,
to, trans, Tstart, Tstop, status`` (``status`` 1 for the transition that happened,
0 for the others and for censoring), plus covariate columns. States are integers
(mstate's numbering, optionally named) or names. Every problem raises
:class:`DataError` with one line naming the file, the line and the column.
"""

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["COLUMNS", "DataError", "MAX_DAYS", "MsData", "read_msdata", "STATE_NAME"]

MAX_DAYS = 36500.0  # as a scenario's longest horizon: a later time is not in days
COLUMNS = ("id", "from", "to", "trans", "Tstart", "Tstop", "status")
STATE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MISSING = ("", "NA", "NAN", ".", "NULL", "NONE")   # cells that are no factor level
FACTOR_NAME = re.compile(r"^[A-Za-z][^\"',\\\n\r\t]*$")


class DataError(ValueError):
    """Transition data that cannot be used; the message names where and what."""


@dataclass(frozen=True, eq=False)
class MsData:
    """Checked transition data, as arrays (one entry per row of the file).

    Attributes
    ----------
    source : str
        The file (or "table") the rows came from.
    states : tuple of str
        State names; ``from_state``/``to_state`` index into it.
    transitions : tuple of (int, int, int)
        ``(trans, from, to)``: mstate's transition number and its state indices, in
        order of ``trans``.
    patient : ndarray of int
        Patient index (into ``patient_ids``) of each row.
    patient_ids : tuple of str
    from_state, to_state, trans : ndarray of int
        ``trans`` as in the file (mstate numbering).
    tstart, tstop : ndarray of float
        Days since time 0 (clock forward).
    status : ndarray of int
    covariates : tuple of (str, ndarray)
        Covariate columns asked for, fixed per patient.
    initial : int
        The state patients start in (the most common state of each patient's first row).
    """

    source: str
    states: tuple
    transitions: tuple
    patient: np.ndarray
    patient_ids: tuple
    from_state: np.ndarray
    to_state: np.ndarray
    trans: np.ndarray
    tstart: np.ndarray
    tstop: np.ndarray
    status: np.ndarray
    covariates: tuple
    initial: int
    factors: tuple = ()   # (column, levels with the reference first, dummy names)

    @property
    def absorbing(self):
        """States with no transition out."""
        out = {f for _, f, _ in self.transitions}
        return tuple(i for i in range(len(self.states)) if i not in out)

    def covariate_shares(self):
        """Levels and shares of each covariate among patients at time 0.

        Patients whose first row starts at time 0 (in the initial state) form the cohort
        mix; if there are none (everyone enters late), all patients.

        Returns
        -------
        dict of str to (levels, shares)
        """
        first = np.full(len(self.patient_ids), -1)
        order = np.lexsort((self.tstart, self.patient))
        seen = np.r_[True, self.patient[order][1:] != self.patient[order][:-1]]
        first[self.patient[order][seen]] = order[seen]
        at_zero = first[(self.tstart[first] == 0) & (self.from_state[first] == self.initial)]
        rows = at_zero if at_zero.size else first
        out = {}
        for name, values in self.covariates:
            levels, counts = np.unique(values[rows], return_counts=True)
            out[name] = (levels, counts / counts.sum())
        return out

    def patient_rows(self):
        """Each patient's first row (index into the rows), in patient order."""
        first = np.full(len(self.patient_ids), -1)
        order = np.lexsort((self.tstart, self.patient))
        seen = np.r_[True, self.patient[order][1:] != self.patient[order][:-1]]
        first[self.patient[order][seen]] = order[seen]
        return first

    def covariate_mix(self, names=None):
        """The joint mix of the covariates: ``(rows, counts)``, one row per distinct
        combination of the patients' values of ``names`` (default all), with how many
        patients have it (those at time 0 in the initial state; all if none)."""
        names = [c for c, _ in self.covariates] if names is None else list(names)
        first = self.patient_rows()
        at_zero = first[(self.tstart[first] == 0) & (self.from_state[first] == self.initial)]
        rows = at_zero if at_zero.size else first
        values = dict(self.covariates)
        x = np.column_stack([values[c][rows] for c in names]) if names else \
            np.zeros((rows.size, 0))
        combos, counts = np.unique(x, axis=0, return_counts=True)
        return combos, counts

    def first_stay(self):
        """True for the rows of each patient's first stay (the earliest ``Tstart``)."""
        order = np.lexsort((self.tstart, self.patient))
        first_start = np.empty(len(self.patient_ids))
        new = np.r_[True, self.patient[order][1:] != self.patient[order][:-1]]
        first_start[self.patient[order][new]] = self.tstart[order][new]
        return self.tstart == first_start[self.patient]

    def max_visits(self):
        """Most stays any patient had in any one state."""
        stays = set()
        count = {}
        for p, f, s in zip(self.patient.tolist(), self.from_state.tolist(), self.tstart.tolist()):
            if (p, f, s) not in stays:
                stays.add((p, f, s))
                count[(p, f)] = count.get((p, f), 0) + 1
        return max(count.values(), default=1)


def _where(source, line, column=None):
    return f"{source}: line {line}" + (f", column '{column}'" if column else "")


def _number(text, source, line, column):
    try:
        value = float(text)
    except (TypeError, ValueError):
        shown = "an empty cell" if str(text).strip() == "" else repr(text)
        raise DataError(f"{_where(source, line, column)}: {shown} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{_where(source, line, column)}: {text!r} is not a finite number")
    return value


def _integer(text, source, line, column):
    value = _number(text, source, line, column)
    if value != int(value):
        raise DataError(f"{_where(source, line, column)}: {text!r} is not a whole number")
    return int(value)


def _as_float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _as_int(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return int(value) if math.isfinite(value) and value == int(value) else None


def _read_csv(path):
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # Excel writes a BOM
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: the file is empty (expected a header line)")
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text CSV file ({exc.reason})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    header = [h.strip() for h in header]
    return str(path), header, rows


def _columns(source, header, rows, covariates):
    """Column index of each required column and covariate (case-insensitive)."""
    lower = {}
    for i, name in enumerate(header):
        lower.setdefault(name.lower(), i)
    index = {}
    for name in (*COLUMNS, *covariates):
        if name.lower() not in lower:
            what = "covariate column" if name in covariates else "column"
            raise DataError(f"{source}: {what} '{name}' is missing (the header has "
                            f"{', '.join(header)}; expected mstate's msprep layout "
                            f"{', '.join(COLUMNS)})")
        index[name] = lower[name.lower()]
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"{_where(source, line)}: {len(row)} fields, the header has "
                            f"{len(header)}")
    return index


def _state_map(source, header, index, rows, states):
    """Index of each state label in the file; the state names in order."""
    labels = [(line, row[index[c]].strip(), c) for line, row in rows for c in ("from", "to")]
    numeric = all(_as_int(v) is not None for _, v, _ in labels)
    if numeric:
        used = sorted({_as_int(v) for _, v, _ in labels})
        if used and used[0] < 1:
            line = next(ln for ln, v, _ in labels if _as_int(v) < 1)
            col = next(c for ln, v, c in labels if _as_int(v) < 1)
            raise DataError(f"{_where(source, line, col)}: states are numbered from 1 "
                            "(mstate), got a state below 1")
        names = list(states) if states else [f"state_{k}" for k in range(1, max(used, default=0) + 1)]
        for line, v, col in labels:
            if _as_int(v) > len(names):  # only with states given: blame them
                raise DataError(f"--states {','.join(names)}: names {len(names)} states, "
                                f"but the data use state {v} ({_where(source, line, col)})")
        return {v: _as_int(v) - 1 for _, v, _ in labels}, names
    if states:
        names = list(states)
    else:
        names = list(dict.fromkeys(v for _, v, _ in labels))
    position = {n: i for i, n in enumerate(names)}
    for line, v, col in labels:
        if v not in position:
            if states:
                raise DataError(f"--states {','.join(names)}: the data use state {v!r}, "
                                f"not one of them ({_where(source, line, col)})")
            raise DataError(f"{_where(source, line, col)}: state {v!r} is not one of "
                            f"{', '.join(names)}")
    return position, names


def _check_names(names, source):
    for name in names:
        if not STATE_NAME.match(name):
            raise DataError(f"{source}: state name {name!r} must start with a letter and "
                            "hold only ASCII letters (A-Z, a-z), digits and _")
    if len(set(names)) != len(names):
        raise DataError(f"{source}: state names repeat ({', '.join(names)})")


def read_msdata(data, *, covariates=(), states=None, transitions=None, references=None):
    """Read and check transition data in mstate's msprep layout.

    Parameters
    ----------
    data : str, Path or mapping
        A CSV file with a header line, or a mapping of column name to sequence (a dict
        or a pandas DataFrame). Columns ``id, from, to, trans, Tstart, Tstop, status``
        (names case-insensitive) plus covariates; other columns are ignored.
    covariates : sequence of str
        Covariate columns to keep, fixed per patient: numeric, or text (a factor,
        coded as R's treatment contrasts: one 0/1 column per level but the reference,
        named column + level as R's ``model.matrix`` names them, e.g. ``year1990-1994``).
    references : mapping of str to str, optional
        Reference level of a factor column (default: the first level in sorted
        order, as R's ``factor``).
    states : sequence of str, optional
        State names. With integer states, name ``k`` is ``states[k-1]``; with named
        states, the order (and the allowed names). Default: ``state_1``, ... or the
        names in order of appearance.
    transitions : sequence of (str, str), optional
        The allowed transitions ``(from, to)`` by name, numbered 1, 2, ... as mstate's
        ``trans``. Default: the transitions the data show, with their ``trans``.

    Returns
    -------
    MsData

    Raises
    ------
    DataError
        Missing columns, non-numeric values, ``Tstop <= Tstart``, a status other than
        0/1, a transition not allowed or numbered inconsistently, a patient whose
        intervals overlap or whose path does not connect, a covariate that changes
        within a patient: one line naming the file, line and column.
    """
    covariates = tuple(covariates)
    if isinstance(data, (str, Path)):
        source, header, rows = _read_csv(data)
    else:
        source = "table"
        header = [str(k) for k in data.keys()]
        columns = [list(data[k]) for k in data.keys()]
        n = len(columns[0]) if columns else 0
        # the header is "line 1", as in a CSV file
        rows = [(i + 2, ["" if v is None else str(v) for v in row])
                for i, row in enumerate(zip(*columns))] if n else []
    if not rows:
        raise DataError(f"{source}: no data rows")
    index = _columns(source, header, rows, covariates)
    position, names = _state_map(source, header, index, rows, states)
    _check_names(names, source)

    n = len(rows)
    lines = np.array([line for line, _ in rows])
    pid = [row[index["id"]].strip() for _, row in rows]
    frm = np.array([position[row[index["from"]].strip()] for _, row in rows])
    to = np.array([position[row[index["to"]].strip()] for _, row in rows])
    trans = np.array([_integer(row[index["trans"]], source, line, "trans") for line, row in rows])
    tstart = np.array([_number(row[index["Tstart"]], source, line, "Tstart") for line, row in rows])
    tstop = np.array([_number(row[index["Tstop"]], source, line, "Tstop") for line, row in rows])
    status = np.array([_number(row[index["status"]], source, line, "status") for line, row in rows])
    covs, factors = {}, []
    for c in covariates:
        cells = [row[index[c]].strip() for _, row in rows]
        if all(_as_float(v) is not None for v in cells):
            covs[c] = np.array([_number(row[index[c]], source, line, c) for line, row in rows])
            continue
        missing = [(line, row) for (line, row), v in zip(rows, cells)
                   if v.upper() in MISSING]
        if missing:   # a missing value, not a level: said as for a numeric column
            _number(missing[0][1][index[c]], source, missing[0][0], c)
        levels = sorted(set(cells))      # R's default: levels in sorted order
        ref = (references or {}).get(c)
        if ref is not None:
            if ref not in levels:
                raise DataError(f"{source}: reference level {ref!r} of '{c}' is not one of "
                                f"its levels {', '.join(map(repr, levels))}")
            levels.remove(ref)
            levels.insert(0, ref)
        if len(levels) < 2:
            raise DataError(f"{source}: factor column '{c}' has one level only "
                            f"({levels[0]!r}); nothing to estimate")
        names_c = tuple(f"{c}{lv}" for lv in levels[1:])    # as R's model.matrix names them
        for name, lv in zip(names_c, levels[1:]):
            if not FACTOR_NAME.match(name):
                raise DataError(f"{source}: level {lv!r} of '{c}' makes the covariate name "
                                f"{name!r}: levels may not hold quotes, commas or "
                                "backslashes")
            covs[name] = np.array([float(v == lv) for v in cells])
        factors.append((c, tuple(levels), names_c))
    for c in references or {}:
        if c not in {f[0] for f in factors}:
            raise DataError(f"{source}: a reference level for '{c}', which is not a text "
                            "(factor) covariate column read")

    for i in range(n):
        where = lambda col: _where(source, lines[i], col)  # noqa: E731
        if pid[i] == "":
            raise DataError(f"{where('id')}: the id is empty")
        if status[i] not in (0.0, 1.0):
            raise DataError(f"{where('status')}: status must be 0 or 1, got {status[i]:g}")
        if tstart[i] < 0:
            raise DataError(f"{where('Tstart')}: Tstart {tstart[i]:g} is before time 0")
        for col, t in (("Tstart", tstart[i]), ("Tstop", tstop[i])):
            if t > MAX_DAYS:  # 1e300 days fitted to rates of 0 with standard errors of 0
                raise DataError(f"{where(col)}: {col} {t:g} is beyond {MAX_DAYS:g} days "
                                "(100 years): give the times in days")
        if not tstop[i] > tstart[i]:
            hint = (" (a stay of length 0, as two events on one day give: drop the stay or "
                    "move the second event a fraction of a day later)"
                    if tstop[i] == tstart[i] else "")
            raise DataError(f"{where('Tstop')}: Tstop {tstop[i]:g} is not after "
                            f"Tstart {tstart[i]:g}{hint}")
        if frm[i] == to[i]:
            raise DataError(f"{where('to')}: a transition from '{names[frm[i]]}' to itself")
    table = _transition_table(source, lines, frm, to, trans, names, transitions)
    ids = tuple(dict.fromkeys(pid))
    lookup = {p: i for i, p in enumerate(ids)}
    patient = np.array([lookup[p] for p in pid])
    _check_paths(source, lines, patient, ids, frm, to, tstart, tstop, status, covs, names)
    first_rows = np.lexsort((tstart, patient))
    first = first_rows[np.r_[True, patient[first_rows][1:] != patient[first_rows][:-1]]]
    initial = int(np.bincount(frm[first], minlength=len(names)).argmax())
    return MsData(source=source, states=tuple(names), transitions=table, patient=patient,
                  patient_ids=ids, from_state=frm, to_state=to, trans=trans, tstart=tstart,
                  tstop=tstop, status=status.astype(int),
                  covariates=tuple(covs.items()), initial=initial, factors=tuple(factors))


def _transition_table(source, lines, frm, to, trans, names, transitions):
    """``(trans, from, to)`` triples; checks each row's trans against its states."""
    if transitions is not None:
        position = {n: i for i, n in enumerate(names)}
        allowed = {}
        for k, (a, b) in enumerate(transitions, start=1):
            for s in (a, b):
                if s not in position:
                    raise DataError(f"{source}: transition {a} -> {b}: state {s!r} is not "
                                    f"one of {', '.join(names)}")
            allowed[(position[a], position[b])] = k
        for i in range(lines.size):
            key = (int(frm[i]), int(to[i]))
            if key not in allowed:
                raise DataError(f"{_where(source, lines[i], 'to')}: the transition "
                                f"{names[key[0]]} -> {names[key[1]]} is not allowed")
            if trans[i] != allowed[key]:
                raise DataError(f"{_where(source, lines[i], 'trans')}: {names[key[0]]} -> "
                                f"{names[key[1]]} is transition {allowed[key]}, not {trans[i]}")
        return tuple((k, position[a], position[b]) for k, (a, b) in enumerate(transitions, 1))
    by_number, by_pair = {}, {}
    for i in range(lines.size):
        k, pair = int(trans[i]), (int(frm[i]), int(to[i]))
        if k < 1:
            raise DataError(f"{_where(source, lines[i], 'trans')}: transitions are numbered "
                            f"from 1, got {k}")
        line0, pair0 = by_number.setdefault(k, (lines[i], pair))
        if pair0 != pair:
            raise DataError(f"{_where(source, lines[i], 'trans')}: transition {k} is "
                            f"{names[pair[0]]} -> {names[pair[1]]} here but "
                            f"{names[pair0[0]]} -> {names[pair0[1]]} on line {line0}")
        line1, k1 = by_pair.setdefault(pair, (lines[i], k))
        if k1 != k:
            raise DataError(f"{_where(source, lines[i], 'trans')}: {names[pair[0]]} -> "
                            f"{names[pair[1]]} is transition {k} here but {k1} on line {line1}")
    return tuple((k, f, t) for k, (_, (f, t)) in sorted(by_number.items()))


def _check_paths(source, lines, patient, ids, frm, to, tstart, tstop, status, covs, names):
    """Each patient: stays that do not overlap, connect, and fixed covariates."""
    order = np.lexsort((lines, frm, tstart, patient))
    prev = None   # (patient, from, Tstart, Tstop, line, event-to or None, event line)
    for i in order.tolist():
        p, line = int(patient[i]), int(lines[i])
        where = lambda col: _where(source, line, col)  # noqa: E731
        if prev is not None and prev[0] == p and prev[1] == frm[i] and prev[2] == tstart[i]:
            # another row of the same stay
            if tstop[i] != prev[3]:
                raise DataError(f"{where('Tstop')}: id {ids[p]} leaves '{names[frm[i]]}' at "
                                f"{tstop[i]:g} here but at {prev[3]:g} on line {prev[4]}")
            if status[i] == 1:
                if prev[5] is not None:
                    raise DataError(f"{where('status')}: id {ids[p]} has a second event in "
                                    f"the same stay (the first on line {prev[6]})")
                prev = (*prev[:5], int(to[i]), line)
            continue
        if prev is not None and prev[0] == p:
            if tstart[i] < prev[3]:
                raise DataError(f"{where('Tstart')}: id {ids[p]}'s interval "
                                f"({tstart[i]:g}, {tstop[i]:g}] overlaps ({prev[2]:g}, "
                                f"{prev[3]:g}] on line {prev[4]}")
            if prev[5] is None:
                raise DataError(f"{where('id')}: id {ids[p]} has rows after it was censored "
                                f"on line {prev[4]}")
            if frm[i] != prev[5]:
                raise DataError(f"{where('from')}: id {ids[p]} is in '{names[frm[i]]}' here "
                                f"but went to '{names[prev[5]]}' on line {prev[6]}")
            if tstart[i] - prev[3] > 1e-9 * max(1.0, prev[3]):
                raise DataError(f"{where('Tstart')}: id {ids[p]}'s stay in "
                                f"'{names[frm[i]]}' starts at {tstart[i]:g} but the event "
                                f"on line {prev[6]} was at {prev[3]:g} (the path does not "
                                "connect: a stay starts when the event before it happens)")
        prev = (p, int(frm[i]), tstart[i], tstop[i], line,
                int(to[i]) if status[i] == 1 else None, line)
    for name, values in covs.items():
        first = {}
        for i in order.tolist():
            p = int(patient[i])
            j = first.setdefault(p, i)
            if values[i] != values[j]:
                raise DataError(f"{_where(source, lines[i], name)}: id {ids[p]} has {name} = "
                                f"{values[i]:g} here but {values[j]:g} on line {lines[j]} "
                                "(covariates must be fixed per patient)")


def read_patient_table(path, data, names):
    """A patient table's joint covariate mix in the coding of ``data``.

    Parameters
    ----------
    path : str or Path
        CSV, one row per patient, with the data's covariate columns (a factor's text
        levels, numbers for the others).
    data : MsData
        Gives the factors' levels and dummy names.
    names : sequence of str
        The fit's covariates (dummy names for factors).

    Returns
    -------
    rows : ndarray (m, len(names))
        The distinct combinations.
    counts : ndarray (m,)

    Raises
    ------
    DataError
        Naming the file, line and column.
    """
    source, header, rows = _read_csv(path)
    if not rows:
        raise DataError(f"{source}: no patient rows")
    factor_of = {n: (column, levels[i + 1]) for column, levels, dummies in data.factors
                 for i, n in enumerate(dummies)}
    levels = {column: levels for column, levels, _ in data.factors}
    columns = list(dict.fromkeys(factor_of[n][0] if n in factor_of else n for n in names))
    lower = {h.lower(): i for i, h in enumerate(header)}
    for c in columns:
        if c.lower() not in lower:
            raise DataError(f"{source}: column '{c}' is missing (the header has "
                            f"{', '.join(header)})")
    x = np.empty((len(rows), len(names)))
    for r, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise DataError(f"{_where(source, line)}: {len(row)} fields, the header has "
                            f"{len(header)}")
        for j, n in enumerate(names):
            if n in factor_of:
                column, level = factor_of[n]
                cell = row[lower[column.lower()]].strip()
                if cell not in levels[column]:
                    raise DataError(f"{_where(source, line, column)}: {cell!r} is not a "
                                    f"level of {column} in the data "
                                    f"({', '.join(levels[column])})")
                x[r, j] = float(cell == level)
            else:
                x[r, j] = _number(row[lower[n.lower()]], source, line, n)
    combos, counts = np.unique(x, axis=0, return_counts=True)
    return combos, counts
