"""Special files, odd names, output targets and tampered model manifests for the hostile corpus."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import nibabel as nib
import numpy as np
from make_corpus import Case, mkfifo, write
from PIL import Image

from brainlens.ml.registry import models_dir


def _good_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(1).random((64, 64)) * 255).astype(np.uint8)).save(path, "PNG")
    return path


def _good_nifti(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (np.random.default_rng(2).random((24, 24, 12)) * 100).astype(np.int16)
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return path


def special_cases(root: Path) -> list[Case]:
    cases: list[Case] = []

    def add(name: str, args: list[str], three_d: bool = False, fast: bool = False) -> None:
        cases.append(Case(f"special/{name}", "special_files", args, three_d=three_d, fast=fast))

    for suffix in (".nii", ".dcm", "", ".png", ".nrrd"):
        add(f"fifo{suffix or '_nosuffix'}", [str(mkfifo(root / f"fifo{suffix}"))], fast=suffix == ".nii")
        link = root / f"devzero{suffix}"
        link.symlink_to("/dev/zero")
        add(f"devzero{suffix or '_nosuffix'}", [str(link)], fast=suffix == "")
    folder = root / "folder_with_fifo"
    _good_png(folder / "a.png")
    mkfifo(folder / "pipe.dcm")
    add("folder_with_fifo", [str(folder)], fast=True)
    folder = root / "series_with_fifo_and_devzero"
    _good_nifti(folder / "flair.nii.gz")
    mkfifo(folder / "pipe")
    (folder / "zero.dcm").symlink_to("/dev/zero")
    (folder / "urandom").symlink_to("/dev/urandom")
    add("series_with_fifo_and_devzero", [str(folder)], three_d=True)
    me = root / "self.nii"
    me.symlink_to(me.name)
    add("symlink_self", [str(me)], fast=True)
    (root / "loop_a.png").symlink_to("loop_b.png")
    (root / "loop_b.png").symlink_to("loop_a.png")
    add("symlink_loop", [str(root / "loop_a.png")])
    folder = root / "folder_with_loops"
    _good_png(folder / "ok.png")
    (folder / "x.dcm").symlink_to("y.dcm")
    (folder / "y.dcm").symlink_to("x.dcm")
    (folder / "self").symlink_to("self")
    (folder / "dangling.nii").symlink_to("/nonexistent/target.nii")
    (folder / "sub").symlink_to(".")
    add("folder_with_symlink_loops", [str(folder)], fast=True)
    (root / "dangling.nii").symlink_to("/nonexistent/target.nii")
    add("dangling", [str(root / "dangling.nii")])
    sock = root / "socket.dcm"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()
    add("socket", [str(sock)])
    add("dev_null", ["/dev/null"])
    add("empty_path", [""], fast=True)
    add("blank_path", [" "])
    (root / "empty_folder").mkdir()
    add("empty_folder", [str(root / "empty_folder")])
    hidden = root / "hidden_only"
    _good_png(hidden / ".secret.png")
    write(hidden / "notes.txt", b"hello\n")
    add("hidden_only", [str(hidden)])
    deep = root / "deep"
    for k in range(60):
        deep = deep / f"d{k}"
    _good_png(deep / "x.png")
    add("deep_folder", [str(root / "deep")])
    many = root / "many_empty"
    many.mkdir()
    for k in range(400):
        (many / f"IM{k:04d}.dcm").touch()
    add("many_empty_dicoms", [str(many)])
    return cases


ODD_NAMES = {"newline": "new\nline", "cr": "carriage\rreturn", "tab": "tab\tname", "escape": "esc\x1b[31mred",
             "bell": "bell\x07", "unicode": "ünïcødé 脑", "dash": "-dash", "spaces": " lead and trail ",
             "long": "L" * 200, "quote": "it's \"quoted\"", "backslash": "back\\slash"}


def odd_name_cases(root: Path) -> list[Case]:
    cases = []
    for key, stem in ODD_NAMES.items():
        good = _good_png(root / f"{stem}.png")
        cases.append(Case(f"names/{key}_png", "odd_names", [str(good)], fast=key == "newline"))
        broken = write(root / f"{stem}.nii", b"broken\n")
        cases.append(Case(f"names/{key}_broken", "odd_names", [str(broken)], three_d=True,
                          fast=key in ("newline", "cr")))
        cases.append(Case(f"names/{key}_missing", "odd_names", [str(root / f"missing {stem}.nii")], three_d=True))
    raw = os.fsencode(str(root)) + b"/bad\xff\xfe.nii"
    with open(raw, "wb") as fh:
        fh.write(b"broken")
    cases.append(Case("names/non_utf8", "odd_names", [os.fsdecode(raw)], three_d=True))
    return cases


def output_cases(root: Path) -> list[Case]:
    """`segment --out` and `--screenshot` targets that must be refused before any work (or written safely)."""
    study = root / "study"
    flair = _good_nifti(study / "flair.nii.gz")
    seg = ["segment", "--flair", str(flair), "--samples", "1", "--device", "cpu", "--json", "--out"]
    existing = write(root / "existing_file.txt", b"keep me\n")
    outside = write(root / "outside_victim.txt", b"do not overwrite\n")
    linked = root / "out_with_symlink"
    linked.mkdir()
    (linked / "mask.nii.gz").symlink_to(outside)
    foreign = root / "out_with_other_files"
    write(foreign / "notes.txt", b"user notes\n")
    targets = {
        "out_existing_file": str(existing), "out_unwritable": "/proc/brainlens-out",
        "out_under_a_file": str(existing / "sub"), "out_is_input_folder": str(study),
        "out_inside_input_folder": str(study / "results"), "out_symlink_inside": str(linked),
        "out_with_other_files": str(foreign), "out_empty_path": "",
    }
    fast = {"out_existing_file", "out_unwritable", "out_is_input_folder", "out_symlink_inside"}
    cases = [Case(f"outputs/{k}", "outputs", [str(flair)], commands=[seg + [v]], fast=k in fast)
             for k, v in targets.items()]
    cases.append(Case("outputs/out_new_folder", "outputs", [str(flair)], commands=[seg + ["{out}"]]))
    shot_dir = root / "shot_dir"
    shot_dir.mkdir()
    # devices are named through symlinks: code that wrongly replaces the target then replaces only the link
    # (an old build's os.replace onto /dev/full itself turned the machine's device into a PNG)
    for dev in ("full", "null"):
        (root / f"dev_{dev}.png").symlink_to(f"/dev/{dev}")
    for name, target in {"screenshot_unwritable": "/proc/brainlens.png", "screenshot_folder": str(shot_dir),
                         "screenshot_device": str(root / "dev_full.png"),
                         "screenshot_dev_null": str(root / "dev_null.png"),
                         "screenshot_missing_parent": str(root / "no" / "such" / "x.png"),
                         "screenshot_under_a_file": str(existing / "x.png")}.items():
        cases.append(Case(f"outputs/{name}", "outputs", [str(flair)], commands=[[str(flair), "--screenshot", target]],
                          fast=name in ("screenshot_folder", "screenshot_device")))
    return cases + odd_name_cases(root / "names") + manifest_cases(root / "models", flair)


# name -> change to the first classifier and the segmenter entries of a copy of the bundled manifest
MANIFEST_EDITS = {
    "temperature_text": ("extra", "temperature", "abc"), "temperature_negative": ("extra", "temperature", -1),
    "temperature_nan": ("extra", "temperature", float("nan")), "mc_samples_negative": ("extra", "mc_samples", -5),
    "mc_samples_huge": ("extra", "mc_samples", 10**9), "init_filters_huge": ("extra", "init_filters", 10**6),
    "dropout_5": ("extra", "dropout", 5), "size_huge": ("input", "size", [10**9, 10**9]),
    "labels_not_list": (None, "labels", "glioma"), "file_traversal": (None, "file", "../../../../etc/passwd"),
    "file_dev_zero": (None, "file", "/dev/zero"), "name_missing": (None, "name", None),
    "threshold_text": ("extra", "ood_threshold", "high"), "extra_not_dict": (None, "extra", [1, 2]),
}


def manifest_cases(root: Path, flair: Path) -> list[Case]:
    src = models_dir()
    doc = json.loads((src / "manifest.json").read_text())
    png = _good_png(root / "image.png")
    cases = []
    commands = [["classify", "--json", "--device", "cpu", str(png)],
                ["segment", "--flair", str(flair), "--samples", "1", "--device", "cpu", "--json"]]

    def add(name: str, text: str) -> None:
        folder = root / name
        folder.mkdir(parents=True)
        for weights in src.glob("*.safetensors"):
            (folder / weights.name).symlink_to(weights)
        (folder / "manifest.json").write_text(text)
        cases.append(Case(f"models/{name}", "manifest", [], commands=commands, env={"BRAINLENS_MODELS": str(folder)},
                          fast=name in ("temperature_text", "deep_nesting")))

    for name, (section, key, value) in MANIFEST_EDITS.items():
        edited = json.loads(json.dumps(doc))
        for entry in edited["models"]:
            target = entry if section is None else entry.setdefault(section, {})
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
        add(name, json.dumps(edited))
    add("deep_nesting", "[" * 100000 + "]" * 100000)
    add("models_not_list", json.dumps({"models": {"a": 1}}))
    add("not_json", "{ this is not json")
    shutil.rmtree(root / "unused", ignore_errors=True)
    return cases
