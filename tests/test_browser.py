"""JupyterLab in a real browser: a student opens notebook 01 and runs its setup cell.

Starts ``jupyter lab`` on the loopback address with a one-off token, in a temporary folder holding a copy of
notebook 01 (JupyterLab autosaves: the repository's notebook must not change), opens it in headless Chromium
driven by Playwright, runs the setup cell from the keyboard (Shift+Enter), and checks that its output appears
and that the kernel runs this environment's Python (the one with ``course_lib``). A screenshot is saved next to
the copy (``COURSE_SCREENSHOT_DIR`` names a folder to keep it).

Needs Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it) and the ``playwright``
package (in ``[dev]``); Playwright's own browser downloads are not used. Skipped, with that message, without them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTEBOOK = "01_history_and_lenet.ipynb"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium: `apt-get install -y chromium` (Debian) enables the browser test"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict | list:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving ``tmp_path``: yields ``(base_url, token)``."""
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    for cell in nb.cells:  # outputs cleared: what appears was computed in the browser's kernel
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, tmp_path / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}",
        "--allow-root",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    settings = tmp_path / ".lab-settings"  # every cell kept in the page (no windowing), no news pop-up
    for plugin, values in [
        ("notebook-extension/tracker", {"windowingMode": "none"}),
        ("apputils-extension/notification", {"fetchNews": "false"}),
    ]:
        file = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))
    env = {
        **os.environ,
        "COURSE_PROFILE": "fast",
        "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
    }
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"jupyter lab exited: {(tmp_path / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail(f"jupyter lab did not answer in 60 s: {(tmp_path / 'lab.log').read_text()[-2000:]}")
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_a_student_runs_the_setup_cell_in_jupyterlab(lab, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the [dev] extra)")
    base, token = lab
    shots = Path(os.environ.get("COURSE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
            page.wait_for_function("() => /\\|\\s*Idle/.test(document.body.innerText)", timeout=120_000)  # kernel up
            cell = page.locator(".jp-Notebook .jp-CodeCell").first
            assert cell.locator(".jp-OutputArea-output").count() == 0
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")  # the student's keystroke: run the cell, move to the next
            text: list[str] = []
            for _ in range(360):  # the kernel starts, then the imports run: up to 3 min on a busy CPU
                text = cell.locator(".jp-OutputArea-output").all_inner_texts()
                if any("profile=fast" in t for t in text):
                    break
                page.wait_for_timeout(500)
            cell.scroll_into_view_if_needed()  # the screenshot shows the cell that ran, with its output
            page.screenshot(path=str(shots / "jupyterlab_01_setup_cell.png"))
        finally:
            browser.close()
    assert any("profile=fast" in t and "seed=" in t for t in text), text
    sessions = _get(f"{base}/api/sessions?token={token}")
    assert len(sessions) == 1 and sessions[0]["path"].endswith(NOTEBOOK)
    spec = _get(f"{base}/api/kernelspecs?token={token}")["kernelspecs"][sessions[0]["kernel"]["name"]]["spec"]
    python = spec["argv"][0]
    resolved = Path(sys.executable if python in ("python", "python3", "{prefix}/bin/python") else python)
    assert resolved.resolve().parent == Path(sys.executable).resolve().parent, (python, sys.executable)
    assert (shots / "jupyterlab_01_setup_cell.png").stat().st_size > 10_000
