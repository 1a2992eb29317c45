"""NIfTI, NRRD and raster-image part of the hostile corpus: broken headers, odd dtypes, absurd geometry,
decompression bombs, truncated and mislabelled images."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from make_corpus import Case, write
from PIL import Image

SHAPE = (16, 16, 8)


def _volume(dtype=np.int16) -> np.ndarray:
    return (np.random.default_rng(3).random(SHAPE) * 100).astype(dtype)


def _nifti_bytes(data: np.ndarray, affine=None) -> bytes:
    img = nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0]) if affine is None else affine, dtype=data.dtype)
    return img.to_bytes()


# name -> (header byte offset, struct format, values) patched into a valid .nii
_NIFTI_PATCHES = {
    "sizeof_hdr_0": (0, "<i", (0,)), "sizeof_hdr_bogus": (0, "<i", (12345,)),
    "dim0_zero": (40, "<h", (0,)), "dim0_eight": (40, "<h", (8,)), "dim0_negative": (40, "<h", (-1,)),
    "dims_30000_cubed": (42, "<3h", (30000, 30000, 30000)), "dim1_zero": (42, "<h", (0,)),
    "dim1_negative": (42, "<h", (-5,)), "dim4_huge": (40, "<h4h", (4, 16, 16, 8, 32767)),
    "datatype_unknown": (70, "<h", (9999,)), "datatype_zero": (70, "<h", (0,)), "bitpix_wrong": (72, "<h", (3,)),
    "datatype_float128": (70, "<hh", (1536, 128)), "datatype_rgb_on_short": (70, "<hh", (128, 24)),
    "vox_offset_huge": (108, "<f", (1e10,)), "vox_offset_negative": (108, "<f", (-5.0,)),
    "vox_offset_nan": (108, "<f", (float("nan"),)),
    "scl_slope_huge": (112, "<f", (1e38,)), "scl_slope_nan": (112, "<f", (float("nan"),)),
    "scl_slope_inf": (112, "<f", (float("inf"),)), "scl_inter_inf": (116, "<ff", (1.0, float("inf"))),
    "pixdim_nan": (80, "<3f", (float("nan"),) * 3), "pixdim_zero": (80, "<3f", (0.0, 0.0, 0.0)),
    "pixdim_huge": (80, "<3f", (1e30, 1e30, 1e30)), "pixdim_negative": (80, "<3f", (-1.0, -1.0, -1.0)),
    "quatern_nan": (256, "<3f", (float("nan"),) * 3), "quatern_invalid": (256, "<3f", (5.0, 5.0, 5.0)),
    "srow_nan": (280, "<12f", (float("nan"),) * 12), "srow_zero": (280, "<12f", (0.0,) * 12),
    "srow_huge": (280, "<12f", (1e30, 0, 0, 0, 0, 1e30, 0, 0, 0, 0, 1e30, 0)),
    "srow_singular": (280, "<12f", (1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0)),
    "srow_inf_offset": (280, "<12f", (1, 0, 0, float("inf"), 0, 1, 0, 0, 0, 0, 1, 0)),
    "codes_invalid": (252, "<hh", (99, 99)), "magic_bogus": (344, "<4s", (b"xxxx",)),
}


def _patched(name: str, base: bytes) -> bytes:
    at, fmt, values = _NIFTI_PATCHES[name]
    raw = bytearray(base)
    if name.startswith(("quatern", "pixdim")):
        raw[254:256] = struct.pack("<h", 0)  # sform_code 0: the qform (quaternion + pixdim) is what counts
    struct.pack_into(fmt, raw, at, *values)
    return bytes(raw)


def nifti_cases(root: Path) -> list[Case]:
    cases = []

    def add(name: str, data: bytes, suffix: str = ".nii", fast: bool = False) -> None:
        path = write(root / f"{name}{suffix}", data)
        cases.append(Case(f"nifti/{name}", "nifti_header", [str(path)], three_d=True, fast=fast))

    base = _nifti_bytes(_volume())
    add("good", base)
    for name in _NIFTI_PATCHES:
        add(name, _patched(name, base), fast=name in {"srow_nan", "dims_30000_cubed"})
    rgb = np.zeros(SHAPE, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgba = np.zeros(SHAPE, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1"), ("A", "u1")])
    for name, data in {"rgb24": rgb, "rgba32": rgba}.items():
        add(name, _nifti_bytes(data), fast=name == "rgb24")
    for dt in ("uint8", "int8", "uint16", "int32", "uint32", "int64", "uint64", "float64", "complex64",
               "complex128"):
        add(f"dtype_{dt}", _nifti_bytes(_volume(np.dtype(dt))), fast=False)
    vol = _volume(np.float32)
    specials = {
        "all_nan": np.full(SHAPE, np.nan, np.float32), "with_inf": np.where(vol > 50, np.inf, vol),
        "all_zero": np.zeros(SHAPE, np.float32), "huge_values": vol * 1e37, "one_voxel": np.ones((1, 1, 1), np.float32),
        "flat_2d": vol[:, :, 0], "four_d": np.stack([vol] * 3, -1), "five_d": vol[..., None, None].repeat(2, 3),
        "seven_d": vol.reshape(*SHAPE, 1, 1, 1, 1), "thin_axis": vol[:, :1, :],
    }
    for name, data in specials.items():
        add(name, _nifti_bytes(data), fast=name == "huge_values")
    for name, aff in {"affine_zero_scale": np.diag([0.0, 0.0, 0.0, 1.0]),
                      "affine_huge": np.diag([1e30, 1e30, 1e30, 1.0]),
                      "affine_tiny": np.diag([1e-30, 1e-30, 1e-30, 1.0])}.items():
        img = nib.Nifti1Image(_volume(), None)
        img.set_sform(aff, code=1)  # the qform cannot hold these; sform-only files do exist
        add(name, img.to_bytes())
    add("empty", b"")
    add("truncated_header", base[:100])
    add("truncated_data", base[: len(base) // 2], fast=True)
    add("plain_named_gz", base, ".nii.gz")
    add("gzip_truncated", gzip.compress(base)[:200], ".nii.gz")
    add("gzip_corrupt", gzip.compress(base)[:20] + b"\x00" * 400, ".nii.gz")
    add("text", b"this is not a nifti file\n" * 20)
    hdr = nib.Nifti1Pair(_volume(), np.eye(4))
    nib.save(hdr, root / "pair_missing_img.hdr")
    (root / "pair_missing_img.img").unlink()
    cases.append(Case("nifti/pair_missing_img", "nifti_header", [str(root / "pair_missing_img.hdr")], three_d=True))
    return cases


def _nrrd(fields: dict[str, str], payload: bytes, magic: str = "NRRD0004") -> bytes:
    head = magic + "\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n"
    return head.encode() + payload


_NRRD_BASE = {"type": "short", "dimension": "3", "space": "left-posterior-superior", "sizes": "16 16 8",
              "space directions": "(1,0,0) (0,1,0) (0,0,2)", "endian": "little", "encoding": "raw",
              "space origin": "(0,0,0)"}
_NRRD_VARIANTS = {
    "good": {}, "directions_zero": {"space directions": "(0,0,0) (0,0,0) (0,0,0)"},
    "directions_huge": {"space directions": "(1e30,0,0) (0,1e30,0) (0,0,1e30)"},
    "directions_nan": {"space directions": "(nan,0,0) (0,nan,0) (0,0,nan)"},
    "directions_inf": {"space directions": "(inf,0,0) (0,1,0) (0,0,1)"},
    "directions_singular": {"space directions": "(1,0,0) (1,0,0) (0,0,1)"},
    "directions_none": {"space directions": "none none none"},
    "directions_count_wrong": {"space directions": "(1,0,0) (0,1,0)"},
    "origin_nan": {"space origin": "(nan,nan,nan)"}, "origin_huge": {"space origin": "(1e300,0,0)"},
    "sizes_huge": {"sizes": "30000 30000 30000"}, "sizes_zero": {"sizes": "0 16 8"},
    "sizes_negative": {"sizes": "-16 16 8"}, "sizes_text": {"sizes": "a b c"},
    "type_unknown": {"type": "quadruple"}, "type_block": {"type": "block"},
    "encoding_bogus": {"encoding": "bogus"}, "encoding_gzip_corrupt": {"encoding": "gzip"},
    "endian_big": {"endian": "big"}, "dimension_5": {"dimension": "5"}, "dimension_1": {"dimension": "1"},
    "space_bogus": {"space": "bogus-space"},
    "spacings_nan": {"space directions": None, "space": None, "spacings": "nan nan nan"},
    "spacings_zero": {"space directions": None, "space": None, "spacings": "0 0 0"},
    "spacings_huge": {"space directions": None, "space": None, "spacings": "1e300 1e300 1e300"},
    "detached_missing": {"data file": "missing.raw"},
    "detached_dev_zero_huge": {"data file": "/dev/zero", "sizes": "4000 4000 4000"},
    "detached_dev_zero": {"data file": "/dev/zero"},
}
_NRRD_TYPES = {"uint8": "uchar", "int8": "signed char", "uint16": "ushort", "int32": "int", "uint32": "uint",
               "int64": "longlong", "uint64": "ulonglong", "float32": "float", "float64": "double"}


def nrrd_cases(root: Path) -> list[Case]:
    cases = []
    vol = _volume()
    payload = np.ascontiguousarray(vol.transpose(2, 1, 0)).tobytes()
    for name, change in _NRRD_VARIANTS.items():
        fields = {k: v for k, v in {**_NRRD_BASE, **change}.items() if v is not None}
        detached = "data file" in fields
        data = b"" if detached else payload
        if name == "type_unknown" or name == "encoding_gzip_corrupt":
            data = b"\x1f\x8b" + payload[:50]
        suffix = ".nhdr" if detached else ".nrrd"
        path = write(root / f"{name}{suffix}", _nrrd(fields, data))
        cases.append(Case(f"nrrd/{name}", "nrrd_header", [str(path)], three_d=True,
                          fast=name in {"directions_zero", "directions_huge", "detached_dev_zero_huge"}))
    for dt, nrrd_type in _NRRD_TYPES.items():
        data = np.ascontiguousarray(vol.astype(dt).transpose(2, 1, 0)).tobytes()
        path = write(root / f"dtype_{dt}.nrrd", _nrrd({**_NRRD_BASE, "type": nrrd_type}, data))
        cases.append(Case(f"nrrd/dtype_{dt}", "nrrd_header", [str(path)], three_d=True))
    rgb = _nrrd({**_NRRD_BASE, "type": "uchar", "dimension": "4", "sizes": "3 16 16 8", "kinds": "RGB-color space "
                 "space space", "space directions": "none (1,0,0) (0,1,0) (0,0,2)"}, bytes(3 * 16 * 16 * 8))
    cases.append(Case("nrrd/rgb_color", "nrrd_header", [str(write(root / "rgb_color.nrrd", rgb))], three_d=True))
    for name, data in {"no_magic": payload, "truncated": _nrrd(_NRRD_BASE, payload[:300]),
                       "header_only": _nrrd(_NRRD_BASE, b"")[:-1], "empty": b""}.items():
        path = write(root / f"{name}.nrrd", data if name in ("no_magic", "empty") else data)
        cases.append(Case(f"nrrd/{name}", "nrrd_header", [str(path)], three_d=True))
    return cases


def _png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of width x height zeros, compressed to a few hundred KB (streamed, never in memory)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = bytes(width + 1)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _pil(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def raster_cases(root: Path) -> list[Case]:
    rng = np.random.default_rng(5)
    grey = Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8))
    png, jpg = _pil(grey, "PNG"), _pil(grey, "JPEG")
    pages = [Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)) for _ in range(3)]
    tiff_stack = io.BytesIO()
    pages[0].save(tiff_stack, "TIFF", save_all=True, append_images=pages[1:])
    mixed = io.BytesIO()
    pages[0].save(mixed, "TIFF", save_all=True, append_images=[Image.fromarray(np.zeros((48, 40), np.uint8))])
    files = {
        "good.png": png, "bomb_20000.png": _png_bomb(20000, 20000), "bomb_12000.png": _png_bomb(12000, 12000),
        "wide_65535x1.png": _png_bomb(65535, 1), "one_pixel.png": _pil(Image.new("L", (1, 1)), "PNG"),
        "blank.png": _pil(Image.new("L", (64, 64)), "PNG"),
        "grey16.png": _pil(Image.fromarray((rng.random((64, 64)) * 65535).astype(np.uint16)), "PNG"),
        "rgba.png": _pil(grey.convert("RGBA"), "PNG"), "palette.png": _pil(grey.convert("P"), "PNG"),
        "la.png": _pil(grey.convert("LA"), "PNG"), "bilevel.png": _pil(grey.convert("1"), "PNG"),
        "cmyk.jpg": _pil(grey.convert("CMYK"), "JPEG"),
        "float.tif": _pil(Image.fromarray(rng.random((64, 64)).astype(np.float32)), "TIFF"),
        "float_nan.tif": _pil(Image.fromarray(np.full((64, 64), np.nan, np.float32)), "TIFF"),
        "stack.tif": tiff_stack.getvalue(), "mixed_sizes.tif": mixed.getvalue(),
        "truncated.png": png[: len(png) // 2], "truncated.jpg": jpg[: len(jpg) // 2],
        "header_only.png": png[:40], "bad_crc.png": png[:33] + b"\x00\x00\x00\x00" + png[37:],
        "png_named.jpg": png, "jpg_named.png": jpg, "text.png": b"not an image\n" * 10, "empty.png": b"",
        "gif_named.png": _pil(grey, "GIF"), "bmp_broken.bmp": _pil(grey, "BMP")[:30] + b"\xff" * 40,
        "random.webp": bytes(rng.integers(0, 256, 500, dtype=np.uint8)),
        "random.tif": bytes(rng.integers(0, 256, 500, dtype=np.uint8)),
    }
    fast = {"bomb_20000.png", "one_pixel.png", "truncated.png", "float_nan.tif"}
    cases = []
    for name, data in files.items():
        path = write(root / name, data)
        cases.append(Case(f"raster/{name}", "raster", [str(path)], fast=name in fast))
    folder = root / "folder_one_broken"
    write(folder / "a.png", png)
    write(folder / "b.png", png[:60])
    cases.append(Case("raster/folder_one_broken", "raster", [str(folder)]))
    return cases
