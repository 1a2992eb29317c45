"""MR sequence detection (flair / t1 / t1ce / t2) from names and DICOM tags; strings and numbers only.

Names win over physics: a description says what the technologist meant, TE/TR/TI only hint at it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Tokens that say "this is some other kind of image", so TE/TR must not guess a sequence for it.
_OTHER_TOKENS = {
    "dwi", "adc", "trace", "dti", "swi", "swan", "t2star", "t2s", "perf", "perfusion", "dsc", "dce", "asl",
    "pd", "pdw", "stir", "mra", "tof", "angio", "localizer", "localiser", "scout", "survey", "fmri", "bold",
    "mrs", "spectro", "cbf", "cbv", "tractography",
}
_LABEL_TOKENS = {"seg", "segmentation", "label", "labels", "mask", "labelmap", "roi"}
_FLAIR_TOKENS = {"flair", "darkfluid", "spaceflair", "cubeflair"}
_T1_TOKENS = {"t1", "t1w", "t1wi", "t1se", "t1tse", "t1fse", "t1ffe", "t1tfe", "t13d", "mprage", "spgr",
              "fspgr", "bravo", "vibe", "t1mprage", "t1spgr", "tfl", "t1flash"}
_T1CE_TOKENS = {"t1ce", "t1c", "t1gd", "t1gad", "t1post", "t1contrast", "t1cpost", "t1wce", "t1wpost",
                "t1cgd", "t1pc", "t1wgd", "mpragegd", "mpragepost"}
_T2_TOKENS = {"t2", "t2w", "t2wi", "t2se", "t2tse", "t2fse", "t2ffe", "t2blade", "t2propeller", "t2space"}
_CONTRAST_TOKENS = {"post", "gd", "gad", "gado", "gadolinium", "contrast", "postcontrast", "ce", "c",
                    "postgd", "enhanced", "mdc", "km", "kontrast"}
_NO_CONTRAST = {"", "none", "no", "nil", "n/a", "na", "0"}


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric tokens; '+C' / 'C+' (contrast shorthand) become the token 'contrast'."""
    text = text.lower()
    text = re.sub(r"t2\s*\*", " t2star ", text)
    text = re.sub(r"(?<![a-z0-9])(\+\s*c|c\s*\+)(?![a-z0-9])", " contrast ", text)
    text = re.sub(r"\+\s*(gd|gad|contrast)", r" \1 ", text)
    return [t for t in re.split(r"[^a-z0-9]+", text) if t]


def is_label_name(text: str) -> bool:
    """True for names like 'case_seg.nii.gz' or 'tumour_mask' (a label map, not an MR contrast)."""
    return any(t in _LABEL_TOKENS for t in tokens(text))


def _from_text(words: list[str]) -> str | None:
    w = set(words)
    if w & _OTHER_TOKENS:
        return "other"
    if w & _T1CE_TOKENS:
        return "t1ce"
    t1 = bool(w & _T1_TOKENS) or any(re.fullmatch(r"t1(w|wi)?\d*d?", t) for t in w)
    t2 = bool(w & _T2_TOKENS)
    flair = bool(w & _FLAIR_TOKENS) or any("flair" in t for t in w) or {"dark", "fluid"} <= w
    if flair:
        # T1-FLAIR is a T1-weighted inversion-recovery sequence, not the dark-fluid T2 FLAIR.
        if t1 and not t2 and not any(t.startswith("t2") and "flair" in t for t in w):
            return "t1ce" if w & _CONTRAST_TOKENS else "t1"
        return "flair"
    if t1 and t2:
        return None  # e.g. "T1/T2 mapping": ambiguous
    if t1:
        return "t1ce" if w & _CONTRAST_TOKENS else "t1"
    if t2:
        return "t2"
    return None


def _number(tags: Mapping[str, Any], key: str) -> float | None:
    value = tags.get(key)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def has_contrast(tags: Mapping[str, Any]) -> bool:
    """True when DICOM contrast/bolus tags say an agent was given."""
    for key in ("ContrastBolusAgent", "ContrastBolusRoute", "ContrastBolusIngredient"):
        value = str(tags.get(key) or "").strip().lower()
        if value not in _NO_CONTRAST:
            return True
    volume = _number(tags, "ContrastBolusVolume") or _number(tags, "ContrastBolusTotalDose")
    return bool(volume and volume > 0)


def _from_physics(tags: Mapping[str, Any]) -> str | None:
    te, tr, ti = _number(tags, "EchoTime"), _number(tags, "RepetitionTime"), _number(tags, "InversionTime")
    scanning = str(tags.get("ScanningSequence") or "").upper()
    if ti is not None and ti >= 1500 and (tr is None or tr >= 4000):
        return "flair"  # long TI nulls CSF: dark-fluid
    if ti is not None and 600 <= ti < 1500 and te is not None and te < 30:
        return "t1"  # MPRAGE / IR-prepared T1
    if ti is not None and ti < 300 and "IR" in scanning:
        return None  # STIR
    if te is None or tr is None:
        return None
    if tr < 1000 and te < 30:
        return "t1"
    if tr >= 2000 and te >= 70:
        return "t2"
    return None


def detect_sequence(text_tokens: str, tags: Mapping[str, Any] | None = None) -> str | None:
    """Guess 'flair', 't1', 't1ce' or 't2' from names (file name, SeriesDescription, ProtocolName ...)
    and optional DICOM tags keyed by keyword (EchoTime, RepetitionTime, InversionTime, ScanningSequence,
    ContrastBolusAgent ...). Returns None when unknown or when the names say it is something else (DWI, SWI).
    """
    tags = tags or {}
    words = tokens(text_tokens or "")
    if words and set(words) & _LABEL_TOKENS and not (set(words) & (_T1_TOKENS | _T2_TOKENS | _T1CE_TOKENS)):
        return None
    guess = _from_text(words)
    if guess == "other":
        return None
    if guess is None:
        guess = _from_physics(tags)
    if guess == "t1" and has_contrast(tags):
        guess = "t1ce"
    return guess
