"""Run the CLI over corpus cases, one subprocess per command with a timeout and a memory cap, and list every
broken promise (a "defect"): exit other than 0/2, a traceback, more than one stderr line on exit 2, stray
library output on stderr, non-strict JSON on exit 0, a refusal for lack of memory (limits must be checked from
the header), outputs left behind on exit 2, a file the user had changed.

As a script it builds the corpus in a temp folder, runs it and prints per-class counts:
    PYTHONPATH=app python tests/corpus/corpus_runner.py [--fast] [--code DIR] [--report FILE]
``--code DIR`` runs another checkout's ``brainlens`` package (for before/after counts).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_corpus import Case, build_corpus  # noqa: E402

APP = Path(__file__).resolve().parents[2] / "app"
GIB = 1 << 30
# stderr lines a successful run may print: our notes, warnings and segment's progress
_OK_STDERR = re.compile(r"^(brainlens: |warning: |wrote |\s*\d+%  )")
_PROGRESS = re.compile(r"^\s*\d+%  ")


@dataclass
class Run:
    case: Case
    command: str
    argv: list[str]
    rc: int | None
    stdout: str
    stderr: str
    defects: list[str]


def _strict_json(text: str) -> None:
    def refuse(token: str):
        raise ValueError(f"non-strict JSON constant {token}")
    json.loads(text, parse_constant=refuse)


def commands_for(case: Case, out: Path) -> list[tuple[str, list[str], Path | None]]:
    """(label, argv after `brainlens`, output path the run may create) for a case."""
    if case.commands is not None:
        runs = []
        for argv in case.commands:
            argv = [a.replace("{out}", str(out)) for a in argv]
            target = next((Path(argv[i + 1]) for i, a in enumerate(argv[:-1]) if a in ("--out", "--screenshot")),
                          None)
            label = "screenshot" if "--screenshot" in argv else argv[0]
            runs.append((label, argv, target))
        return runs
    runs = [("info", ["info", *case.args], None), ("info --json", ["info", "--json", *case.args], None),
            ("classify --json", ["classify", "--json", "--device", "cpu", *case.args], None)]
    if case.three_d:
        runs.append(("segment", ["segment", "--flair", case.args[0], "--samples", "1", "--device", "cpu", "--json",
                                 "--out", str(out / "seg")], out / "seg"))
        runs.append(("screenshot", [case.args[0], "--screenshot", str(out / "shot.png")], out / "shot.png"))
    return runs


def _limits(cap: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.setsid()  # a timeout kills the whole group
    return apply


def _snapshot(paths: list[str]) -> dict[str, str]:
    out = {}
    for p in paths:
        try:
            if os.path.isfile(p) and not os.path.islink(p) and os.stat(p).st_size < 50_000_000:
                out[p] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
        except OSError:
            pass
    return out


def _state(path: Path | None):
    """What is at an output path now: None, the names in a folder, or the kind of thing it is."""
    if path is None or not os.path.lexists(path):
        return None
    if path.is_dir() and not path.is_symlink():
        return sorted(os.listdir(path))
    return "present"


def run_one(case: Case, label: str, argv: list[str], target: Path | None, code: Path, protect: list[str],
            heavy_timeout: float = 300) -> Run:
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen",
           "PYTHONWARNINGS": "", **case.env}
    heavy = label.startswith(("classify", "segment")) or case.cls == "manifest"
    timeout = heavy_timeout if heavy else heavy_timeout / 3
    before, target_before = _snapshot(protect), _state(target)
    proc = subprocess.Popen([sys.executable, "-m", "brainlens", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                            preexec_fn=_limits((6 if heavy else 3) * GIB))
    defects = []
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        rc = None
        defects.append(f"hang (no answer in {timeout} s)")
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if rc not in (0, 2, None):
        defects.append(f"exit {rc}")
    if "Traceback" in stderr:
        defects.append("traceback")
    if rc == 2:
        errors = [ln for ln in lines if not _PROGRESS.match(ln)]
        if len(errors) != 1:
            defects.append(f"{len(errors)} stderr lines on exit 2")
        if "not enough memory" in stderr or "MemoryError" in stderr:
            defects.append("memory: refused only after running out")
        if _state(target) != target_before:
            defects.append("output left behind on exit 2")
    if rc == 0:
        stray = [ln for ln in lines if not _OK_STDERR.match(ln)]
        if stray:
            defects.append(f"stray stderr: {stray[0][:80]!r}")
        if "--json" in argv:
            try:
                _strict_json(stdout)
            except ValueError as exc:
                defects.append(f"invalid JSON: {str(exc)[:60]}")
    changed = [p for p, h in before.items() if _snapshot([p]).get(p) != h]
    if changed:
        defects.append(f"changed a file the user had: {Path(changed[0]).name}")
    return Run(case, label, argv, rc, stdout, stderr, defects)


def _record(r: Run) -> str:
    return json.dumps({"case": r.case.name, "cls": r.case.cls, "command": r.command, "rc": r.rc,
                       "defects": r.defects, "stderr": r.stderr[-1500:]})


def run_cases(cases: list[Case], work: Path, code: Path = APP, workers: int = 2,
              heavy_timeout: float = 300, log: Path | None = None) -> list[Run]:
    """Every command of every case; with ``log``, each finished run is appended there at once (JSON lines)."""
    protect = [str(p) for p in (work / "output").rglob("*") if p.is_file() and "models" not in p.parts]
    if "BRAINLENS_SETTINGS_DIR" not in os.environ:  # the GUI runs (--screenshot) keep their settings here
        (work / "settings").mkdir(exist_ok=True)
        os.environ["BRAINLENS_SETTINGS_DIR"] = str(work / "settings")
    jobs = []
    for n, case in enumerate(cases):
        out = work / "runs" / f"{n:04d}"
        out.mkdir(parents=True, exist_ok=True)
        jobs.extend((case, *cmd) for cmd in commands_for(case, out))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        def one(job) -> Run:
            run = run_one(*job, code, protect, heavy_timeout)
            if log is not None:
                with open(log, "a") as fh:
                    fh.write(_record(run) + "\n")
            return run

        return list(pool.map(one, jobs))


def summary(cases: list[Case], runs: list[Run]) -> str:
    sizes = Counter(c.cls for c in cases)
    by_cls: dict[str, Counter] = defaultdict(Counter)
    total: dict[str, Counter] = defaultdict(Counter)
    for r in runs:
        total[r.command]["runs"] += 1
        total[r.command]["defects"] += bool(r.defects)
        by_cls[r.case.cls]["runs"] += 1
        by_cls[r.case.cls]["defects"] += bool(r.defects)
    lines = [f"{len(cases)} inputs, {len(runs)} runs, {sum(bool(r.defects) for r in runs)} with defects"]
    lines += [f"  class {k:22s} inputs {sizes[k]:4d}  runs {v['runs']:4d}  defects {v['defects']:4d}"
              for k, v in sorted(by_cls.items())]
    lines += [f"  command {k:20s} runs {v['runs']:4d}  defects {v['defects']:4d}" for k, v in sorted(total.items())]
    return "\n".join(lines)


def main() -> None:
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--fast", action="store_true", help="only the representative subset")
    p.add_argument("--code", type=Path, default=APP, help="folder holding the brainlens package to test")
    p.add_argument("--report", type=Path, help="write every defect here as JSON lines")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=300, help="seconds for classify/segment (a third for info)")
    p.add_argument("--shard", default="1/1", help="K/N: run every N-th case starting at the K-th")
    p.add_argument("--log", type=Path, help="append every run here as it finishes (JSON lines)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="brainlens-corpus-") as tmp:
        cases = build_corpus(Path(tmp) / "corpus")
        if a.fast:
            cases = [c for c in cases if c.fast]
        k, n = (int(x) for x in a.shard.split("/"))
        cases = cases[k - 1::n]
        runs = run_cases(cases, Path(tmp) / "corpus", a.code, a.workers, a.timeout, a.log)
        print(summary(cases, runs))
        if a.report:
            with open(a.report, "w") as fh:
                fh.writelines(_record(r) + "\n" for r in runs if r.defects)


if __name__ == "__main__":
    main()
