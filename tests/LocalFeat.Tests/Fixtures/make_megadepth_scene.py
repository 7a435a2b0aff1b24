#!/usr/bin/python3
"""Writes a tiny MegaDepth-like scene for the tests (python3-numpy, python3-opencv, python3-h5py).

OUT/raw/Undistorted_SfM/0001/images/{a,b}.png   two 200x150 views of one textured plane (graf1.png), rendered here
OUT/raw/phoenix/S6/0001/dense0/depths/{a,b}.h5  their exact depth maps (dataset "depth", float32; a.h5 plain,
                                                b.h5 gzip-compressed; a 20x20 block of a.h5 is 0 = no depth)
OUT/{a,b}_depth.bin                             the same depths as raw little-endian float32, for bit-exact checks
OUT/scene_info.npz                              D2-Net scene_info layout (a third image has no paths: unused)
OUT/loftr_index.npz                             LoFTR index layout (pair_infos)
Cameras: K in COLMAP's convention (top-left pixel centre at (0.5, 0.5)), poses world -> camera, world = camera a.
"""
import os
import sys

import cv2
import h5py
import numpy as np

out = sys.argv[1]
W, H = 200, 150
K = np.array([[170.0, 0, 101.0], [0, 172.0, 74.0], [0, 0, 1]])
tex = cv2.imread("/usr/share/doc/opencv-doc/examples/data/graf1.png", cv2.IMREAD_GRAYSCALE).astype(np.float32)
n = np.array([0.2, -0.1, -1.0]); n /= np.linalg.norm(n)
O = np.array([0.0, 0.0, 4.0]); rho = n @ O
U = np.cross([0.0, 1.0, 0.0], n); U /= np.linalg.norm(U); V = np.cross(n, U)
tcx, tcy, ppu = tex.shape[1] / 2, tex.shape[0] / 2, 60.0


def rodrigues(w):
    R, _ = cv2.Rodrigues(np.asarray(w, dtype=np.float64).reshape(3, 1))
    return R


poses = {"a": np.eye(4), "b": np.eye(4)}
poses["b"][:3, :3] = rodrigues([0.04, -0.15, 0.03])
poses["b"][:3, 3] = [-0.5, 0.1, 0.05]


def render(pose):
    R, t = pose[:3, :3], pose[:3, 3]
    C = -R.T @ t
    j, i = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(i + 0.5 - K[0, 2]) / K[0, 0], (j + 0.5 - K[1, 2]) / K[1, 1], np.ones_like(i)], -1) @ R  # R^T d per row
    lam = (rho - n @ C) / (rays @ n)
    X = C + lam[..., None] * rays
    u, v = (X - O) @ U, (X - O) @ V
    image = cv2.remap(tex, (tcx + u * ppu).astype(np.float32), (tcy + v * ppu).astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REFLECT_101)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), lam.astype(np.float32)


img_dir = os.path.join(out, "raw", "Undistorted_SfM", "0001", "images")
dep_dir = os.path.join(out, "raw", "phoenix", "S6", "0001", "dense0", "depths")
os.makedirs(img_dir, exist_ok=True)
os.makedirs(dep_dir, exist_ok=True)
for name, pose in poses.items():
    image, depth = render(pose)
    if name == "a":
        depth[30:50, 40:60] = 0
    cv2.imwrite(os.path.join(img_dir, name + ".png"), image)
    with h5py.File(os.path.join(dep_dir, name + ".h5"), "w") as f:
        f.create_dataset("depth", data=depth, **({"compression": "gzip"} if name == "b" else {}))
    depth.astype("<f4").tofile(os.path.join(out, name + "_depth.bin"))

image_paths = np.array(["Undistorted_SfM/0001/images/a.png", "Undistorted_SfM/0001/images/b.png", None], dtype=object)
depth_paths = np.array(["phoenix/S6/0001/dense0/depths/a.h5", "phoenix/S6/0001/dense0/depths/b.h5", None], dtype=object)
intrinsics = np.stack([K, K, K])
pose_arr = np.stack([poses["a"], poses["b"], np.eye(4)])
overlap = np.array([[1.0, 0.8, 0.6], [0.8, 1.0, 0.7], [0.6, 0.7, 1.0]])
np.savez(os.path.join(out, "scene_info.npz"), image_paths=image_paths, depth_paths=depth_paths, intrinsics=intrinsics,
         poses=pose_arr, overlap_matrix=overlap, scale_ratio_matrix=np.ones((3, 3)), angles=np.zeros((3, 3)))
pair_infos = np.empty(2, dtype=object)
pair_infos[0] = ((0, 1), 0.8, np.zeros(0))
pair_infos[1] = ((1, 0), 0.3, np.zeros(0))
np.savez(os.path.join(out, "loftr_index.npz"), image_paths=image_paths, depth_paths=depth_paths, intrinsics=intrinsics,
         poses=pose_arr, pair_infos=pair_infos)
print("ok")
