#!/usr/bin/python3
"""Fixtures for PatchPHash: 32x32 uint8 patches and their perceptual hash by imagehash.phash's algorithm.

imagehash is not installable here, so its phash is reproduced from its published source with Debian's
python3-scipy / python3-numpy (imagehash.phash, hash_size=8, highfreq_factor=4 on a 32x32 grey image,
where the resize is the identity):
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:8, :8]; med = numpy.median(low); bits = low > med
and the hash is the bits row-major, the first the most significant (imagehash's hex string).

Patches: seeded random, flat, horizontal/vertical/diagonal gradients, smooth "natural-looking" ones
(low-pass noise), and patches cut from the opencv-doc photos. A patch is kept only when its hash is
stable: no coefficient within 1e-6 (relative to the largest) of the median unless it equals the median
exactly (flat and gradient patches: exact zeros, which the FFT gives exactly). Such near-ties would make
the published definition itself depend on rounding.

Output (tests/LocalFeat.Tests/Fixtures/phash/phash_fixtures.txt), one patch per line:
    <name> <hash as 16 hex digits> <1024 pixels as 2048 hex digits, row-major>
Run: /usr/bin/python3 scripts/phash_fixtures.py
"""
import os
import struct
import zlib

import numpy as np
import scipy.fftpack

DATA = "/usr/share/doc/opencv-doc/examples/data"
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "LocalFeat.Tests", "Fixtures", "phash", "phash_fixtures.txt")


def phash_bits(patch):
    pixels = np.asarray(patch, dtype=np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:8, :8]
    med = np.median(low)
    return low, med, (low > med).flatten()


def to_hex(bits):
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return "%016x" % value


def stable(low, med):
    scale = max(1.0, np.abs(low).max())
    gap = np.abs(low - med)
    return bool(np.all((gap == 0) | (gap > 1e-6 * scale)))


def read_png_grey(path):
    """Minimal PNG reader (8-bit, non-interlaced, grey/RGB/RGBA) -> uint8 grey as PIL's convert('L')."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and interlace == 0 and ctype in (0, 2, 4, 6), (depth, ctype, interlace)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = w * channels
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int64)
        cur = np.zeros(stride, dtype=np.int64)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:  # Sub, Average, Paeth depend on the left neighbour: byte by byte
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + p) & 255
        out[y] = cur
        prev = cur
    px = out.reshape(h, w, channels)
    if channels <= 2:
        return px[:, :, 0].astype(np.uint8)
    r, g, b = px[:, :, 0], px[:, :, 1], px[:, :, 2]
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)  # PIL's L conversion


def smooth(rng):
    """Low-pass noise: a coarse random grid upsampled bilinearly, plus a little fine noise."""
    coarse = rng.uniform(0, 255, size=(5, 5))
    t = np.linspace(0, 4, 32)
    i0 = np.minimum(t.astype(int), 3)
    f = t - i0
    rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    full = rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]
    return np.clip(np.rint(full + rng.normal(0, 3, size=(32, 32))), 0, 255)


def main():
    rng = np.random.default_rng(20230)
    patches = []
    for k in range(6):
        patches.append(("random%d" % k, rng.integers(0, 256, size=(32, 32))))
    patches.append(("flat0", np.zeros((32, 32))))
    patches.append(("flat128", np.full((32, 32), 128)))
    ramp = np.arange(32)
    patches.append(("gradient_x", np.tile(ramp * 7 + 10, (32, 1))))
    patches.append(("gradient_y_down", np.tile((250 - ramp * 5)[:, None], (1, 32))))
    patches.append(("gradient_diag", ramp[:, None] * 3 + ramp[None, :] * 4 + 5))
    for k in range(5):
        patches.append(("smooth%d" % k, smooth(rng)))
    for name in ["graf1", "graf3", "box", "basketball1", "chicky_512", "box_in_scene"]:
        img = read_png_grey(os.path.join(DATA, name + ".png"))
        taken = 0
        while taken < 3:
            y = int(rng.integers(0, img.shape[0] - 32))
            x = int(rng.integers(0, img.shape[1] - 32))
            patch = img[y:y + 32, x:x + 32]
            if patch.std() < 4:  # skip featureless crops (near-flat: unstable bits)
                continue
            patches.append(("%s_x%d_y%d" % (name, x, y), patch))
            taken += 1

    lines = []
    for name, patch in patches:
        patch = np.asarray(patch, dtype=np.int64)
        assert patch.shape == (32, 32) and patch.min() >= 0 and patch.max() <= 255
        low, med, bits = phash_bits(patch)
        if not stable(low, med):
            print("skipped (near-tie at the median):", name)
            continue
        pixels = "".join("%02x" % v for v in patch.flatten())
        lines.append("%s %s %s" % (name, to_hex(bits), pixels))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d patches to %s" % (len(lines), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
