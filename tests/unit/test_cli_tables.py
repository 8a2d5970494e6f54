"""What the CLI's tables do with cells from users: control characters are escaped, long
cells are cut with an ellipsis (a job name cannot widen every row of ``weir list``), and
savepoint paths stay whole."""

from __future__ import annotations

import pytest

from weir.cli.jobs import job_details_text, jobs_table
from weir.cli.savepoints import checkpoints_table
from weir.cli.tables import MAX_CELL_WIDTH, escape_control, render_table, truncate
from weir.proto import jobmanager_pb2 as pb

NOW = 1_700_000_100.0
ESC = "\x1b"


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),  # clear screen, colour
    ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),  # set the window title
    ("a\rb\x08c\x00d\x7fe", "a\\x0db\\x08c\\x00d\\x7fe"),
    ("\x9b31m", "\\x9b31m"),  # the C1 control sequence introducer
    ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
    ("\u2066x\u2069", "\\u2066x\\u2069"),  # bidirectional isolate
    ("Übersicht → 日本語 ✓", "Übersicht → 日本語 ✓"),  # letters and symbols stay
])
def test_control_characters_are_escaped(raw: str, shown: str) -> None:
    assert escape_control(raw) == shown


def test_truncate_cuts_with_an_ellipsis() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("x" * 10, 10) == "x" * 10
    assert truncate("x" * 11, 10) == "x" * 9 + "\u2026"
    assert len(truncate("y" * 1_000_000, MAX_CELL_WIDTH)) == MAX_CELL_WIDTH


def _job(name: str, job_id: str = "a" * 32, state: int = pb.RUNNING) -> pb.JobSummary:
    return pb.JobSummary(job_id=job_id, name=name, state=state, start_time=NOW - 100)


def test_a_huge_job_name_does_not_widen_the_list() -> None:
    huge = "n" * 1_000_000
    table = jobs_table([_job(huge), _job("small", "b" * 32)], NOW)

    lines = table.splitlines()
    assert max(map(len, lines)) < 200
    assert lines[1].split("  ")[1] == "n" * (MAX_CELL_WIDTH - 1) + "\u2026"
    small = lines[2]
    assert small.startswith("b" * 32 + "  small ")
    assert small.index("RUNNING") == lines[0].index("STATE")  # columns still line up


def test_control_characters_in_a_job_name_do_not_reach_the_terminal() -> None:
    table = jobs_table([_job("evil\x1b[2J\x1b]0;title\x07\nname")], NOW)

    assert ESC not in table and "\x07" not in table
    assert len(table.splitlines()) == 2
    assert "evil\\x1b[2J\\x1b]0;title\\x07 name" in table


def test_status_escapes_the_name_and_the_failure_cause() -> None:
    job = pb.JobDetails(job_id="c" * 32, name="x\x1b[8m", state=pb.FAILED,
                        start_time=NOW - 10, end_time=NOW,
                        failure_cause="Traceback:\n  File \"job.py\"\nValueError: \x1b[31mbad")
    job.vertices.add(id="v", name="Source: \x1b[1mticks", parallelism=1).subtasks.add(
        index=0, state=pb.TASK_FAILED, taskmanager="taskmanager-0")

    text = job_details_text(job, NOW)

    assert ESC not in text
    assert "Name:" in text and "x\\x1b[8m" in text
    assert "Source: \\x1b[1mticks" in text
    assert text.endswith('Failure cause:\nTraceback:\n  File "job.py"\nValueError: \\x1b[31mbad')


def test_checkpoint_paths_are_never_cut() -> None:
    path = "s3://bucket/" + "deep/" * 40 + "savepoint-abcdef-0123456789ab"
    checkpoint = pb.CheckpointInfo(id=3, status=pb.COMPLETED, is_savepoint=True,
                                   trigger_time=NOW, duration_ms=20, size_bytes=10, path=path)

    table = checkpoints_table([checkpoint])

    assert path in table


def test_render_table_takes_a_width_per_column() -> None:
    table = render_table(("A", "B"), [("a" * 10, "b" * 10)], max_widths=(4, None))

    assert table.splitlines()[1] == "aaa\u2026  " + "b" * 10
    with pytest.raises(ValueError, match="max_widths"):
        render_table(("A", "B"), [("a", "b")], max_widths=(4,))
