"""The EBMT ebmt4 data (mstate's; 2,279 patients, 6 states, 12 transitions) in msprep's
long layout, for tests that fit real data.

Where they come from: the file ``pymsm/datasets/ebmt_long.csv`` of the PyPI wheel
``pymsm==0.1.7`` (mstate's ``ebmt4`` passed through ``msprep``, with its ``time`` column
and the factor covariates match, proph, year, agecl as text). The fixture downloads the
wheel with pip into the pytest cache (once) and reads the CSV from the zip; without a
network it skips, saying so. The data file itself is not part of hsctsim.
"""

import subprocess
import sys
import zipfile

import pytest

WHEEL = "pymsm==0.1.7"
MEMBER = "pymsm/datasets/ebmt_long.csv"
STATES = ("transplant", "recovery", "adverse_event", "recovery_ae", "relapse", "death")


@pytest.fixture(scope="session")
def ebmt4_csv(request):
    """Path of ebmt_long.csv (downloaded once into the pytest cache)."""
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    folder = (cache.mkdir("ebmt4") if cache is not None
              else request.getfixturevalue("tmp_path_factory").mktemp("ebmt4"))
    csv = folder / "ebmt_long.csv"
    if not csv.exists():
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps",
                            "-d", str(folder), "-q"], check=True, timeout=180,
                           capture_output=True)
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"could not download {WHEEL} (the ebmt4 data) from PyPI: {exc}")
        wheels = sorted(folder.glob("pymsm-0.1.7-*.whl"))
        if not wheels:
            pytest.skip(f"pip download {WHEEL} gave no wheel")
        with zipfile.ZipFile(wheels[0]) as zf:
            tmp = folder / "ebmt_long.csv.part"
            tmp.write_bytes(zf.read(MEMBER))
            tmp.replace(csv)
    return csv
