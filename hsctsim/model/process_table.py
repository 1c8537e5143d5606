"""The process table: each clinical process of the HSCT course declared once.

Scenario parsing, the engine build (:mod:`hsctsim.model.hsct`), what-ifs,
economics, endpoints and figures read this table instead of keeping lists of
their own, so adding a process is one :class:`ClinicalProcess` here (with its
ties), its table in the configs and its calibration.  Effects (hazard ratios that
tie processes together) are declared as :class:`Tie` objects beside them.

The order of :data:`PROCESS_TABLE` is the engine's column order and the order in
which a patient's random streams are drawn: append, never reorder.
"""

from dataclasses import dataclass, field

__all__ = ["ClinicalProcess", "DEATHS", "MARKERS", "NON_RELAPSE_DEATHS",
           "POST_RELAPSE_DEATHS", "RELAPSES", "Tie", "PROCESS_TABLE", "TIES",
           "by_name", "calibrated",
           "configured", "economic", "effect_sources", "incidence_endpoints", "names",
           "registered", "swimmer_events", "ties"]


@dataclass(frozen=True)
class Tie:
    """An effect size of a scenario: a hazard ratio one process puts on another.

    Attributes
    ----------
    name : str
        Its key under ``[effects]`` (``agvhd_on_relapse``).
    sources : tuple of str
        The processes whose events apply it (a what-if on a scenario without any of
        them changes nothing).
    description : str
        What it means, for ``show`` and the docs.
    """

    name: str
    sources: tuple
    description: str


@dataclass(frozen=True)
class ClinicalProcess:
    """One clinical process: how it is configured, tied, reported, costed and drawn.

    Attributes
    ----------
    name : str
        Its key (``agvhd``), the TOML table of the same name and the cohort column.
    label : str
        What a clinician calls it, for figures and tables.
    configured : bool
        Every HSCT scenario gives it a ``[name]`` table (False for processes derived
        from others or from an intervention: ``agvhd_3_4``, ``nk_cells``, ``dli``).
    calibrated : bool
        It may be given by an incidence at a landmark day (solved jointly with the
        others); otherwise by its timing and a cure fraction.
    endpoint : str or None
        ``"incidence"``: reported as a cumulative incidence, labelled ``endpoint_label``.
    at_start, clock_reset, terminal : bool
        Open from day 0 (else opened by another event); its clock restarts when
        opened; its event ends the course (a death).
    opens, closes : tuple of str
        Processes its event opens or closes.
    multiplies : tuple of (str, str)
        ``(target process, tie name)``: its event multiplies the target's hazard by
        the scenario's value of that :class:`Tie`.
    donor_only : bool
        Needs donor cells: no GVHD without a donor graft.
    economic : bool
        Costs and QALYs read its event day (:mod:`hsctsim.model.economics`).
    intervention : bool
        Given to patients (NK cells, DLI) rather than happening to them.
    colour, marker : str
        Its colour and its marker in the swimmer plot (``marker`` None: not drawn).
    extra_keys : tuple of str
        Keys besides the process keys that its table may hold (read elsewhere).
    built_by_model : bool
        The engine process is built by :mod:`hsctsim.model.hsct` from scenario values
        beyond the generic ones (a share, an intervention's day); the rest are built
        from this declaration alone.
    """

    name: str
    label: str
    configured: bool = True
    calibrated: bool = False
    endpoint: str | None = None
    endpoint_label: str = ""
    at_start: bool = True
    clock_reset: bool = False
    terminal: bool = False
    opens: tuple = ()
    closes: tuple = ()
    multiplies: tuple = ()
    donor_only: bool = False
    economic: bool = False
    intervention: bool = False
    colour: str = "#999999"
    marker: str | None = None
    extra_keys: tuple = ()
    built_by_model: bool = False
    notes: dict = field(default_factory=dict, compare=False)


TIES = (
    Tie("agvhd_on_relapse", ("agvhd",), "acute GVHD (II-IV) multiplies the relapse hazard"),
    Tie("cgvhd_on_relapse", ("cgvhd",), "chronic GVHD multiplies the relapse hazard"),
    Tie("agvhd_3_4_on_trm", ("agvhd",),
        "grade III-IV acute GVHD multiplies the non-relapse death hazard"),
    Tie("cgvhd_on_trm", ("cgvhd",), "chronic GVHD multiplies the non-relapse death hazard"),
    Tie("cmv_on_trm", ("cmv",), "CMV reactivation multiplies the non-relapse death hazard"),
    Tie("gvhd_on_cmv", ("agvhd", "cgvhd"),
        "acute or chronic GVHD (and its treatment) multiplies the CMV hazard"),
    Tie("mixed_on_relapse", ("mixed_chimerism",), "mixed chimerism multiplies the relapse hazard"),
    Tie("mixed_on_rejection", ("mixed_chimerism",),
        "mixed chimerism multiplies the rejection hazard"),
    Tie("graft_loss_on_relapse", ("graft_failure", "rejection"),
        "primary graft failure or rejection (no donor GVT) multiplies relapse"),
    Tie("graft_loss_on_trm", ("graft_failure", "rejection"),
        "primary graft failure or rejection multiplies non-relapse death"),
)

_GRAFT_LOSS = (("relapse", "graft_loss_on_relapse"), ("trm", "graft_loss_on_trm"))

PROCESS_TABLE = (
    ClinicalProcess("engraftment", "engraftment", calibrated=True, endpoint="incidence",
                    endpoint_label="neutrophil engraftment (competing: graft failure, death)",
                    closes=("graft_failure",),
                    opens=("agvhd", "cgvhd", "mixed_chimerism", "rejection"),
                    economic=True, colour="#33a02c", marker="^"),
    ClinicalProcess("graft_failure", "primary graft failure", endpoint="incidence",
                    endpoint_label="primary graft failure or rejection (competing: death)",
                    closes=("engraftment",), multiplies=_GRAFT_LOSS),
    ClinicalProcess("agvhd", "acute GVHD II", calibrated=True, endpoint="incidence",
                    endpoint_label="acute GVHD grade II-IV (competing: death)", at_start=False,
                    opens=("agvhd_3_4",),
                    multiplies=(("relapse", "agvhd_on_relapse"), ("cmv", "gvhd_on_cmv")),
                    donor_only=True, economic=True, colour="#fdbf6f", marker="o",
                    extra_keys=("share_3_4", "share_3_4_source")),
    ClinicalProcess("agvhd_3_4", "acute GVHD III-IV", configured=False, endpoint="incidence",
                    endpoint_label="acute GVHD grade III-IV (competing: death)",
                    at_start=False, clock_reset=True,
                    multiplies=(("trm", "agvhd_3_4_on_trm"),), donor_only=True,
                    colour="#ff7f00", marker="s", built_by_model=True),
    ClinicalProcess("cgvhd", "chronic GVHD", calibrated=True, endpoint="incidence",
                    endpoint_label="chronic GVHD (competing: death)", at_start=False,
                    opens=("cgvhd_mod_sev",),
                    multiplies=(("relapse", "cgvhd_on_relapse"), ("trm", "cgvhd_on_trm"),
                                ("cmv", "gvhd_on_cmv")),
                    donor_only=True, economic=True, colour="#b15928", marker="D",
                    extra_keys=("share_moderate_severe", "share_moderate_severe_source")),
    ClinicalProcess("cmv", "CMV reactivation", calibrated=True, endpoint="incidence",
                    endpoint_label="CMV reactivation (competing: death)",
                    multiplies=(("trm", "cmv_on_trm"),), economic=True, colour="#1f78b4",
                    marker="P"),
    ClinicalProcess("mixed_chimerism", "mixed chimerism", calibrated=True, at_start=False,
                    multiplies=(("relapse", "mixed_on_relapse"),
                                ("rejection", "mixed_on_rejection")),
                    donor_only=True),
    ClinicalProcess("rejection", "graft rejection", calibrated=True, at_start=False,
                    closes=("agvhd", "agvhd_3_4", "cgvhd", "mixed_chimerism"),
                    multiplies=_GRAFT_LOSS, donor_only=True, economic=True),
    ClinicalProcess("relapse", "relapse", calibrated=True, endpoint="incidence",
                    endpoint_label="relapse or progression (competing: non-relapse death)",
                    closes=("trm",), opens=("death_after_relapse",), economic=True,
                    colour="#6a3d9a", marker="*"),
    ClinicalProcess("trm", "non-relapse death", calibrated=True, endpoint="incidence",
                    endpoint_label="non-relapse (transplant-related) death "
                                   "(competing: relapse)",
                    terminal=True, economic=True),
    ClinicalProcess("death_after_relapse", "death after relapse", calibrated=True,
                    at_start=False, clock_reset=True, terminal=True, economic=True,
                    extra_keys=("by_relapse_day", "by_relapse_day_source"),
                    built_by_model=True),
    ClinicalProcess("nk_cells", "NK-cell infusion", configured=False, intervention=True,
                    economic=True, built_by_model=True),
    ClinicalProcess("nk_waning", "NK-cell effect waning", configured=False, intervention=True,
                    at_start=False, clock_reset=True, built_by_model=True),
    ClinicalProcess("dli", "donor lymphocyte infusion", configured=False, intervention=True,
                    at_start=False, clock_reset=True, economic=True, built_by_model=True),
    # appended (the column order is the random-stream order): a share of chronic GVHD
    # onsets, marked on the day of onset, as agvhd_3_4 is of acute GVHD
    ClinicalProcess("cgvhd_mod_sev", "chronic GVHD moderate-severe", configured=False,
                    endpoint="incidence",
                    endpoint_label="chronic GVHD moderate or severe (NIH global severity; "
                                   "competing: death)",
                    at_start=False, clock_reset=True, donor_only=True, built_by_model=True),
)

# Deaths without and after relapse: the calibrated processes and, where a scenario
# has [late_mortality], late death after the arm's evidence ends, before or after a
# relapse (processes that section adds, so absent from some cohorts; see
# hsctsim.model.late_mortality)
NON_RELAPSE_DEATHS = ("trm", "late_death")
POST_RELAPSE_DEATHS = ("death_after_relapse", "late_death_after_relapse")
DEATHS = (*NON_RELAPSE_DEATHS, *POST_RELAPSE_DEATHS)
# Relapses: the calibrated process and, where a scenario has [late_relapse], relapse
# after the arm's relapse evidence ends (see hsctsim.model.late_relapse).  A patient
# has at most one of them; whatever reads "the relapse" reads the earliest of these.
RELAPSES = ("relapse", "late_relapse")
# engine processes that mark a day rather than an event of the course (late_phase: the
# day late mortality takes over; late_relapse_phase: the day late relapse takes over
# from the calibrated relapse); event tables leave them out
MARKERS = ("late_phase", "late_relapse_phase")


def registered():
    """Every declared process, in engine column order (read at call time, so that a
    table extended before the model is imported is seen everywhere)."""
    return PROCESS_TABLE


def ties():
    """Every declared tie."""
    return TIES


def names():
    """Every process name, in engine column order."""
    return tuple(p.name for p in registered())


def by_name():
    """``{name: ClinicalProcess}``."""
    return {p.name: p for p in registered()}


def configured():
    """Names of the processes every HSCT scenario configures (a ``[name]`` table)."""
    return tuple(p.name for p in registered() if p.configured)


def calibrated():
    """Names of the configured processes that may be given by an incidence."""
    return tuple(p.name for p in registered() if p.configured and p.calibrated)


def incidence_endpoints():
    """``{name: label}`` of the processes reported as cumulative incidences."""
    return {p.name: p.endpoint_label for p in registered() if p.endpoint == "incidence"}


def economic():
    """Names of the processes whose event days costs and QALYs read."""
    return tuple(p.name for p in registered() if p.economic)


def effect_sources():
    """``{tie name: source processes}``."""
    return {t.name: t.sources for t in ties()}


def swimmer_events():
    """``(process, label, marker, colour)`` of the events drawn in a swimmer plot."""
    return tuple((p.name, p.label, p.marker, p.colour) for p in registered()
                 if p.marker is not None)
