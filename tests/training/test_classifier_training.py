"""Classifier training: a tiny run checkpoints every epoch and resumes from last.pt where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from brainlens.ml.classifier_models import CLASS_NAMES
from brainlens.training.classifier import main


def _tiny_image_set(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for part, n in (("train", 8), ("test", 2)):
        for k, cls in enumerate(CLASS_NAMES):
            folder = root / part / cls
            folder.mkdir(parents=True)
            for i in range(n):
                img = (rng.random((48, 48)) * 200).astype(np.uint8)  # distinct images: no duplicate groups
                cv2.circle(img, (12 + 8 * k, 24), 6, 255, -1)
                cv2.imwrite(str(folder / f"{i}.png"), img)
    return root


def test_tiny_run_checkpoints_and_resumes(tmp_path: Path, capsys) -> None:
    data = _tiny_image_set(tmp_path / "data")
    out = tmp_path / "runs"
    args = ["--arch", "brainresnet", "--data", str(data), "--out", str(out), "--batch", "8", "--max-minutes", "5"]
    assert main(args + ["--epochs", "1"]) == 0
    run = out / "brainresnet"
    assert (run / "last.pt").exists() and (run / "best.pt").exists()
    assert json.loads((run / "train_summary.json").read_text())["epoch"] == 1
    capsys.readouterr()
    assert main(args + ["--epochs", "2", "--resume"]) == 0
    assert "resumed at epoch 1" in capsys.readouterr().err
    log = [json.loads(line) for line in (run / "train.log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["epoch"] == 2 and summary["step"] > 0
