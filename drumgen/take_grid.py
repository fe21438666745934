"""drumgen's take grid: the current take drawn in the browser as a drum editor, clickable.

`TakeGrid` (a `gr.HTML` subclass like `widgets.BarLanes`: `html_template`, `css_template`,
`js_on_load`, nothing loaded from elsewhere) shows one row per voice (drumgen.hvo.VOICE_LABELS), one
column a 16th, in the song's bars (its meters: bar lines at the bars' starts, beat lines at the felt
beats as drumgen.meter.beat_groups has them, the meter above the first bar of each run when the song
is not all 4/4), the bar numbers above and the groove in a row of its own:

- a click on an empty cell adds a hit (MIDI velocity 100), a click on a hit removes it; pressing on a
  cell and moving along the row adds hits (or, from a hit, removes them) on the steps passed;
- dragging a hit up or down sets its velocity (the darker, the louder; 1..127, 110 pixels from the
  softest to the loudest); the hover readout says where and how loud;
- a click or a drag over the bar numbers selects bars (shift extends, ctrl / cmd adds or removes a
  bar, a click on the only bar selected clears); selected bars are highlighted down the grid;
- the padlock of a row locks the voice (Regenerate keeps it as it is).

Its value is one JSON-able dict:

    {"take": {"format": 1, "steps": T, "hits": [[step, voice, velocity, offset], ...],   # takes.take_to_json
              "tempo_map": [[beat, BPM], ...], "seed": 3, "model": "...", "made": "Generate",
              "meters": [[3, 4, 8], [4, 4, 2]]},  # its bars, meter.Bars.to_runs (absent: 4/4)
     "groove": [[step, velocity], ...],      # drawn only (ignored as input)
     "bars": [5, 6],                         # the bars selected, as musicians count (1-based)
     "locked": ["kick"]}                     # the voices locked

(and, with no take, "steps": T and "meters" for the groove's bars). The template lays the bars out from
the meters (16 steps a bar past them, or when they are absent or not meters drumgen plays) and writes
each bar's first step (then T) and each beat's first step into the grid's data-starts and data-beats,
which the readout and the bar selection read.

A hand edit (hits added, removed, a velocity changed) assigns a new value and triggers the
component's `input` event (Python renders the new take); selecting bars or locking a voice only
changes the value (no event: Regenerate reads them). An empty value ({} or None) shows what to do.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np

from . import hvo as H
from . import meter as M
from . import midi, takes
from .control_input import in_bars, voice_names
from .page_input import result_file

HTML_TEMPLATE = r"""
<div class="tg-wrap">
  <div class="tg-head">
    ${label ? `<span class="tg-title">${label}</span>` : ''}
    <span class="tg-readout">${help}</span>
  </div>
  ${(() => {
    const v = (value && typeof value === 'object' && !Array.isArray(value)) ? value : {};
    const t = (v.take && typeof v.take === 'object' && Array.isArray(v.take.hits)) ? v.take : {steps: v.steps, hits: []};
    if (!(t.steps > 0)) {
      return `<div class="tg-empty">Load a groove and Generate: the take appears here, one row per drum. Click a
        cell to add or remove a hit, drag a hit up or down for its velocity, select bars on the bar numbers and
        Regenerate them.</div>`;
    }
    const cw = cell_width, width = t.steps * cw;
    // the bars: the take's meters, runs [[numerator, denominator, bars], ...] (none: 4/4, 16 steps a bar)
    const runs = Array.isArray(t.meters) ? t.meters : (Array.isArray(v.meters) ? v.meters : []);
    const plays = r => Array.isArray(r) && r.length === 3 && r.every(Number.isInteger) && r[0] >= 1 && r[2] >= 1
      && [2, 4, 8].includes(r[1]) && r[0] * 16 / r[1] >= 4 && r[0] * 16 / r[1] <= 32;
    const starts = [], meters = [];  // each bar's first step and its meter [n, d]
    let at = 0;
    for (const r of (runs.every(plays) ? runs : [])) {
      for (let i = 0; i < r[2] && at < t.steps; i++) { starts.push(at); meters.push([r[0], r[1]]); at += r[0] * 16 / r[1]; }
    }
    while (at < t.steps) { starts.push(at); meters.push([4, 4]); at += 16; }
    const n = starts.length, ends = starts.slice(1).concat([t.steps]);
    // the felt beats, as drumgen.meter.beat_groups: quarters (n/2 too: cut time is drummed as 4/4); in
    // eighths dotted quarters when three divides n, quarters when two does, else quarters and a dotted
    // quarter last (7/8: 2+2+3)
    const groups = (a, d) => d === 2 ? Array(2 * a).fill(4) : d !== 8 ? Array(a).fill(16 / d)
      : (a % 3 === 0 ? Array(a / 3).fill(6)
      : (a % 2 === 0 ? Array(a / 2).fill(4) : Array((a - 3) / 2).fill(4).concat([6])));
    const beats = [], shade = [];  // beat starts (downbeats too); every other beat of a bar shaded, from its first
    starts.forEach((b, i) => {
      let x = b;
      groups(meters[i][0], meters[i][1]).forEach((g, j) => {
        if (x < ends[i]) beats.push(x);
        if (x < ends[i] && j % 2 === 0) shade.push([x, Math.min(x + g, ends[i])]);
        x += g;
      });
    });
    const px = x => `${x * cw}px`;
    const bands = (ab, c) => ab.length ? 'linear-gradient(to right, '  // colour c from a to b px, for each [a, b]
      + ab.map(([a, b]) => `transparent ${a}px, ${c} ${a}px ${b}px, transparent ${b}px`).join(', ') + ')' : 'none';
    const spans = (ab, c) => bands(ab.map(([a, b]) => [a * cw, b * cw]), c);  // from step a to step b
    const lines = (xs, c) => bands(xs.map(x => [x * cw, x * cw + 1]), c);    // 1px at the start of each step x
    const edge = c => `linear-gradient(to right, ${c} 1px, transparent 1px)`;
    const C_BAR = 'rgba(71, 85, 105, 0.75)', C_BEAT = 'var(--border-color-primary)', C_SHADE = 'rgba(127, 127, 127, 0.07)';
    let layers;  // [image, tile width] of the bar lines, the beat lines and the shading under the 16th lines
    if (meters.every(m => m[0] === meters[0][0] && m[1] === meters[0][1])) {  // one meter: tiles of a bar (or a beat)
      const g = groups(meters[0][0], meters[0][1]), bar = meters[0][0] * 16 / meters[0][1];
      const offsets = g.map((_, j) => g.slice(0, j).reduce((x, y) => x + y, 0));
      const even = g.every(x => x === g[0]);
      layers = [[edge(C_BAR), px(bar)], even ? [edge(C_BEAT), px(g[0])] : [lines(offsets, C_BEAT), px(bar)],
        even && g.length % 2 === 0 ? [`linear-gradient(to right, ${C_SHADE} 50%, transparent 50%)`, px(2 * g[0])]
          : [spans(offsets.filter((_, j) => j % 2 === 0).map((x, j) => [x, x + g[2 * j]]), C_SHADE), px(bar)]];
    } else {  // the meter changes: the lines of the whole take
      layers = [[lines(starts, C_BAR), '100%'], [lines(beats, C_BEAT), '100%'], [spans(shade, C_SHADE), '100%']];
    }
    const backdrop = ['bar', 'beat', 'shade'].map((name, i) => `--tg-${name}:${layers[i][0]};--tg-${name}-size:${layers[i][1]}`)
      .join(';');
    const waiting = v.take ? '' : `<div class="tg-wait">Generate: the drums appear in these rows.</div>`;
    const bars = new Set(Array.isArray(v.bars) ? v.bars : []);
    const locked = new Set(Array.isArray(v.locked) ? v.locked : []);
    const keys = voices.map(x => x.key);
    let sel = '';  // one highlight per run of selected bars, drawn in every row
    for (let b = 1; b <= n; b++) {
      if (bars.has(b) && !bars.has(b - 1)) {
        let e = b;
        while (bars.has(e + 1) && e < n) e++;
        sel += `<div class="tg-sel" style="left:${px(starts[b - 1])};width:${px(ends[e - 1] - starts[b - 1])}"></div>`;
      }
    }
    const ruler = starts.map((b, i) => `<div class="tg-bar${bars.has(i + 1) ? ' on' : ''}" data-bar="${i + 1}"`
      + ` style="left:${px(b)};width:${px(ends[i] - b)}">${i + 1}</div>`).join('');
    const changes = meters.every(m => m[0] === 4 && m[1] === 4) ? '' : meters.map((m, i) =>
      (i && m[0] === meters[i - 1][0] && m[1] === meters[i - 1][1]) ? ''
        : `<div class="tg-meter" data-bar="${i + 1}" style="left:${px(starts[i])}">${m[0]}/${m[1]}</div>`).join('');
    const meterRow = changes ? `<div class="tg-row tg-meter-row"><div class="tg-name"><span>meter</span></div>`
      + `<div class="tg-meters" style="width:${width}px">${changes}</div></div>` : '';
    const level = x => Math.max(0, Math.min(1, Number(x) || 0));
    const groove = (Array.isArray(v.groove) ? v.groove : []).filter(g => Array.isArray(g) && g[0] >= 0 && g[0] < t.steps)
      .map(g => `<i style="left:${g[0] * cw + 2}px;height:${Math.round(20 + 70 * level(g[1]))}%"></i>`).join('');
    const byVoice = keys.map(() => []);
    for (const h of t.hits) {
      const k = typeof h[1] === 'number' ? h[1] : keys.indexOf(h[1]);
      if (k >= 0 && k < keys.length && h[0] >= 0 && h[0] < t.steps) byVoice[k].push(h);
    }
    const rows = voices.map((x, k) => {
      const hits = byVoice[k].map(h =>
        `<div class="tg-hit" data-step="${h[0]}" style="left:${h[0] * cw + 1}px;--v:${level(h[2]).toFixed(4)}"></div>`).join('');
      const on = locked.has(x.key);
      return `<div class="tg-row${on ? ' locked' : ''}" data-voice="${x.key}">`
        + `<div class="tg-name"><button type="button" class="tg-lock${on ? ' on' : ''}" data-voice="${x.key}"`
        + ` aria-pressed="${on}" title="${on ? 'Locked' : 'Lock'}: Regenerate keeps the ${x.label.toLowerCase()}">`
        + (on ? lock_closed : lock_open) + `</button><span>${x.label}</span></div>`
        + `<div class="tg-lane" data-voice="${x.key}" style="width:${width}px">${sel}${hits}${k ? '' : waiting}</div></div>`;
    }).join('');
    return `<div class="tg-scroll"><div class="tg-grid" style="--cw:${cw}px;${backdrop}"`
      + ` data-starts="${starts.concat([t.steps]).join(' ')}" data-beats="${beats.join(' ')}">${meterRow}`
      + `<div class="tg-row tg-ruler-row"><div class="tg-name tg-clear" title="Clear the bar selection">bars</div>`
      + `<div class="tg-ruler" style="width:${width}px">${ruler}</div></div>`
      + `<div class="tg-row tg-groove-row"><div class="tg-name"><span>Groove</span></div>`
      + `<div class="tg-lane tg-groove" style="width:${width}px">${sel}${groove}</div></div>${rows}</div></div>`;
  })()}
</div>
"""

CSS_TEMPLATE = r"""
.tg-wrap { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); padding: 8px 10px;
           background: var(--block-background-fill); user-select: none; }
.tg-head { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; margin-bottom: 6px; }
.tg-title { font-weight: 600; }
.tg-readout { font-size: 12px; color: var(--body-text-color-subdued); min-height: 1.3em; }
.tg-empty { padding: 18px; color: var(--body-text-color-subdued); text-align: center; }
.tg-wait { position: absolute; left: 8px; top: 0; font-size: 12px; line-height: ${row_height}px; white-space: nowrap;
           color: var(--body-text-color-subdued); }
.tg-scroll { overflow-x: auto; padding-bottom: 4px; }
.tg-grid { display: flex; flex-direction: column; gap: 1px; width: max-content; }
.tg-row { display: flex; align-items: stretch; height: ${row_height}px; }
.tg-name { flex: 0 0 118px; position: sticky; left: 0; z-index: 3; font-size: 12px; padding-right: 6px;
           display: flex; align-items: center; justify-content: flex-end; gap: 4px; white-space: nowrap;
           background: var(--block-background-fill); }
.tg-clear { cursor: pointer; color: var(--body-text-color-subdued); }
.tg-lock { border: none; background: none; padding: 0 2px; cursor: pointer; color: var(--body-text-color-subdued);
           opacity: 0.45; display: flex; align-items: center; }
.tg-lock:hover { opacity: 1; }
.tg-lock.on { color: #b45309; opacity: 1; }
.tg-ruler { position: relative; cursor: pointer; touch-action: none; }
.tg-bar { position: absolute; top: 0; bottom: 0; font-size: 11px; padding-left: 3px; line-height: ${row_height}px;
          border-left: 1px solid var(--border-color-primary); color: var(--body-text-color-subdued); box-sizing: border-box; }
.tg-meter-row { height: 14px; }
.tg-meters { position: relative; }
.tg-meter { position: absolute; top: 0; font-size: 10px; line-height: 14px; padding-left: 3px; white-space: nowrap;
            font-weight: 600; color: var(--body-text-color-subdued); border-left: 1px solid var(--border-color-primary); }
.tg-bar:hover { background: rgba(245, 158, 11, 0.12); }
.tg-bar.on { background: rgba(245, 158, 11, 0.35); color: var(--body-text-color); font-weight: 600; }
.tg-lane { position: relative; cursor: pointer; touch-action: none; box-sizing: border-box;
           background-color: var(--background-fill-secondary);
           background-image: var(--tg-bar), var(--tg-beat),
                             linear-gradient(to right, rgba(127, 127, 127, 0.16) 1px, transparent 1px), var(--tg-shade);
           background-size: var(--tg-bar-size) 100%, var(--tg-beat-size) 100%, var(--cw) 100%, var(--tg-shade-size) 100%; }
.tg-groove { cursor: default; }
.tg-groove-row { margin-bottom: 3px; }
.tg-groove i { position: absolute; bottom: 1px; width: calc(var(--cw) - 4px); background: #ea580c; border-radius: 1px; }
.tg-row.locked .tg-lane { background-color: rgba(245, 158, 11, 0.10); }
.tg-row.locked .tg-name span { color: #b45309; font-weight: 600; }
.tg-sel { position: absolute; top: 0; bottom: 0; background: rgba(245, 158, 11, 0.18); pointer-events: none;
          border-left: 1px solid rgba(217, 119, 6, 0.7); border-right: 1px solid rgba(217, 119, 6, 0.7); }
.tg-hit { position: absolute; top: 2px; bottom: 2px; width: calc(var(--cw) - 2px); border-radius: 2px;
          background: hsl(217, 85%, calc(86% - var(--v) * 56%)); box-shadow: 0 0 0 1px rgba(30, 64, 175, 0.35) inset; }
.tg-hit.drag { outline: 2px solid #f59e0b; z-index: 2; }
"""

JS_ON_LOAD = r"""
const VEL_PX = 110;              // a drag of this many pixels goes from the softest hit to the loudest
const NEW_VELOCITY = 100 / 127;  // a hit added by a click
const SUB = ['', ' e', ' &', ' a'];
const snap = x => Math.max(1, Math.min(127, Math.round(x * 127))) / 127;
const val = () => (props.value && typeof props.value === 'object' && !Array.isArray(props.value)) ? props.value : {};
const takeOf = () => { const t = val().take; return (t && typeof t === 'object' && Array.isArray(t.hits)) ? t : null; };
const cw = () => Number(props.cell_width) || 12;
const keys = () => props.voices.map(x => x.key);
const labelOf = key => (props.voices.find(x => x.key === key) || {label: key}).label;
const voiceOf = h => typeof h[1] === 'number' ? keys()[h[1]] : h[1];
let shape = {key: null, starts: [], beats: []};
function layout() {  // the bars and beats the template drew: each bar's first step then the take's length; beat starts
  const g = element.querySelector('.tg-grid');
  const key = g ? `${g.dataset.starts}|${g.dataset.beats}` : '';
  if (key !== shape.key) {
    const nums = text => (text || '').split(' ').filter(Boolean).map(Number);
    shape = {key, starts: g ? nums(g.dataset.starts) : [], beats: g ? nums(g.dataset.beats) : []};
  }
  return shape;
}
const lastAtMost = (xs, s) => {  // the index of the last of the sorted xs <= s (0 when none is)
  let lo = 0, hi = xs.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (xs[mid] <= s) lo = mid; else hi = mid - 1; }
  return lo;
};
function where(s) {  // 'bar 3, beat 2 &' (a beat of 4 steps: e & a), 'bar 3, beat 2 + 5/16' (a longer one)
  const {starts, beats} = layout();
  if (starts.length < 2 || !beats.length) {  // no grid drawn: 4/4
    return `bar ${Math.floor(s / 16) + 1}, beat ${Math.floor((s % 16) / 4) + 1}${SUB[s % 4]}`;
  }
  const bar = Math.min(lastAtMost(starts, s), starts.length - 2), k = lastAtMost(beats, s);
  const first = lastAtMost(beats, starts[bar]), p = s - beats[k];
  const next = Math.min(k + 1 < beats.length ? beats[k + 1] : Infinity, starts[bar + 1]);
  const sub = next - beats[k] <= 4 ? (SUB[p] || '') : (p ? ` + ${p}/16` : '');
  return `bar ${bar + 1}, beat ${k - first + 1}${sub}`;
}
const say = text => { const r = element.querySelector('.tg-readout'); if (r) r.textContent = text; };
let drag = null;

function stepAt(lane, e) {
  const t = takeOf();
  const r = lane.getBoundingClientRect();
  return Math.max(0, Math.min(t.steps - 1, Math.floor((e.clientX - r.left) / cw())));
}

function velocities(voice) {  // step -> velocity of a voice's hits in the take
  const out = new Map();
  for (const h of takeOf().hits) if (voiceOf(h) === voice) out.set(h[0], h[2]);
  return out;
}

function drawHit(lane, step, v) {
  let el = lane.querySelector(`.tg-hit[data-step="${step}"]`);
  if (v === null) { if (el) el.remove(); return; }
  if (!el) {
    el = document.createElement('div');
    el.className = 'tg-hit';
    el.dataset.step = String(step);
    el.style.left = (step * cw() + 1) + 'px';
    lane.appendChild(el);
  }
  el.style.setProperty('--v', v.toFixed(4));
  return el;
}

function commit(patch, edited) {
  props.value = Object.assign({}, val(), patch);  // one new object: Gradio keeps it, the template redraws
  if (edited) trigger('input');                    // hits changed: Python renders the new take
}

function commitHits(voice, changes) {
  const t = takeOf();
  const order = keys();
  const kept = t.hits.filter(h => !(voiceOf(h) === voice && changes.has(h[0])));
  for (const [step, v] of changes) {
    if (v === null) continue;
    const old = t.hits.find(h => h[0] === step && voiceOf(h) === voice);
    kept.push([step, voice, v, old ? old[3] : 0]);
  }
  kept.sort((a, b) => a[0] - b[0] || order.indexOf(voiceOf(a)) - order.indexOf(voiceOf(b)));
  commit({take: Object.assign({}, t, {hits: kept, made: 'hand edit'})}, true);
}

function barAt(ruler, e) {  // the bar under the pointer (the first or the last when it is past either end)
  const r = ruler.getBoundingClientRect(), steps = takeOf().steps, {starts} = layout();
  const step = Math.max(0, Math.min(steps - 1, Math.floor((e.clientX - r.left) / cw())));
  if (starts.length < 2) return Math.floor(step / 16) + 1;
  return Math.min(lastAtMost(starts, step), starts.length - 2) + 1;
}

function showBars(d, bar) {
  const lo = Math.min(d.anchor, bar), hi = Math.max(d.anchor, bar);
  d.chosen = new Set(d.base);
  for (let b = lo; b <= hi; b++) d.remove ? d.chosen.delete(b) : d.chosen.add(b);
  for (const el of d.ruler.children) el.classList.toggle('on', d.chosen.has(Number(el.dataset.bar)));
  const list = [...d.chosen].sort((a, b) => a - b);
  say(list.length ? `bars ${list.join(', ')} selected: Regenerate makes them new` : 'no bars selected');
}

element.addEventListener('pointerdown', e => {
  if (e.button !== 0 || !takeOf()) return;
  const lock = e.target.closest('.tg-lock');
  if (lock) {
    e.preventDefault();
    const locked = new Set(Array.isArray(val().locked) ? val().locked : []);
    locked.has(lock.dataset.voice) ? locked.delete(lock.dataset.voice) : locked.add(lock.dataset.voice);
    commit({locked: keys().filter(k => locked.has(k))}, false);
    return;
  }
  if (e.target.closest('.tg-clear')) { commit({bars: []}, false); return; }
  const ruler = e.target.closest('.tg-ruler');
  if (ruler) {
    e.preventDefault();
    const bar = barAt(ruler, e);
    const before = new Set(Array.isArray(val().bars) ? val().bars : []);
    const extend = e.shiftKey && drag === null && before.size;
    const toggle = e.ctrlKey || e.metaKey;
    const anchor = extend ? [...before].reduce((a, b) => Math.abs(b - bar) > Math.abs(a - bar) ? b : a) : bar;
    drag = {mode: 'bars', ruler, anchor, before, base: (extend || toggle) ? before : new Set(),
            remove: toggle && before.has(bar), moved: false, bar};
    try { element.setPointerCapture(e.pointerId); } catch (err) {}
    showBars(drag, bar);
    return;
  }
  const lane = e.target.closest('.tg-lane[data-voice]');
  if (!lane) return;
  e.preventDefault();
  const voice = lane.dataset.voice, step = stepAt(lane, e);
  const vels = velocities(voice);
  const existed = vels.has(step);
  drag = {mode: null, lane, voice, step, last: step, vels, existed, y: e.clientY,
          v0: existed ? vels.get(step) : NEW_VELOCITY, changes: new Map()};
  const el = drawHit(lane, step, drag.v0);
  if (el) el.classList.add('drag');
  try { element.setPointerCapture(e.pointerId); } catch (err) {}
  say(`${labelOf(voice)} · ${where(step)} · velocity ${Math.round(drag.v0 * 127)}`
      + (existed ? ' · release to remove, drag up or down for its velocity' : ' · added'));
});

element.addEventListener('pointermove', e => {
  if (!drag) {  // hovering: where the pointer is, and how loud the hit there is
    const lane = e.target.closest && e.target.closest('.tg-lane[data-voice]');
    if (lane && takeOf()) {
      const step = stepAt(lane, e), v = velocities(lane.dataset.voice).get(step);
      say(`${labelOf(lane.dataset.voice)} · ${where(step)}` + (v === undefined ? ' · click to add a hit'
          : ` · velocity ${Math.round(v * 127)}: click to remove, drag up or down to change`));
    }
    return;
  }
  if (drag.mode === 'bars') {
    const bar = barAt(drag.ruler, e);
    if (bar !== drag.bar) drag.moved = true;
    showBars(drag, bar);
    return;
  }
  const step = stepAt(drag.lane, e), dy = drag.y - e.clientY;
  if (drag.mode === null) {
    if (Math.abs(dy) > 4 && step === drag.step) drag.mode = 'velocity';
    else if (step !== drag.step) drag.mode = 'paint';
  }
  if (drag.mode === 'velocity') {
    const v = snap(drag.v0 + dy / VEL_PX);
    drag.changes.set(drag.step, v);
    drawHit(drag.lane, drag.step, v);
    say(`${labelOf(drag.voice)} · ${where(drag.step)} · velocity ${Math.round(v * 127)}`);
  } else if (drag.mode === 'paint') {  // along the row: hits added (or, from a hit, removed) on every step passed
    const lo = Math.min(drag.last, step), hi = Math.max(drag.last, step);
    for (let s = lo; s <= hi; s++) {
      const v = drag.existed ? null : (drag.vels.has(s) ? drag.vels.get(s) : drag.v0);
      drag.changes.set(s, v);
      drawHit(drag.lane, s, v);
    }
    drag.last = step;
    say(`${labelOf(drag.voice)} · ${where(step)} · ${drag.existed ? 'removing' : 'adding'} hits`);
  }
});

function finish(e) {
  if (!drag) return;
  const d = drag;
  drag = null;
  if (d.mode === 'bars') {
    let chosen = d.chosen;
    if (!d.moved && !d.base.size && d.before.size === 1 && d.before.has(d.bar)) chosen = new Set();  // a click on the only bar
    commit({bars: [...chosen].sort((a, b) => a - b)}, false);
    return;
  }
  if (d.mode === null) d.changes.set(d.step, d.existed ? null : d.v0);
  if (d.mode === 'paint' && !d.existed) d.changes.set(d.step, d.v0);
  for (const el of d.lane.querySelectorAll('.tg-hit.drag')) el.classList.remove('drag');
  for (const [s, v] of [...d.changes]) {  // what the stroke left as it was is no edit
    if ((d.vels.has(s) ? d.vels.get(s) : null) === v) d.changes.delete(s);
  }
  if (d.changes.size) commitHits(d.voice, d.changes);
}
element.addEventListener('pointerup', finish);
element.addEventListener('pointercancel', finish);
element.addEventListener('lostpointercapture', finish);
element.addEventListener('pointerleave', () => { if (!drag) say(props.help); });
"""

BARS_TEXT_JS = r"""(v) => {
  const bars = (v && Array.isArray(v.bars)) ? [...new Set(v.bars)].filter(Number.isInteger).sort((a, b) => a - b) : [];
  const runs = [];
  for (const b of bars) {
    const last = runs[runs.length - 1];
    if (last && b === last[1] + 1) last[1] = b; else runs.push([b, b]);
  }
  return runs.map(([a, b]) => a === b ? `${a}` : `${a}-${b}`).join(', ');
}"""  # the grid's selected bars as a musician types them ('5-8, 12'): the page's bars box follows the grid

LOCK_OPEN = ('<svg width="11" height="12" viewBox="0 0 11 12" aria-hidden="true"><rect x="1" y="5.5" width="9" height="6" '
             'rx="1.2" fill="currentColor"/><path d="M3 5.5V3.6a2.5 2.5 0 0 1 4.9-.7" fill="none" stroke="currentColor" '
             'stroke-width="1.4"/></svg>')
LOCK_CLOSED = ('<svg width="11" height="12" viewBox="0 0 11 12" aria-hidden="true"><rect x="1" y="5.5" width="9" height="6" '
               'rx="1.2" fill="currentColor"/><path d="M3 5.5V3.6a2.5 2.5 0 0 1 5 0v1.9" fill="none" stroke="currentColor" '
               'stroke-width="1.4"/></svg>')
HELP = ("click a cell: add or remove a hit · drag a hit up or down: its velocity · click or drag the bar numbers: "
        "select bars · padlock: keep a voice")


def groove_marks(groove: np.ndarray | None) -> list[list[float]]:
    """A groove (T, 3) -> [[step, velocity], ...] of its onsets, as the grid draws them."""
    if groove is None:
        return []
    groove = np.asarray(groove)
    steps = np.nonzero(groove[:, 0] > 0.5)[0]
    return [[int(s), round(float(groove[s, 1]), 3)] for s in steps]


def grid_value(take: Mapping[str, Any] | None, groove: np.ndarray | list | None = None,
               bars: Iterable[int] = (), locked: Iterable[str] = (), meters: M.Bars | None = None) -> dict:
    """The grid's value: a take's JSON (takes.take_to_json), the groove (a (T, 3) array or its marks),
    the bars selected (1-based) and the voices locked. With no take, a groove array alone draws the
    groove over empty rows ('steps' says how long) in the song's bars, `meters` (None: 4/4; a take
    says its own bars, its 'meters')."""
    marks = groove if isinstance(groove, list) else groove_marks(groove)
    value = {"take": None if take is None else dict(take), "groove": marks,
             "bars": sorted({int(b) for b in bars}), "locked": [v for v in H.VOICES if v in set(locked)]}
    if take is None and groove is not None and not isinstance(groove, list):
        value["steps"] = int(len(groove))
    if meters is not None and not meters.is_four_four:
        value["meters"] = meters.to_runs()
    return value


def read_grid(value: Any) -> tuple[Any, Any, Any]:
    """What a caller sends for a take -> (the take's JSON or None, the bars chosen or None, the voices
    locked or None). value: the grid's value, a take's JSON (takes.take_to_json), or either as text;
    the take itself is checked by takes.take_for_song."""
    if isinstance(value, str):
        if not value.strip():
            return None, None, None
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("take: expected the grid's value {'take': {...}, 'bars': [...], 'locked': [...]} or a "
                             "take {'steps': N, 'hits': [...]}, got text that is not JSON") from None
    if value is None:
        return None, None, None
    if not isinstance(value, Mapping):
        raise ValueError(f"take: expected the grid's value or a take's JSON (an object), got {type(value).__name__}")
    if "hits" in value:
        return value, None, None
    take = value.get("take")
    if isinstance(take, str) and take.strip():
        take, _, _ = read_grid(take)
    if not take:
        return None, value.get("bars"), value.get("locked")
    if not isinstance(take, Mapping):
        raise ValueError(f"take: expected the take's JSON (an object), got {type(take).__name__}")
    return take, value.get("bars"), value.get("locked")


@dataclass
class Edit:
    """A Regenerate: the take (T, 27), the cells of it kept (T, 9), what to tell the musician, and the
    bars (1-based) and voices it names, which the grid shows selected afterwards."""

    take: np.ndarray
    keep_mask: np.ndarray
    said: str
    bars: list[int] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)


def _is_file(take: Any) -> bool:
    """A take sent as its drums MIDI file (a path, or a gr.File / handle_file value), not as JSON."""
    if isinstance(take, os.PathLike):
        return True
    if isinstance(take, str):
        return bool(take.strip()) and not take.lstrip().startswith("{")
    return isinstance(take, Mapping) and "path" in take and "take" not in take and "hits" not in take


def read_edit(song: midi.Song, take: Any, bars: Any, lock: Any) -> Edit:
    """What Regenerate keeps of a take, and what to say of it. The take: its drums MIDI file, or the
    grid's value / a take's JSON (then its selected bars and locked voices count where `bars` and
    `lock` are empty)."""
    chosen_bars = chosen_lock = None
    if _is_file(take):
        kept = takes.take_from_midi(result_file(take), song)
    else:
        value, chosen_bars, chosen_lock = read_grid(take)
        if value is None:
            raise ValueError("Generate first: Regenerate makes new drums for some bars of the take the page shows.")
        kept = takes.take_for_song(value, song)
    text = bars.strip() if isinstance(bars, str) else bars
    if text in (None, "", []):
        text = chosen_bars
    new_bars = None if text in (None, "", []) else takes.parse_bars(text, song.n_bars)
    lock = chosen_lock if lock in (None, "", []) else lock
    locked = [] if lock in (None, "", []) else voice_names(lock)
    if new_bars is None and not locked:
        raise ValueError("Choose the bars to make new (select them on the grid's bar numbers, or type 5-8, 12) "
                         "or lock the voices to keep as they are.")
    if new_bars == []:
        raise ValueError("Choose the bars to make new, e.g. 5-8, 12.")
    said = (f"new drums {in_bars(new_bars)}" if new_bars else "new drums in every bar") \
        + (f", {', '.join(locked)} kept as {'it was' if len(locked) == 1 else 'they were'}" if locked else "")
    return Edit(kept, takes.keep_mask(song.n_steps, regenerate=new_bars, lock=locked, bars=song.bars), said,
                [b + 1 for b in new_bars or []], locked)


HIT = {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "number"}]},
       "description": "[step, voice, velocity 0..1, offset -0.5..0.5 steps]"}


class TakeGrid(gr.HTML):
    """The current take as a clickable drum grid; value {"take", "groove", "bars", "locked"} (see the
    module docstring)."""

    def __init__(self, value: Mapping[str, Any] | None = None, *, label: str | None = "The take",
                 cell_width: int = 12, row_height: int = 18, **kwargs: Any):
        super().__init__(
            value=dict(value or {}),
            label=label,
            html_template=HTML_TEMPLATE,
            css_template=CSS_TEMPLATE,
            js_on_load=JS_ON_LOAD,
            voices=[{"key": v, "label": H.VOICE_LABELS[v]} for v in H.VOICES],
            cell_width=int(cell_width),
            row_height=int(row_height),
            lock_open=LOCK_OPEN,
            lock_closed=LOCK_CLOSED,
            help=HELP,
            **kwargs,
        )

    def preprocess(self, payload: Any) -> Any:
        return payload  # checked by the event's function (read_grid, takes.take_for_song): callers can send anything

    def postprocess(self, value: Any) -> Any:
        return value

    def api_info(self) -> dict[str, Any]:
        take = {"type": "object", "description": "takes.take_to_json: steps, hits, and what is said of it (tempo_map, "
                                                 "seed, model, made)",
                "properties": {"format": {"type": "integer"}, "steps": {"type": "integer"},
                               "hits": {"type": "array", "items": HIT},
                               "meters": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}},
                                          "description": "the take's bars: [[numerator, denominator, bars], ...] "
                                                         "(absent: 4/4)"}}}
        return {"type": "object", "title": "A take on the grid",
                "description": "{take: {steps, hits: [[step, voice, velocity, offset], ...], tempo_map, ...}, "
                               "groove: [[step, velocity], ...] (shown only), bars: [selected bars, 1-based], "
                               "locked: [voice names]}; as input also a take's JSON alone, or a drums MIDI file "
                               "(handle_file) where the endpoint says so",
                "properties": {"take": take,
                               "groove": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                               "bars": {"type": "array", "items": {"type": "integer"}},
                               "locked": {"type": "array", "items": {"type": "string"}}}}

    def example_payload(self) -> Any:
        return {"take": {"format": 1, "steps": 16, "hits": [[0, "kick", 0.8, 0.0], [4, "snare", 0.7, 0.0]]},
                "groove": [[0, 0.8]], "bars": [1], "locked": ["kick"]}

    def example_value(self) -> Any:
        return self.example_payload()
