"""Output folders: refused before any work when unusable, published as one set, never half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from brainlens.core.errors import InputError
from brainlens.io.publish import check_out_dir, check_out_file, publish_dir

NAMES = ("mask.nii.gz", "measurements.json")


def _write_set(text: str):
    def write(folder: Path) -> None:
        for name in NAMES:
            (folder / name).write_text(text)
    return write


def _hidden_leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_new_folder_is_published_whole(tmp_path: Path) -> None:
    out = tmp_path / "results"
    publish_dir(out, _write_set("new"))
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
    assert (out / NAMES[0]).read_text() == "new" and not _hidden_leftovers(tmp_path)


def test_previous_result_is_replaced_as_a_set(tmp_path: Path) -> None:
    out = tmp_path / "results"
    publish_dir(out, _write_set("old"))
    publish_dir(out, _write_set("new"))
    assert {(out / n).read_text() for n in NAMES} == {"new"} and not _hidden_leftovers(tmp_path)


def test_failed_write_leaves_the_previous_result(tmp_path: Path) -> None:
    out = tmp_path / "results"
    publish_dir(out, _write_set("old"))

    def half(folder: Path) -> None:
        (folder / NAMES[0]).write_text("new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish_dir(out, half)
    assert {(out / n).read_text() for n in NAMES} == {"old"} and not _hidden_leftovers(tmp_path)


def test_symlink_planted_in_out_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    out = tmp_path / "results"
    out.mkdir()
    (out / NAMES[0]).symlink_to(victim)
    check_out_dir(out, [], NAMES)
    publish_dir(out, _write_set("new"))
    assert victim.read_text() == "keep"
    assert not (out / NAMES[0]).is_symlink() and (out / NAMES[0]).read_text() == "new"


def test_kill_in_the_middle_of_writing_leaves_out_untouched(tmp_path: Path) -> None:
    out = tmp_path / "results"
    publish_dir(out, _write_set("old"))
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from brainlens.io.publish import publish_dir

        def write(folder):
            (folder / {NAMES[0]!r}).write_text("new")
            os.kill(os.getpid(), signal.SIGKILL)

        publish_dir(Path({str(out)!r}), write)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert {(out / n).read_text() for n in NAMES} == {"old"}
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)


@pytest.mark.parametrize("make, fragment", [
    (lambda t: (t / "f.txt").write_text("x") and t / "f.txt", "not a folder"),
    (lambda t: t / "f.txt" / "sub" if (t / "f.txt").write_text("x") else None, "not a folder"),
    (lambda t: Path("/proc/brainlens-out"), "cannot write"),
    (lambda t: (t / "study").mkdir() or t / "study", "inside the input folder"),
    (lambda t: (t / "study").mkdir() or t / "study" / "results", "inside the input folder"),
    (lambda t: (t / "o").mkdir() or (t / "o" / "notes.txt").write_text("x") and t / "o", "holds other files"),
])
def test_unusable_out_folder_is_refused_up_front(tmp_path: Path, make, fragment: str) -> None:
    out = make(tmp_path)
    with pytest.raises(InputError, match=fragment):
        check_out_dir(out, [tmp_path / "study"], NAMES)
    assert not os.path.lexists(tmp_path / "study" / "results")


def test_out_symlink_itself_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(InputError, match="symlink"):
        check_out_dir(tmp_path / "link", [], NAMES)


@pytest.mark.parametrize("target", ["/dev/null", "/dev/full", "/proc/x.png", "DIR", "MISSING/x.png"])
def test_unusable_screenshot_target_is_refused(tmp_path: Path, target: str) -> None:
    path = Path(target.replace("DIR", str(tmp_path)).replace("MISSING", str(tmp_path / "missing")))
    with pytest.raises(InputError):
        check_out_file(path, "--screenshot")
