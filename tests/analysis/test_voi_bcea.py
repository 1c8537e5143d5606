"""Cost-effectiveness and EVPI against the printed results of the R package BCEA.

Source (read in the BCEA repository, github.com/giabaio/BCEA, commit f8fadf5, package
version 2.4.84, vignettes/Set_bcea_parameters.md, the rendered output of
``he_ref1 <- bcea(eff, cost, ref = 1, interventions = treats, Kmax = 50000)`` on the
package's ``Vaccine`` data, 1,000 draws of two arms, "Status Quo" and "Vaccination"):
``ICER 20098``, ``kstar 20100``, ``eib`` 5.04 5.01 4.99 4.96 4.94 and ``ceac`` 0.98 0.978
0.977 0.977 0.977 at willingness-to-pay 0, 100, 200, 300, 400, and ``evi`` (the EVPI)
0.0562 0.0573 0.0586 0.0598 0.0611 there.

The ``Vaccine`` draws are GPL-3 data (BCEA's licence), so they are not kept here (as for
voi's chemotherapy draws, see ``test_voi_published.py``). These checks run where a copy
is given: ``HSCTSIM_BCEA_VACCINE`` names a CSV with columns ``e1,e2,c1,c2`` (effects and
costs of Status Quo and Vaccination), made with R from the package's data file::

    load("Vaccine.RData")   # BCEA's data/Vaccine.RData
    write.csv(data.frame(e1 = eff[, 1], e2 = eff[, 2], c1 = cost[, 1], c2 = cost[, 2]),
              "vaccine.csv", row.names = FALSE)

Without it they are skipped. Run once by hand (2026-12-07): every value below agreed to
the printed digits. The draws are the same as BCEA's, so the EVPI, a plain average over
them, must agree to its printed digits (no Monte Carlo tolerance is needed).
"""

import os

import numpy as np
import pytest

from hsctsim.analysis.costeffectiveness import ceac, icer
from hsctsim.analysis.voi import evpi

WTP = (0, 100, 200, 300, 400)
PRINTED_EVPI = (0.0562, 0.0573, 0.0586, 0.0598, 0.0611)
PRINTED_EIB = (5.04, 5.01, 4.99, 4.96, 4.94)
PRINTED_CEAC = (0.98, 0.978, 0.977, 0.977, 0.977)


@pytest.fixture(scope="module")
def vaccine():
    path = os.environ.get("HSCTSIM_BCEA_VACCINE")
    if not path:
        pytest.skip("BCEA's Vaccine draws are GPL-3 and not kept: set HSCTSIM_BCEA_VACCINE "
                    "to a CSV of them (see the module docstring)")
    d = np.genfromtxt(path, delimiter=",", names=True)
    assert len(d) == 1000
    return np.column_stack([d["e1"], d["e2"]]), np.column_stack([d["c1"], d["c2"]])


def _digits(printed):
    """Half a unit of the last printed digit."""
    text = f"{printed}"
    return 0.5 * 10 ** -(len(text.split(".")[1]) if "." in text else 0)


def test_evpi_to_the_printed_digits(vaccine):
    e, c = vaccine
    for k, printed in zip(WTP, PRINTED_EVPI):
        assert abs(evpi(k * e - c) - printed) <= _digits(printed)


def test_icer_break_even_incremental_benefit_and_ceac_as_printed(vaccine):
    e, c = vaccine
    # BCEA's reference 1 (Status Quo) against Vaccination: delta = Status Quo - Vaccination
    de, dc = (e[:, 0] - e[:, 1]).mean(), (c[:, 0] - c[:, 1]).mean()
    assert abs(icer(dc, de) - 20098) <= 0.5
    for k, printed in zip(WTP, PRINTED_EIB):
        assert abs(k * de - dc - printed) <= _digits(printed)
    grid = np.arange(0, 50001, 100)
    best = grid[np.argmax(grid * de - dc < 0)]  # the first WTP at which Vaccination wins
    assert best == 20100
    probability = ceac({"Status Quo": (c[:, 0], e[:, 0]), "Vaccination": (c[:, 1], e[:, 1])},
                       WTP)["Status Quo"]
    for p, printed in zip(probability, PRINTED_CEAC):
        assert abs(p - printed) <= _digits(printed)
