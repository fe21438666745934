"""/export through the real app and gradio_client, as a script or a DAW plug-in calls it: the take
/generate gave, written with a drum map, a track per voice, humanize, swing and a velocity range;
a map of one's own uploaded; bad values answered with a sentence; the previews of the export."""
import json
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from drumgen import audio, drum_maps, midi, takes
from drumgen import hvo as H
from tests.conftest import make_midi
from tests.test_app import SHIPPED, drum_notes, launch_app
from tests.test_webapp import groove_notes

PARAMETERS = ["file", "take", "drum_map", "tracks", "humanize", "swing", "swing_grid", "velocity_low",
              "velocity_high", "map_file", "hearing"]  # hearing: a recording's corrections (optional)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    demo, url = launch_app(tmp_path_factory.mktemp("app"), {"mgvae": SHIPPED})
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


def test_export_through_the_api(served, tmp_path):
    client = served
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in api["/export"]["parameters"]] == PARAMETERS
    assert len(api["/export"]["returns"]) == 1 and len(api["/export_preview"]["returns"]) == 2
    groove = make_midi(tmp_path / "groove.mid", groove_notes(4), tempos=((0, 101.0),))
    song = handle_file(str(groove))
    *_, drums_mid, _merged, _summary = client.predict(song, "all", {}, "any", "mgvae", 1.0, 3, api_name="/generate")
    path = client.predict(file=song, take=handle_file(drums_mid), drum_map="ad2", tracks="per_voice", humanize=0,
                          swing=0.5, swing_grid="16th", velocity_low=40, velocity_high=110, api_name="/export")
    assert Path(path).name == "groove_drums_seed3_ad2.mid"
    notes, mid = drum_notes(path)
    assert set(notes[:, 1].tolist()) <= set(drum_maps.AD2.notes.values())
    assert notes[:, 2].min() == 40 and notes[:, 2].max() == 110
    assert [t.name for t in mid.tracks][1:] == [H.VOICE_LABELS[v] for v in H.VOICES]
    assert midi.read_song(path).bpm == pytest.approx(101.0, abs=0.01)
    take = takes.take_from_midi(drums_mid, midi.read_song(groove))
    assert len(notes) == H.hit_count(take)

    kit = tmp_path / "kit.json"
    kit.write_text(json.dumps({"kick": 24, "fallback": "gm"}))
    mine = client.predict(song, handle_file(drums_mid), "file", "one", 1, 0, "16th", None, None, handle_file(str(kit)),
                          api_name="/export")
    assert Path(mine).name == "groove_drums_seed3_kit.mid" and 24 in drum_notes(mine)[0][:, 1]

    for bad, words in ((dict(drum_map="ezdrummer"), "unknown drum map 'ezdrummer'"),
                       (dict(humanize=2), "humanize must be a number from 0 to 1, got 2"),
                       (dict(velocity_low=100, velocity_high=20), "velocity_low (100) is above velocity_high (20)"),
                       (dict(take=handle_file(str(groove))), "other notes than drums")):
        args = {"file": song, "take": handle_file(drums_mid), "drum_map": "gm", **bad}
        with pytest.raises(AppError, match=words.replace("(", r"\(").replace(")", r"\)")):
            client.predict(**args, api_name="/export")

    mix, alone = client.predict(song, handle_file(drums_mid), "gm", "one", 0, 1, "8th", None, None, None,
                                api_name="/export_preview")
    if audio.audio_unavailable_reason() is None:
        assert Path(alone).name == "groove_drums_seed3_gm_drums.ogg" and Path(mix).stat().st_size > 1000
    else:
        assert mix is None and alone is None
