"""Memory stays flat over many rounds of codec work, error paths included (subprocess runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import smppfast

HERE = Path(__file__).parent


@pytest.mark.leaks
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads RSS from /proc")
def test_codec_and_text_error_paths_do_not_leak() -> None:
    env = dict(os.environ)
    # Run against the same smppfast this test imported (source tree or installed wheel).
    env["PYTHONPATH"] = str(Path(smppfast.__file__).parent.parent) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, str(HERE / "isolated" / "codec_loop.py"), "30000"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    growth_kib = int(out.stdout.strip())
    # 30,000 rounds allocate and free about 500,000 objects; a leak of one object per round
    # would show as megabytes. Allow for allocator noise.
    assert growth_kib < 2048, f"RSS grew by {growth_kib} KiB"
