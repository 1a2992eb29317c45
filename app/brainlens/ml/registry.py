"""Model registry: models/manifest.json names each bundled model, its version, SHA-256 and input spec.

Weights are safetensors files (no pickle, so a tampered file cannot run code) and their hash is checked
before they are deserialised. torch and safetensors are imported inside the functions that need them so
listing models (e.g. for an About box) stays light.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brainlens.core.errors import ModelError
from brainlens.io.atomic import atomic_write
from brainlens.ml.manifest_schema import MAX_BYTES as MAX_MANIFEST_BYTES
from brainlens.ml.manifest_schema import validate_manifest

if TYPE_CHECKING:
    import torch

MANIFEST = "manifest.json"
KINDS = ("classifier", "segmenter")
DTYPES = ("float32", "float16")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LOCK_STALE_S = 60.0


def models_dir() -> Path:
    """Where bundled models live: $BRAINLENS_MODELS, else the packaged copy, else <repo>/models."""
    env = os.environ.get("BRAINLENS_MODELS")
    if env:
        return Path(env).expanduser()
    package = Path(__file__).resolve().parents[1]  # app/brainlens (or brainlens/ in a wheel/bundle)
    bundled = package / "_bundled" / "models"
    if bundled.is_dir():
        return bundled
    return package.parents[1] / "models"  # editable checkout: repo root = parent of app/


@dataclass
class ModelEntry:
    """One manifest row. ``file`` is relative to the models directory."""

    name: str
    version: str
    kind: str
    file: str
    sha256: str
    input: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelEntry:
        try:
            return cls(name=str(d["name"]), version=str(d["version"]), kind=str(d["kind"]),
                       file=str(d["file"]), sha256=str(d["sha256"]).lower(),
                       input=dict(d.get("input") or {}), labels=list(d.get("labels") or []),
                       extra=dict(d.get("extra") or {}), dtype=str(d.get("dtype", "float32")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model manifest entry is malformed ({exc!r}): reinstall BrainLens") from exc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dir(directory: Path | str | None) -> Path:
    return Path(directory) if directory is not None else models_dir()


def _read_manifest_rows(directory: Path) -> list[dict[str, Any]]:
    path = directory / MANIFEST
    if not path.is_file():
        return []
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"larger than {MAX_MANIFEST_BYTES} bytes")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:120]
        raise ModelError(f"model manifest {path} is unreadable ({why}): reinstall BrainLens") from None
    return validate_manifest(doc, KINDS, DTYPES)  # schema first: no entry reaches model code unchecked


def load_manifest(directory: Path | str | None = None) -> dict[str, ModelEntry]:
    """All entries of <directory>/manifest.json by name; {} when there is no manifest."""
    entries = [ModelEntry.from_dict(r) for r in _read_manifest_rows(_dir(directory))]
    return {e.name: e for e in entries}


def get_entry(name: str, directory: Path | str | None = None) -> ModelEntry:
    entries = load_manifest(directory)
    if name not in entries:
        bundled = ", ".join(sorted(entries)) or "none"
        raise ModelError(f"unknown model '{name}'; bundled: {bundled}")
    return entries[name]


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_weights(name: str,
                 directory: Path | str | None = None) -> tuple[dict[str, torch.Tensor], ModelEntry]:
    """The model's tensors (float32 on CPU) and its entry, after checking the file's SHA-256."""
    base = _dir(directory)
    entry = get_entry(name, base)
    path = base / entry.file
    if not path.is_file():
        raise ModelError(f"model '{name}' weights file {entry.file} is missing: reinstall BrainLens")
    if sha256_file(path) != entry.sha256:
        raise ModelError(f"model '{name}' failed its integrity check (SHA-256 mismatch): reinstall BrainLens")
    import torch
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelError(f"model '{name}' weights could not be read ({exc}): reinstall BrainLens") from exc
    state = {k: (v.float() if v.dtype == torch.float16 else v) for k, v in tensors.items()}
    return state, entry


@contextlib.contextmanager
def _manifest_lock(directory: Path, timeout_s: float = 30.0) -> Iterator[None]:
    """Cross-process lock (O_EXCL lock file) so two trainings finishing together do not lose an entry."""
    lock = directory / (MANIFEST + ".lock")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock.stat().st_mtime > _LOCK_STALE_S:  # left by a killed process
                    lock.unlink()
                    continue
            if time.monotonic() > deadline:
                raise ModelError(f"model manifest {directory / MANIFEST} is locked by another process") \
                    from None
            time.sleep(0.05)
    try:
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def _atomic_write(path: Path, write) -> None:
    """Readers never see half a file; shipped models must be readable by every user (0644)."""
    atomic_write(path, write, mode=0o644)


def write_weights(state_dict: Mapping[str, torch.Tensor], name: str, version: str, kind: str,
                  input: Mapping[str, Any], labels: list[str], extra: Mapping[str, Any],
                  directory: Path | str | None = None, half: bool = False) -> ModelEntry:
    """Save <name>.safetensors, hash it and upsert its manifest entry (both written atomically)."""
    import torch
    from safetensors.torch import save_file

    if not _NAME_RE.match(name):
        raise ValueError(f"model name {name!r} must be letters, digits, '_', '-' or '.'")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    base = _dir(directory)
    base.mkdir(parents=True, exist_ok=True)
    # JSON round trip now, so an unserialisable spec fails before any file is touched.
    spec = json.loads(json.dumps({"input": dict(input), "labels": list(labels), "extra": dict(extra)}))
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        t = value.detach().to("cpu")
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[key] = t.contiguous().clone()  # clone: safetensors refuses tensors sharing storage
    filename = f"{name}.safetensors"
    path = base / filename
    metadata = {"name": name, "version": str(version)}
    if not _holds(path, tensors, metadata):
        _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    entry = ModelEntry(name=name, version=str(version), kind=kind, file=filename, sha256=sha256_file(path),
                       input=spec["input"], labels=spec["labels"], extra=spec["extra"],
                       dtype="float16" if half else "float32")
    with _manifest_lock(base):
        rows = _read_manifest_rows(base)
        for i, row in enumerate(rows):
            if row.get("name") == name:
                rows[i] = entry.to_dict()
                break
        else:
            rows.append(entry.to_dict())
        _write_manifest_rows(base, rows)
    return entry


def _holds(path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bool:
    """Whether the file already holds exactly these tensors and metadata. Then it is kept as it is: safetensors
    writes the metadata keys in a random order, so rewriting the same weights (a re-run evaluation) would
    change the file's SHA-256 and the manifest for nothing."""
    from safetensors import safe_open

    if not path.is_file():
        return False
    try:
        with safe_open(str(path), framework="pt") as f:
            if f.metadata() != dict(metadata) or set(f.keys()) != set(tensors):
                return False
            return all(_identical(f.get_tensor(k), t) for k, t in tensors.items())
    except Exception:  # an unreadable old file is simply replaced
        return False


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    import torch

    return a.dtype == b.dtype and torch.equal(a, b)


def _write_manifest_rows(base: Path, rows: list[dict[str, Any]]) -> None:
    text = json.dumps({"models": rows}, indent=2) + "\n"
    _atomic_write(base / MANIFEST, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def update_extra(name: str, changes: Mapping[str, Any], directory: Path | str | None = None) -> ModelEntry:
    """Merge ``changes`` into an existing entry's ``extra`` (a derived file such as the ONNX export); the
    weights and their hash are left as they are."""
    base = _dir(directory)
    changes = json.loads(json.dumps(dict(changes)))
    with _manifest_lock(base):
        rows = _read_manifest_rows(base)
        for row in rows:
            if row.get("name") == name:
                row["extra"] = {**(row.get("extra") or {}), **changes}
                _write_manifest_rows(base, rows)
                return ModelEntry.from_dict(row)
    raise ModelError(f"unknown model '{name}'; cannot update its manifest entry")
