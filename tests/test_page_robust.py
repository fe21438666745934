"""The page on a public machine (issue 17): no files left behind, the disk bounded, one concurrency
group, a long song that cannot starve short ones, and every message drumgen's own, cut short."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import mido
import pytest

from drumgen import midi, page_limits, request_files, webapp
from drumgen.page_limits import Busy, WorkGate
from drumgen.request_files import RequestFolders
from tests.conftest import ROOT
from tests.test_app import launch_app
from tests.test_webapp import SHIPPED

GROOVE = str(ROOT / "assets" / "funk_bass.mid")


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    return webapp.DrumApp({"mgvae": SHIPPED}, work_dir=tmp_path_factory.mktemp("work"))


def interruptible() -> None:
    """In the child before it starts: Ctrl-C works, as in a terminal, even when the test run itself was
    started in the background (a script's `&` leaves SIGINT ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def refused(call, *words):
    with pytest.raises(gr.Error) as error:
        call()
    for w in words:
        assert w in error.value.message, error.value.message
    return error.value.message


# --- files ------------------------------------------------------------------------------------------------

def test_folders_go_on_sigterm_and_sigint_and_dead_ones_are_swept(tmp_path):
    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    script = ("import time; from drumgen.request_files import RequestFolders as R; f = R(); f.remove_on_signals(); "
              "print(f.new(), flush=True); time.sleep(60)")
    for signum in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True,
                                preexec_fn=interruptible)
        folder = Path(proc.stdout.readline().strip())
        assert folder.is_dir() and folder.parent.name == f"drumgen-app-{proc.pid}"
        proc.send_signal(signum)
        proc.wait(20)
        assert not folder.parent.exists(), signum
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"drumgen-app-{dead.pid}" / "req-x").mkdir(parents=True)
    (tmp_path / f"drumgen-app-{os.getppid()}").mkdir()  # a live process's folder stays
    assert request_files.sweep_dead([tmp_path]) == [tmp_path / f"drumgen-app-{dead.pid}"]
    assert (tmp_path / f"drumgen-app-{os.getppid()}").exists()


def test_the_size_cap_removes_the_oldest_first(tmp_path):
    folders = RequestFolders(tmp_path, keep_seconds=3600, max_bytes=2500)
    made = []
    for i in range(4):
        made.append(folders.new())
        (made[-1] / "out.bin").write_bytes(bytes(1000))
        os.utime(made[-1], (1000 + i, time.time() - 1000 + i))
    folders.new()
    assert [f.exists() for f in made] == [False, False, True, True] and folders.total_bytes() <= 2500


def test_the_size_cap_never_takes_the_files_of_a_request_in_flight(tmp_path):
    folders = RequestFolders(tmp_path, keep_seconds=3600, max_bytes=1500, min_seconds=120)
    old, young = folders.new(), folders.new()
    for folder in (old, young):
        (folder / "out.bin").write_bytes(bytes(1000))
    os.utime(old, (1000, time.time() - 1000))
    folders.new()
    assert not old.exists() and young.exists()  # the cap passed by the young one's files, for two minutes


def test_a_signal_the_process_ignores_removes_nothing(tmp_path):
    """Started with & from a script, a program ignores SIGINT: it keeps running, so its files stay."""
    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    script = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
              "from drumgen.request_files import RequestFolders as R; f = R(); f.remove_on_signals(); "
              "print(f.new(), flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    folder = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGINT)
    time.sleep(1)
    assert proc.poll() is None and folder.is_dir()
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    assert not folder.parent.exists()


def test_long_means_many_bars_or_many_minutes():
    gate = WorkGate(long_bars=256, long_seconds=180)
    assert gate.is_long(300) and gate.is_long(200, seconds=600) and not gate.is_long(200, seconds=100)


def test_a_result_that_has_gone_says_so(drums, tmp_path):
    gone = str(tmp_path / "req-gone" / "song_with_drums_seed0.mid")
    message = refused(lambda: drums.lossless(gone), "This result has expired")
    assert "req-gone" not in message
    refused(lambda: drums.regenerate(GROOVE, "all", gone, "2", None, None, "any", "mgvae", 1.0, 1), "has expired")


def test_each_output_is_written_once(tmp_path):
    """The request folders are where Gradio serves from: Gradio copies nothing into its cache."""
    groove = tmp_path / f"once_{os.getpid()}_{time.time_ns()}.mid"
    groove.write_bytes(Path(GROOVE).read_bytes())
    drums_app = webapp.DrumApp({"mgvae": SHIPPED})
    from gradio_client import Client, handle_file

    import app

    demo = app.build_app(drums_app)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **app.launch_options())
    try:
        client = Client(demo.local_url, verbose=False, download_files=str(tmp_path / "client"))  # its own copies
        client.predict(handle_file(str(groove)), "all", {}, "any", "mgvae", 1.0, 0, api_name="/generate")
        served = request_files.served_folder()
        copies = [p for p in served.rglob(f"{groove.stem}_drums_seed0.mid")]
        assert len(copies) == 1 and drums_app.folders.base in copies[0].parents
        assert len(list(served.rglob(f"{groove.stem}*.ogg"))) == 2
    finally:
        demo.close()
        drums_app.folders.remove_all()


# --- concurrency and fairness -------------------------------------------------------------------------------

def test_every_heavy_event_is_in_one_group(tmp_path):
    demo, _ = launch_app(tmp_path)
    try:
        groups = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit) for fn in demo.fns.values()}
        heavy = {groups[n] for n in ("analyze", "groove", "generate", "new_variation", "regenerate", "edit",
                                     "lossless_audio")}
        heavy |= {(fn.concurrency_id, fn.concurrency_limit) for fn in demo.fns.values() if fn.name == "hand_edit"}
        assert heavy == {(page_limits.HEAVY, page_limits.GRADIO_WORKERS)}
        assert groups["lane_flat"][0] == groups["free_lanes"][0] == page_limits.LIGHT
    finally:
        demo.close()


def test_long_songs_take_one_slot_and_a_bounded_lane():
    import threading

    gate = WorkGate(slots=2, long_bars=100, long_slots=1, long_waiting=1)
    release, started = threading.Event(), []

    def hold(bars):
        with gate.slot(bars):
            started.append(bars)
            release.wait(10)

    threads = [threading.Thread(target=hold, args=(2048,)) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    assert started == [2048] and gate.waiting_long == 1
    with pytest.raises(Busy, match="try again in a minute"), gate.slot(2048):
        pass
    t0 = time.perf_counter()
    with gate.slot(16):  # a short song finds its slot at once
        assert time.perf_counter() - t0 < 0.1
    release.set()
    for t in threads:
        t.join(10)
    assert started == [2048, 2048] and gate.running == 0


# --- messages -------------------------------------------------------------------------------------------------

def test_values_are_refused_not_changed_and_people_are_understood(drums):
    run = drums.generate
    refused(lambda: run(GROOVE, "all", {}, "any", "mgvae", 1, 1.5), "seed must be a whole number", "got 1.5")
    refused(lambda: run(GROOVE, "all", {}, "any", "mgvae", 1, True), "seed must be a whole number", "got True")
    refused(lambda: run(GROOVE, 2.5, {}, "any", "mgvae", 1, 0), "track must be 'all' or a track number, got 2.5")
    refused(lambda: run(GROOVE, "1/..", {}, "any", "mgvae", 1, 0), "track must be", "'1/..'")
    for t in (float("nan"), True, None, "hot"):
        refused(lambda t=t: run(GROOVE, "all", {}, "any", "mgvae", t, 0), "temperature must be a number from 0 to 3")
    assert "seed 7" in run(GROOVE, "all", {}, "any", "mgvae", "1.5", "7")[-1]  # numbers as text
    for style in ("FUNK", " funk "):
        assert "**style** funk" in drums.run(GROOVE, "1", {}, style, "MGVAE", 1.0, 0).summary
    assert drums.set_lane({"density": [None] * 4}, "Closed Hat", "flat", "0.5")["closed_hat"] == [0.5] * 4
    refused(lambda: drums.set_lane({"density": [None] * 4}, "kick", "flat", None), "level must be a number")
    for junk, words in (("hello", "not JSON"), ([1, 2, 3], "expected an object"),
                        ({"cowbell": [1, 1, 1]}, "unknown lane 'cowbell'")):
        refused(lambda junk=junk: drums.free_all(junk), words)
    refused(lambda: drums.lane_shaper("flat")({"density": {"a": 1}}, "density", 0.5), "density must be a list")


def test_echoed_values_are_cut_short(drums):
    long = "x" * 100_000
    for call in (lambda: drums.generate(GROOVE, long, {}, "any", "mgvae", 1, 0),
                 lambda: drums.generate(GROOVE, "all", {long: [1]}, "any", "mgvae", 1, 0),
                 lambda: drums.generate(GROOVE, "all", {}, long, "mgvae", 1, 0),
                 lambda: drums.generate(GROOVE, "all", {}, "any", long, 1, 0),
                 lambda: drums.generate(GROOVE, "9" * 5000, {}, "any", "mgvae", 1, 0),
                 lambda: drums.generate(GROOVE, "all", {"density": [10**400]}, "any", "mgvae", 1, 0)):
        assert len(refused(call)) < 300


def test_plurals_and_a_huge_sysex(drums, tmp_path):
    one = tmp_path / "one.mid"
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=40, velocity=90),
                                      mido.Message("note_off", note=40, time=480)]))
    mid.save(one)
    summary = drums.run(str(one), "all", {"density": 0.05, "kick": [1]}, "any", "mgvae", 0, 0).summary
    assert "over 1 bar at" in summary
    assert "1 drum hits" not in summary and "over 1 bars" not in summary
    mid.tracks[0].insert(0, mido.Message("sysex", data=[1] * (8 * 2**20 - 200)))
    mid.save(tmp_path / "sysex.mid")
    with pytest.raises(midi.MidiError, match="one message of 8.4 MB .a system-exclusive dump.; drumgen reads messages"):
        midi.read_song(tmp_path / "sysex.mid")
