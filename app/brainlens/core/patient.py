"""Who and what a study is: patient and study identification from the file headers (numpy-free, Qt-free).

The io layer puts ``PatientInfo.from_tags(...)`` into ``Volume.metadata["patient"]`` (a plain dict); the
viewer shows it in every view and in the study browser so a reader never looks at the wrong patient
without noticing. Files that carry no identification (NIfTI, NRRD, plain images) say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# DICOM keywords read for identification (the DICOM reader adds them to the header tags it keeps)
PATIENT_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "StudyDescription", "InstitutionName", "AccessionNumber", "FrameOfReferenceUID")
NOT_IDENTIFIED = "No patient identification in this file"


def dicom_date(value: object) -> str:
    """DICOM DA 'YYYYMMDD' -> 'YYYY-MM-DD' (anything else is shown as stored)."""
    text = str(value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def person_name(value: object) -> str:
    """DICOM PN 'Family^Given^Middle^Prefix^Suffix' -> 'FAMILY, Given Middle' (the reading-room habit)."""
    text = str(value or "").strip()
    if not text:
        return ""
    parts = [p.strip() for p in text.split("=")[0].split("^")]  # alphabetic group only
    family, given = parts[0], " ".join(p for p in parts[1:3] if p)
    if not given:
        return family.upper()
    return f"{family.upper()}, {given}" if family else given


@dataclass(frozen=True)
class PatientInfo:
    name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    study_date: str = ""
    study_description: str = ""
    institution: str = ""
    accession: str = ""
    frame_of_reference: str = ""

    @classmethod
    def from_tags(cls, tags: Mapping[str, Any]) -> PatientInfo:
        def get(key: str) -> str:
            value = tags.get(key)
            return "" if value is None else str(value).strip()

        return cls(person_name(tags.get("PatientName")), get("PatientID"), dicom_date(tags.get("PatientBirthDate")),
                   get("PatientSex"), dicom_date(tags.get("StudyDate")), get("StudyDescription"),
                   get("InstitutionName"), get("AccessionNumber"), get("FrameOfReferenceUID"))

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> PatientInfo:
        known = {k: str(v) for k, v in (metadata.get("patient") or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def identified(self) -> bool:
        return bool(self.name or self.patient_id)

    def patient_line(self) -> str:
        """'DOE, Jane  ID 12345  *1970-01-31 F' (what identifies the person)."""
        if not self.identified:
            return NOT_IDENTIFIED
        parts = [self.name or "(no name)"]
        if self.patient_id:
            parts.append(f"ID {self.patient_id}")
        born = " ".join(p for p in (f"DOB {self.birth_date}" if self.birth_date else "", self.sex) if p)
        if born:
            parts.append(born)
        return "   ".join(parts)

    def patient_lines(self) -> list[str]:
        """Name, then ID / birth date / sex: the view's top-left corner."""
        if not self.identified:
            return [NOT_IDENTIFIED]
        born = " ".join(p for p in (f"DOB {self.birth_date}" if self.birth_date else "", self.sex) if p)
        second = "   ".join(p for p in (f"ID {self.patient_id}" if self.patient_id else "", born) if p)
        return [self.name or "(no name)", *([second] if second else [])]

    def study_line(self) -> str:
        """'Study 2024-05-02  St Elsewhere Hospital' (when and where)."""
        parts = [f"Study {self.study_date}" if self.study_date else "", self.institution]
        return "   ".join(p for p in parts if p)


def study_patient(metadatas: list[Mapping[str, Any]]) -> PatientInfo:
    """The identification of a study: the first series that carries one (all series of a study share it)."""
    for meta in metadatas:
        info = PatientInfo.from_metadata(meta)
        if info.identified or info.study_date:
            return info
    return PatientInfo()


def view_banner(metadata: Mapping[str, Any], series_name: str = "") -> tuple[str, str]:
    """(top-left, top-right) text of a slice view for the series with ``metadata``."""
    if metadata.get("synthetic"):
        left = "Synthetic phantom\n(not patient data)"
    else:
        info = PatientInfo.from_metadata(metadata)
        left = "\n".join(info.patient_lines())
        if not info.identified and metadata.get("format") and metadata.get("format") != "dicom":
            left = f"{NOT_IDENTIFIED}\n({str(metadata['format']).upper()} file)"
    info = PatientInfo.from_metadata(metadata)
    right = "\n".join(p for p in (info.study_date and f"Study {info.study_date}", info.institution, series_name)
                      if p)
    return left, right
