"""Classroom assignments: author, hand out, grade (locally or on Gradescope).

A teacher writes one jupytext percent ``.py`` per assignment, with nbgrader-style
solution regions and a ``GRADING`` declaration (:mod:`.declaration`).
``numrnn assignment make`` writes the student version (:mod:`.student`);
``numrnn assignment grade`` runs each graded function of each submission in its
own sandboxed process (:mod:`.sandbox`, :mod:`.harness`), compares what comes
back with the reference solution and with finite differences of the
student's own forward (:mod:`.checks`), and writes Gradescope ``results.json``
files, a CSV gradebook and a summary (:mod:`.results`);
``numrnn assignment gradescope`` writes an autograder bundle (:mod:`.gradescope`).
Three assignments ship with numrnn (:mod:`.catalog`). See ``docs/assignments.md``.
"""

from .catalog import list_assignments, load
from .declaration import Limits, parse_grading
from .grader import BatchResult, Grader, SubmissionResult, grade
from .reference import Reference
from .results import gradescope_results, validate_gradescope
from .sandbox import probe_isolation
from .source import Assignment, read_source
from .student import write_student_version
from .submission import SubmissionError, read_submission

__all__ = [
    "Assignment",
    "BatchResult",
    "Grader",
    "Limits",
    "Reference",
    "SubmissionError",
    "SubmissionResult",
    "grade",
    "gradescope_results",
    "list_assignments",
    "load",
    "parse_grading",
    "probe_isolation",
    "read_source",
    "read_submission",
    "validate_gradescope",
    "write_student_version",
]
