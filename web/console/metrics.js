// Key metrics over the last minutes, from the console's metrics sampler (GET /api/metrics every
// few seconds): workflows per second, failures and compensations, step latency per service, the
// journal's commit time, and the step table since the mediator started.

import {h, replace} from '../shared/dom.js';
import {lineChart} from './charts.js';
import {page} from './ops.js';

const WINDOWS = [
  {minutes: 2, label: '2 minutes'},
  {minutes: 5, label: '5 minutes'},
  {minutes: 10, label: '10 minutes'},
];

export function metricsView(outlet, {query}, {sampler}) {
  let minutes = Number(query.get('minutes')) || 5;
  const root = page(outlet, 'Metrics');
  const range = h(
    'select',
    {
      id: 'metrics-window',
      onchange: () => {
        minutes = Number(range.value);
        render();
      },
    },
    WINDOWS.map((w) => h('option', {value: w.minutes, selected: w.minutes === minutes}, w.label)),
  );
  const note = h('p', {class: 'muted', role: 'status'});
  const charts = h('div', {class: 'charts'});
  const steps = h('div', {class: 'table-wrap'});
  root.append(
    h(
      'div',
      {class: 'field inline-field'},
      h('label', {for: 'metrics-window'}, 'Show the last'),
      range,
    ),
    note,
    charts,
    h(
      'section',
      {class: 'panel', 'aria-labelledby': 'steps-title'},
      h('h2', {id: 'steps-title'}, 'Steps since the mediator started'),
      steps,
    ),
  );

  function render() {
    const samples = sampler.samples;
    const windowMs = minutes * 60 * 1000;
    const now = Date.now();
    note.textContent = sampler.error
      ? `Metrics unavailable: ${sampler.error.message}`
      : samples.length < 2
        ? 'Collecting samples… the charts fill in over the next seconds.'
        : `Sampled every ${sampler.intervalMs / 1000} s while the console is open; ${samples.length} samples.`;
    replace(
      charts,
      lineChart({
        title: 'Workflows per second',
        series: [
          {name: 'started', points: rate(samples, 'started')},
          {name: 'completed', points: rate(samples, 'completed'), color: '#1b6535'},
        ],
        windowMs,
        now,
        format: perSecond,
      }),
      lineChart({
        title: 'Failures and compensations per second',
        series: [
          {name: 'failed', points: rate(samples, 'failed'), color: '#a1242b'},
          {name: 'compensated', points: rate(samples, 'compensated'), color: '#8a5a00'},
          {name: 'cancelled', points: rate(samples, 'cancelled'), color: '#374151'},
        ],
        windowMs,
        now,
        format: perSecond,
      }),
      lineChart({
        title: 'Step latency by service',
        description: 'Mean time from command to reply of the steps that finished in each interval.',
        series: latencyByService(samples),
        windowMs,
        now,
        format: milliseconds,
      }),
      lineChart({
        title: 'Journal commit time',
        description:
          'Mean time from the start of a journal transaction until it was durable, over the commits of each interval: every step waits for one.',
        series: [{name: 'commit', points: commitTime(samples), color: '#5b3a8a'}],
        windowMs,
        now,
        format: milliseconds,
      }),
      lineChart({
        title: 'Workflows in flight',
        series: [
          {
            name: 'in flight',
            points: samples.map((p) => ({t: p.t, v: p.workflows.in_flight ?? null})),
          },
        ],
        windowMs,
        now,
        format: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)),
      }),
    );
    renderSteps(samples.at(-1));
  }

  function renderSteps(latest) {
    if (!latest || !latest.steps.length) {
      replace(steps, h('p', {class: 'muted'}, 'No step has finished yet.'));
      return;
    }
    const rows = [...latest.steps].sort(
      (a, b) => a.service.localeCompare(b.service) || a.action.localeCompare(b.action),
    );
    replace(
      steps,
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Service', 'Action', 'Attempts', 'Errors', 'Mean', 'Median ≤'].map((t, i) =>
              h('th', {scope: 'col', class: i >= 2 ? 'number' : null}, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          rows.map((r) =>
            h(
              'tr',
              {},
              h('td', {}, r.service),
              h('td', {class: 'mono'}, r.action),
              h('td', {class: 'number'}, String(r.count)),
              h('td', {class: 'number'}, String(r.errors)),
              h('td', {class: 'number'}, milliseconds(r.mean_ms)),
              h('td', {class: 'number'}, milliseconds(r.p50_le_ms)),
            ),
          ),
        ),
      ),
    );
  }

  const unsubscribe = sampler.subscribe(render);
  render();
  return unsubscribe;
}

/** Per-second rate of a workflow counter between consecutive samples (null across a restart). */
function rate(samples, key) {
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const delta = (b.workflows[key] ?? 0) - (a.workflows[key] ?? 0);
    const seconds = (b.t - a.t) / 1000;
    points.push({t: b.t, v: delta >= 0 && seconds > 0 ? delta / seconds : null});
  }
  return points;
}

/** Mean latency per service in each interval: Δ(total time) / Δ(attempts), over its actions. */
function latencyByService(samples) {
  const totals = (sample) => {
    const byService = new Map();
    for (const step of sample.steps) {
      const t = byService.get(step.service) || {count: 0, sum: 0};
      t.count += step.count;
      t.sum += step.mean_ms * step.count;
      byService.set(step.service, t);
    }
    return byService;
  };
  const services = [
    ...new Set(samples.flatMap((sample) => sample.steps.map((step) => step.service))),
  ];
  const byService = samples.map(totals);
  return services.sort().map((service) => ({
    name: service,
    points: intervalMeans(samples, (i) => byService[i].get(service)),
  }));
}

/** Mean journal commit time in each interval: Δ(total commit time) / Δ(commits), in ms. */
function commitTime(samples) {
  return intervalMeans(samples, (i) => {
    const journal = samples[i].journal || {};
    return {count: journal.timed_commits ?? 0, sum: 1000 * (journal.commit_seconds_sum ?? 0)};
  });
}

/**
 * The mean over each interval between consecutive samples of a running total: Δsum / Δcount,
 * where `totalAt(i)` gives sample i's {count, sum} (undefined: none yet). Null where nothing was
 * counted, or the totals went back (a restarted mediator).
 */
function intervalMeans(samples, totalAt) {
  const none = {count: 0, sum: 0};
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const a = totalAt(i - 1) || none;
    const b = totalAt(i) || none;
    const count = b.count - a.count;
    const sum = b.sum - a.sum;
    points.push({t: samples[i].t, v: count > 0 && sum >= 0 ? sum / count : null});
  }
  return points;
}

function perSecond(v) {
  return `${v < 10 ? v.toFixed(v < 1 ? 2 : 1) : Math.round(v)}/s`;
}

function milliseconds(v) {
  if (v >= 1000) return `${(v / 1000).toFixed(1)} s`;
  return `${v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
}
