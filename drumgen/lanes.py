"""Per-bar lanes: what their value means, and a Gradio component that paints it like DAW automation.

The value is a plain dict `{lane: [value or None per bar]}`: LANES are density, intensity and the 9
voices' shares of each bar's hits (drumgen.controls), values in [0, 1], None = free (the model
decides), a voice's 0 mutes it in that bar. The page and a `gradio_client` caller send the same dict.

    lanes, notes = clean_lanes(anything_a_caller_sent, n_bars)   # checked, clamped, padded
    controls, notes = lanes_to_controls(lanes, style="funk")      # -> model.generate(groove, controls)
    lanes = set_lane(lanes, "density", "ramp_up", 0.9)             # a whole lane at once

Callers can send anything, so `clean_lanes` checks every value: numbers are clamped to [0, 1], lists
padded with free bars (or cut) to the song's bars; an unknown lane name or a value that is not a
number is refused with a message (a typo would otherwise be ignored without a word).
`lanes_to_controls` scales the voices' shares in a bar down to add up to 1 when they add up to more
(each lane is painted on its own).

`BarLanes` (a `gr.HTML` subclass: `html_template`, `css_template`, `js_on_load`, no scripts from
elsewhere) draws one row per lane and one cell per bar (the number of bars is the length of the
lists; more bars than fit scroll sideways, the lane names stay put). Dragging across a lane paints
the bars under the pointer (the height in the cell is the value, in steps of 0.05, 0 at the
cell's bottom edge and below, 1 at its top edge and above; bars a fast stroke skips are filled in
on a straight line); a right-button drag, a double-click or a
right-click frees bars again. The bars move while dragging; the new value goes to Python once, on
release (one new object assigned to `props.value`: Gradio syncs only a new object, and a re-render
redraws the cells from the value).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import gradio as gr
import numpy as np

from . import controls as C
from . import hvo as H

LANES: tuple[str, ...] = ("density", "intensity", *H.VOICES)
LANE_LABELS = {"density": "Density", "intensity": "Intensity", **H.VOICE_LABELS}
LANE_HELP = {
    "density": "how busy each bar is: 0.5 a median bar of real drummers, 0.9 busier than 90% of them",
    "intensity": "how loud each bar is: the mean velocity of its hits",
    **{v: f"{H.VOICE_LABELS[v]}: its share of each bar's hits (0 = muted)" for v in H.VOICES},
}
# (key, label, colour group, help) of each row of BarLanes, top to bottom
LANE_ROWS = [(k, LANE_LABELS[k], k if k in ("density", "intensity") else "voice", LANE_HELP[k]) for k in LANES]
LANE_SHAPES = ("flat", "ramp_up", "ramp_down", "free")
RAMP_START = 0.25  # a ramp runs between a quarter of the level and the level


def lane_key(name: Any) -> str:
    """'Density', 'snare', 'hihat', 'closed-hat' -> a key of LANES; ValueError naming the lanes otherwise."""
    key = re.sub(r"[\s-]+", "_", str(name).strip().lower())
    if key in ("density", "intensity"):
        return key
    try:
        return H.voice_name(key)
    except ValueError:
        raise ValueError(f"unknown lane {name!r}; lanes: {', '.join(LANES)}") from None


def free_lanes(n_bars: int) -> dict[str, list[None]]:
    """Every lane free for n_bars bars: the value the page starts a song with."""
    return {k: [None] * int(n_bars) for k in LANES}


def lanes_length(lanes: Any) -> int:
    """The number of bars a lanes value spans (its longest list; 0 for anything else); ValueError
    past H.MAX_BARS (no song is longer, and a caller's endless list would be echoed back bar by bar)."""
    if not isinstance(lanes, Mapping):
        return 0
    n = max([len(v) for v in lanes.values() if isinstance(v, (list, tuple))], default=0)
    if n > H.MAX_BARS:
        raise ValueError(f"lanes: {n} bars; drumgen takes songs of at most {H.MAX_BARS} bars")
    return n


def _from_text(lanes: Any) -> Any:
    """Lanes sent as JSON text -> the object (None for blank text); ValueError in words otherwise."""
    if not isinstance(lanes, str):
        return lanes
    try:
        return json.loads(lanes) if lanes.strip() else None
    except json.JSONDecodeError:
        raise ValueError("lanes: expected an object {lane: [value or null per bar]}, got text that is not JSON") from None


def _lane_value(lane: str, bar: int | None, x: Any, notes: set[str]) -> float | None:
    """One cell -> a number in [0, 1] or None (free); ValueError for what is not a number."""
    where = f"{lane}" if bar is None else f"{lane}, bar {bar + 1}"
    if x is None or (isinstance(x, str) and x.strip().lower() in ("", "free", "null", "none", "nan")):
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float, str, np.number)):
        raise ValueError(f"lanes: {where} must be a number from 0 to 1 or null (free), got {x!r}")
    try:
        value = float(x)
    except ValueError:
        raise ValueError(f"lanes: {where} must be a number from 0 to 1 or null (free), got {x!r}") from None
    if math.isnan(value):
        return None
    if not 0.0 <= value <= 1.0:
        notes.add(f"{LANE_LABELS[lane].lower()}: values outside 0..1 were clamped")
        value = min(max(value, 0.0), 1.0)
    return round(value, 4)


def clean_lanes(lanes: Any, n_bars: int) -> tuple[dict[str, list[float | None]], list[str]]:
    """Anything a caller sent -> (every lane as n_bars values in [0, 1] or None, notes for the person).

    Accepted: None (all free), a dict or its JSON text, {lane: list of numbers/None (one a bar) or one
    number (every bar)}. Lane names as in LANES (case, '-' and the voice aliases of the command line
    are fine). Numbers are clamped to [0, 1]; lists shorter than the song are padded with free bars,
    longer ones cut; NaN is free. Unknown lanes and values that are not numbers raise ValueError.
    """
    notes: set[str] = set()
    lanes = _from_text(lanes)
    if lanes is None:
        return free_lanes(n_bars), []
    if not isinstance(lanes, Mapping):
        raise ValueError(f"lanes: expected an object {{lane: [value or null per bar]}}, got {type(lanes).__name__}")
    out = free_lanes(n_bars)
    seen: set[str] = set()
    for name, values in lanes.items():
        lane = lane_key(name)
        if lane in seen:
            raise ValueError(f"lanes: {lane} is given twice")
        seen.add(lane)
        if values is None or isinstance(values, (int, float, str, np.number)):
            out[lane] = [_lane_value(lane, None, values, notes)] * n_bars
            continue
        if not isinstance(values, (list, tuple)):
            raise ValueError(f"lanes: {lane} must be a list of numbers or nulls (one a bar), got {type(values).__name__}")
        if len(values) > n_bars and any(v is not None for v in values[n_bars:]):
            notes.add(f"{LANE_LABELS[lane].lower()}: values past bar {n_bars} (the song's last) were ignored")
        cells = [_lane_value(lane, b, x, notes) for b, x in enumerate(values[:n_bars])]
        out[lane] = cells + [None] * (n_bars - len(cells))
    return out, sorted(notes)


def lanes_to_controls(lanes: Mapping[str, list[float | None]], style: str | None = None) -> tuple[dict | None, list[str]]:
    """Clean lanes (see clean_lanes) and a style -> (controls for `generate`, or None when all is free,
    notes). Voices' shares set in a bar that add up to more than 1 are scaled down to add up to 1."""
    n_bars = lanes_length(lanes)
    notes = []
    controls: dict[str, Any] = {}
    for name in ("density", "intensity"):
        values = np.array([np.nan if x is None else x for x in lanes.get(name, [])], np.float64)
        if np.isfinite(values).any():
            controls[name] = values
    shares = np.array([[np.nan if x is None else x for x in lanes.get(v, [None] * n_bars)] for v in H.VOICES],
                      np.float64).reshape(H.N_VOICES, n_bars)  # (9, B)
    total = np.nansum(shares, axis=0)
    over = total > 1 + 1e-9
    if over.any():
        shares[:, over] /= total[over]
        notes.append(f"instrument shares above 1 in total were scaled to add up to 1 {in_bars(np.nonzero(over)[0])}")
    instruments = {v: shares[i] for i, v in enumerate(H.VOICES) if np.isfinite(shares[i]).any()}
    if instruments:
        controls["instruments"] = instruments
    if style is not None and str(style).strip().lower() not in C.FREE_STYLES:
        controls["style"] = C.STYLES[C.style_index(style)]
    if not controls:
        return None, notes
    C.validate_controls(controls, 1, n_bars)  # the model's own check, once more
    return controls, notes


def bar_ranges(bars) -> str:
    """[0, 1, 2, 5, 7, 8] -> '1–3, 6, 8–9' (1-based)."""
    bars = sorted(int(b) for b in bars)
    parts, start = [], None
    for i, b in enumerate(bars):
        if start is None:
            start = b
        if i + 1 == len(bars) or bars[i + 1] != b + 1:
            parts.append(f"{start + 1}" if start == b else f"{start + 1}–{b + 1}")
            start = None
    return ", ".join(parts)


def in_bars(bars) -> str:
    """'in bar 3' or 'in bars 1–3, 6'."""
    bars = list(bars)
    return f"in bar{'s' if len(bars) > 1 else ''} {bar_ranges(bars)}"


def describe_lanes(lanes: Mapping[str, list[float | None]]) -> list[str]:
    """One line per lane that is set: '**density** 0.20–0.90 in bars 1–8', '**ride** muted in bars 1–16'."""
    lines = []
    for lane in LANES:
        values = lanes.get(lane) or []
        set_bars = [b for b, x in enumerate(values) if x is not None]
        if not set_bars:
            continue
        zero = [b for b in set_bars if values[b] == 0]
        some = [b for b in set_bars if values[b] != 0]
        parts = []
        if some:
            lo, hi = min(values[b] for b in some), max(values[b] for b in some)
            level = f"{lo:.2f}" if lo == hi else f"{lo:.2f}–{hi:.2f}"
            parts.append(f"{level} {in_bars(some)}")
        if zero:
            parts.append(f"{'muted' if lane in H.VOICES else '0'} {in_bars(zero)}")
        lines.append(f"**{LANE_LABELS[lane].lower()}** " + "; ".join(parts))
    return lines


def set_lane(lanes: Any, lane: str, shape: str, level: float = 0.8) -> dict[str, list[float | None]]:
    """A whole lane at once: 'flat' (every bar at level), 'ramp_up' (a quarter of the level in the
    first bar to the level in the last: a build-up, not silence, since 0 mutes a voice and empties a
    bar), 'ramp_down' (the level to a quarter of it), 'free'; lane 'all' with 'free' frees every
    lane. Returns the new lanes (a new dict); the other lanes are kept as they were (cleaned)."""
    lanes = _from_text(lanes)
    n_bars = lanes_length(lanes)
    if n_bars == 0:
        raise ValueError("Load a groove first: the lanes get one column per bar of the song.")
    out, _ = clean_lanes(lanes, n_bars)
    shape = str(shape).strip().lower().replace(" ", "_").replace("-", "_")
    if shape not in LANE_SHAPES:
        raise ValueError(f"unknown lane shape {shape!r}; shapes: {', '.join(LANE_SHAPES)}")
    if str(lane).strip().lower() in ("all", "all lanes"):
        if shape != "free":
            raise ValueError("only 'free' applies to all lanes at once; choose one lane for the other shapes")
        return free_lanes(n_bars)
    key = lane_key(lane)
    level = number_in("level", level, 0.0, 1.0)
    if shape == "free":
        out[key] = [None] * n_bars
    elif shape == "flat":
        out[key] = [round(level, 4)] * n_bars
    else:
        ramp = np.linspace(RAMP_START * level, level, n_bars) if n_bars > 1 else np.array([level])
        out[key] = [round(float(x), 4) for x in (ramp if shape == "ramp_up" else ramp[::-1])]
    return out


def number_in(name: str, value: Any, lo: float, hi: float) -> float:
    """A number from a caller (number or numeric text), clamped to [lo, hi]; ValueError otherwise."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}") from None
    if isinstance(value, bool) or math.isnan(x):
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return min(max(x, lo), hi)


# --- the component ----------------------------------------------------------------------------------


HTML_TEMPLATE = r"""
<div class="bl-wrap">
  <div class="bl-head">
    ${label ? `<span class="bl-title">${label}</span>` : ''}
    <span class="bl-readout">drag across the bars to paint &middot; right-drag, double-click or right-click
      frees &middot; an empty cell is free: the model decides</span>
  </div>
  ${(() => {
    const v = (value && typeof value === 'object' && !Array.isArray(value)) ? value : {};
    const n = Math.max(0, ...lanes.map(l => Array.isArray(v[l.key]) ? v[l.key].length : 0));
    if (!n) {
      return `<div class="bl-empty">Load a groove: one column per bar appears here.</div>`;
    }
    const cols = `grid-template-columns: repeat(${n}, minmax(${cell_width}px, 1fr)); min-width: ${n * cell_width}px`;
    const numbers = Array.from({length: n}, (_, b) =>
      `<div class="bl-num">${(b + 1) % bar_label_every === 0 || b === 0 || n <= 16 ? b + 1 : ''}</div>`).join('');
    const rows = lanes.map(l => {
      const vals = Array.isArray(v[l.key]) ? v[l.key] : [];
      const cells = Array.from({length: n}, (_, b) => {
        const x = vals[b];
        const set = typeof x === 'number' && isFinite(x);
        const y = set ? Math.max(0, Math.min(1, x)) : 0;
        const state = !set ? 'free' : y === 0 ? 'set zero' : 'set';
        return `<div class="bl-cell ${state}${b % 4 === 3 ? ' bl-four' : ''}" data-lane="${l.key}" data-bar="${b}"`
          + ` title="${l.label}, bar ${b + 1}: ${set ? y.toFixed(2) : 'free'}">`
          + `<div class="bl-fill" style="height: ${Math.round(y * 100)}%"></div></div>`;
      }).join('');
      return `<div class="bl-row bl-${l.group}" data-lane="${l.key}">`
        + `<div class="bl-name" title="${l.help}">${l.label}</div>`
        + `<div class="bl-cells" data-lane="${l.key}" style="${cols}">${cells}</div></div>`;
    }).join('');
    return `<div class="bl-scroll"><div class="bl-grid"><div class="bl-row bl-numbers"><div class="bl-name">bar</div>`
      + `<div class="bl-cells" style="${cols}">${numbers}</div></div>${rows}</div></div>`;
  })()}
</div>
"""

CSS_TEMPLATE = r"""
.bl-wrap { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
           padding: 8px 10px; background: var(--block-background-fill); user-select: none; }
.bl-head { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; margin-bottom: 6px; }
.bl-title { font-weight: 600; }
.bl-readout { font-size: 12px; color: var(--body-text-color-subdued); }
.bl-empty { padding: 18px; color: var(--body-text-color-subdued); text-align: center; }
.bl-scroll { overflow-x: auto; padding-bottom: 4px; }
.bl-grid { display: flex; flex-direction: column; gap: 3px; width: max-content; min-width: 100%; }
.bl-row { display: flex; align-items: stretch; }
.bl-name { flex: 0 0 104px; position: sticky; left: 0; z-index: 2; font-size: 12px; padding-right: 8px;
           display: flex; align-items: center; justify-content: flex-end; text-align: right;
           background: var(--block-background-fill); }
.bl-cells { display: grid; gap: 2px; flex: 1 1 auto; touch-action: none; }
.bl-numbers .bl-cells { touch-action: auto; }
.bl-num { font-size: 10px; text-align: center; color: var(--body-text-color-subdued); }
.bl-cell { position: relative; height: ${lane_height}px; border-radius: 3px; cursor: ns-resize;
           background: var(--background-fill-secondary); overflow: hidden; }
.bl-cell.bl-four { margin-right: 2px; }
.bl-cell.free { background: repeating-linear-gradient(135deg, var(--background-fill-secondary) 0 4px,
                var(--border-color-primary) 4px 5px); opacity: 0.8; }
.bl-fill { position: absolute; left: 0; right: 0; bottom: 0; border-radius: 2px 2px 0 0; }
.bl-density .bl-fill { background: #2563eb; }
.bl-intensity .bl-fill { background: #ea580c; }
.bl-voice .bl-fill { background: #0d9488; }
.bl-cell.zero { background: #fee2e2; }
.bl-cell.zero::after { content: "×"; position: absolute; inset: 0; display: flex; align-items: center;
                       justify-content: center; color: #b91c1c; font-size: 13px; font-weight: 700; }
.bl-row.bl-intensity { margin-bottom: 5px; }
"""

JS_ON_LOAD = r"""
let drag = null;
const STEP = 0.05, BOTTOM = 0.12, TOP = 0.9;
const clamp = x => Math.max(0, Math.min(1, x));
const snap = x => Math.round(x / STEP) * STEP;
const readout = () => element.querySelector('.bl-readout');
const current = () => (props.value && typeof props.value === 'object' && !Array.isArray(props.value)) ? props.value : {};

function drawCell(cell, v, laneLabel, bar) {
  const fill = cell.querySelector('.bl-fill');
  cell.classList.remove('free', 'set', 'zero');
  if (v === null) {
    cell.classList.add('free');
    fill.style.height = '0%';
  } else {
    cell.classList.add('set');
    if (v === 0) cell.classList.add('zero');
    fill.style.height = Math.round(v * 100) + '%';
  }
  cell.title = `${laneLabel}, bar ${bar + 1}: ${v === null ? 'free' : v.toFixed(2)}`;
}

function paint(e) {
  const rect = drag.cells.getBoundingClientRect();
  const n = drag.cells.children.length;
  const bar = Math.max(0, Math.min(n - 1, Math.floor((e.clientX - rect.left) / (rect.width / n))));
  // the bottom eighth of a cell (or below it) is 0, the top tenth (or above) is 1: both easy to hit
  const up = 1 - (e.clientY - rect.top) / rect.height;
  const v = drag.erase ? null : Number(snap(clamp((up - BOTTOM) / (TOP - BOTTOM))).toFixed(2));
  const from = drag.last ? drag.last : {bar, v};
  const lo = Math.min(from.bar, bar), hi = Math.max(from.bar, bar);
  for (let b = lo; b <= hi; b++) {
    let x = v;
    if (v !== null && from.v !== null && hi > lo) {  // bars a fast stroke skipped: a straight line between
      const t = (b - from.bar) / (bar - from.bar);
      x = Number(snap(from.v + t * (v - from.v)).toFixed(2));
    }
    drag.values[b] = x;
    drawCell(drag.cells.children[b], x, drag.label, b);
  }
  drag.last = {bar, v};
  const r = readout();
  if (r) r.textContent = `${drag.label}, bar ${bar + 1}: ${v === null ? 'free' : v.toFixed(2)}`;
}

function commit(lane, values) {
  const old = current();
  const next = {};
  for (const k of Object.keys(old)) next[k] = Array.isArray(old[k]) ? old[k].slice() : old[k];
  const n = element.querySelector(`.bl-cells[data-lane="${lane}"]`).children.length;
  const arr = Array.isArray(next[lane]) ? next[lane].slice(0, n) : [];
  while (arr.length < n) arr.push(null);
  for (const [b, v] of Object.entries(values)) arr[Number(b)] = v;
  next[lane] = arr;
  props.value = next;  // one new object: Gradio sends it to Python and the template redraws
}

function finish() {
  if (!drag) return;
  const d = drag;
  drag = null;
  commit(d.lane, d.values);
}

let lastTap = {time: 0, lane: null, bar: null};
element.addEventListener('pointerdown', e => {
  const cell = e.target.closest('.bl-cell');
  if (!cell || (e.button !== 0 && e.button !== 2)) return;
  e.preventDefault();
  // a double click frees the bar (counted here: with the pointer captured, 'dblclick' lands on the element)
  const now = performance.now();
  const again = e.button === 0 && lastTap.lane === cell.dataset.lane && lastTap.bar === cell.dataset.bar
    && now - lastTap.time < 450;
  lastTap = again ? {time: 0, lane: null, bar: null} : {time: now, lane: cell.dataset.lane, bar: cell.dataset.bar};
  if (again) {
    commit(cell.dataset.lane, {[cell.dataset.bar]: null});
    return;
  }
  const cells = cell.parentElement;
  const name = cells.parentElement.querySelector('.bl-name');
  drag = {lane: cell.dataset.lane, cells, label: name ? name.textContent : cell.dataset.lane,
          erase: e.button === 2, values: {}, last: null};
  try { element.setPointerCapture(e.pointerId); } catch (err) {}
  paint(e);
});
element.addEventListener('pointermove', e => { if (drag) paint(e); });
element.addEventListener('pointerup', finish);
element.addEventListener('pointercancel', finish);
element.addEventListener('lostpointercapture', finish);
element.addEventListener('contextmenu', e => {  // the right button frees bars: no menu over the lanes
  if (e.target === element || e.target.closest('.bl-scroll')) e.preventDefault();
});
"""

NUMBER_OR_NULL = {"anyOf": [{"type": "number"}, {"type": "null"}]}


class BarLanes(gr.HTML):
    """Per-bar lanes; value `{lane: [value in [0, 1] or None per bar]}` (see the module docstring).

    lanes: (key, label, group, help) per lane, top to bottom; group is a CSS class suffix that picks
    the colour ('density', 'intensity', 'voice')."""

    def __init__(self, lanes: Sequence[tuple[str, str, str, str]], value: Mapping[str, Any] | None = None, *,
                 label: str | None = "Per-bar controls", lane_height: int = 26, cell_width: int = 22, **kwargs: Any):
        self.lane_keys = [key for key, *_ in lanes]
        super().__init__(
            value=dict(value or {}),
            label=label,
            html_template=HTML_TEMPLATE,
            css_template=CSS_TEMPLATE,
            js_on_load=JS_ON_LOAD,
            lanes=[{"key": k, "label": lab, "group": g, "help": h} for k, lab, g, h in lanes],
            lane_height=int(lane_height),
            cell_width=int(cell_width),
            bar_label_every=4,
            **kwargs,
        )

    def preprocess(self, payload: Any) -> Any:
        return payload  # checked by the event's function (drumgen.webapp.clean_lanes): callers can send anything

    def postprocess(self, value: Any) -> Any:
        return value

    def api_info(self) -> dict[str, Any]:
        lane = {"type": "array", "items": NUMBER_OR_NULL,
                "description": "one value a bar in [0, 1]; null = free (the model decides)"}
        return {"type": "object", "title": "Per-bar lanes",
                "description": "{lane: [value or null per bar]}; lanes: " + ", ".join(self.lane_keys),
                "properties": {key: lane for key in self.lane_keys}}

    def example_payload(self) -> Any:
        return {"density": [0.3, 0.5, 0.7, 0.9], "snare": [None, None, 0.3, 0.3], "ride": [0, 0, 0, 0]}

    def example_value(self) -> Any:
        return self.example_payload()
