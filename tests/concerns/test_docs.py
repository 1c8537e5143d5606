"""The manual: it builds with warnings as errors, and every command it shows runs.

The pages are Markdown in ``docs/`` (and the README, their front page). What counts as
a shown command, and how it is run, is said in ``docs/contributing.md``:

- a ``console`` block: each ``$ hsctsim ...`` line is a command (``\\`` continues it,
  ``&&`` chains commands); the lines after it are its output, shown and not compared,
  except an ``Error: ...`` (or ``error: ...``) line, which the command must print with
  exit status 2;
  ``$ mkdir DIR`` makes a folder; ``$ pip ...`` installs, which the tests do not do;
- a ``{code-block}`` whose ``:caption:`` ends in ``.toml`` is a file the page's
  commands read: it is written into the page's folder under that name;
- a ``python`` block is run, with 1,000,000 patients cut to 20,000.

All commands of a page run in order in one temporary folder (with the checkout's
``tests/data``), in this process through click's runner, with the patients capped for
speed (``-n`` at 20,000 and added where a simulating command shows none, replicates
and PSA draws at 2, trials at 500, calibration patients at 2,000; a sweep runs
``--local``: the dask path has its own tests in ``tests/apps/test_sweep.py``).
"""

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, invoke

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]
PAGES = [p for p in PAGES if "_build" not in p.parts]

PATIENTS = 20_000
CAPS = {"--replicates": 2, "--psa": 2, "--trials": 500, "--calibration-patients": 2_000,
        "-n": PATIENTS, "--patients": PATIENTS}
SIMULATING = {"run", "cea", "predict", "validate", "sweep"}


# -- reading the pages ------------------------------------------------------------------


def fenced_blocks(text):
    """``(info, options, body_lines)`` of every fenced block of a Markdown text.

    ``info`` is what follows the opening fence (``console``, ``python``,
    ``{code-block} toml``); ``options`` the ``:name: value`` lines that open a
    directive's body.
    """
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = re.match(r"^(`{3,})(.*)$", lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.group(1), match.group(2).strip()
        body, i = [], i + 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        options = {}
        if info.startswith("{"):
            while body and re.match(r"^:(\w[\w-]*):\s*(.*)$", body[0]):
                key, value = re.match(r"^:(\w[\w-]*):\s*(.*)$", body[0]).groups()
                options[key] = value
                body = body[1:]
        blocks.append((info, options, body))
    return blocks


def console_commands(body):
    """``(command, expected error line or None)`` for each ``$ `` line of a console block."""
    out, i = [], 0
    while i < len(body):
        line = body[i]
        i += 1
        if not line.startswith("$ "):
            continue
        command = line[2:].strip()
        while command.endswith("\\") and i < len(body):
            command = command[:-1] + " " + body[i].strip()
            i += 1
        shown = []
        while i < len(body) and not body[i].startswith("$ "):
            shown.append(body[i])
            i += 1
        error = shown[0].strip() if shown and shown[0].lower().startswith("error:") else None
        out.append((command, error))
    return out


def page_commands(page):
    """The page's files to write, commands to run and Python blocks to run, in order."""
    files, steps = {}, []
    for info, options, body in fenced_blocks(page.read_text()):
        caption = options.get("caption", "")
        if info.startswith("{code-block}") and caption.endswith(".toml"):
            files[caption] = "\n".join(body) + "\n"
        elif info == "console":
            for command, error in console_commands(body):
                steps.append(("shell", command, error))
        elif info == "python":
            steps.append(("python", "\n".join(body), None))
    return files, steps


def capped(args):
    """A command's arguments with the patients, replicates and draws capped for speed."""
    args = list(args)
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg in CAPS and i + 1 < len(args):
            out += [arg, str(min(int(args[i + 1]), CAPS[arg]))]
            i += 2
        elif arg == "--workers" and args[0] == "sweep":
            i += 2
        else:
            out.append(arg)
            i += 1
    if out and out[0] in SIMULATING and "--help" not in out and not (
            {"-n", "--patients"} & set(out)):
        out += ["-n", str(PATIENTS)]
    if out and out[0] == "sweep":
        if "--calibration-patients" not in out:
            out += ["--calibration-patients", str(CAPS["--calibration-patients"])]
        if "--local" not in out and "--scheduler" not in out:
            out.append("--local")
    return out


# -- what the pages say -------------------------------------------------------------------


def test_every_page_with_commands_is_found():
    """The parser sees the commands: a guard against a page format it misreads."""
    shown = {p.relative_to(ROOT).as_posix(): page_commands(p)[1] for p in PAGES}
    assert len(shown["docs/getting-started.md"]) >= 5
    for task in ("compare-arms", "what-ifs", "trials", "cost-effectiveness", "sweeps-psa",
                 "own-model", "fit-predict", "solid-tumours", "autologous"):
        assert any(kind == "shell" for kind, _, _ in shown[f"docs/tasks/{task}.md"]), task
    assert capped(["run", "ric", "-n", "1000000", "--replicates", "20"]) == [
        "run", "ric", "-n", "20000", "--replicates", "2"]
    assert capped(["sweep", "ric", "--psa", "40", "--workers", "2"]) == [
        "sweep", "ric", "--psa", "2", "-n", "20000", "--calibration-patients", "2000",
        "--local"]
    assert capped(["show", "mac"]) == ["show", "mac"]


def run_step(command, error, cwd):
    for part in command.split("&&"):
        words = shlex.split(part)
        if words[0] == "pip":
            continue  # installing is not what a test does; the newcomer check runs it
        if words[0] == "mkdir":
            for name in words[1:]:
                (cwd / name).mkdir()
            continue
        assert words[0] == "hsctsim", f"not a command the docs test can run: {command}"
        args = capped(words[1:])
        result = invoke(*args)
        said = f"$ hsctsim {' '.join(args)}\n{result.output}"
        if "cuda" in args and "--backend" in args:
            # a GPU here runs it; without one it must be refused in one line
            assert result.exit_code in (0, 2), said
            if result.exit_code == 2:
                assert result.output.startswith("Error: --backend cuda"), said
                assert len(result.output.strip().splitlines()) == 1, said
        elif error is not None:
            assert result.exit_code == 2, said
            assert error in result.output, said
            assert "Traceback" not in result.output, said
        else:
            assert result.exit_code == 0, said


@pytest.mark.parametrize("page", [p for p in PAGES if page_commands(p)[1]],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_commands_shown_in_the_docs_run(page, tmp_path, monkeypatch):
    files, steps = page_commands(page)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "data").symlink_to(ROOT / "tests" / "data")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    for kind, text, error in steps:
        if kind == "shell":
            run_step(text, error, tmp_path)
        else:
            code = text.replace("1_000_000", f"{PATIENTS:_}").replace("10**6", str(PATIENTS))
            exec(compile(code, f"{page.name} python block", "exec"), {"__name__": "__docs__"})


# -- the build ---------------------------------------------------------------------------


def test_manual_builds_with_warnings_as_errors(tmp_path):
    missing = [m for m in ("sphinx", "myst_parser", "numpydoc")
               if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: the manual's tools come with "
                    "pip install '.[test]'")
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                             "-b", "html", str(DOCS), str(tmp_path / "html")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "reference" / "parameters.html").is_file()
    model = (tmp_path / "html" / "reference" / "model.html").read_text()
    from hsctsim.model.process_table import names, ties

    for name in names() + tuple(t.name for t in ties()):
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{name}" \
               f"</span></code>" in model, name
