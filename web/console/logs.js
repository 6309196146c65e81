// The live log viewer: the last stored lines (GET /api/logs), then the live feed
// (GET /api/logs/stream), filtered by service, severity, correlation id and text; pause, clear,
// follow the newest line; a correlation id opens its workflow.

import {ApiError} from '../shared/api.js';
import {h, replace} from '../shared/dom.js';
import {formatTime, shortId} from '../shared/format.js';
import {link} from '../shared/router.js';
import {adminToken, isRefusal, ops, page} from './ops.js';
import {followEvents} from './sse.js';

const TAIL = 200;
const MAX_LINES = 2000;
const MAX_HELD = 5000;
const SEVERITIES = ['debug', 'info', 'warning', 'error'];

export function logsView(outlet, {query}) {
  const filters = {
    service: query.get('service') || '',
    level: query.get('level') || '',
    correlation_id: query.get('correlation_id') || '',
    q: query.get('q') || '',
  };
  const root = page(outlet, 'Logs');

  const services = h('datalist', {id: 'known-services'});
  const form = h(
    'form',
    {class: 'filters panel', 'aria-label': 'Filter the logs', onsubmit: apply},
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'log-service'}, 'Service'),
      h('input', {
        id: 'log-service',
        name: 'service',
        list: 'known-services',
        value: filters.service,
        placeholder: 'any',
        autocomplete: 'off',
      }),
      services,
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'log-level'}, 'Severity'),
      h(
        'select',
        {id: 'log-level', name: 'level'},
        h('option', {value: ''}, 'any'),
        SEVERITIES.map((s) =>
          h(
            'option',
            {value: s, selected: s === filters.level},
            s === 'error' ? 'error' : `${s} and above`,
          ),
        ),
      ),
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'log-correlation'}, 'Correlation id'),
      h('input', {
        id: 'log-correlation',
        name: 'correlation_id',
        value: filters.correlation_id,
        placeholder: 'an order or workflow id',
        autocomplete: 'off',
        spellcheck: 'false',
      }),
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'log-text'}, 'Text'),
      h('input', {
        id: 'log-text',
        name: 'q',
        type: 'search',
        value: filters.q,
        placeholder: 'words in the message',
        autocomplete: 'off',
      }),
    ),
    h(
      'div',
      {class: 'filter-actions'},
      h('button', {class: 'primary', type: 'submit'}, 'Apply'),
      h('button', {type: 'button', onclick: reset}, 'Reset'),
    ),
  );

  const state = h('span', {class: 'stream-state', dataset: {state: 'connecting'}}, 'connecting');
  const counter = h('span', {class: 'muted'});
  const pause = h(
    'button',
    {type: 'button', 'aria-pressed': 'false', onclick: togglePause},
    'Pause',
  );
  const follow = h('input', {type: 'checkbox', checked: true});
  const viewer = h('div', {
    class: 'log-viewer',
    role: 'log',
    'aria-live': 'off',
    'aria-label': 'Log lines, oldest first',
    tabindex: '0',
  });
  root.append(
    form,
    h(
      'div',
      {class: 'log-toolbar'},
      h('span', {class: 'stream-status', role: 'status'}, 'Feed: ', state),
      pause,
      h('button', {type: 'button', onclick: clear}, 'Clear'),
      h('label', {class: 'check'}, follow, 'Follow the newest line'),
      counter,
    ),
    viewer,
  );

  const known = new Set();
  let stream = null;
  let paused = false;
  let held = [];
  let droppedWhilePaused = 0;
  let pending = [];
  let frame = 0;
  let lines = 0;
  let controller = null;

  function apply(event) {
    event.preventDefault();
    for (const key of Object.keys(filters)) filters[key] = form.elements[key].value.trim();
    history.replaceState(null, '', link('/logs', filters));
    start();
  }

  function reset() {
    for (const key of Object.keys(filters)) form.elements[key].value = '';
    apply(new Event('submit'));
  }

  function params() {
    const p = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) if (value) p.set(key, value);
    return p;
  }

  /** The stream first (its lines wait), then the tail, then the waiting lines not in the tail. */
  async function start() {
    stop();
    clear();
    controller = new AbortController();
    const signal = controller.signal;
    let early = [];
    let tailDone = false;
    stream = followEvents(`/api/logs/stream?${params()}`, {
      token: adminToken(),
      onEvent: ({event, data}) => {
        if (event !== 'log') return;
        let record;
        try {
          record = JSON.parse(data);
        } catch {
          return;
        }
        if (tailDone) receive(record);
        else early.push(record);
      },
      onState: showState,
    });
    let tail = [];
    try {
      tail = await storedTail(signal);
      if (!tail.length)
        viewer.append(
          h(
            'p',
            {class: 'log-note'},
            'No stored line matches; new lines appear here as they come.',
          ),
        );
    } catch (error) {
      if (error.name === 'AbortError' || isRefusal(error)) return;
      viewer.append(
        h(
          'p',
          {class: 'log-note'},
          `The stored lines could not be read (${error.message}); showing live lines only.`,
        ),
      );
    }
    if (signal.aborted) return; // the filters changed meanwhile
    const seen = new Set(tail.map(recordKey));
    for (const record of tail) receive(record);
    for (const record of early) if (!seen.has(recordKey(record))) receive(record);
    early = [];
    tailDone = true;
  }

  /** The newest stored lines, oldest first; asked again once after a transient failure. */
  async function storedTail(signal) {
    const p = params();
    p.set('limit', TAIL);
    const ask = async () => (await ops(`/api/logs?${p}`, {signal})).records.reverse();
    try {
      return await ask();
    } catch (error) {
      if (!(error instanceof ApiError) || !error.transient) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return ask();
    }
  }

  function stop() {
    if (stream) stream.close();
    stream = null;
    if (controller) controller.abort();
  }

  function showState(name, detail) {
    const labels = {
      connecting: 'connecting…',
      open: 'live',
      retrying: `reconnecting${detail ? ` (${detail})` : ''}…`,
      refused: `refused${detail ? ` (${detail})` : ''}`,
      failed: `stopped${detail ? ` (${detail})` : ''}`,
      closed: 'closed',
    };
    state.dataset.state = name;
    state.textContent = labels[name] || name;
  }

  function receive(record) {
    if (record.service && !known.has(record.service)) {
      known.add(record.service);
      replace(
        services,
        [...known].sort().map((s) => h('option', {value: s})),
      );
    }
    if (paused) {
      held.push(record);
      if (held.length > MAX_HELD) {
        held.shift();
        droppedWhilePaused++;
      }
      updateCounter();
      return;
    }
    pending.push(record);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    if (!pending.length) return;
    const atBottom = viewer.scrollTop + viewer.clientHeight >= viewer.scrollHeight - 24;
    viewer.append(...pending.map(line));
    lines += pending.length;
    pending = [];
    while (lines > MAX_LINES && viewer.firstElementChild) {
      viewer.firstElementChild.remove();
      lines--;
    }
    if (follow.checked && (atBottom || lines <= TAIL)) viewer.scrollTop = viewer.scrollHeight;
    updateCounter();
  }

  function togglePause() {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      const resumed = held;
      held = [];
      if (droppedWhilePaused)
        viewer.append(
          h('p', {class: 'log-note'}, `${droppedWhilePaused} lines were dropped while paused.`),
        );
      droppedWhilePaused = 0;
      for (const record of resumed) receive(record);
    }
    updateCounter();
  }

  function clear() {
    viewer.replaceChildren();
    lines = 0;
    held = [];
    pending = [];
    updateCounter();
  }

  function updateCounter() {
    counter.textContent = `${lines} line${lines === 1 ? '' : 's'}${paused ? ` · ${held.length} waiting` : ''}`;
  }

  start();
  return stop;
}

function recordKey(r) {
  return `${r.timestamp}|${r.service}|${r.correlation_id}|${r.message}`;
}

/** One line; its fields open on demand. */
function line(record) {
  const severity = SEVERITIES.includes(record.severity) ? record.severity : 'info';
  const details = h(
    'details',
    {
      class: ['log-line', `sev-${severity}`],
      dataset: {service: record.service, correlationId: record.correlation_id || ''},
    },
    h(
      'summary',
      {},
      h('time', {datetime: record.timestamp}, formatTime(record.timestamp)),
      h('span', {class: 'log-service'}, record.service),
      h('span', {class: 'log-severity'}, severity),
      record.correlation_id
        ? h(
            'a',
            {
              class: 'log-correlation',
              href: `#/workflows/${encodeURIComponent(record.correlation_id)}`,
              title: `Open workflow ${record.correlation_id}`,
            },
            shortId(record.correlation_id),
          )
        : h('span', {class: 'log-correlation none'}, '—'),
      h('span', {class: 'log-message'}, record.message),
    ),
  );
  details.addEventListener('toggle', () => {
    if (details.open && details.childElementCount === 1)
      details.append(h('pre', {}, JSON.stringify(record, null, 2)));
  });
  return details;
}
