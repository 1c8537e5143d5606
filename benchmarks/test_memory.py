"""Peak memory (resident set) of a fresh process: a cohort in memory, or streamed in chunks.

The peak of a child process: its imports, calibration (cached by the ``ric``
fixture) and the run.  Read from ``VmHWM`` in ``/proc/self/status``, the peak of
the process's own address space: on Linux ``ru_maxrss`` keeps the peak of the
parent at the fork across ``exec``, which the benchmark process (holding 1.1 GB
output buffers) would dominate.  Streaming sums the chunks of ``hsctsim.iter_chunks``
into an :class:`hsctsim.analysis.endpoints.Tally`, which must stay under 2 GB for 10^8
patients whatever the total.
"""

import subprocess
import sys

import pytest
from common import FIGURES, SEED, size_label

STREAM_LIMIT_MB = 2048
CHILD = """
import sys
import hsctsim
from hsctsim.analysis.endpoints import Tally
n_patients, chunk_size = int(sys.argv[1]), int(sys.argv[2])
if chunk_size:
    tally = Tally()
    for chunk in hsctsim.iter_chunks("ric", n_patients, chunk_size, seed={seed}):
        tally.add(chunk)
else:
    hsctsim.simulate("ric", n_patients, seed={seed})
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]))  # KiB
""".format(seed=SEED)


@pytest.mark.parametrize("n_patients, chunk_size", [
    (10**3, 0),
    (10**6, 0),
    pytest.param(10**7, 0, marks=pytest.mark.slow),
    (10**6, 10**6),
    pytest.param(10**7, 10**6, marks=pytest.mark.slow),
    pytest.param(10**8, 10**6, marks=pytest.mark.huge),
], ids=lambda v: size_label(v) if v else "in-memory")
def test_peak_rss(benchmark, ric, n_patients, chunk_size):
    peak_kib = []

    def child():
        run = subprocess.run([sys.executable, "-c", CHILD, str(n_patients), str(chunk_size)],
                             check=True, capture_output=True, text=True)
        peak_kib.append(int(run.stdout.split()[-1]))

    benchmark.pedantic(child, rounds=1)
    peak_mb = peak_kib[0] / 1024
    how = f"streamed in chunks of {size_label(chunk_size)}" if chunk_size else "in memory"
    benchmark.extra_info["peak_rss_mb"] = round(peak_mb)
    FIGURES[f"peak RSS {size_label(n_patients)} {how}"] = (peak_mb, "MB")
    FIGURES[f"run time {size_label(n_patients)} {how}"] = (benchmark.stats.stats.min, "s")
    if chunk_size:
        assert peak_mb < STREAM_LIMIT_MB
