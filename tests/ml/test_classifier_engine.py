"""The classifier engine end to end on randomly initialised weights exported through the real registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from classifier_fixtures import export_random_classifier, head_like

from brainlens.core.errors import InputError, LoadError, ModelError
from brainlens.ml.classifier_engine import embed, fuse_batchnorm, head, load_classifier, optimise_for_inference
from brainlens.ml.classifier_models import CLASS_NAMES, build_model
from brainlens.ml.classify import OOD_LABEL, classify, classify_arrays, classify_many
from brainlens.ml.gradcam import gradcam, overlay


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    torch.set_num_threads(1)
    return load_classifier("brainresnet", device="cpu",
                           directory=export_random_classifier(tmp_path_factory.mktemp("models")))


@pytest.mark.parametrize("arch", ["brainresnet", "gbmnet"])
def test_embed_head_and_fusion_match_the_network(arch: str) -> None:
    torch.manual_seed(0)
    net = build_model(arch).eval()
    for m in net.modules():  # non-trivial BatchNorm statistics so folding is really exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 1, 256, 256)
    with torch.no_grad():
        ref = net(x)
        assert torch.allclose(head(net, embed(net, x)), ref, atol=1e-5)
        fused = fuse_batchnorm(net)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
        assert torch.allclose(fused(x), ref, atol=1e-4)


def test_inference_form_of_efficientnet_lite_gives_the_trained_outputs() -> None:
    """optimise_for_inference folds BatchNorm and the symmetric 'same' pads and makes activations in place;
    the one-sided stride-2 pads must stay, and the outputs must not move."""
    torch.manual_seed(0)
    net = build_model("efflite0").eval()
    x = torch.randn(2, 1, 256, 256)
    with torch.no_grad():
        ref = net(x)
        fast = optimise_for_inference(net, torch.device("cpu"))
        out = fast(x.contiguous(memory_format=torch.channels_last))
    pads = [m.static_padding for m in fast.modules() if isinstance(getattr(m, "static_padding", None),
                                                                   torch.nn.ZeroPad2d)]
    assert pads and all(len(set(p.padding)) > 1 for p in pads)  # only one-sided pads are left
    assert all(m.inplace for m in fast.modules() if isinstance(m, torch.nn.ReLU6))
    assert torch.allclose(out, ref, atol=1e-4)


def test_result_fields_and_calibration(clf) -> None:
    res = classify(head_like(), clf)
    assert set(res.probabilities) == set(CLASS_NAMES)
    assert abs(sum(res.probabilities.values()) - 1.0) < 1e-5
    assert res.label in CLASS_NAMES and res.confidence == max(res.probabilities.values())
    assert 0.0 <= res.entropy <= np.log(4) + 1e-6 and res.mutual_information >= 0.0
    assert clf.temperature == 1.5 and clf.mc_samples == 4
    plain = classify(head_like(), clf, mc_samples=0, tta=False)
    assert plain.mutual_information == pytest.approx(0.0, abs=1e-6)  # one sample: no disagreement
    hot = classify_arrays([head_like()], clf, mc_samples=0, tta=False)[0]
    assert hot.probabilities == plain.probabilities


def test_results_are_deterministic_and_independent_of_batch(clf) -> None:
    imgs = [head_like(seed=s) for s in range(3)]
    one = [classify(i, clf) for i in imgs]
    many = classify_many(imgs, clf, batch=2)
    for a, b in zip(one, many):
        for k in CLASS_NAMES:
            assert a.probabilities[k] == pytest.approx(b.probabilities[k], abs=1e-5)
        assert a.entropy == pytest.approx(b.entropy, abs=1e-5)


def test_blank_is_out_of_distribution_but_keeps_probabilities(clf) -> None:
    res = classify(np.zeros((100, 120), np.uint8), clf)
    assert res.ood and res.display_label == OOD_LABEL and OOD_LABEL in res.message()
    assert abs(sum(res.probabilities.values()) - 1.0) < 1e-5
    assert not classify(head_like(), clf).ood  # threshold 1e6 in this test model


def test_progress_and_cancel(clf) -> None:
    from brainlens.core.errors import Cancelled

    seen = []
    classify_many([head_like()] * 3, clf, batch=1, progress=lambda f, m: seen.append(f))
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])
    with pytest.raises(Cancelled):
        classify_many([head_like()] * 3, clf, batch=1, cancel=lambda: True)


def test_gradcam_on_original_grid_and_overlay(clf) -> None:
    img = np.zeros((180, 260), np.uint8)
    img[20:170, 50:200] = head_like(150)
    heat, k = gradcam(img, clf, target="glioma")
    assert heat.shape == img.shape and k == 0
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert not heat[:, :40].any()  # outside the head crop the map is zero
    ov = overlay(img, heat)
    assert ov.shape == (*img.shape, 3) and ov.dtype == np.uint8
    rgb = np.repeat(img[..., None], 3, axis=2)
    assert gradcam(rgb, clf)[0].shape == img.shape
    with pytest.raises(InputError):
        gradcam(img, clf, target="astrocytoma")


def test_bad_inputs_give_one_line_errors(clf, tmp_path) -> None:
    with pytest.raises(InputError):
        classify(np.zeros((4, 4, 4, 4)), clf)
    with pytest.raises(InputError):
        classify(np.array([["a", "b"]]), clf)
    with pytest.raises(InputError):
        classify(np.ones((8, 8), np.complex64), clf)
    assert classify(np.full((1, 40), np.nan), clf).ood  # nothing finite: blank
    with pytest.raises(LoadError):
        classify(tmp_path / "missing.png", clf)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    with pytest.raises(LoadError) as err:
        classify(junk, clf)
    assert "\n" not in str(err.value)


def test_gbmnet_half_precision_export_loads(tmp_path) -> None:
    clf = load_classifier("gbmnet", device="cpu", directory=export_random_classifier(tmp_path, "gbmnet"))
    assert clf.arch == "gbmnet" and clf.entry.dtype == "float16"
    assert classify(head_like(), clf).label in CLASS_NAMES
    assert gradcam(head_like(), clf)[0].shape == (224, 224)


def test_wrong_kind_or_preprocessing_is_refused(tmp_path) -> None:
    from brainlens.ml.registry import write_weights

    net = build_model("gbmnet")
    write_weights(net.state_dict(), "odd", "1", "classifier", input={"preprocess": "other-v9"},
                  labels=list(CLASS_NAMES), extra={"arch": "gbmnet"}, directory=tmp_path)
    with pytest.raises(ModelError, match="preprocessing"):
        load_classifier("odd", directory=tmp_path)
    write_weights(net.state_dict(), "seg", "1", "segmenter", input={}, labels=[], extra={}, directory=tmp_path)
    with pytest.raises(ModelError, match="not a classifier"):
        load_classifier("seg", directory=tmp_path)


def test_colour_pictures_are_out_of_distribution_grey_rgb_is_not(clf) -> None:
    from brainlens.ml.classify import chroma

    grey_rgb = np.repeat(head_like()[..., None], 3, axis=2)
    colour = grey_rgb.copy()
    colour[..., 0] = 255 - colour[..., 0]  # strongly coloured version of the same picture
    assert chroma(grey_rgb) == 0.0 and chroma(head_like()) == 0.0 and chroma(colour) > 0.3
    res = classify(colour, clf)
    assert res.ood and res.ood_reason == "colour"
    assert classify(grey_rgb, clf).ood_reason is None


def test_efficientnet_lite_input_size_travels_through_the_manifest(tmp_path) -> None:
    """A model fine-tuned at another input size records it; the engine rebuilds the network at that size."""
    assert build_model("efflite0", input_size=192).input_size == 192
    with pytest.raises(ValueError, match="fixed input size"):
        build_model("brainresnet", input_size=192)
    directory = export_random_classifier(tmp_path, arch="efflite0", extra={"input_size": 128})
    model = load_classifier("efflite0", device="cpu", directory=directory)
    assert model.net.input_size == 128
    seen = []
    hook = model.net.features[1].register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    classify(head_like(), model, mc_samples=0, tta=False)
    hook.remove()
    assert seen == [(128, 128)]
