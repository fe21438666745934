"""Command line: `python -m drumgen generate groove.mid -o drums.mid [--fill 8,16] [--loop]`, `python -m drumgen regenerate
song.mid --take drums.mid --bars 5-8 -o new.mid`, `python -m drumgen tracks file.mid`,
`python -m drumgen drum-maps` (the drum maps the MIDI can be written with) and
`python -m drumgen demo` (drums for an example groove, printed as a grid). A recording (WAV, FLAC, OGG, MP3)
goes wherever a MIDI file does: `python -m drumgen generate take.wav -o drums.mid --mix mix.wav [--bpm 96]
[--bar-one 1.2] [--sensitivity 0.6] [--meter 3/4]`; `tracks take.wav` says what drumgen heard in it.

    python -m drumgen generate song.mid -o drums.mid --density 0.3-0.9 --intensity 0.6 --mute ride,crash \
        --weight snare=0.3 --style funk
"""
from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from . import controls as C
from . import drum_maps, midi, pipeline, takes
from . import hvo as H
from . import recording as R
from .control_input import ControlSpec, ignored_controls, in_bars, parse_weights
from .models.checkpoint import CHECKPOINT_DIR, SHIPPED, load_default_model

DEMO_GROOVE = CHECKPOINT_DIR.parent / "assets" / "tapped_rhythm.mid"


def _add_generate_options(gen: argparse.ArgumentParser, output_help: str) -> None:
    """The options `generate` and `regenerate` share: the groove, the controls, the model, sampling."""
    gen.add_argument("input", help="any MIDI file (a tapped rhythm, a bass line, a song) or a recording "
                                   f"({R.AUDIO_FORMATS_SAID}: a riff, a bass take, a beatbox)")
    gen.add_argument("-o", "--output", required=True, help=output_help)
    gen.add_argument("--mix", metavar="AUDIO", default=None,
                     help="also write the drums with the song as audio (.wav, .flac or .ogg): for a recording, the "
                          "recording itself with the drums aligned to it")
    _add_hearing_options(gen)
    gen.add_argument("--track", type=int, default=None, help="use only this track's notes (see `tracks`); default: all notes")
    gen.add_argument("--channel", type=int, default=None, help="use only the notes on this MIDI channel (1-16)")
    gen.add_argument("--seed", type=int, default=0, help="same seed, same drums (default 0)")
    gen.add_argument("--temperature", type=float, default=1.0,
                     help="latent noise: 0 = most likely, higher = more varied (default 1)")
    gen.add_argument("--threshold", type=float, default=None,
                     help="one hit threshold for every voice (default: per voice, from the checkpoint)")
    gen.add_argument("--max-hits", type=int, default=None, help="at most this many hits per voice in each 2 bars")
    gen.add_argument("--merge", action="store_true", help="also copy the input's tracks into the output")
    gen.add_argument("--play-silent-bars", action="store_true",
                     help="let the drums play in bars where the groove is silent (default: they rest)")
    ctl = gen.add_argument_group(
        "per-bar controls",
        "A CURVE is one value for every bar ('0.5'), a ramp over the song ('0.2-0.9'), or one value a bar "
        "('0.2,0.2,0.5,0.9', the last repeated to the end). Voices: " + ", ".join(H.VOICES) + " ('hat' = closed_hat).")
    ctl.add_argument("--density", metavar="CURVE", default=None,
                     help="how busy each bar is, 0..1 as a rank among real drummers' bars (0.5 = a median bar, "
                          "0.9 = busier than 90%%); default: the model decides")
    ctl.add_argument("--intensity", metavar="CURVE", default=None,
                     help="how loud each bar is: the mean velocity of its hits, 0..1; default: the groove's dynamics")
    ctl.add_argument("--mute", metavar="VOICES", action="append", default=None,
                     help="voices that never play, e.g. ride,crash (repeatable)")
    ctl.add_argument("--weight", metavar="VOICE=CURVE", action="append", default=None,
                     help="a voice's share of each bar's hits, 0..1, e.g. snare=0.3 or a ramp snare=0.1-0.4 "
                          "(repeatable, or snare=0.3,kick=0.3; weights together at most 1)")
    ctl.add_argument("--style", default=None,
                     help="any (default) or one of: " + ", ".join(C.STYLES) + " (the controlled model only)")
    ctl.add_argument("--fill", metavar="BARS", default=None,
                     help="where the fills go: bars such as '8,16', 'every 4' (bars 4, 8, 12, ...) or 'none'; no fill "
                          "in the other bars; default: the model decides (the controlled model only)")
    gen.add_argument("--loop", action="store_true",
                     help="make the last bar lead back into the first, so the part loops without a seam")
    gen.add_argument("--model", default=None, metavar="{" + ",".join(SHIPPED) + "}",
                     help="which shipped model: controlled (per-bar controls and style, learnt; "
                          f"{SHIPPED['controlled'].name}) or mgvae (the MonotonicGrooveVAE, controls "
                          f"applied while sampling, no style; {SHIPPED['mgvae'].name}); default: controlled "
                          "when its checkpoint is there, else mgvae")
    gen.add_argument("--checkpoint", default=None, help="a model checkpoint (.pth) of any kind; overrides --model")
    out = gen.add_argument_group("the MIDI written (for a DAW's drum instrument)")
    out.add_argument("--drum-map", metavar="NAME_OR_FILE", default="gm",
                     help="the note of each voice: " + ", ".join(drum_maps.MAPS) + " (see `drum-maps`), or a "
                          ".json/.yaml file of {voice: note}; default gm (General MIDI)")
    out.add_argument("--per-voice-tracks", action="store_true",
                     help="one track per voice (Kick, Snare, ...), instead of one track for all drums")
    out.add_argument("--humanize", metavar="X", type=float, default=1.0,
                     help="0..1: 0 puts every hit on the grid, 1 keeps the model's micro-timing (default 1)")
    out.add_argument("--swing", metavar="X", type=float, default=0.0,
                     help="0..1, on top of humanize: delays the off-beats of --swing-grid; 1 = triplet swing "
                          "(2:1, an MPC's 66%%), 0.5 = an MPC's 58%% (default 0)")
    out.add_argument("--swing-grid", choices=tuple(drum_maps.SWING_GRIDS), default="16th",
                     help="which off-beats swing: the second 16th of each 8th, or the second 8th of each beat (default 16th)")
    out.add_argument("--velocity-range", metavar="LOW-HIGH", default=None,
                     help="write the softest hit at LOW and the loudest at HIGH (1..127), the rest between, "
                          "e.g. 60-110 to even out the dynamics; default: as generated")


def _add_hearing_options(parser: argparse.ArgumentParser) -> None:
    heard = parser.add_argument_group("a recording (how drumgen hears it; default: found from the music)")
    heard.add_argument("--bpm", default=None, help=f"its tempo, {R.MIN_BPM:g}-{R.MAX_BPM:g} BPM (default: beat tracking)")
    heard.add_argument("--bar-one", metavar="SECONDS", default=None,
                       help="where bar 1 starts, in seconds from the start (default: the first strong onset, "
                       "the grid set through the onsets near it)")
    heard.add_argument("--sensitivity", default=None,
                       help=f"0-1: how faint an onset may be and still count (default {R.DEFAULT_SENSITIVITY})")
    heard.add_argument("--meter", default=None, help="its meter, e.g. 3/4 or 6/8 (default 4/4)")


def _hearing(args: argparse.Namespace) -> dict:
    return {k: v for k, v in (("bpm", args.bpm), ("bar_one", args.bar_one), ("sensitivity", args.sensitivity),
                              ("meter", args.meter)) if v is not None}


def read_input(args: argparse.Namespace) -> midi.Song:
    """The input as a Song: a MIDI file read, a recording heard with the --bpm, --bar-one, --sensitivity
    and --meter given (those are refused for a MIDI file, which has its own tempo and meter)."""
    said = _hearing(args)
    if not R.looks_like_audio(args.input):
        if said:
            print(f"note: {args.input} is MIDI, which has its own tempo and meter: "
                  + ", ".join("--" + k.replace("_", "-") for k in said) + " ignored", file=sys.stderr)
        return midi.read_song(args.input)
    song = R.read_source(args.input, said)
    midi.check_meter(song)
    return song


def _mix_format(path: str) -> str:
    from pathlib import Path

    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG"}.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"--mix: write a .wav, .flac or .ogg file, not {Path(path).name}")
    return fmt


def write_mix(part: pipeline.DrumPart, path: str) -> None:
    """The drums with the song as audio (stereo, 44.1 kHz): for a recording, the recording with the drums
    aligned to its bar 1 (previews.mix_with_recording); for MIDI, the song with its drums synthesised."""
    from pathlib import Path

    from . import audio, previews

    fmt = _mix_format(path)
    rate = 44100
    # heard as the export plays (its humanize, swing, velocities) on the General MIDI kit the SoundFont has:
    # another map's notes (ad2's hi-hat on 49) would sound as other drums (a crash)
    options = (part.export or midi.DEFAULT_EXPORT).with_(drum_map=drum_maps.GM, per_voice_tracks=False)
    heard_drums = midi.hvo_to_midi(part.hvo, part.song, options=options)
    end = audio.seconds_at_tick(heard_drums, part.song.n_steps * heard_drums.ticks_per_beat // H.STEPS_PER_BEAT)
    recording = getattr(part.song, "recording", None)
    if recording is not None:
        drums = audio.render_parts([heard_drums], rate, until_seconds=end)[0]
        samples = previews.mix_with_recording(drums, recording, rate)
    else:
        samples = audio.normalized(sum(audio.render_parts([part.song.source, heard_drums], rate, until_seconds=end)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    audio.write_audio(samples, path, rate, fmt)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m drumgen", description="Turn a MIDI rhythm into a drum part.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a drum MIDI for a MIDI groove")
    _add_generate_options(gen, "where to write the drum MIDI")
    regen = sub.add_parser("regenerate", help="new drums for chosen bars or voices of a take, the rest kept as it is")
    _add_generate_options(regen, "where to write the new take (drum MIDI)")
    regen.add_argument("--take", required=True, help="the drums MIDI drumgen made for this song (the take to edit)")
    regen.add_argument("--bars", default=None,
                       help="bars that get new drums, as musicians count them: '5-8', '5,12', '3'; default: every bar")
    regen.add_argument("--lock", metavar="VOICES", default=None,
                       help="voices kept as they are in every bar, e.g. kick,snare (new hats around the kept kick)")
    regen.add_argument("--follow", type=float, default=None, metavar="W",
                       help="how far the new bars lean toward what the kept bars around them play, 0 (not at all: "
                            "fresh bars) to 1; default: the model's (0.5 for the shipped controllable model)")
    tracks = sub.add_parser("tracks", help="list a MIDI file's tracks, tempo and meter (a recording: what drumgen heard)")
    tracks.add_argument("input")
    _add_hearing_options(tracks)
    maps = sub.add_parser("drum-maps", help="list the drum maps (the note each voice is written on)")
    maps.add_argument("map", nargs="?", default=None, help="one map, by name or file (checks a file); default: all")
    demo = sub.add_parser("demo", help="drums for an example groove with the shipped model, printed as a grid")
    demo.add_argument("input", nargs="?", default=str(DEMO_GROOVE), help=f"a MIDI groove (default: {DEMO_GROOVE.name})")
    demo.add_argument("-o", "--output", default="out/drums.mid", help="where to write the drum MIDI (default out/drums.mid)")
    demo.add_argument("--seed", type=int, default=0, help="same seed, same drums (default 0)")
    return parser


def _demo(args: argparse.Namespace) -> int:
    """The first release's demo: the groove's drums from the shipped model, written and shown as a grid."""
    from pathlib import Path

    from .text_grid import hvo_to_text

    model = load_default_model()
    part = pipeline.make_drums(model, args.input, seed=args.seed)
    song, hvo = part.song, part.hvo
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    midi.write_midi(part.drums_midi, args.output)
    shown = min(song.n_bars, 4)
    print(f"{args.input}: {song.n_bars} bars of {song.meter_label} at {song.bpm:.1f} BPM -> {args.output} ({model.kind})")
    print(f"first {shown} bars (KD kick ... RD ride; 'in' is your groove; X loud, x medium, . soft):\n")
    print(hvo_to_text(hvo, midi.song_to_groove(song), max_bars=shown, bars=song.bars))
    return 0


def _export_options(args: argparse.Namespace) -> midi.ExportOptions:
    """--drum-map, --per-voice-tracks, --humanize, --swing, --swing-grid, --velocity-range, read and checked."""
    return midi.ExportOptions(drum_map=args.drum_map, per_voice_tracks=args.per_voice_tracks, humanize=args.humanize,
                              swing=args.swing, swing_grid=args.swing_grid, velocity_range=args.velocity_range)


def _drum_maps(args: argparse.Namespace) -> int:
    shown = [drum_maps.resolve(args.map)] if args.map else list(drum_maps.MAPS.values())
    print("\n\n".join(m.describe() for m in shown))
    if not args.map:
        print("\nA map of your own: a .json or .yaml file of {voice: note}, e.g. "
              '{"kick": 36, "snare": 38, "fallback": "gm"} (voices not given take the fallback map\'s notes).')
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "drum-maps":
            return _drum_maps(args)
        if args.command == "tracks":
            song = read_input(args)
            heard = getattr(song, "recording", None)
            if heard is not None:
                print(f"{args.input}: a recording; {heard.describe()}")
                print(f"  {song.n_bars} bars of {song.meter_label} from bar 1 (the groove: one track of onsets)")
                for note in heard.notes:
                    print(f"  note: {note}")
                return 0
            meter = song.meter_label if song.time_signatures else "4/4 (none given)"
            print(f"{args.input}: {song.n_bars} bars, {song.bpm:.1f} BPM, ticks per beat {song.ticks_per_beat}, "
                  f"meter {meter}")
            if len(song.bars.to_runs()) > 1:
                bar = 1
                for n, d, count in song.bars.to_runs():
                    print(f"  meter {n}/{d} from bar {bar} ({count} bar{'s' if count != 1 else ''})")
                    bar += count
            for track in song.tracks:
                print("  " + track.describe())
            if len(song.select(drums_only=True)):
                _, unmapped = midi.song_to_hvo(song)
                if unmapped:
                    print("  drum pitches drumgen has no voice for: "
                          + ", ".join(f"{p} ({n}x)" for p, n in sorted(unmapped.items())))
            return 0
        spec = ControlSpec(density=args.density, intensity=args.intensity, mute=args.mute,
                           weights=parse_weights(args.weight), style=args.style, fill=args.fill)
        export = _export_options(args)  # checked before the model loads
        model = load_default_model(args.checkpoint, model=args.model)
        for name in ignored_controls(model, spec):
            print(f"note: {model.kind} ignores {name}; use --model controlled to choose a {name}",
                  file=sys.stderr)
        if args.mix:
            from .audio import audio_unavailable_reason

            _mix_format(args.mix)
            reason = audio_unavailable_reason()
            if reason:
                raise ValueError(f"--mix: {reason}")
        if getattr(args, "follow", None) is not None:
            if not 0.0 <= args.follow <= 1.0:  # NaN fails too
                raise ValueError(f"--follow must be a number from 0 to 1, got {args.follow}")
            if model.kept_bars_pull is None:
                print(f"note: {model.kind} does not lean toward the kept bars; --follow ignored", file=sys.stderr)
        song = read_input(args)
        keep = {}
        if args.command == "regenerate":
            if export.humanize != 1 or export.swing or export.velocity_range:
                print("note: the take is read as it was written, its swing, timing and dynamics included; "
                      "--humanize, --swing and --velocity-range apply again to every note written", file=sys.stderr)
            take = takes.take_from_midi(args.take, song, drum_map=export.drum_map)  # written with the same map
            bars = None if args.bars is None else takes.parse_bars(args.bars, song.n_bars)
            if bars == []:
                raise ValueError("--bars names no bar: give bars such as '5-8' (or leave it out for every bar)")
            keep = dict(keep=take, keep_mask=takes.keep_mask(song.n_steps, regenerate=bars, lock=args.lock,
                                                             bars=song.bars), follow_kept_bars=args.follow)
        part = pipeline.make_drums(
            model, song, track=args.track, channel=args.channel, controls=spec,
            seed=args.seed, temperature=args.temperature, thresholds=args.threshold, max_hits=args.max_hits,
            rest_in_silent_bars=not args.play_silent_bars, export=export, loop=args.loop, **keep)
        hvo = part.hvo
        for note in part.reading.notes:
            print(f"note: {note}", file=sys.stderr)
        midi.write_midi(part.merged_midi if args.merge else part.drums_midi, args.output)
        changed = ""
        if keep:
            step_changed = (part.hvo != keep["keep"]).any(axis=-1)
            bars_changed = np.nonzero(np.add.reduceat(step_changed, song.bars.starts[:-1]) > 0)[0]
            changed = f"; new drums {in_bars(bars_changed)}" if len(bars_changed) else "; no bar changed"
        heard = getattr(song, "recording", None)
        if heard is not None:
            print(f"heard in {args.input}: {heard.describe()}", file=sys.stderr)
            for note in heard.notes:
                print(f"note: {note}", file=sys.stderr)
        if args.mix:
            write_mix(part, args.mix)
        bpm = heard.bpm if heard is not None else song.bpm  # a recording's: the median over its beats
        print(f"wrote {args.output}: {H.hit_count(hvo)} drum hits over {song.n_bars} bars of {song.meter_label} "
              f"at {bpm:.1f} BPM ({model.kind}){changed}" + (f"; {args.mix}: the drums with the "
              f"{'recording' if heard is not None else 'song'}" if args.mix else ""))
        return 0
    except (midi.MidiError, ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not the user's fault: still one line, the details in the log
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        print(f"error: drumgen failed unexpectedly ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return 1
