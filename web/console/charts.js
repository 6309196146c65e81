// Small line charts in SVG: time on x (the last minutes, now on the right), one line per series,
// gaps where a series has no value. The figure's label states the latest values, so the chart
// is not only a picture.

import {h, s} from '../shared/dom.js';

export const PALETTE = [
  '#1f5f8b',
  '#1b6535',
  '#a1242b',
  '#8a5a00',
  '#6b3fa0',
  '#0f766e',
  '#9a3412',
  '#374151',
];

const WIDTH = 640;
const HEIGHT = 200;
const PAD = {left: 52, right: 12, top: 12, bottom: 26};

/**
 * series: [{name, color?, points: [{t, v}]}] (v null for "no value"); windowMs: the span shown,
 * ending at `now`; format(v): how a value reads.
 */
export function lineChart({
  title,
  description,
  series,
  windowMs,
  now = Date.now(),
  format = (v) => String(v),
}) {
  const from = now - windowMs;
  const values = series.flatMap((line) =>
    line.points.filter((p) => p.t >= from && p.v !== null).map((p) => p.v),
  );
  const max = niceMax(Math.max(0, ...values));
  const x = (t) => PAD.left + ((t - from) / windowMs) * (WIDTH - PAD.left - PAD.right);
  const y = (v) => HEIGHT - PAD.bottom - (v / max) * (HEIGHT - PAD.top - PAD.bottom);

  const grid = [0, max / 2, max].map((v) =>
    s(
      'g',
      {class: 'grid'},
      s('line', {x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v)}),
      s('text', {x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end'}, format(v)),
    ),
  );
  const minutes = Math.round(windowMs / 60000);
  const ticks = [0, 0.5, 1].map((f) =>
    s(
      'text',
      {
        class: 'tick',
        x: x(from + f * windowMs),
        y: HEIGHT - 6,
        'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle',
      },
      f === 1 ? 'now' : `−${Math.round(minutes * (1 - f) * 10) / 10} min`,
    ),
  );
  const lines = series.map((line, i) => {
    const color = line.color || PALETTE[i % PALETTE.length];
    const shown = line.points.filter((p) => p.t >= from);
    const last = [...shown].reverse().find((p) => p.v !== null);
    return s(
      'g',
      {},
      s('path', {class: 'series', d: path(shown, x, y), stroke: color}),
      last && s('circle', {cx: x(last.t).toFixed(1), cy: y(last.v).toFixed(1), r: 3, fill: color}),
    );
  });
  const latest = series.map((line) => {
    const last = [...line.points].reverse().find((p) => p.v !== null);
    return {name: line.name, value: last ? format(last.v) : 'no data'};
  });
  const summary = latest.map((l) => `${l.name} ${l.value}`).join(', ');

  return h(
    'figure',
    {class: 'chart panel'},
    h('figcaption', {}, h('h3', {}, title), description && h('p', {class: 'muted'}, description)),
    s(
      'svg',
      {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: 'img',
        'aria-label': `${title}, last ${minutes} minutes. Latest: ${summary || 'no data'}.`,
      },
      grid,
      ticks,
      lines,
    ),
    h(
      'ul',
      {class: 'chart-legend'},
      latest.map((l, i) =>
        h(
          'li',
          {},
          h('span', {
            class: 'swatch',
            style: `background: ${series[i].color || PALETTE[i % PALETTE.length]}`,
            'aria-hidden': 'true',
          }),
          `${l.name}: `,
          h('strong', {}, l.value),
        ),
      ),
    ),
  );
}

/** The SVG path of points, broken where a value is null. */
function path(points, x, y) {
  let d = '';
  let drawing = false;
  for (const p of points) {
    if (p.v === null || p.v === undefined) {
      drawing = false;
      continue;
    }
    d += `${drawing ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    drawing = true;
  }
  return d || 'M0,0';
}

/** A round upper bound for the y axis: 1, 2, 5, 10, 20, 50... times a power of ten. */
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}
