// The mediators (GET /api/mediators): with a shared PostgreSQL journal every registered mediator,
// whether it is alive (a heartbeat younger than its lease), its last heartbeat and the running
// workflows it owns; with SQLite the one mediator. Refreshed while the page is open.

import {h, replace} from '../shared/dom.js';
import {formatDateTime} from '../shared/format.js';
import {isRefusal, ops, page} from './ops.js';

const REFRESH_MS = 3000;

export async function mediatorsView(outlet) {
  const root = page(outlet, 'Mediators');
  const status = h('p', {class: 'muted', role: 'status'});
  const list = h('div', {class: 'table-wrap'});
  root.append(status, list);
  const controller = new AbortController();
  let timer = null;
  let stopped = false;

  async function load() {
    clearTimeout(timer);
    try {
      render(await ops('/api/mediators', {signal: controller.signal}));
    } catch (error) {
      if (error.name === 'AbortError' || isRefusal(error)) return;
      status.textContent = `Could not load the mediators: ${error.message}`;
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }

  function render(body) {
    const mediators = body.mediators || [];
    const alive = mediators.filter((m) => m.alive !== false).length;
    status.textContent =
      body.journal === 'postgresql'
        ? `${mediators.length} mediator${mediators.length === 1 ? '' : 's'} on the shared PostgreSQL journal, ${alive} alive.`
        : 'One mediator, with its own SQLite journal.';
    replace(
      list,
      h(
        'table',
        {class: 'mediator-table'},
        h('caption', {class: 'visually-hidden'}, 'Mediators'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Instance', 'State', 'Last heartbeat', 'Started', 'Workflows owned'].map((t) =>
              h('th', {scope: 'col'}, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          mediators.map((m) => row(m, m.instance_id === body.instance_id)),
        ),
      ),
    );
  }

  function row(m, self) {
    const up = m.alive !== false;
    return h(
      'tr',
      {dataset: {instanceId: m.instance_id, alive: String(up)}},
      h(
        'td',
        {},
        h('span', {class: 'mono'}, m.instance_id),
        self && h('span', {class: 'muted'}, ' (answered this page)'),
      ),
      h('td', {}, h('span', {class: `badge ${up ? 'ok' : 'bad'}`}, up ? 'alive' : 'silent')),
      h('td', {}, m.heartbeat_at ? formatDateTime(m.heartbeat_at) : '—'),
      h('td', {}, m.started_at ? formatDateTime(m.started_at) : '—'),
      h('td', {class: 'number'}, String(m.running ?? 0)),
    );
  }

  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };
}
