// Bulk action on the workflows page: retry, cancel, pause or resume every workflow the list's
// filter matches. A dry run counts them first; once confirmed, the job's progress is polled
// until it finished (POST /api/workflows/bulk, GET /api/workflows/bulk/{id}).

import {h, replace} from '../shared/dom.js';
import {toast} from '../shared/toast.js';
import {isRefusal, ops} from './ops.js';

const POLL_MS = 1000;
const ACTIONS = [
  {value: 'retry', label: 'Retry', kind: 'primary'},
  {value: 'cancel', label: 'Cancel', kind: 'danger'},
  {value: 'pause', label: 'Pause', kind: 'primary'},
  {value: 'resume', label: 'Resume', kind: 'primary'},
];

/**
 * The bulk action panel. `currentFilter()` returns the list's filter as the API names it (only the
 * fields that are set); `changed()` runs once a job finished, to reload the list.
 * Returns {element, reset, stop}: reset() forgets a count made for another filter.
 */
export function bulkPanel({currentFilter, changed}) {
  const actionSelect = h(
    'select',
    {id: 'bulk-action', name: 'action', onchange: reset},
    ACTIONS.map(({value, label}) => h('option', {value}, label)),
  );
  const countButton = h('button', {type: 'submit'}, 'Count matching workflows');
  const result = h('div', {class: 'bulk-result', role: 'status'});
  const element = h(
    'section',
    {class: 'panel bulk', 'aria-labelledby': 'bulk-title'},
    h('h2', {id: 'bulk-title'}, 'Bulk action'),
    h(
      'p',
      {class: 'muted small-print'},
      'Acts on every workflow the filter above matches (as applied), not only on the rows shown.',
    ),
    h(
      'form',
      {class: 'bulk-form', onsubmit: count},
      h('div', {class: 'field'}, h('label', {for: 'bulk-action'}, 'Action'), actionSelect),
      h('div', {class: 'filter-actions'}, countButton),
    ),
    result,
  );
  let timer = null;
  let stopped = false;
  let running = false;

  function reset() {
    if (running) return;
    replace(result);
  }

  async function count(event) {
    event.preventDefault();
    const filter = currentFilter();
    const action = actionSelect.value;
    if (Object.keys(filter).length === 0) {
      replace(
        result,
        h(
          'p',
          {class: 'field-error'},
          'Set a filter and apply it first: the console does not act on every workflow.',
        ),
      );
      return;
    }
    countButton.disabled = true;
    replace(result, h('p', {class: 'muted'}, 'Counting…'));
    try {
      const dry = await ops('/api/workflows/bulk', {
        method: 'POST',
        body: {action, filter, dry_run: true},
      });
      showCount(action, filter, dry.matched);
    } catch (error) {
      if (!isRefusal(error)) replace(result, h('p', {class: 'field-error'}, problemText(error)));
    } finally {
      countButton.disabled = false;
    }
  }

  function showCount(action, filter, matched) {
    const {label, kind} = ACTIONS.find((a) => a.value === action);
    const noun = `workflow${matched === 1 ? '' : 's'}`;
    replace(
      result,
      h('p', {class: 'bulk-count'}, `${matched} ${noun} match.`),
      matched > 0 &&
        h(
          'div',
          {class: 'actions'},
          h('button', {type: 'button', onclick: reset}, 'Back'),
          h(
            'button',
            {type: 'button', class: kind, onclick: (e) => start(e.target, action, filter)},
            `${label} ${matched} ${noun}`,
          ),
        ),
    );
  }

  async function start(button, action, filter) {
    button.disabled = true;
    running = true;
    try {
      const job = await ops('/api/workflows/bulk', {method: 'POST', body: {action, filter}});
      follow(job);
    } catch (error) {
      running = false;
      button.disabled = false;
      if (!isRefusal(error)) toast(`Could not start the bulk action: ${problemText(error)}`, 'bad');
    }
  }

  function follow(job) {
    showProgress(job);
    if (job.state === 'finished') {
      running = false;
      toast(`Bulk ${job.action} finished.`, 'ok');
      changed();
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (stopped) return;
      try {
        follow(await ops(`/api/workflows/bulk/${encodeURIComponent(job.id)}`));
      } catch (error) {
        running = false;
        if (!isRefusal(error))
          replace(result, h('p', {class: 'field-error'}, `Lost the job: ${problemText(error)}`));
      }
    }, POLL_MS);
  }

  function showProgress(job) {
    const finished = job.state === 'finished';
    replace(
      result,
      h(
        'p',
        {class: 'bulk-progress-title'},
        finished ? `Bulk ${job.action} finished` : `Bulk ${job.action} running…`,
      ),
      h('progress', {
        max: String(Math.max(job.matched, 1)),
        value: String(job.matched ? job.done : 1),
        'aria-label': `Bulk ${job.action} progress`,
      }),
      h(
        'dl',
        {class: 'bulk-counters', dataset: {state: job.state}},
        counter('Done', `${job.done} of ${job.matched}`, 'done'),
        counter('Succeeded', job.succeeded, 'succeeded'),
        counter('Skipped', job.skipped, 'skipped'),
        counter('Failed', job.failed, 'failed'),
      ),
      job.reasons.length > 0 &&
        h(
          'ul',
          {class: 'bulk-reasons small-print'},
          job.reasons.map((r) =>
            h(
              'li',
              {},
              h('a', {class: 'mono', href: `#/workflows/${encodeURIComponent(r.id)}`}, r.id),
              ` ${r.outcome}: ${r.message}`,
            ),
          ),
        ),
    );
  }

  return {
    element,
    reset,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function counter(label, value, key) {
  return h('div', {dataset: {counter: key}}, h('dt', {}, label), h('dd', {}, String(value)));
}

function problemText(error) {
  const fields = (error.errors || []).map((e) => `${e.field} ${e.message}`);
  return fields.length ? fields.join('; ') : error.detail || error.message;
}
