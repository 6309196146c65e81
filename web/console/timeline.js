// A workflow's timeline: every journal record with its time, attempt, duration and error; the
// request, reply and event bodies open on demand.

import {h} from '../shared/dom.js';
import {formatDuration, formatTime} from '../shared/format.js';

/** How a record type reads and which colour it gets. */
function category(type) {
  if (type === 'step_attempt_failed' || type === 'compensation_attempt_failed') return 'warn';
  if (type.endsWith('_failed') || type === 'failed' || type === 'needs_attention') return 'bad';
  if (type.startsWith('compensat')) return 'comp';
  if (type.endsWith('_succeeded') || type === 'completed') return 'ok';
  if (type.endsWith('_started') || type.endsWith('_attempt') || type === 'started') return 'send';
  return 'info';
}

/** The bodies a record carries, each shown behind its own <details>. */
const BODIES = [
  ['input', 'Input'],
  ['request', 'Request'],
  ['payload', 'Event payload'],
  ['output', 'Reply'],
  ['failure', 'Failure'],
];

/**
 * The timeline of `records` (all of them, or those of step `onlyStep`). `openKeys`: the bodies
 * open before a refresh (kept open).
 */
export function timeline(records, {onlyStep, openKeys = new Set()}) {
  const start = records.length ? Date.parse(records[0].at) : 0;
  const shown = onlyStep ? records.filter((r) => r.step === onlyStep) : records;
  return h(
    'ol',
    {class: 'timeline'},
    shown.map((record) => entry(record, start, openKeys)),
  );
}

function entry(record, start, openKeys) {
  const data = record.data || {};
  const offset = Date.parse(record.at) - start;
  const facts = [];
  if (record.attempt) facts.push(`attempt ${record.attempt}`);
  if (data.duration_ms !== undefined) facts.push(formatDuration(data.duration_ms));
  if (data.retry_in_ms !== undefined) facts.push(`retry in ${formatDuration(data.retry_in_ms)}`);
  if (data.service && data.action) facts.push(`${data.service} · ${data.action}`);
  if (data.topic) facts.push(`topic ${data.topic}`);
  if (data.signal) facts.push(`signal ${data.signal}`);
  if (data.signal_id) facts.push(`signal id ${data.signal_id}`);
  if (data.wait_until) facts.push(`until ${data.wait_until}`);
  if (data.timeout_at) facts.push(`timeout ${data.timeout_at}`);
  if (data.timed_out) facts.push('timed out');
  if (record.status) facts.push(`status → ${record.status}`);
  const error = data.error;
  const reason = typeof data.reason === 'string' ? data.reason : '';
  return h(
    'li',
    {
      class: ['event', `event-${category(record.type)}`],
      dataset: {type: record.type, step: record.step || ''},
    },
    h(
      'div',
      {class: 'event-head'},
      h(
        'time',
        {datetime: record.at, title: record.at},
        formatTime(record.at),
        h('span', {class: 'offset'}, ` +${formatDuration(offset)}`),
      ),
      h('span', {class: 'event-type'}, record.type.replaceAll('_', ' ')),
      record.step && h('span', {class: 'event-step mono'}, record.step),
    ),
    facts.length > 0 && h('p', {class: 'event-facts'}, facts.join(' · ')),
    error &&
      h(
        'p',
        {class: 'event-error'},
        `${error.code || 'error'}: ${error.message || JSON.stringify(error)}`,
      ),
    !error && reason && h('p', {class: 'event-reason'}, reason),
    data.idempotency_key &&
      h('p', {class: 'event-key muted'}, 'key ', h('span', {class: 'mono'}, data.idempotency_key)),
    BODIES.filter(([key]) => data[key] !== undefined && data[key] !== null).map(([key, label]) => {
      const openKey = `${record.seq}:${key}`;
      return h(
        'details',
        {open: openKeys.has(openKey), dataset: {key: openKey}},
        // A completed workflow's output is its result, not a service's reply.
        h('summary', {}, record.type === 'completed' && key === 'output' ? 'Output' : label),
        h('pre', {}, JSON.stringify(data[key], null, 2)),
      );
    }),
  );
}

/** The keys of the bodies open in `container` (to keep them open across a refresh). */
export function openBodies(container) {
  return new Set([...container.querySelectorAll('details[open]')].map((d) => d.dataset.key));
}
