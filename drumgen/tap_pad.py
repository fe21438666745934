"""The page's tap pad: a groove tapped in the browser against a click, for musicians with no MIDI.

`TapPad` (a `gr.HTML` subclass like `widgets.BarLanes`: `html_template`, `css_template`, `js_on_load`,
nothing loaded from elsewhere) has a tempo, a meter, a number of bars, a click on or off and Start /
Stop. Start counts in one bar (a WebAudio click in the browser, accented on each bar's first beat,
and a beat readout that runs with the click on or off), then the musician taps the pad (mouse or
touch: the higher on the pad, the louder) or any key (Shift: an accent), for the bars chosen; it stops
by itself after the last bar (or on Stop). Each tap keeps its own timing: `event.timeStamp` (the
clock of `performance.now()`) against the moment bar 1 sounds (the click's audio time mapped to that
clock, its output latency included). The value goes to Python once, when the pad stops:

    {"bpm": 100, "meter": "4/4", "bars": 4, "taps": [[seconds from bar 1, velocity 0-1], ...]}

(taps in the count-in have negative times; `recording_page.taps_song` keeps those just before bar 1 as
early hits on beat 1). `STOP_JS` is the "Use taps" button's `js`: it stops a pad still running and
hands its value to the event, so the last taps are never lost.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

METERS = ("4/4", "3/4", "2/4", "5/4", "6/8", "7/8", "12/8")
DEFAULT = {"bpm": 100, "meter": "4/4", "bars": 4, "taps": []}

HTML_TEMPLATE = r"""
<div class="tp-wrap">
  ${(() => {
    const v = (value && typeof value === 'object' && !Array.isArray(value)) ? value : {};
    const bpm = Number(v.bpm) || 100, meter = typeof v.meter === 'string' ? v.meter : '4/4';
    const bars = Number(v.bars) || 4;
    const taps = Array.isArray(v.taps) ? v.taps.filter(t => Array.isArray(t) && isFinite(t[0])) : [];
    const [n, d] = meter.split('/').map(Number);
    const barSec = (n * 4 / (d || 4)) * 60 / bpm;
    const span = Math.max(1, bars) * barSec;
    const dots = taps.filter(t => t[0] >= -barSec && t[0] <= span + barSec).map(t =>
      `<i class="tp-dot" style="left:${(100 * (t[0] + barSec) / (span + 2 * barSec)).toFixed(2)}%;`
      + `height:${Math.round(20 + 80 * Math.max(0, Math.min(1, Number(t[1]) || 0)))}%"></i>`).join('');
    const lines = Array.from({length: Math.max(1, bars) + 1}, (_, b) =>
      `<b class="tp-bar" style="left:${(100 * (b + 1) * barSec / (span + 2 * barSec)).toFixed(2)}%">`
      + `${b < bars ? b + 1 : ''}</b>`).join('');
    const options = meters.map(m => `<option value="${m}"${m === meter ? ' selected' : ''}>${m}</option>`).join('');
    const said = taps.length ? `${taps.length} tap${taps.length === 1 ? '' : 's'} at ${bpm} BPM in ${meter}: `
      + `"Use taps" makes them the groove` : 'Press Start: one bar of count-in, then tap along';
    return `<div class="tp-head">${label ? `<span class="tp-title">${label}</span>` : ''}
      <label>BPM <input class="tp-bpm" type="number" min="30" max="300" step="1" value="${bpm}"></label>
      <label>meter <select class="tp-meter">${options}</select></label>
      <label>bars <input class="tp-bars" type="number" min="1" max="64" step="1" value="${bars}"></label>
      <label><input class="tp-click" type="checkbox" checked> click</label>
      <button type="button" class="tp-start">Start</button>
      <button type="button" class="tp-stop" disabled>Stop</button>
      <button type="button" class="tp-clear">Clear</button></div>
      <div class="tp-pad" tabindex="0"><span class="tp-beat">${said}</span>
        <span class="tp-hint">tap here (higher = louder) or press any key (Shift: accent)</span></div>
      <div class="tp-strip">${lines}${dots}</div>
      <div class="tp-readout">${said}</div>`;
  })()}
</div>
"""

CSS_TEMPLATE = r"""
.tp-wrap { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); padding: 8px 10px;
           background: var(--block-background-fill); user-select: none; }
.tp-head { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-bottom: 6px; font-size: 13px; }
.tp-title { font-weight: 600; }
.tp-head input[type=number] { width: 4.5em; }
.tp-head button { padding: 2px 12px; border-radius: var(--radius-md); border: 1px solid var(--border-color-primary);
                  background: var(--button-secondary-background-fill); cursor: pointer; }
.tp-head button:disabled { opacity: 0.45; cursor: default; }
.tp-start { font-weight: 600; }
.tp-pad { height: 150px; border-radius: var(--radius-lg); display: flex; flex-direction: column; align-items: center;
          justify-content: center; gap: 6px; cursor: pointer; touch-action: none; outline: none;
          background: linear-gradient(to top, #fde7d4, #f97316); color: #431407; }
.tp-pad.running { box-shadow: inset 0 0 0 3px #2563eb; }
.tp-pad.hit { filter: brightness(1.25); }
.tp-pad.down { box-shadow: inset 0 0 0 6px #1d4ed8; }
.tp-beat { font-size: 20px; font-weight: 700; }
.tp-hint { font-size: 12px; opacity: 0.8; }
.tp-strip { position: relative; height: 34px; margin-top: 6px; background: var(--background-fill-secondary);
            border-radius: 4px; overflow: hidden; }
.tp-bar { position: absolute; top: 0; bottom: 0; border-left: 1px solid var(--border-color-primary); font-size: 9px;
          padding-left: 2px; color: var(--body-text-color-subdued); font-weight: 400; }
.tp-dot { position: absolute; bottom: 0; width: 3px; margin-left: -1px; background: #ea580c; border-radius: 1px; }
.tp-readout { font-size: 12px; color: var(--body-text-color-subdued); margin-top: 4px; }
"""

JS_ON_LOAD = r"""
let run = null;
const q = s => element.querySelector(s);
element.classList.add('tp-root');
const current = () => (props.value && typeof props.value === 'object' && !Array.isArray(props.value)) ? props.value : {};

function settings() {
  const bpm = Math.min(300, Math.max(30, Math.round(Number(q('.tp-bpm').value) || 100)));
  const meter = q('.tp-meter').value || '4/4';
  const [n, d] = meter.split('/').map(Number);
  const bars = Math.min(64, Math.max(1, Math.round(Number(q('.tp-bars').value) || 4)));
  return {bpm, meter, n, d, bars, click: q('.tp-click').checked};
}

function tick(ctx, when, accent) {
  const o = ctx.createOscillator(), g = ctx.createGain();
  o.frequency.value = accent ? 1760 : 1175;
  g.gain.setValueAtTime(0.0001, when);
  g.gain.exponentialRampToValueAtTime(accent ? 0.5 : 0.3, when + 0.002);
  g.gain.exponentialRampToValueAtTime(0.0001, when + 0.06);
  o.connect(g).connect(ctx.destination);
  o.start(when);
  o.stop(when + 0.08);
}

function start() {
  if (run) return;
  const s = settings();
  const quarter = 60 / s.bpm;
  const unit = s.d === 8 ? quarter / 2 : quarter;            // a click on each eighth of n/8, each quarter otherwise
  const perBar = s.d === 8 ? s.n : Math.round(s.n * 4 / s.d);
  const barSec = perBar * unit;
  const lead = 0.15;
  let ctx = null, bar1;
  if (s.click && (window.AudioContext || window.webkitAudioContext)) {
    try { ctx = new (window.AudioContext || window.webkitAudioContext)(); } catch (err) { ctx = null; }
  }
  if (ctx) {
    const t0 = ctx.currentTime + lead;
    for (let k = 0; k < perBar * (s.bars + 1); k++) tick(ctx, t0 + k * unit, k % perBar === 0);
    const latency = (ctx.outputLatency || 0) + (ctx.baseLatency || 0);
    bar1 = performance.now() + (t0 + barSec - ctx.currentTime + latency) * 1000;  // when bar 1's click is heard
  } else {
    bar1 = performance.now() + (lead + barSec) * 1000;
  }
  run = {s, ctx, bar1, unit, perBar, barSec, taps: [], timer: null, end: null};
  run.timer = setInterval(() => {
    const t = (performance.now() - run.bar1) / 1000;
    const k = Math.floor(t / run.unit + 1e-6);
    const beat = q('.tp-beat');
    if (t < 0) {
      if (beat) beat.textContent = `count-in ${Math.max(1, run.perBar + k + 1)}`;
    } else if (beat) {
      beat.textContent = `bar ${Math.floor(k / run.perBar) + 1} · ${k % run.perBar + 1}   (${run.taps.length} taps)`;
    }
  }, 30);
  run.end = setTimeout(stop, (run.bar1 - performance.now()) + (s.bars * barSec + unit) * 1000);
  q('.tp-pad').classList.add('running');
  q('.tp-start').disabled = true;
  q('.tp-stop').disabled = false;
  for (const x of element.querySelectorAll('.tp-head input, .tp-head select')) x.disabled = true;
}

function value() {
  if (!run) return current();
  return {bpm: run.s.bpm, meter: run.s.meter, bars: run.s.bars,
          taps: run.taps.map(t => [Number(t[0].toFixed(4)), Number(t[1].toFixed(3))])};
}

function stop() {
  if (!run) return current();
  const next = value();
  clearInterval(run.timer);
  clearTimeout(run.end);
  if (run.ctx) { try { run.ctx.close(); } catch (err) {} }
  run = null;
  props.value = next;  // one new object: Gradio sends it to Python and the template redraws
  return next;
}
element.__stopTaps = stop;

function tap(stamp, velocity) {
  if (!run) return;
  const t = (stamp - run.bar1) / 1000;
  if (t < -run.barSec) return;  // before the count-in's click
  run.taps.push([t, Math.max(0.05, Math.min(1, velocity))]);
  const pad = q('.tp-pad');
  pad.classList.add('hit');
  setTimeout(() => pad.classList.remove('hit'), 60);
}

element.addEventListener('pointerdown', e => {
  const pad = e.target.closest('.tp-pad');
  if (!pad) return;
  e.preventDefault();
  pad.focus();
  const r = pad.getBoundingClientRect();
  tap(e.timeStamp || performance.now(), 1 - (e.clientY - r.top) / r.height);
});
element.addEventListener('click', e => {
  const b = e.target.closest('button');
  if (!b) return;
  if (b.classList.contains('tp-start')) start();
  else if (b.classList.contains('tp-stop')) stop();
  else if (b.classList.contains('tp-clear')) {
    if (run) stop();
    const s = settings();
    props.value = {bpm: s.bpm, meter: s.meter, bars: s.bars, taps: []};
  }
});
document.addEventListener('keydown', e => {
  if (!run || e.repeat || e.ctrlKey || e.metaKey || e.altKey || ['Shift', 'Tab', 'Escape'].includes(e.key)) return;
  if (!element.isConnected) return;
  e.preventDefault();  // space would scroll the page
  tap(e.timeStamp || performance.now(), e.shiftKey ? 1.0 : 0.75);
});
"""

# The "Use taps" button's js: a pad still running stops, and its value is what the event gets.
STOP_JS = """(v) => { const el = document.querySelector('#drumgen-taps.tp-root, #drumgen-taps .tp-root');
  return (el && el.__stopTaps) ? el.__stopTaps() : v; }"""


class TapPad(gr.HTML):
    """The tap pad; value {"bpm", "meter", "bars", "taps": [[seconds from bar 1, velocity], ...]}."""

    def __init__(self, value: dict | None = None, *, label: str | None = "Tap a groove", **kwargs: Any):
        super().__init__(value=dict(value or DEFAULT), label=label, html_template=HTML_TEMPLATE,
                         css_template=CSS_TEMPLATE, js_on_load=JS_ON_LOAD, meters=list(METERS), **kwargs)

    def preprocess(self, payload: Any) -> Any:
        return payload  # read by recording_page.taps_song: callers can send anything

    def postprocess(self, value: Any) -> Any:
        return value

    def api_info(self) -> dict[str, Any]:
        tap = {"type": "array", "items": {"type": "number"}, "description": "[seconds from bar 1, velocity 0-1]"}
        return {"type": "object", "title": "Taps",
                "description": "taps against a click: {bpm, meter, bars, taps: [[seconds from bar 1, velocity], ...]}",
                "properties": {"bpm": {"type": "number"}, "meter": {"type": "string"}, "bars": {"type": "number"},
                               "taps": {"type": "array", "items": tap}}}

    def example_payload(self) -> Any:
        return {"bpm": 100, "meter": "4/4", "bars": 1, "taps": [[0.0, 0.9], [0.6, 0.5], [1.2, 0.8], [1.8, 0.5]]}

    def example_value(self) -> Any:
        return self.example_payload()
