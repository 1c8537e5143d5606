"""A 12-transition Weibull multi-state model: the benchmark of a plain multi-state engine.

The layout of the EBMT data set ``ebmt4`` (mstate, hesim): after transplant (tx) a
patient recovers (rec), has an adverse event (AE), relapses (rel) or dies; from rec
and AE on to both (recAE), rel or death; from recAE to rel or death.  rel and death
are absorbing.  Twelve transitions, each Weibull on a clock that restarts in each
state (clock reset, semi-Markov), as in hesim's example.  The shapes and scales
are assumptions of a plausible size (days), not fits: this model measures speed.
"""

from hsctsim.engine.processes import Process, build

# (name, from, to, shape, scale in days): assumption
TRANSITIONS = (
    ("tx_rec", "tx", "rec", 1.3, 60.0),
    ("tx_ae", "tx", "ae", 0.9, 200.0),
    ("tx_rel", "tx", "rel", 1.1, 900.0),
    ("tx_death", "tx", "death", 0.8, 1500.0),
    ("rec_recae", "rec", "recae", 0.9, 700.0),
    ("rec_rel", "rec", "rel", 1.0, 1200.0),
    ("rec_death", "rec", "death", 0.8, 3000.0),
    ("ae_recae", "ae", "recae", 1.4, 90.0),
    ("ae_rel", "ae", "rel", 1.0, 1500.0),
    ("ae_death", "ae", "death", 0.8, 1800.0),
    ("recae_rel", "recae", "rel", 1.0, 1400.0),
    ("recae_death", "recae", "death", 0.9, 2500.0),
)
ABSORBING = ("rel", "death")
HORIZON_DAYS = 3650.0


def processes():
    """The twelve transitions as engine processes (see :mod:`hsctsim.engine.processes`)."""
    out = []
    for name, src, dst, shape, scale in TRANSITIONS:
        leaving = tuple(n for n, s, *_ in TRANSITIONS if s == src and n != name)
        entering = () if dst in ABSORBING else tuple(n for n, s, *_ in TRANSITIONS if s == dst)
        out.append(Process(name, "weibull", (shape, scale), at_start=src == "tx",
                           clock_reset=src != "tx", terminal=dst in ABSORBING,
                           closes=leaving, opens=entering))
    return out


def engine():
    """:class:`~hsctsim.engine.processes.EngineArrays` of the model."""
    return build(processes())
