"""Reading msprep data for `hsctsim fit`: the checks, and the command line."""

import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hsctsim.analysis.msdata import DataError, read_msdata
from hsctsim.apps.cli import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "illness_death.csv"

# illness-death, integer states; the header is line 1, so id 1's rows are lines 2-4
GOOD = """id,from,to,trans,Tstart,Tstop,status,age
1,1,2,1,0,10,1,0
1,1,3,2,0,10,0,0
1,2,3,3,10,50,1,0
2,1,2,1,0,30,0,1
2,1,3,2,0,30,1,1
3,1,2,1,5,40,0,1
3,1,3,2,5,40,0,1
"""


def _edit(line, column, value, text=GOOD):
    rows = [r.split(",") for r in text.strip().split("\n")]
    rows[line - 1][rows[0].index(column)] = value
    return "\n".join(",".join(r) for r in rows) + "\n"


def _read(tmp_path, text, **kwargs):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return read_msdata(path, **kwargs)


def test_reads_good_data(tmp_path):
    data = _read(tmp_path, GOOD, covariates=["age"], states=["tx", "relapse", "death"])
    assert data.states == ("tx", "relapse", "death")
    assert data.transitions == ((1, 0, 1), (2, 0, 2), (3, 1, 2))
    assert data.absorbing == (2,) and data.initial == 0
    assert data.patient_ids == ("1", "2", "3")
    levels, shares = data.covariate_shares()["age"]
    # patient 3 enters late, so the mix at time 0 is of patients 1 and 2
    assert levels.tolist() == [0, 1] and shares.tolist() == [0.5, 0.5]
    named = _read(tmp_path, GOOD.replace(",1,2,", ",tx,relapse,").replace(",1,3,", ",tx,death,")
                  .replace(",2,3,", ",relapse,death,"))
    assert named.states == ("tx", "relapse", "death")
    np.testing.assert_array_equal(named.trans, data.trans)
    frame = {k: [r.split(",")[i] for r in GOOD.split("\n")[1:-1]]
             for i, k in enumerate(GOOD.split("\n")[0].split(","))}
    from_table = read_msdata(frame)
    np.testing.assert_array_equal(from_table.tstop, data.tstop)


@pytest.mark.parametrize("text, kwargs, message", [
    (GOOD.replace("status", "event"), {}, "column 'status' is missing"),
    (GOOD, {"covariates": ["sex"]}, "covariate column 'sex' is missing"),
    (_edit(3, "Tstop", "abc"), {}, "line 3, column 'Tstop': 'abc' is not a number"),
    (_edit(3, "Tstart", ""), {}, "line 3, column 'Tstart': an empty cell is not a number"),
    (_edit(5, "age", "NA"), {"covariates": ["age"]}, "line 5, column 'age': 'NA' is not a number"),
    (_edit(4, "Tstop", "10"), {}, "line 4, column 'Tstop': Tstop 10 is not after Tstart 10"),
    (_edit(4, "Tstop", "8"), {}, "line 4, column 'Tstop': Tstop 8 is not after Tstart 10"),
    (_edit(2, "Tstart", "-1"), {}, "line 2, column 'Tstart': Tstart -1 is before time 0"),
    (_edit(6, "status", "2"), {}, "line 6, column 'status': status must be 0 or 1, got 2"),
    (_edit(4, "trans", "2"), {},
     "line 4, column 'trans': transition 2 is state_2 -> state_3 here but state_1 -> state_3 "
     "on line 3"),
    (_edit(4, "trans", "1.5"), {}, "line 4, column 'trans': '1.5' is not a whole number"),
    (GOOD, {"transitions": [("s1", "s2"), ("s1", "s3")], "states": ["s1", "s2", "s3"]},
     "line 4, column 'to': the transition s2 -> s3 is not allowed"),
    (GOOD, {"transitions": [("s1", "s3"), ("s1", "s2"), ("s2", "s3")],
            "states": ["s1", "s2", "s3"]},
     "line 2, column 'trans': s1 -> s2 is transition 2, not 1"),
    (_edit(4, "Tstart", "5"), {},
     "line 4, column 'Tstart': id 1's interval (5, 50] overlaps (0, 10] on line 2"),
    (_edit(3, "status", "1", _edit(2, "status", "0")), {},
     "line 4, column 'from': id 1 is in 'state_2' here but went to 'state_3' on line 3"),
    (_edit(3, "status", "1"), {},
     "line 3, column 'status': id 1 has a second event in the same stay (the first on line 2)"),
    (_edit(5, "Tstop", "31"), {},
     "line 6, column 'Tstop': id 2 leaves 'state_1' at 30 here but at 31 on line 5"),
    (_edit(2, "status", "0"), {}, "line 4, column 'id': id 1 has rows after it was censored on "
                                  "line 2"),
    (_edit(3, "age", "1"), {"covariates": ["age"]},
     "line 3, column 'age': id 1 has age = 1 here but 0 on line 2"),
    (_edit(4, "to", "2"), {}, "line 4, column 'to': a transition from 'state_2' to itself"),
    (GOOD.replace("3,1,3,2,5,40,0,1", "3,1,3,2,5,40,0"), {}, "line 8: 7 fields, the header has 8"),
    (_edit(2, "from", "0"), {}, "line 2, column 'from': states are numbered from 1"),
    (GOOD, {"states": ["a", "b"]}, "--states a,b: names 2 states, but the data use state 3"),
    (GOOD, {"states": ["a b", "c", "d"]}, "state name 'a b' must start with a letter"),
    (_edit(2, "to", "death", GOOD.replace(",1,", ",tx,").replace(",2,", ",relapse,")
           .replace(",3,", ",death,")), {"states": ["tx", "relapse", "dead"]},
     "--states tx,relapse,dead: the data use state 'death', not one of them"),
    ("id,from,to,trans,Tstart,Tstop,status\n", {}, "no data rows"),
    ("", {}, "the file is empty"),
])
def test_bad_data_names_the_line_and_column(tmp_path, text, kwargs, message):
    with pytest.raises(DataError) as info:
        _read(tmp_path, text, **kwargs)
    assert message in str(info.value)
    assert str(tmp_path / "data.csv") in str(info.value)
    assert str(info.value).startswith("--states" if message.startswith("--states") else
                                      str(tmp_path / "data.csv"))
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ command line
def _cli(*args):
    return CliRunner().invoke(cli, ["fit", *map(str, args)], catch_exceptions=False)


def test_cli_fits_and_writes_a_scenario(tmp_path):
    out = tmp_path / "fitted.toml"
    result = _cli(EXAMPLE, "--clock", "reset", "--covariates", "x", "--out", out)
    assert result.exit_code == 0, result.output
    assert "transition 1: transplant -> relapse" in result.stdout
    assert "weibull*" in result.stdout and "HR" in result.stdout
    doc = tomllib.loads(out.read_text())
    assert doc["name"] == "fitted" and len(doc["transitions"]) == 3
    again = _cli(EXAMPLE, "--clock", "reset", "--covariates", "x", "--out", out)
    assert again.exit_code == 2 and "exists" in again.stderr
    fixed = _cli(EXAMPLE, "--family", "exponential", "--family", "3=weibull", "--out", out,
                 "--overwrite", "--name", "ex1", "--states", "transplant,relapse,death")
    assert fixed.exit_code == 0, fixed.output
    doc = tomllib.loads(out.read_text())
    assert doc["name"] == "ex1" and doc["clock"] == "forward"
    assert [t["timing"]["family"] for t in doc["transitions"]] == [
        "exponential", "exponential", "weibull"]
    assert list(tmp_path.iterdir()) == [out]     # no temporary files left behind


@pytest.mark.parametrize("args, message", [
    (["--family", "cox"], "'cox' is not one of"),
    (["--family", "9=weibull"], "family for transition 9"),
    (["--breaks", "0,a"], "--breaks '0,a': expected numbers"),
    (["--transitions", "transplant-relapse"], "expected FROM>TO"),
    (["--transitions", "transplant>relapse"], "the transition transplant -> death is not allowed"),
    (["--name", "a b"], "--name 'a b'"),
    (["--covariates", "x,x"], "named twice"),
])
def test_cli_bad_options_exit_2_with_one_line(tmp_path, args, message):
    out = tmp_path / "fitted.toml"
    result = _cli(EXAMPLE, *args, "--out", out)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output and not out.exists()


def test_cli_bad_data_exit_2(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(_edit(6, "status", "3"))
    result = _cli(path, "--out", tmp_path / "x.toml")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"Error: {path}: line 6, column 'status': status must be "
                                     "0 or 1, got 3")
    assert not (tmp_path / "x.toml").exists()
    assert _cli(tmp_path / "nothing.csv").exit_code == 2
