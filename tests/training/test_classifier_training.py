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


def test_init_run_continues_from_its_weights_and_refuses_another_holdout(tmp_path: Path) -> None:
    import pytest
    import torch

    data = _tiny_image_set(tmp_path / "data")
    args = ["--arch", "brainresnet", "--data", str(data), "--batch", "8", "--max-minutes", "5", "--epochs", "1"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    first = torch.load(tmp_path / "a" / "brainresnet" / "best.pt", weights_only=True)["model"]
    assert main(args + ["--out", str(tmp_path / "b"), "--init-run", str(tmp_path / "a"), "--lr-scale", "0"]) == 0
    second = torch.load(tmp_path / "b" / "brainresnet" / "best.pt", weights_only=True)["model"]
    # learning rate 0: the weights are exactly where the earlier run left them (batch-norm statistics aside)
    assert all(torch.equal(first[k], second[k]) for k in first if "running" not in k and "num_batches" not in k)
    with pytest.raises(SystemExit, match="held out fold"):
        main(args + ["--out", str(tmp_path / "c"), "--init-run", str(tmp_path / "a"), "--holdout-fold", "2"])
    with pytest.raises(SystemExit, match="another data split"):  # --seed moves images between the splits
        main(args + ["--out", str(tmp_path / "d"), "--init-run", str(tmp_path / "a"), "--seed", "1"])
    # --run-seed draws the run anew on the same split: allowed
    assert main(args + ["--out", str(tmp_path / "e"), "--init-run", str(tmp_path / "a"), "--run-seed", "1"]) == 0


def test_mirrored_slice_is_tumour_free_and_refused_when_the_lesion_crosses() -> None:
    from brainlens.training.classifier_slices import mirrored_slice
    from brainlens.training.mirror import head_centre_x

    rng = np.random.default_rng(0)
    data = np.zeros((60, 50, 5), np.float32)
    data[10:50, 5:45] = rng.random((40, 40, 5)) + 1.0  # a head centred at x = 29.5
    mask = np.zeros(data.shape, np.uint8)
    mask[35:45, 20:30, 1:4] = 1  # lesion on the upper-x side
    assert head_centre_x(data) in (29, 30)
    out = mirrored_slice(data, mask, 2, 1, head_centre_x(data), rng)
    assert out is not None and out.shape[2] == 1
    mid = out.shape[0] // 2
    np.testing.assert_array_equal(out[:mid, :, 0], data[:mid, :, 2])  # the healthy half is kept as it was
    crossing = mask.copy()
    crossing[15:45, 20:30, 2] = 1
    assert mirrored_slice(data, crossing, 2, 1, head_centre_x(data), rng) is None


def test_selection_by_balanced_accuracy_keeps_the_more_accurate_epoch() -> None:
    from brainlens.training.classifier import selection_score

    early = {"loss": 0.30, "balanced_acc": 0.95}
    late = {"loss": 0.34, "balanced_acc": 0.97}  # label smoothing: the loss rises while accuracy still climbs
    assert selection_score(late, "balanced_acc") > selection_score(early, "balanced_acc")
    assert selection_score(early, "loss") > selection_score(late, "loss")
    tie = {"loss": 0.32, "balanced_acc": 0.97}
    assert selection_score(tie, "balanced_acc") > selection_score(late, "balanced_acc")  # the loss breaks ties
    assert selection_score({"loss": 0.30004, "balanced_acc": 0.9}, "loss") == selection_score(early, "loss")


def test_run_network_rebuilds_the_input_size_the_run_was_trained_at(tmp_path: Path) -> None:
    import torch

    from brainlens.ml.classifier_models import build_model
    from brainlens.training.evaluate_classifier_study import run_network

    run = tmp_path / "efflite0"
    run.mkdir()
    torch.save({"model": build_model("efflite0", input_size=96).state_dict(), "epoch": 3}, run / "best.pt")
    (run / "train_summary.json").write_text(json.dumps({"args": {"input_size": 96, "holdout_fold": 2}}))
    net, ckpt = run_network(run, "efflite0")
    assert net.input_size == 96 and ckpt["epoch"] == 3 and not net.training
    (run / "train_summary.json").unlink()  # a run still in progress: the default size
    assert run_network(run, "efflite0")[0].input_size == 160


def test_repeat_3d_shows_each_training_fold_slice_that_often(monkeypatch, tmp_path: Path) -> None:
    from brainlens.training import classifier

    fake = {"images": np.arange(3, dtype=np.uint8)[:, None, None] * np.ones((3, 4, 4), np.uint8),
            "labels": np.array([0, 2, 0]), "slices": [{"fold": 1}, {"fold": 1}, {"fold": 2}]}
    monkeypatch.setattr(classifier, "build_slice_set", lambda *a, **k: fake)
    data = {"split": {"train": [0, 1]}, "images": np.full((2, 4, 4), 9, np.uint8), "labels": np.array([1, 3])}
    for repeat, expected in ((1, [1, 3, 0, 2]), (2, [1, 3, 0, 2, 0, 2])):
        args = classifier.parse_args(["--volumes", str(tmp_path), "--holdout-fold", "2", "--repeat-3d", str(repeat)])
        images, labels, n_3d = classifier.training_set(args, data)
        assert labels.tolist() == expected and n_3d == len(expected) - 2
        assert 2 not in images[2:, 0, 0]  # the held-out fold's slice never enters, however often the rest repeat


def _write_study(folder: Path, stem: str, sequences: tuple[str, ...], mask_name: str) -> None:
    """A 1-mm head (ellipsoid of noise) with a lesion in its middle slices: many tumour-free slices above and
    below it, as in a BraTS study."""
    import nibabel as nib

    rng = np.random.default_rng(len(stem))
    x, y, z = np.meshgrid(np.arange(48), np.arange(48), np.arange(90), indexing="ij")
    head = ((x - 24) / 20.0) ** 2 + ((y - 24) / 22.0) ** 2 + ((z - 45) / 42.0) ** 2 <= 1.0
    lesion = ((x - 30) ** 2 + (y - 24) ** 2 <= 49) & (z >= 40) & (z < 50)
    folder.mkdir(parents=True, exist_ok=True)
    for s in sequences:
        data = np.where(head, rng.random(head.shape) * 100 + 100, 0) + lesion * 80
        nib.save(nib.Nifti1Image(data.astype(np.float32), np.eye(4)), str(folder / f"{stem}_{s}.nii.gz"))
    nib.save(nib.Nifti1Image(lesion.astype(np.uint8), np.eye(4)), str(folder / mask_name))


def test_slice_set_v5_doubles_the_tumour_free_slices_of_skull_stripped_studies_only(tmp_path: Path) -> None:
    from brainlens.training.classifier_slices import BRATS_SEQUENCES, NOTUMOR, build_slice_set

    root = tmp_path / "data"
    _write_study(root / "brats" / "Brats18_X_1", "Brats18_X_1", BRATS_SEQUENCES, "Brats18_X_1_seg.nii.gz")
    _write_study(root / "lgg-flair", "TCGA_X_1", ("flair",), "TCGA_X_1_mask.nii.gz")

    def free_slices(version: str) -> dict[str, int]:
        s = build_slice_set(root, tmp_path / f"cache-{version}", version=version)
        free = [r for r, label in zip(s["slices"], s["labels"]) if label == NOTUMOR and not r["mirrored"]]
        return {src: sum(r["source"] == src for r in free) for src in ("brats", "lgg-flair")}

    v4, v5 = free_slices("v4"), free_slices("v5")
    assert v4 == {"brats": 12 * len(BRATS_SEQUENCES), "lgg-flair": 12}
    assert v5 == {"brats": 24 * len(BRATS_SEQUENCES), "lgg-flair": 12}
