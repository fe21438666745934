"""drumgen's own Gradio components: the per-bar lanes, painted like DAW automation.

`BarLanes` (a `gr.HTML` subclass: `html_template`, `css_template`, `js_on_load`, no scripts from
elsewhere) shows a value `{lane: [value or None per bar]}` (what the lanes mean, and how a caller's
value is checked: `drumgen.lanes`) as one row per lane and one cell per bar (the number of
bars is the length of the lists; more bars than fit scroll sideways, the lane names stay put).
Dragging across a lane paints the bars under the pointer (the height in the cell is the value, in
steps of 0.05, 0 at the cell's bottom edge and below, 1 at its top edge and above; bars a fast
stroke skips are filled in on a straight line); a right-button drag, a double-click or a
right-click frees bars again. The bars move while dragging; the new value goes to Python once, on
release (one new object assigned to `props.value`: Gradio syncs only a new object, and a re-render
redraws the cells from the value).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gradio as gr

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
.bl-fills .bl-fill { background: #9333ea; }
.bl-row.bl-fills { margin-top: 5px; }
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
        return payload  # checked by the event's function (lanes.clean_lanes): callers can send anything

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


# --- Gradio's own inputs, with drumgen doing the checking ---------------------------------------------------
# gr.Slider, gr.Number and gr.Dropdown check (and round) what an API caller sends before the event's
# function runs, in Gradio's words ("Could not preprocess input component at index 5", "not in the list
# of choices"; a seed of 1.5 silently becomes 2). These pass the value as sent, so drumgen's own reading
# accepts what a person means ('FUNK', ' funk ', '7') and refuses the rest in its words. The page looks
# and behaves as the base component (`is_template`: Gradio uses the base's frontend).

def _as_sent(self, payload: Any) -> Any:
    return payload


class FreeSlider(gr.Slider):
    """A gr.Slider whose value reaches the function as sent (drumgen checks it)."""

    is_template = True
    preprocess = _as_sent


class FreeNumber(gr.Number):
    """A gr.Number whose value reaches the function as sent: not rounded, not range-checked."""

    is_template = True
    preprocess = _as_sent


class FreeDropdown(gr.Dropdown):
    """A gr.Dropdown whose value reaches the function as sent; the page offers only its choices."""

    is_template = True
    preprocess = _as_sent
