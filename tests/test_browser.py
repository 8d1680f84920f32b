"""JupyterLab in a real browser: a student opens notebook 05a, runs all its cells, and moves its widget's slider.

Starts ``jupyter lab`` on the loopback address with a one-off token, in a temporary folder holding a copy of
notebook 05a with its outputs cleared (JupyterLab autosaves: the repository's notebook must not change), opens it in
headless Chromium driven by Playwright, and runs it as a student would: *Run > Run All Cells*, fast profile, a
fresh checkpoint folder (every model trains). It then checks that every code cell ran, that no cell shows an error,
that every figure the committed notebook has is drawn (the images are counted, and each has loaded), that the
kernel runs this environment's Python, and that moving the ipywidgets slider (``k+``, from the keyboard) redraws the
widget's figure. 05a is the shortest notebook with a slider (about 80 s under nbval on a 2-core CPU; 03 takes three
times as long). Screenshots are saved in ``COURSE_SCREENSHOT_DIR`` (default: the test's temporary folder).

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

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTEBOOK = "05a_weak_supervision.ipynb"
RUN_TIMEOUT_S = 1200  # the whole notebook, with a busy CPU (make test runs two workers beside it)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium: `apt-get install -y chromium` (Debian) enables the browser test"
    ),
]

# The state of the run, read from the page: each code cell's prompt ("[ ]:" not run, "[*]:" queued or running,
# "[12]:" done) and the kernel's status in the status bar.
PROGRESS_JS = """() => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
        .map(e => e.textContent.trim());
    return {prompts, idle: /\\|\\s*Idle/.test(document.body.innerText)};
}"""
# The figures drawn in cell outputs (not inside a widget) and whether each has loaded.
FIGURES_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img')]
    .filter(e => !e.closest('.jupyter-widgets'))
    .map(e => e.complete && e.naturalWidth > 0)"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict | list:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _figures(nb: nbformat.NotebookNode) -> int:
    """The image outputs of a notebook's code cells (a widget's own figures live in the widget, not counted)."""
    return sum(
        any(kind.startswith("image/") for kind in out.get("data", {}))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving ``tmp_path``, with notebook 05a there: yields ``(base_url, token)``."""
    nb = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    for cell in nb.cells:  # outputs cleared: what appears was computed in the browser's kernel
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)  # the saved widget state too
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
        "COURSE_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),  # nothing cached: every model trains in the kernel
        "COURSE_PROGRESS": "0",
        "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
    }
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"jupyter lab exited: {(tmp_path / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail(f"jupyter lab did not answer in 300 s: {(tmp_path / 'lab.log').read_text()[-2000:]}")
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_a_student_runs_a_whole_notebook_and_moves_its_slider(lab, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the [dev] extra)")
    base, token = lab
    shots = Path(os.environ.get("COURSE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    committed = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    n_code, n_figures = sum(c.cell_type == "code" for c in committed.cells), _figures(committed)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", timeout=300_000)  # minutes on a busy CPU
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=300_000)
            page.wait_for_function("() => /\\|\\s*Idle/.test(document.body.innerText)", timeout=300_000)  # kernel up
            assert page.locator(".jp-Notebook .jp-OutputArea-output").count() == 0

            start = time.monotonic()  # the student's clicks: Run > Run All Cells
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            progress: dict = {}
            while time.monotonic() - start < RUN_TIMEOUT_S:
                page.wait_for_timeout(1000)
                progress = page.evaluate(PROGRESS_JS)
                prompts = progress["prompts"]
                if progress["idle"] and prompts and not any("*" in s for s in prompts) and prompts[0] != "[ ]:":
                    break  # every cell ran, or an error stopped the run: the kernel is idle and nothing is queued
            seconds = time.monotonic() - start
            print(f"{NOTEBOOK}: Run All Cells took {seconds:.0f} s in JupyterLab")
            if not all(s[1:-2].isdigit() for s in prompts) or len(prompts) != n_code:
                page.screenshot(path=str(shots / "jupyterlab_05a_run_all.png"))
                stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
                pytest.fail(
                    f"after {seconds:.0f} s not every cell ran (prompts {prompts}); the last error output:\n"
                    + (stderr.all_inner_texts() or ["none"])[-1][-3000:]
                )
            page.keyboard.press("Control+s")  # saved, so that the outputs can be read back from the server

            figures = page.evaluate(FIGURES_JS)
            widget = page.locator(".widget-interact").first
            widget.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "jupyterlab_05a_run_all.png"))
            drawn = widget.locator("img").first
            drawn.wait_for(timeout=60_000)
            before = drawn.get_attribute("src")
            slider = widget.locator(".widget-slider").first  # k+
            readout = slider.locator(".widget-readout").inner_text()
            slider.locator(".noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")  # one step to the right: k+ grows by one
            page.wait_for_function(
                """([el, before]) => { const img = el.querySelector('img');
                    return img && img.getAttribute('src') !== before && img.complete && img.naturalWidth > 0; }""",
                arg=[widget.element_handle(), before],
                timeout=120_000,
            )
            moved = slider.locator(".widget-readout").inner_text()
            widget.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "jupyterlab_05a_slider_moved.png"))
        finally:
            browser.close()

    for _ in range(60):  # the save has reached the disk when every code cell has its execution count
        nb = nbformat.reads(json.dumps(_get(f"{base}/api/contents/{NOTEBOOK}?token={token}")["content"]), 4)
        if all(c.execution_count for c in nb.cells if c.cell_type == "code"):
            break
        time.sleep(1)
    errors = [
        f"cell {i}: {out.ename}: {out.evalue}"
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for out in c.outputs
        if out.output_type == "error"
    ]
    assert not errors, errors
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    assert _figures(nb) == n_figures and len(figures) == n_figures and all(figures), (figures, n_figures)
    assert int(moved) == int(readout) + 1, (readout, moved)
    sessions = _get(f"{base}/api/sessions?token={token}")
    assert len(sessions) == 1 and sessions[0]["path"].endswith(NOTEBOOK)
    spec = _get(f"{base}/api/kernelspecs?token={token}")["kernelspecs"][sessions[0]["kernel"]["name"]]["spec"]
    python = spec["argv"][0]
    resolved = Path(sys.executable if python in ("python", "python3", "{prefix}/bin/python") else python)
    assert resolved.resolve().parent == Path(sys.executable).resolve().parent, (python, sys.executable)
    assert (shots / "jupyterlab_05a_slider_moved.png").stat().st_size > 10_000
