"""Screenshots of tensorboard's CUSTOM SCALARS and TEXT tabs for two short CartPole runs, as a
user sees them after ``tensorboard --logdir runs``, taken by headless Chromium.

    python scripts/screenshot_tensorboard.py            # writes docs/figures/tensorboard_*.png

Trains CartPole with the shipped 12k-step teacher (cosine gate) and without a teacher, in a
temporary ``runs/`` folder; starts tensorboard on the loopback interface only, waits until it
serves the runs' custom-scalars layout, screenshots both tabs, and stops tensorboard. Needs
Chromium (Debian: ``apt-get install chromium``); exits with status 2 and says so without it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from rl_auxgrad.config import load_config
from rl_auxgrad.run_dir import RunDir
from rl_auxgrad.training import start, train

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TABS = {"custom_scalars": "tensorboard_custom_scalars.png", "text": "tensorboard_text.png"}
RUNS = {"cartpole_teacher_cosine": [f"teacher.path={ROOT / 'teachers' / 'cartpole_ppo_12k'}"],
        "cartpole_noteacher": ["teacher.path=none"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_layout(url: str, server: subprocess.Popen, seconds: float) -> None:
    """Returns once tensorboard at ``url`` serves a custom-scalars layout; SystemExit if the
    server exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"tensorboard exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/data/plugin/custom_scalars/layout",
                                        timeout=5) as response:
                if json.load(response).get("category"):
                    return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"tensorboard at {url} served no custom-scalars layout in {seconds:.0f}s")


def screenshot(browser: str, url: str, out: Path) -> None:
    """One headless Chromium screenshot of ``url``; the virtual time budget lets tensorboard's
    JavaScript fetch and draw the charts before the picture is taken."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--window-size=1400,1000",
                        "--virtual-time-budget=15000", f"--screenshot={out}", url],
                       check=True, timeout=120, capture_output=True)
    print(f"{out} ({out.stat().st_size // 1024} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--steps", type=int, default=30_000, help="agent steps of each run")
    args = parser.parse_args()
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        print(f"error: no Chromium found (looked for {', '.join(BROWSERS)}): install it "
              "(Debian: apt-get install chromium) and run this again", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        for name, overrides in RUNS.items():
            config = load_config(ROOT / "configs" / "cartpole.yaml",
                                 [f"name={name}", f"total_steps={args.steps}", *overrides])
            train(start(config, RunDir(runs / name)), show_progress=False, report=sys.stdout)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir",
                                   str(runs), "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_layout(url, server, 120)
            args.out_dir.mkdir(parents=True, exist_ok=True)
            for tab, file in TABS.items():
                screenshot(browser, f"{url}/#{tab}", args.out_dir / file)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
