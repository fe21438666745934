"""Bounded, local soak and restart tests of the page (issue 17): memory and disk flat over many
requests (disk bounded by the cap), and a real app stopped (SIGTERM, then Ctrl-C) and started
again leaves no request folder behind. Slow: a couple of minutes on two busy cores."""
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from drumgen import midi, webapp
from tests.conftest import ROOT
from tests.test_app import free_port
from tests.test_page_robust import interruptible
from tests.test_webapp import SHIPPED

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def test_soak_memory_and_disk_stay_flat(tmp_path):
    cap = 4 * 2**20
    drums = webapp.DrumApp({"mgvae": SHIPPED}, work_dir=tmp_path / "work", max_bytes=cap)
    drums.folders.min_seconds = 0  # the cap alone (a request's two minutes of grace: test_page_robust)
    rng = np.random.default_rng(0)
    examples = [e for e in webapp.examples() if midi.read_song(e).bars.is_four_four]  # the MonotonicGrooveVAE's
    rss, disk = [], []
    for i in range(160):
        lanes = {"density": [round(float(x), 2) for x in rng.random(4)], "ride": [0] * int(rng.integers(0, 5))}
        drums.run(examples[i % len(examples)], "all", lanes, "any", "mgvae", float(rng.random() * 2), i)
        if i % 20 == 19:
            rss.append(rss_mb())
            disk.append(drums.folders.total_bytes())
    assert max(disk) < cap + 2 * 2**20, disk          # the cap, passed by at most the request in flight
    assert rss[-1] - rss[1] < 60, rss                  # flat after the first rise (caches, the synths)


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    end = time.time() + seconds
    while time.time() < end:
        assert proc.poll() is None, "the app exited"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def test_stop_and_restart_leaves_no_request_folder(tmp_path):
    from gradio_client import Client, handle_file

    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    for signum in (signal.SIGTERM, signal.SIGINT):
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=interruptible)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for(url, proc)
            client = Client(url, verbose=False, download_files=str(tmp_path / "client"))
            client.predict(handle_file(str(ROOT / "assets" / "son_clave.mid")), "all", {}, "any", "mgvae", 1.0, 0,
                           api_name="/generate")
            assert list(Path(tmp_path, f"drumgen-app-{proc.pid}").glob("req-*/*.mid"))
            proc.send_signal(signum)
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not list(tmp_path.glob("drumgen-app-*")), signum


def test_minutes_of_audio_encode_in_a_thread(tmp_path):
    """libsndfile's Vorbis encoder overflows a thread's stack on one write of ten minutes: written in blocks."""
    import threading

    import soundfile

    from drumgen import audio

    samples = np.zeros((32000 * 600, 2), np.float32)
    samples[::1000] = 0.5
    thread = threading.Thread(target=audio.write_audio, args=(samples, tmp_path / "long.ogg", 32000, "OGG"))
    thread.start()
    thread.join(300)
    assert soundfile.info(str(tmp_path / "long.ogg")).duration == pytest.approx(600, abs=0.1)
