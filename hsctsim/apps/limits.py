"""What a run or a figure can take: refuse at once what cannot finish or fit.

Sizes beyond these looked like a hang (hours of simulation with no end in sight)
or ended in MemoryError or a full disk after a long wait.  The figures per
patient were measured on the bundled arms (hsctsim 0.1.0): an event table holds
130-230 bytes of CSV per patient, and drawing the figures of a cohort held in
memory peaks at 250-380 bytes per patient; both are rounded up here.
"""

import os
import shutil

import click

__all__ = ["available_memory_bytes", "check_cohort_memory", "check_plot_size", "check_run_size",
           "EVENT_BYTES_PER_PATIENT", "MAX_PATIENT_COURSES", "MAX_REPLICATES",
           "PLOT_BYTES_PER_PATIENT", "TooLarge"]

MAX_PATIENT_COURSES = 10**10  # patients x arms x cohorts: about a day on 2 cores
MAX_REPLICATES = 1000  # each replicate also calibrates (about 1.5 s per arm)
EVENT_BYTES_PER_PATIENT = 300
PLOT_BYTES_PER_PATIENT = 500


class TooLarge(click.ClickException):
    """A run or figure too large to finish or to fit: one line, exit status 2."""

    exit_code = 2


def _gb(n_bytes):
    return f"{n_bytes / 1e9:,.1f} GB"


def available_memory_bytes():
    """Memory the system can give without swapping (MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_run_size(n_patients, n_arms, replicates, events_dir=None):
    """Patient courses a run will simulate; refuse a run that cannot finish.

    Parameters
    ----------
    n_patients, n_arms, replicates
        As given to ``hsctsim run``.
    events_dir : str, optional
        The ``--out`` folder when ``--events`` is on: its disk must hold the table.

    Returns
    -------
    int
        ``n_patients * n_arms * (1 + replicates)``.
    """
    total = n_patients * n_arms * (1 + replicates)
    if total > MAX_PATIENT_COURSES:
        raise TooLarge(f"-n {n_patients:,} x {n_arms} arm(s) x {1 + replicates} cohort(s) = "
                       f"{total:,} patient courses, more than the {MAX_PATIENT_COURSES:,} "
                       "one run simulates (about a day on 2 cores); 10^6 patients per arm "
                       "give estimates within 0.1 percentage point")
    if events_dir is not None:
        need = n_patients * n_arms * EVENT_BYTES_PER_PATIENT
        parent = os.path.dirname(os.path.abspath(events_dir))
        try:
            free = shutil.disk_usage(parent).free
        except OSError:
            return total  # the run folder reports what is wrong with the place
        if need > free:
            raise TooLarge(f"--events for {n_patients:,} patients x {n_arms} arm(s) needs "
                           f"about {_gb(need)}; {parent} has {_gb(free)} free")
    return total


def check_plot_size(n_patients, n_arms):
    """Refuse figures whose cohorts would not fit in memory."""
    need = n_patients * n_arms * PLOT_BYTES_PER_PATIENT
    have = available_memory_bytes()
    if have is not None and need > have:
        raise TooLarge(f"-n {n_patients:,} x {n_arms} arm(s) needs about {_gb(need)} of "
                       f"memory to draw; {_gb(have)} is available (100,000 patients draw "
                       "the same curves)")


def check_cohort_memory(n_patients, n_columns, option="-n"):
    """Refuse a cohort held in memory whole (``predict``) that would not fit.

    The event days take 8 bytes per patient and column; the summary's counting and
    the copies on the way take as much again, rounded up here to three times.
    """
    need = n_patients * max(int(n_columns), 1) * 8 * 3
    have = available_memory_bytes()
    if have is not None and need > have:
        raise TooLarge(f"{option} {n_patients:,} needs about {_gb(need)} of memory; "
                       f"{_gb(have)} is available (10^6 patients give estimates within "
                       "0.1 percentage point)")
