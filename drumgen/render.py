"""The old home of the text grid, the piano roll and the audio, re-exported from their own modules.

Temporary: removed once webapp and cli import the new modules (drumgen.text_grid,
drumgen.piano_roll, drumgen.audio).
"""
from .audio import (
    AUDIO_FORMATS,
    DRUM_BANK,
    DRUM_CHANNEL,
    MAX_AUDIO_SECONDS,
    PEAK,
    SOUNDFONT_DIR,
    SYNTH_GAIN,
    SYSTEM_SOUNDFONTS,
    TAIL_SECONDS,
    AudioUnavailable,
    audio_to_bytes,
    audio_unavailable_reason,
    find_soundfont,
    render_audio,
    render_hvo_audio,
    seconds_at_tick,
    write_audio,
)
from .piano_roll import BARS_PER_SYSTEM, GROOVE_LABEL, MAX_SYSTEMS, ROLL_ORDER, close_figure, figure_to_png, piano_roll
from .text_grid import SHORT_NAMES, hvo_to_text

__all__ = [
    "AUDIO_FORMATS", "BARS_PER_SYSTEM", "DRUM_BANK", "DRUM_CHANNEL", "GROOVE_LABEL", "MAX_AUDIO_SECONDS", "MAX_SYSTEMS",
    "PEAK", "ROLL_ORDER", "SHORT_NAMES", "SOUNDFONT_DIR", "SYNTH_GAIN", "SYSTEM_SOUNDFONTS", "TAIL_SECONDS",
    "AudioUnavailable", "audio_to_bytes", "audio_unavailable_reason", "close_figure", "figure_to_png", "find_soundfont",
    "hvo_to_text", "piano_roll", "render_audio", "render_hvo_audio", "seconds_at_tick", "write_audio",
]
