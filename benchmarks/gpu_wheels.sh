#!/usr/bin/env bash
# Wheels for benchmarks/gpu_check.sh: the packages mfbench[sevenn] needs that the lent H200's
# image lacks (Python 3.12, x86-64), trimmed so that they and the checkout travel within the
# device tool's 64 MiB: no plotly JavaScript, no chgnet 0.2.0 or r2scan weights, sevenn with only
# SevenNet-0 (11Jul2024) and SevenNet-MF-0. matminer, pymongo, dnspython and bibtexparser stay
# behind: nothing the check runs imports them.
# Usage: bash benchmarks/gpu_wheels.sh [folder]   (default .whl, which .gitignore ignores)
set -euo pipefail
DEST=${1:-.whl}
mkdir -p "$DEST"
PACKAGES=(
    annotated-types==0.8.0 ase==3.29.0 braceexpand==0.1.7 chgnet==0.4.2 ijson==3.6.0
    jsonschema==4.26.0 jsonschema-specifications==2025.9.1 matscipy==1.3.1 monty==2026.10.21
    orjson==3.13.0 palettable==3.3.3 plotly==7.1.0 pydantic==2.14.4 pydantic-core==2.50.5
    pymatgen==2026.10.24 pymatgen-core==2026.10.16 referencing==0.37.0 rpds-py==2026.9.1
    ruamel-yaml==0.19.1 sevenn==0.13.0 spglib==2.8.0 submitit==1.5.4 typing-inspection==0.4.5
    uncertainties==3.2.3
)
PLATFORMS=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
    PLATFORMS+=(--platform "${p}_x86_64")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${PLATFORMS[@]}" -d "$DEST" "${PACKAGES[@]}"
python3 -m pip wheel -q --no-deps -w "$DEST" nvidia-ml-py3==7.352.0  # an sdist only; chgnet imports it
python3 - "$DEST" <<'PY'
import glob
import os
import sys
import zipfile

DROP = {
    "sevenn-": ["SevenNet_l3i5/", "SevenNet_0__22May2024/", "pair_d3", "pair_e3gnn/"],
    "chgnet-": ["pretrained/0.2.0/", "pretrained/r2scan/"],
    "plotly-": ["plotly/package_data/", "plotly/labextension/", ".data/data/share/"],
}
for prefix, drop in DROP.items():
    (path,) = glob.glob(os.path.join(sys.argv[1], prefix + "*.whl"))
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if any(d in item.filename for d in drop):
                continue
            data = zin.read(item.filename)
            if item.filename.endswith("/RECORD"):
                data = b"\n".join(
                    line for line in data.split(b"\n") if not any(d.encode() in line for d in drop)
                )
            zout.writestr(item, data)
    os.replace(path + ".tmp", path)
PY
du -sh "$DEST"
