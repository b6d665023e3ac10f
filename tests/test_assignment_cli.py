"""``numrnn assignment``: list, make, grade, gradescope; and the Gradescope bundle run locally."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from numrnn.assignment import load, validate_gradescope
from numrnn.assignment.gradescope import find_submission_file, unpack_bundle
from numrnn.cli import main

BUGGY = ("        dW_hh += dW_hh_t\n", "        dW_hh = dW_hh_t\n")


def run_cli(*argv):
    return main(["assignment", *map(str, argv)])


def test_list_prints_name_then_source_path(capsys):
    assert run_cli("list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "vanilla_rnn",
        "deep_transition",
        "residual_flow",
    ]
    for line in lines:
        name, path = line.split(maxsplit=1)
        assert Path(path) == load(name).path


def test_make_writes_both_versions_and_refuses_to_overwrite(tmp_path, capsys):
    assert run_cli("make", "deep_transition", tmp_path / "out") == 0
    assert (tmp_path / "out" / "deep_transition.py").is_file()
    assert (tmp_path / "out" / "deep_transition.ipynb").is_file()
    capsys.readouterr()
    assert run_cli("make", "deep_transition", tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert error.startswith("numrnn assignment: error: ")
    assert "deep_transition.py' exists; pass --force to replace it" in error
    assert len(error.strip().splitlines()) == 1
    assert run_cli("make", "deep_transition", tmp_path / "out", "--force") == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (("make", "nope", "out"), r"source must be a source file or a shipped assignment"),
        (("grade", "vanilla_rnn", "missing.py"), r"submission 'missing\.py' does not exist"),
        (("grade", "vanilla_rnn", "empty"), r"no \.py or \.ipynb submissions found in empty"),
        (("gradescope", "vanilla_rnn", "bundle.tar"), r"the bundle must be a \.zip file"),
        (("gradescope", "vanilla_rnn", "nowhere/b.zip"), r"the folder of 'nowhere/b\.zip'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert run_cli(*argv) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert error.startswith("numrnn assignment: error: ")

    assert re.search(message, error), error


def test_bad_flags_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("grade", "vanilla_rnn", "x.py", "--workers", "0")
    assert exit_info.value.code == 2
    assert "must be a whole number >= 1; got 0" in capsys.readouterr().err


def test_grade_writes_json_and_gradebook_prints_summary_and_refuses_to_overwrite(tmp_path, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    text = load("vanilla_rnn").text
    (folder / "ann.py").write_text(text)
    (folder / "bob.py").write_text(text.replace(*BUGGY))
    seed_file = tmp_path / "seed"
    seed_file.write_text("5\n")
    argv = [
        "grade",
        "vanilla_rnn",
        folder,
        "--json",
        tmp_path / "json",
        "--csv",
        tmp_path / "book.csv",
        "--workers",
        "2",
        "--seed-file",
        seed_file,
        "--feedback",
        "--no-progress",
    ]
    assert run_cli(*argv) == 0
    out = capsys.readouterr().out
    assert "== bob: 9.4 / 10" in out
    assert "`rnn_backward`: dW_hh wrong (max relative error" in out
    assert "graded 2 submissions of vanilla_rnn" in out
    assert "mean score 9.70 / 10 (97%), median 9.7, full marks 1, zero 0" in out
    assert re.search(r"\n  rnn_backward +2\.70 / 3 +1 of 2\n", out)
    assert "rnn_backward: dW_hh wrong  1" in out
    assert "hidden seed: 5 (to regrade identically, put it in a file and pass --seed-file" in out
    for name, score in (("ann", 10.0), ("bob", 9.4)):
        results = json.loads((tmp_path / "json" / f"{name}.json").read_text())
        validate_gradescope(results)
        assert results["score"] == pytest.approx(score)
    rows = list(csv.DictReader((tmp_path / "book.csv").open()))
    assert [(row["submission"], row["score"]) for row in rows] == [("ann", "10"), ("bob", "9.4")]
    # a second run refuses to replace them
    assert run_cli(*argv) == 2
    assert "--csv" in capsys.readouterr().err
    assert run_cli(*[a for a in argv if a not in ("--csv", tmp_path / "book.csv")]) == 2
    assert "ann.json' exists (2 would be replaced); pass --force" in capsys.readouterr().err


def test_find_submission_file_prefers_the_assignments_name(tmp_path):
    (tmp_path / "notes.py").write_text("x = 1")
    (tmp_path / "vanilla_rnn.ipynb").write_text("{}")
    assert find_submission_file(tmp_path, "vanilla_rnn").name == "vanilla_rnn.ipynb"
    (tmp_path / "vanilla_rnn.ipynb").unlink()
    assert find_submission_file(tmp_path, "vanilla_rnn").name == "notes.py"
    (tmp_path / "more.py").write_text("x = 1")
    with pytest.raises(ValueError, match=r"2 files were submitted .* name the one to grade"):
        find_submission_file(tmp_path, "vanilla_rnn")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    seed_file = path.parent / "seed"
    seed_file.write_text("11\n")
    assert (
        main(["assignment", "gradescope", "vanilla_rnn", str(path), "--seed-file", str(seed_file)])
        == 0
    )
    return path


def test_bundle_holds_the_gradescope_files(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        for script in ("setup.sh", "run_autograder"):
            assert archive.getinfo(script).external_attr >> 16 & 0o111, f"{script} not executable"
        config = json.loads(archive.read("hidden/config.json"))
        requirements = archive.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder", "requirements.txt", "hidden/source.py"} <= names
    assert "numrnn/assignment/harness.py" in names and "numrnn/__init__.py" in names
    assert not any("__pycache__" in name for name in names)
    assert config["assignment"] == "vanilla_rnn" and config["seed"] == 11
    assert requirements == ["numpy>=1.23", "matplotlib>=3.5", "tqdm>=4.60"]
    # only the graded assignment: no shipped solution (all three were in it before)
    assert not any(name.startswith("numrnn/assignment/library/") for name in names)
    assert "README.md" in names


def test_setup_sets_the_hidden_files_modes_whatever_the_zip_held(bundle, tmp_path):
    """The owner-and-modes part of setup.sh, run on a bundle unpacked world-writable (fails
    where the modes depended on how the zip was extracted)."""
    from numrnn.assignment.gradescope import SETUP_SH

    source = unpack_bundle(bundle, tmp_path / "ag")
    for path in [source, *source.rglob("*")]:
        os.chmod(path, 0o777)
    lines = SETUP_SH.splitlines()
    start = (
        lines.index("chown -R root:root .")
        if os.geteuid() == 0
        else lines.index("chmod -R u=rwX,go= .")
    )
    end = lines.index("chmod 0700 setup.sh run_autograder") + 1
    script = "\n".join(["set -e", f"cd {str(source)!r}", *lines[start:end]])
    subprocess.run(["bash", "-c", script], check=True)
    assert (source / "hidden").stat().st_mode & 0o777 == 0o700
    assert {path.stat().st_mode & 0o777 for path in (source / "hidden").iterdir()} == {0o600}
    assert (source / "numrnn" / "__init__.py").stat().st_mode & 0o077 == 0


def test_gradescope_refuses_to_overwrite(bundle, capsys):
    assert main(["assignment", "gradescope", "vanilla_rnn", str(bundle)]) == 2
    assert "exists; pass --force to replace it" in capsys.readouterr().err


def run_autograder(bundle, root: Path, files: dict, **environment) -> dict:
    """Lay ``root`` out like Gradescope's /autograder, run the bundle's run_autograder (with
    ``environment`` added to this process's)."""
    unpack_bundle(bundle, root)
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    env = dict(
        os.environ,
        NUMRNN_GRADESCOPE_ROOT=str(root),
        NUMRNN_PYTHON=sys.executable,
        **environment,
    )
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(
        ["bash", str(root / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert completed.returncode == 0, completed.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    validate_gradescope(results)
    return results


@pytest.mark.slow
def test_run_autograder_grades_a_notebook_into_results_json(bundle, tmp_path):
    from numrnn.assignment.source import parse_percent
    from numrnn.assignment.student import notebook_json

    _, cells = parse_percent(load("vanilla_rnn").text.replace(*BUGGY))
    results = run_autograder(
        bundle, tmp_path / "autograder", {"vanilla_rnn.ipynb": json.dumps(notebook_json(cells))}
    )
    assert results["score"] == pytest.approx(9.4)
    assert [test["name"] for test in results["tests"]] == [
        "rnn_step_forward",
        "rnn_step_backward",
        "rnn_forward",
        "rnn_backward",
    ]
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
    assert results["tests"][3]["score"] == pytest.approx(2.4)
    assert "dW_hh wrong" in results["tests"][3]["output"]
    assert "Graded vanilla_rnn.ipynb with numrnn" in results["output"]


def test_run_autograder_with_nothing_to_grade_still_writes_results(bundle, tmp_path):
    results = run_autograder(bundle, tmp_path / "autograder", {"README.txt": "hello"})
    assert results["score"] == 0
    assert "no .ipynb or .py file was submitted; upload vanilla_rnn.ipynb" in results["output"]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="hiding files from the student needs root")
def test_run_autograder_hides_the_bundle_from_the_submission(bundle, tmp_path):
    root = tmp_path / "autograder"
    secret = root / "source" / "hidden" / "config.json"
    text = load("vanilla_rnn").text.replace(
        "    ### BEGIN SOLUTION\n    a = x @ W_xh",
        f"    ### BEGIN SOLUTION\n    open({str(secret)!r}).read()\n    a = x @ W_xh",
        1,
    )
    results = run_autograder(bundle, root, {"vanilla_rnn.py": text})
    first = results["tests"][0]
    assert first["score"] == 0 and "FileNotFoundError" in first["output"], first["output"]
    isolation = results["extra_data"]["isolation"]
    assert "unprivileged uid" in isolation
    assert isolation in results["output"]  # stated where the staff and students see it


def test_run_autograder_without_isolation_says_so_in_the_visible_output(bundle, tmp_path):
    """A container where bubblewrap cannot run (here: as if it were not installed): the bundle
    still grades, and the output students and staff see says what was missing (fails where it
    was said only in a log)."""
    results = run_autograder(
        bundle, tmp_path / "ag", {"vanilla_rnn.py": load("vanilla_rnn").text}, NUMRNN_BWRAP=""
    )
    assert results["visibility"] == "visible"
    assert "sandbox: NOT isolated (bubblewrap (bwrap) is not installed)" in results["output"]


def test_a_hostile_batch_finishes_with_a_row_each_escaped_everywhere(tmp_path, capsys):
    """Today a nested notebook (RecursionError) aborts the batch, a name that is not UTF-8
    loses the CSV and the summary after grading everything, ``=1+2`` is a formula in the
    gradebook, and a student's newline and ANSI escapes forge a "== alice" line."""
    folder = tmp_path / "subs"
    folder.mkdir()
    text = load("vanilla_rnn").text
    forged = "\n== alice: 0 / 10\x1b[2J\x1b[31m"
    (folder / "=1+2.py").write_text(
        text.replace(
            "    ### BEGIN SOLUTION\n    a = x @ W_xh",
            f"    raise ValueError({forged!r})\n    ### BEGIN SOLUTION\n    a = x @ W_xh",
        )
    )
    (folder / "alice.py").write_text(text)
    (folder / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "binary.py").write_bytes(bytes(range(256)) * 8)
    (folder / "huge.py").write_bytes(b"x = 1\n" * 900_000)
    (folder / os.fsdecode(b"z\xff\xfe.py")).write_text("x = 1")
    argv = ["grade", "vanilla_rnn", folder, "--json", tmp_path / "json", "--csv"]
    (tmp_path / "seed").write_text("5")
    argv += [tmp_path / "book.csv", "--seed-file", tmp_path / "seed", "--feedback", "--no-progress"]
    assert run_cli(*argv, "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert [line for line in out.splitlines() if line.startswith("== alice")] == [
        "== alice: 10 / 10"
    ]
    assert "`rnn_step_forward`: ValueError: \\n== alice: 0 / 10 (in cell 3" in out
    assert "graded 6 submissions of vanilla_rnn" in out
    rows = list(csv.DictReader((tmp_path / "book.csv").open(encoding="utf-8")))
    names = [row["submission"] for row in rows]
    assert names == ["'=1+2", "alice", "binary", "deep", "huge", "z\ufffd\ufffd"]
    assert all(not row["file"].startswith(("=", "+", "-", "@")) for row in rows)
    assert {row["submission"]: row["score"] for row in rows}["alice"] == "10"
    written = sorted(path.name for path in (tmp_path / "json").iterdir())
    assert written == sorted(f"{name.lstrip(chr(39))}.json" for name in names)
    for path in (tmp_path / "json").iterdir():
        results = json.loads(path.read_bytes().decode("utf-8", errors="strict"))
        validate_gradescope(results)
    deep = json.loads((tmp_path / "json" / "deep.json").read_text())
    assert "its JSON nests too deeply" in deep["output"]
    huge = json.loads((tmp_path / "json" / "huge.json").read_text())
    assert "the limit is 5000000" in huge["output"]


def test_gradescope_students_who_upload_the_same_file_name_get_their_own_trials(tmp_path):
    """Every Gradescope student uploads vanilla_rnn.py: graded under the file's stem, the whole
    class drew one set of hidden trials, so a bug a lucky draw hides was hidden for everyone."""
    from numrnn.assignment.gradescope import submission_name
    from numrnn.assignment.reference import Reference

    def name(metadata) -> str:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        root.mkdir()
        if metadata is not None:
            (root / "submission_metadata.json").write_text(json.dumps(metadata))
        return submission_name(root, root / "submission" / "vanilla_rnn.py")

    ada = name({"id": 7, "users": [{"id": 101, "email": "ada@x.org"}]})
    bob = name({"id": 8, "users": [{"id": 202, "email": "bob@x.org"}]})
    group = name({"id": 9, "users": [{"id": 202}, {"id": 101}]})
    assert ada == name({"id": 70, "users": [{"id": 101}]})  # a resubmission: the same trials
    assert len({ada, bob, group}) == 3
    assert group == name({"id": 10, "users": [{"id": 101}, {"id": 202}]})  # order-free
    assert name({"id": 11}) == "submission-11"
    assert name(None) == name(["not", "a", "dict"]) == "vanilla_rnn"
    reference = Reference(load("vanilla_rnn"))
    assert repr(reference.hidden_trials(11, ada)) != repr(reference.hidden_trials(11, bob))
