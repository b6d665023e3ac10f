"""``numrnn compare``: the chapter's comparison table, measured.

=========================  ==================================================================
module                     job
=========================  ==================================================================
:mod:`.protocol`           what a fair comparison holds equal (:class:`Protocol`, DEFAULT, QUICK)
:mod:`.stats`              the tests behind every verdict (Mann–Whitney, Fisher, Holm, three-way)
:mod:`.budget`             the hidden size that meets a parameter budget (:func:`solve_width`)
:mod:`.jobs`               one job: plain settings in, plain results out (:func:`run_job`)
:mod:`.sweep`              plan, run and resume the jobs on any executor (:func:`run_sweep`)
:mod:`.results`            the table, the depth sweeps and the verdicts (:func:`collect_results`)
:mod:`.report`             report.md, report.html, results.json and the figures
=========================  ==================================================================

Example (what ``numrnn compare --out report --quick`` does, without the figures)::

    from numrnn.compare import QUICK, collect_results, run_sweep

    sweep = run_sweep(QUICK, "report")        # resumes from report/jobs
    results = collect_results(QUICK, sweep)   # JSON-ready: table, sweep, claims
    for claim in results["claims"]:
        print(claim["pattern"], claim["claim"], claim["verdict"], claim["deciding"])
"""

from .budget import solve_width
from .protocol import DEFAULT, QUICK, Protocol, TaskSpec, parse_task
from .results import collect_results
from .sweep import run_sweep

__all__ = [
    "Protocol",
    "TaskSpec",
    "DEFAULT",
    "QUICK",
    "parse_task",
    "solve_width",
    "run_sweep",
    "collect_results",
]
