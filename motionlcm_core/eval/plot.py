"""A small PNG bar chart of evaluation results, drawn with numpy and written with zlib (no matplotlib).

One panel per metric (FID, R-precision top-3, ms per sentence, pelvis control error); bars carry their
value above and the method name below, in a 3×5 pixel font.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["write_png", "save_plot"]

_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "_": "000000000000111", ":": "000010000010000", "@": "111101111100111", "/": "001001010100100",
    "(": "010100100100010", ")": "010001001001010", " ": "000000000000000", "%": "101001010100101",
    "a": "010101111101101", "b": "110101110101110", "c": "111100100100111", "d": "110101101101110",
    "e": "111100110100111", "f": "111100110100100", "g": "111100101101111", "h": "101101111101101",
    "i": "111010010010111", "j": "001001001101111", "k": "101101110101101", "l": "100100100100111",
    "m": "101111111101101", "n": "110101101101101", "o": "111101101101111", "p": "111101111100100",
    "q": "111101101111001", "r": "110101110101101", "s": "111100111001111", "t": "111010010010010",
    "u": "101101101101111", "v": "101101101101010", "w": "101101111111101", "x": "101101010101101",
    "y": "101101010010010", "z": "111001010100111",
}
_COLOURS = [(70, 110, 190), (220, 120, 40), (60, 160, 90), (190, 60, 60), (130, 90, 180), (120, 120, 120)]
_SCALE, _SLOT, _PANEL_H = 2, 96, 170


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write ``rgb (H, W, 3) uint8`` as an 8-bit RGB PNG."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3) uint8, got {rgb.shape}")
    height, width = rgb.shape[:2]
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                           + chunk(b"IEND", b""))


def _text(img: np.ndarray, x: int, y: int, text: str, colour=(0, 0, 0)) -> None:
    """Draw ``text`` with its top-left corner at (x, y); unknown characters are blank."""
    for ch in text.lower():
        bits = np.array([int(b) for b in _GLYPHS.get(ch, _GLYPHS[" "])], dtype=bool).reshape(5, 3)
        block = np.kron(bits, np.ones((_SCALE, _SCALE), dtype=bool))
        region = img[y:y + block.shape[0], x:x + block.shape[1]]
        region[block[: region.shape[0], : region.shape[1]]] = colour
        x += 4 * _SCALE


def _panel(title: str, names: list[str], values: list[float], width: int, colours: dict[str, tuple]) -> np.ndarray:
    img = np.full((_PANEL_H, width, 3), 255, dtype=np.uint8)
    _text(img, 8, 6, title)
    top, base = 36, _PANEL_H - 26
    peak = max(max(values), 1e-12)
    for k, (name, value) in enumerate(zip(names, values)):
        x0 = 10 + k * _SLOT
        height = int(round((base - top) * max(value, 0.0) / peak))
        img[base - height:base, x0 + 12:x0 + _SLOT - 12] = colours[name]
        _text(img, x0 + 8, base - height - 14, f"{value:.4g}")
        _text(img, x0 + 4, base + 8, name[:11])
    img[base, 6:width - 6] = 0
    return img


def save_plot(results: dict, path: str | Path) -> Path:
    """Bar charts of FID, R@3, ms/sentence and pelvis average error for the rows of ``results``."""
    rows = [r for r in results["rows"] if "skipped" not in r]
    panels = [("fid", "fid"), ("r_precision", "r@3"), ("ms", "ms / sentence"), ("avg_err", "pelvis avg err (m)")]
    series = []
    for key, title in panels:
        picked = [(r["method"], r[key][2] if key == "r_precision" else r[key]) for r in rows
                  if r.get(key) is not None]
        if picked:
            series.append((title, [p[0] for p in picked], [float(p[1]) for p in picked]))
    if not series:
        raise ValueError("results hold no row with fid, r_precision, ms or avg_err to plot")
    width = 20 + _SLOT * max(len(s[1]) for s in series)
    colours = {r["method"]: _COLOURS[k % len(_COLOURS)] for k, r in enumerate(rows)}
    image = np.concatenate([_panel(title, names, values, width, colours) for title, names, values in series])
    write_png(path, image)
    return Path(path)
