// The workflow list: live counts, filters (status, definition, version, time range, failing step)
// and the newest workflows, refreshed while the page is open; a bulk action acts on every
// workflow the filter matches (bulk.js).

import {h, replace} from '../shared/dom.js';
import {formatDateTime, shortId} from '../shared/format.js';
import {link} from '../shared/router.js';
import {bulkPanel} from './bulk.js';
import {isRefusal, ops, page, statusBadge} from './ops.js';

const REFRESH_MS = 3000;
const PAGE_SIZE = 50;
const STATUSES = ['running', 'completed', 'failed', 'cancelled', 'needs_attention'];
const COUNTS = [
  {key: 'in_flight', label: 'In flight', kind: 'info'},
  {key: 'started', label: 'Started'},
  {key: 'completed', label: 'Completed', kind: 'ok'},
  {key: 'failed', label: 'Failed', kind: 'bad'},
  {key: 'compensated', label: 'Compensated', kind: 'warn'},
  {key: 'cancelled', label: 'Cancelled'},
  {key: 'awaiting_attention', label: 'Needs attention now', kind: 'warn'},
];

export async function workflowsView(outlet, {query}, {sampler}) {
  const filters = {
    status: query.get('status') || '',
    definition: query.get('definition') || '',
    version: query.get('version') || '',
    from: query.get('from') || '',
    to: query.get('to') || '',
    failing_step: query.get('failing_step') || '',
  };
  const root = page(outlet, 'Workflows');

  // ---- Live counts, from the metrics sampler.
  const counts = h('dl', {class: 'counts'});
  const countsNote = h('p', {class: 'muted small-print'});
  root.append(
    h(
      'section',
      {class: 'panel', 'aria-labelledby': 'counts-title'},
      h('h2', {id: 'counts-title'}, 'Live counts'),
      counts,
      countsNote,
    ),
  );
  const unsubscribe = sampler.subscribe(() => renderCounts());
  function renderCounts() {
    const latest = sampler.latest();
    if (!latest) {
      countsNote.textContent = sampler.error
        ? `Metrics unavailable: ${sampler.error.message}`
        : 'Loading…';
      return;
    }
    replace(
      counts,
      COUNTS.map(({key, label, kind}) =>
        h(
          'div',
          {class: ['count-tile', kind], dataset: {count: key}},
          h('dt', {}, label),
          h('dd', {}, String(latest.workflows[key] ?? 0)),
        ),
      ),
    );
    countsNote.textContent = `Since the mediator started · updated ${new Date(latest.t).toLocaleTimeString()}`;
  }

  // ---- Filters.
  const definitionSelect = h(
    'select',
    {id: 'filter-definition', name: 'definition'},
    h('option', {value: ''}, 'Any definition'),
  );
  const form = h(
    'form',
    {class: 'filters panel', 'aria-label': 'Filter workflows', onsubmit: apply},
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'filter-status'}, 'Status'),
      h(
        'select',
        {id: 'filter-status', name: 'status'},
        h('option', {value: ''}, 'Any status'),
        STATUSES.map((s) =>
          h('option', {value: s, selected: s === filters.status}, s.replace('_', ' ')),
        ),
      ),
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'filter-definition'}, 'Definition'),
      definitionSelect,
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'filter-version'}, 'Version'),
      h('input', {
        id: 'filter-version',
        name: 'version',
        type: 'number',
        min: '1',
        inputmode: 'numeric',
        value: filters.version,
      }),
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'filter-from'}, 'Started from'),
      h('input', {
        id: 'filter-from',
        name: 'from',
        type: 'datetime-local',
        value: toLocalInput(filters.from),
      }),
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'filter-to'}, 'Started before'),
      h('input', {
        id: 'filter-to',
        name: 'to',
        type: 'datetime-local',
        value: toLocalInput(filters.to),
      }),
    ),
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'filter-failing-step'}, 'Failing step'),
      h('input', {
        id: 'filter-failing-step',
        name: 'failing_step',
        type: 'text',
        placeholder: 'e.g. charge',
        value: filters.failing_step,
      }),
    ),
    h(
      'div',
      {class: 'filter-actions'},
      h('button', {class: 'primary', type: 'submit'}, 'Apply'),
      h('button', {type: 'button', onclick: reset}, 'Reset'),
      h(
        'label',
        {class: 'check'},
        h('input', {type: 'checkbox', name: 'live', checked: true, onchange: schedule}),
        'Refresh every 3 s',
      ),
    ),
  );
  root.append(form);
  loadDefinitions(definitionSelect, filters.definition);

  // ---- Bulk action on what the filter matches.
  const bulk = bulkPanel({
    currentFilter: () => {
      const filter = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
      // A version that is not a number stays text, for the mediator to refuse.
      if (/^\d+$/.test(filter.version || '')) filter.version = Number(filter.version);
      return filter;
    },
    changed: () => load({quiet: true}),
  });
  root.append(bulk.element);

  // ---- The list.
  const status = h('p', {class: 'muted', role: 'status'});
  const list = h('div', {class: 'table-wrap'});
  const more = h('p', {class: 'load-more'});
  root.append(
    h(
      'section',
      {'aria-labelledby': 'list-title'},
      h('h2', {id: 'list-title'}, 'Newest first'),
      status,
      list,
      more,
    ),
  );

  let rows = [];
  let nextToken = '';
  let timer = null;
  let stopped = false;
  const controller = new AbortController();

  function apply(event) {
    event.preventDefault();
    filters.status = form.elements.status.value;
    filters.definition = form.elements.definition.value;
    filters.version = form.elements.version.value.trim();
    filters.from = fromLocalInput(form.elements.from.value);
    filters.to = fromLocalInput(form.elements.to.value);
    filters.failing_step = form.elements.failing_step.value.trim();
    history.replaceState(null, '', link('/workflows', filters));
    bulk.reset();
    load();
  }

  function reset() {
    form.reset();
    form.elements.status.value = '';
    form.elements.definition.value = '';
    form.elements.version.value = '';
    form.elements.from.value = '';
    form.elements.to.value = '';
    form.elements.failing_step.value = '';
    apply(new Event('submit'));
  }

  function params(pageToken) {
    const p = new URLSearchParams({limit: PAGE_SIZE});
    for (const [key, value] of Object.entries(filters)) if (value) p.set(key, value);
    if (pageToken) p.set('page_token', pageToken);
    return p;
  }

  async function load({quiet = false} = {}) {
    clearTimeout(timer);
    if (!quiet) status.textContent = 'Loading…';
    try {
      const page1 = await ops(`/api/workflows?${params()}`, {signal: controller.signal});
      rows = page1.items;
      nextToken = page1.next_page_token || '';
      render();
    } catch (error) {
      if (error.name === 'AbortError' || isRefusal(error)) return;
      status.textContent = `Could not load the workflows: ${error.message}`;
    }
    schedule();
  }

  async function loadMore() {
    try {
      const next = await ops(`/api/workflows?${params(nextToken)}`, {signal: controller.signal});
      rows = rows.concat(next.items);
      nextToken = next.next_page_token || '';
      // Refreshing would fold the extra pages away: it stops until the filters are applied again.
      form.elements.live.checked = false;
      render();
    } catch (error) {
      if (error.name !== 'AbortError' && !isRefusal(error))
        status.textContent = `Could not load more: ${error.message}`;
    }
  }

  function schedule() {
    clearTimeout(timer);
    if (!stopped && form.elements.live.checked)
      timer = setTimeout(() => load({quiet: true}), REFRESH_MS);
  }

  function render() {
    status.textContent = rows.length
      ? `${rows.length}${nextToken ? '+' : ''} workflow${rows.length === 1 ? '' : 's'}`
      : 'No workflow matches these filters.';
    replace(
      list,
      rows.length > 0 &&
        h(
          'table',
          {class: 'workflow-table'},
          h('caption', {class: 'visually-hidden'}, 'Workflows, newest first'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Workflow', 'Definition', 'Status', 'Started', 'Last change', 'Reason'].map((t) =>
                h('th', {scope: 'col'}, t),
              ),
            ),
          ),
          h('tbody', {}, rows.map(row)),
        ),
    );
    replace(
      more,
      nextToken && h('button', {type: 'button', onclick: loadMore}, 'Load older workflows'),
    );
  }

  function row(w) {
    return h(
      'tr',
      {dataset: {workflowId: w.id, status: w.status}},
      h(
        'td',
        {},
        h(
          'a',
          {class: 'mono', href: `#/workflows/${encodeURIComponent(w.id)}`, title: w.id},
          shortId(w.id),
        ),
        h('span', {class: 'visually-hidden'}, ` ${w.id}`),
      ),
      h('td', {}, `${w.definition} v${w.version}`),
      h('td', {}, statusBadge(w.status)),
      h('td', {}, formatDateTime(w.created_at)),
      h('td', {}, formatDateTime(w.updated_at)),
      h('td', {class: 'reason-cell', title: w.reason || ''}, w.reason || ''),
    );
  }

  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
    bulk.stop();
    unsubscribe();
  };
}

async function loadDefinitions(select, selected) {
  try {
    const {items} = await ops('/api/definitions');
    const names = [...new Set(items.map((d) => d.name))].sort();
    // How many run per version, as the API counts them: "purchase (v1: 2, v2: 5 running)".
    const label = (name) => {
      const versions = items
        .filter((d) => d.name === name && d.running > 0)
        .sort((a, b) => a.version - b.version)
        .map((d) => `v${d.version}: ${d.running}`);
      return versions.length ? `${name} (${versions.join(', ')} running)` : name;
    };
    select.append(
      ...names.map((name) => h('option', {value: name, selected: name === selected}, label(name))),
    );
  } catch {
    // The filter still works by URL; the list shows the error.
  }
}

/** "2026-01-02T03:04:05.000Z" → the value of a datetime-local input, in local time. */
function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local value (local time) → ISO-8601 UTC, as the API compares them. */
function fromLocalInput(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}
