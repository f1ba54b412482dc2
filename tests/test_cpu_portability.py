"""A seeded CRNN fit gives the same weights on another vendor's CPU (QEMU user mode).

Runs ``tools/check_cpu_portability.py`` with an emulated AMD EPYC (AVX2): the
weights and outputs must equal this machine's bit for bit. It needs the CPU pins
the Makefile exports and ``qemu-x86_64`` (``.ci/run`` installs Debian's
``qemu-user``); without them it skips, saying which is missing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "check_cpu_portability.py"


@pytest.mark.skipif(shutil.which("qemu-x86_64") is None, reason="qemu-x86_64 not installed (Debian: qemu-user)")
@pytest.mark.skipif(not (os.environ.get("MKL_CBWR") and os.environ.get("ATEN_CPU_CAPABILITY")),
                    reason="CPU pins not exported (run through make)")
def test_crnn_fit_same_on_emulated_amd_cpu():
    done = subprocess.run([sys.executable, str(TOOL), "--cpus", "EPYC-Rome"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert "same weights and outputs on every CPU" in done.stdout
