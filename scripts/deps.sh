#!/usr/bin/env bash
# Installs what g2g's main job and tests need on a Debian machine, if missing:
#   dataset-fashion-mnist  the four official Fashion-MNIST files in /usr/share/datasets/fashion-mnist
#   libopenblas-dev        OpenBLAS (libopenblas.so.0), loaded at run time by binaries built with -tags openblas
#   gcc                    the C compiler cgo needs for those binaries (and go test -race)
#   python3-numpy          (with the argument "test") numpy, for the test that reads a checkpoint from Python
#   python3-torch          (with the argument "bench") PyTorch, the reference of examples/bench,
#   libtcmalloc-minimal4, libjemalloc2  (with "bench") the allocators PyTorch is also probed with
# Runs apt-get as root, or through sudo when not root. Safe to run again.
set -euo pipefail
pkgs=(dataset-fashion-mnist libopenblas-dev gcc)
if [ "${1:-}" = test ]; then pkgs+=(python3-numpy); fi
if [ "${1:-}" = bench ]; then pkgs+=(python3-torch libtcmalloc-minimal4 libjemalloc2); fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	echo "installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "note: go is at /usr/local/go/bin; add it to PATH" >&2
fi
