"""The ONNX Runtime trunk: the same results as PyTorch, hash-checked, dropped when the weights change."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from classifier_fixtures import BUNDLED_MODELS, export_random_classifier, head_like  # noqa: E402

from brainlens.core.errors import ModelError  # noqa: E402
from brainlens.ml.classifier_engine import load_classifier  # noqa: E402
from brainlens.ml.classify import classify_arrays  # noqa: E402
from brainlens.ml.registry import get_entry, load_manifest  # noqa: E402
from brainlens.training.export_onnx import export_classifier_trunk, main  # noqa: E402


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [head_like(), head_like()[::-1].copy(), (rng.random((180, 200)) * 255).astype(np.uint8)]


def _same_results(a, b) -> None:
    for x, y in zip(a, b):
        assert x.label == y.label and x.ood == y.ood
        np.testing.assert_allclose([x.probabilities[k] for k in x.probabilities],
                                   [y.probabilities[k] for k in x.probabilities], atol=1e-4)
        assert x.ood_score == pytest.approx(y.ood_score, rel=1e-3)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    directory = export_random_classifier(tmp_path_factory.mktemp("models"), arch="efflite0")
    spec = export_classifier_trunk("efflite0", directory)
    return directory, spec


def test_export_is_listed_and_gives_the_pytorch_results(exported) -> None:
    directory, spec = exported
    assert get_entry("efflite0", directory).extra["onnx"]["file"] == spec["file"]
    assert (directory / spec["file"]).is_file() and spec["max_abs_diff"] < 1e-3
    fast = load_classifier("efflite0", device="cpu", directory=directory)
    plain = load_classifier("efflite0", device="cpu", directory=directory, onnx=False)
    assert fast.trunk is not None and plain.trunk is None
    _same_results(classify_arrays(_images(), fast), classify_arrays(_images(), plain))


def test_a_tampered_or_missing_export_is_refused(exported, tmp_path) -> None:
    import shutil

    directory, spec = exported
    copy = tmp_path / "models"
    shutil.copytree(directory, copy)
    onnx_file = copy / spec["file"]
    onnx_file.write_bytes(onnx_file.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="ONNX file failed its integrity check"):
        load_classifier("efflite0", device="cpu", directory=copy)
    onnx_file.unlink()
    with pytest.raises(ModelError, match="ONNX file .* is missing"):
        load_classifier("efflite0", device="cpu", directory=copy)


def test_new_weights_drop_the_old_export(tmp_path) -> None:
    directory = export_random_classifier(tmp_path, arch="efflite0")
    export_classifier_trunk("efflite0", directory)
    export_random_classifier(directory, arch="efflite0", seed=1)  # retrained: the manifest row is rewritten
    assert "onnx" not in get_entry("efflite0", directory).extra
    assert load_classifier("efflite0", device="cpu", directory=directory).trunk is None


def test_export_cli_reports_an_unknown_model_in_one_line(tmp_path, capsys) -> None:
    assert main(["--model", "nope", "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model 'nope'" in err and not list(tmp_path.iterdir())


def test_bundled_export_matches_the_bundled_weights() -> None:
    entry = load_manifest(BUNDLED_MODELS).get("efflite0")
    if entry is None or "onnx" not in entry.extra:
        pytest.fail("the bundled efflite0 ships no ONNX export: run python -m brainlens.training.export_onnx")
    fast = load_classifier("efflite0", device="cpu", directory=BUNDLED_MODELS)
    plain = load_classifier("efflite0", device="cpu", directory=BUNDLED_MODELS, onnx=False)
    assert fast.trunk is not None
    _same_results(classify_arrays(_images(), fast), classify_arrays(_images(), plain))
