#!/usr/bin/python3
"""Convert a MegaDepth scene index to LocalFeat's MegaDepth-style folder (README: "MegaDepth-style folders").

Usage:
    scripts/convert_megadepth.py INDEX.npz --root MEGADEPTH_ROOT --out DIR
        [--min-overlap 0.5] [--max-overlap 1.0] [--max-pairs N] [--copy]

Input layouts (numpy .npz, loaded with allow_pickle=True; the layout is recognised by its keys):

  D2-Net's scene_info (mihaidusmanu/d2-net, megadepth_utils/preprocess_scene.py writes scene_info/SCENE.npz):
    image_paths    object [N]      paths relative to MEGADEPTH_ROOT (e.g. Undistorted_SfM/0015/images/X.jpg), None = unused
    depth_paths    object [N]      paths relative to MEGADEPTH_ROOT of the HDF5 depth maps (dataset "depth"), None = unused
    intrinsics     float  [N,3,3]  K in COLMAP's pixel convention (top-left pixel centre at (0.5, 0.5))
    poses          float  [N,4,4]  world -> camera
    overlap_matrix float  [N,N]    pairs are (i, j), i < j, with min_overlap <= overlap <= max_overlap (D2-Net: 0.5, 1)
    (scale_ratio_matrix, angles, n_points3D, points3D_id_to_2D, points3D_id_to_ndepth: not used)

  LoFTR's index (zju3dv/LoFTR, data/megadepth/index/scene_info_*/SCENE_*.npz):
    image_paths, depth_paths, intrinsics, poses   as above
    pair_infos     object [P]      ((i, j), overlap_score, central_matches); every listed pair is taken
                                   (LoFTR's files are already filtered by overlap; --min/--max-overlap filter further)

Output (DIR):
    images/NAME     a symbolic link to (or with --copy, a copy of) each used photo, NAME = its file name
    depths/STEM.h5  the same for its depth map (STEM = NAME without extension)
    cameras.json    {"NAME": {"K": [9 numbers, row-major], "pose": [16 numbers, row-major world -> camera]}}
    pairs.txt       "NAME0 NAME1 OVERLAP" per line

Needs numpy only (python3-numpy). The dataset itself is not downloaded by this script.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np


def pairs_of(index, lo, hi):
    if "pair_infos" in index.files:
        for info in index["pair_infos"]:
            (i, j), overlap = info[0], float(info[1])
            if lo <= overlap <= hi:
                yield int(i), int(j), overlap
    elif "overlap_matrix" in index.files:
        overlap = index["overlap_matrix"]
        n = overlap.shape[0]
        for i in range(n):
            for j in range(i + 1, n):
                if lo <= overlap[i, j] <= hi:
                    yield i, j, float(overlap[i, j])
    else:
        raise SystemExit(f"error: {index_name}: neither 'pair_infos' (LoFTR) nor 'overlap_matrix' (D2-Net scene_info): keys {sorted(index.files)}")


def main(argv=None):
    global index_name
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("index")
    ap.add_argument("--root", required=True, help="MegaDepth root the index's paths are relative to")
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-overlap", type=float, default=0.5)
    ap.add_argument("--max-overlap", type=float, default=1.0)
    ap.add_argument("--max-pairs", type=int, default=0, help="0 = all")
    ap.add_argument("--copy", action="store_true", help="copy the files instead of linking them")
    a = ap.parse_args(argv)
    index_name = a.index
    index = np.load(a.index, allow_pickle=True)
    for key in ("image_paths", "depth_paths", "intrinsics", "poses"):
        if key not in index.files:
            raise SystemExit(f"error: {a.index}: missing '{key}' (keys: {sorted(index.files)})")
    images, depths = index["image_paths"], index["depth_paths"]
    intrinsics, poses = index["intrinsics"], index["poses"]
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "depths"), exist_ok=True)
    cameras, lines = {}, []

    def use(i):
        if images[i] is None or depths[i] is None:
            return None
        name = os.path.basename(str(images[i]))
        if name not in cameras:
            for src, dst in ((images[i], os.path.join(a.out, "images", name)),
                             (depths[i], os.path.join(a.out, "depths", os.path.splitext(name)[0] + ".h5"))):
                src = os.path.join(a.root, str(src))
                if not os.path.exists(src):
                    raise SystemExit(f"error: {src}: not found (is --root the MegaDepth root?)")
                if os.path.lexists(dst):
                    os.remove(dst)
                if a.copy:
                    shutil.copyfile(src, dst)
                else:
                    os.symlink(os.path.abspath(src), dst)
            cameras[name] = {"K": [float(v) for v in np.asarray(intrinsics[i], dtype=np.float64).reshape(9)],
                             "pose": [float(v) for v in np.asarray(poses[i], dtype=np.float64).reshape(16)]}
        return name

    for i, j, overlap in pairs_of(index, a.min_overlap, a.max_overlap):
        n0, n1 = use(i), use(j)
        if n0 is None or n1 is None:
            continue
        lines.append(f"{n0} {n1} {overlap:.4f}")
        if a.max_pairs and len(lines) >= a.max_pairs:
            break
    with open(os.path.join(a.out, "cameras.json"), "w") as f:
        json.dump(cameras, f, indent=1)
    with open(os.path.join(a.out, "pairs.txt"), "w") as f:
        f.write("\n".join(lines) + ("\n" if lines else ""))
    print(f"{len(lines)} pairs of {len(cameras)} images -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
