#!/usr/bin/env bash
# One-time and incremental set-up of LocalFeat on Debian 12: system packages, native libraries
# (CMake), TorchSharp's native library made loadable, .NET solution. Idempotent; fast when everything is
# already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="${LOCALFEAT_CONFIG:-Release}"
log() { printf '[setup] %s\n' "$*" >&2; }

PACKAGES=(
  cmake g++ make pkg-config
  libopenblas0-pthread                # CBLAS SGEMM of the host emulation (the reference BLAS is ~35x slower)
  patchelf python3                    # scripts/patch-torchsharp.sh (TorchSharp's native library on Debian 12)
  libgtk-3-0                          # OpenCvSharp4's official linux-x64 runtime links against it
  opencv-doc                          # the default photos (examples/data)
  libboost-context-dev                # fibers of the kernel host emulation
  libnvrtc11.2 libnvrtc-builtins11.8  # NVRTC: compile checks of every kernel (Debian non-free)
  libgtest-dev                        # native tests
  libgloo-dev                         # collectives (allreduce, broadcast) of data-parallel training: native/gloo
  python3-torch python3-numpy python3-scipy  # independent checks in tests (never used by the library)
  python3-h5py python3-opencv         # tests: the MegaDepth-style fixture scene (depth .h5, warped images), scripts/convert_megadepth.py, the relative-pose test scene (scripts/fixtures/make_pose_pairs.py)
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  # NVRTC lives in non-free: add the contrib and non-free components where they are missing.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    as_root sed -i -E '/^Components:/{/non-free( |$)/!s/$/ contrib non-free/}' /etc/apt/sources.list.d/debian.sources
  fi
  if [ -f /etc/apt/sources.list ]; then
    as_root sed -i -E '/^deb .*debian/{/non-free( |$)/!s/$/ contrib non-free/}' /etc/apt/sources.list
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Native libraries: liblocalfeat_kernels_host.so, liblocalfeat_iosinit.so, native tests.
BUILD="$ROOT/build/native"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  log "configuring native build"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
log "building native libraries"
mkdir -p "$ROOT/build"
if ! cmake --build "$BUILD" -j"$(nproc)" >"$ROOT/build/native-build.log" 2>&1; then
  grep -E "error|Error" "$ROOT/build/native-build.log" | head -40 >&2
  log "native build failed (full log: build/native-build.log)"
  exit 1
fi

log "restoring NuGet packages"
dotnet restore "$ROOT/LocalFeat.sln" --nologo -v quiet
# TorchSharp's libLibTorchSharp.so, from the NuGet cache the restore used.
packages=$(dotnet nuget locals global-packages --list | sed -E 's/^global-packages: //')
torchsharp_version=$(sed -nE 's:.*<TorchSharpVersion>([^<]+)</TorchSharpVersion>.*:\1:p' "$ROOT/Directory.Build.props")
"$ROOT/scripts/patch-torchsharp.sh" "$packages/torchsharp/$torchsharp_version/runtimes/linux-x64/native/libLibTorchSharp.so" \
  "$BUILD/lib/liblocalfeat_iosinit.so" "$BUILD/torchsharp"

log "building .NET solution ($CONFIG)"
dotnet build "$ROOT/LocalFeat.sln" -c "$CONFIG" --no-restore --nologo -v quiet -clp:ErrorsOnly
log "ready"
