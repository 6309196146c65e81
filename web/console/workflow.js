// One workflow: its summary, its definition drawn with each step's state, its timeline, and the
// operator's Retry, Rerun from a step and Cancel (each confirmed in a dialog). Followed live
// while it runs.

import {ApiError} from '../shared/api.js';
import {focus, h, replace} from '../shared/dom.js';
import {formatDateTime} from '../shared/format.js';
import {link} from '../shared/router.js';
import {toast} from '../shared/toast.js';
import {diagram} from './diagram.js';
import {isRefusal, ops, page, statusBadge} from './ops.js';
import {openBodies, timeline} from './timeline.js';

const POLL_MS = 1500;
/** Definitions do not change under a name and version: fetched once per console session. */
const definitions = new Map();

async function definitionOf(name, version) {
  const key = `${name}/${version}`;
  if (!definitions.has(key)) {
    definitions.set(
      key,
      ops(`/api/definitions/${encodeURIComponent(name)}/${version}`).catch((error) => {
        definitions.delete(key);
        throw error;
      }),
    );
  }
  return definitions.get(key);
}

export async function workflowView(outlet, {params: [id]}) {
  const root = page(outlet, 'Workflow');
  const summary = h('div', {class: 'wf-summary panel'}, h('p', {class: 'muted'}, 'Loading…'));
  const diagramPanel = h(
    'section',
    {class: 'panel', 'aria-labelledby': 'diagram-title'},
    h('h2', {id: 'diagram-title'}, 'Steps'),
  );
  const diagramBody = h('div', {class: 'diagram-wrap'});
  diagramPanel.append(diagramBody);
  const timelineTitle = h('h2', {id: 'timeline-title'}, 'Timeline');
  const timelineFilter = h('p', {class: 'timeline-filter'});
  const timelineBody = h('div', {});
  const timelinePanel = h(
    'section',
    {class: 'panel', 'aria-labelledby': 'timeline-title'},
    timelineTitle,
    timelineFilter,
    timelineBody,
  );
  root.append(
    h('p', {class: 'breadcrumb'}, h('a', {href: '#/workflows'}, '← All workflows')),
    summary,
    h('div', {class: 'wf-body'}, diagramPanel, timelinePanel),
  );

  let workflow = null;
  let definition = null;
  let selected = '';
  let timer = null;
  let stopped = false;
  const controller = new AbortController();

  async function load() {
    clearTimeout(timer);
    try {
      const next = await ops(`/api/workflows/${encodeURIComponent(id)}`, {
        signal: controller.signal,
      });
      if (stopped) return;
      const changed =
        !workflow ||
        next.timeline.length !== workflow.timeline.length ||
        next.status !== workflow.status;
      workflow = next;
      if (!definition)
        definition = await definitionOf(workflow.definition, workflow.version).catch(() => null);
      if (changed) render();
    } catch (error) {
      if (error.name === 'AbortError' || isRefusal(error) || stopped) return;
      if (error instanceof ApiError && error.status === 404) {
        replace(
          summary,
          h(
            'div',
            {class: 'notice bad', role: 'alert'},
            h('p', {}, `No workflow has the id ${id}.`),
          ),
        );
        diagramPanel.hidden = true;
        timelinePanel.hidden = true;
        return;
      }
      toast(`Could not refresh the workflow: ${error.message}`, 'bad');
    }
    if (workflow && workflow.status === 'running' && !stopped) timer = setTimeout(load, POLL_MS);
  }

  function render() {
    document.title = `Workflow ${id.slice(0, 8)} · Wonderland operations`;
    renderSummary();
    renderDiagram();
    renderTimeline();
  }

  function pivotNote(passed, running) {
    if (passed)
      return running
        ? ' passed: what it did stands, it can no longer be cancelled'
        : ' passed: what it did stands';
    return running ? ' not passed yet' : ' not passed';
  }

  function renderSummary() {
    const w = workflow;
    const canRetry = w.status === 'failed' || w.status === 'needs_attention';
    const running = w.status === 'running';
    // Past its pivot a workflow finishes what it started: the API refuses to cancel it.
    const decided = w.pivot !== undefined && w.pivot.passed;
    const canCancel = running && !decided;
    const paused = isPaused(w.timeline);
    replace(
      summary,
      h(
        'dl',
        {class: 'facts'},
        fact('Id', h('span', {class: 'mono', dataset: {workflowId: w.id}}, w.id)),
        fact(
          'Status',
          h(
            'span',
            {},
            statusBadge(w.status),
            w.status === 'running' && isPaused(w.timeline) && ' paused: no new step starts',
          ),
        ),
        fact('Definition', `${w.definition} v${w.version}`),
        w.pivot &&
          fact(
            'Pivot',
            h(
              'span',
              {dataset: {pivot: w.pivot.step, passed: String(w.pivot.passed)}},
              w.pivot.step,
              pivotNote(w.pivot.passed, running),
            ),
          ),
        w.parent &&
          fact(
            'Parent',
            h(
              'span',
              {},
              h(
                'a',
                {
                  class: 'mono',
                  href: `#/workflows/${encodeURIComponent(w.parent.workflow_id)}`,
                  dataset: {parent: w.parent.workflow_id},
                },
                w.parent.workflow_id,
              ),
              ` step ${w.parent.step}`,
            ),
          ),
        fact('Started', formatDateTime(w.created_at)),
        fact('Last change', formatDateTime(w.updated_at)),
        w.reason && fact('Reason', h('span', {class: 'wf-reason'}, w.reason), 'wide'),
      ),
      h(
        'p',
        {class: 'actions'},
        h(
          'button',
          {type: 'button', class: 'primary', disabled: !canRetry, onclick: confirmRetry},
          'Retry',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            disabled: !canCancel,
            title:
              running && decided
                ? `Passed its pivot ${w.pivot.step}: it can no longer be cancelled`
                : undefined,
            onclick: confirmCancel,
          },
          'Cancel',
        ),
        h(
          'button',
          {
            type: 'button',
            disabled: !running,
            onclick: () => pauseOrResume(paused ? 'resume' : 'pause'),
          },
          paused ? 'Resume' : 'Pause',
        ),
        h(
          'a',
          {class: 'button', href: link('/logs', {correlation_id: w.id})},
          'Logs of this workflow',
        ),
        w.status === 'running' &&
          h(
            'span',
            {class: 'muted live-note'},
            h('span', {class: 'spinner', 'aria-hidden': 'true'}),
            ' following live',
          ),
      ),
      w.input &&
        h(
          'details',
          {class: 'wf-input'},
          h('summary', {}, 'Input (secrets redacted)'),
          h('pre', {}, JSON.stringify(w.input, null, 2)),
        ),
    );
  }

  function renderDiagram() {
    if (!definition) {
      replace(
        diagramBody,
        h(
          'p',
          {class: 'notice warn'},
          `The definition ${workflow.definition} v${workflow.version} is not loaded in this mediator.`,
        ),
      );
      return;
    }
    replace(
      diagramBody,
      diagram(definition, workflow.timeline, {
        settled: workflow.status !== 'running',
        selected,
        onSelect: (path) => {
          selected = selected === path ? '' : path;
          renderDiagram();
          renderTimeline();
          focus(timelineTitle);
        },
        onSignal: (path, name) => confirmSignal(path, name),
        onRerun:
          workflow.status === 'failed' || workflow.status === 'needs_attention'
            ? (path, step) => confirmRerun(path, step)
            : undefined,
      }),
    );
  }

  function renderTimeline() {
    const open = openBodies(timelineBody);
    replace(
      timelineFilter,
      selected
        ? [
            `Showing step `,
            h('strong', {class: 'mono'}, selected),
            ' only. ',
            h(
              'button',
              {
                type: 'button',
                class: 'link',
                onclick: () => {
                  selected = '';
                  renderDiagram();
                  renderTimeline();
                },
              },
              'Show every record',
            ),
          ]
        : h(
            'span',
            {class: 'muted'},
            `${workflow.timeline.length} records. Select a step in the diagram to see its records only.`,
          ),
    );
    replace(timelineBody, timeline(workflow.timeline, {onlyStep: selected, openKeys: open}));
  }

  function confirmRetry() {
    const w = workflow;
    confirmDialog({
      title: 'Retry this workflow?',
      body:
        w.status === 'needs_attention'
          ? 'The compensation resumes at the step that could not be undone, with a fresh attempt budget.'
          : 'The workflow runs again from the first step that did not succeed or was undone. Steps that succeeded keep their results and are not sent again.',
      confirm: 'Retry',
      kind: 'primary',
      action: () => ops(`/api/workflows/${encodeURIComponent(id)}/retry`, {method: 'POST'}),
      done: 'Retry requested.',
    });
  }

  function confirmRerun(path, step) {
    const takesInput = step.kind === 'task' || step.kind === 'publish';
    const prefill = takesInput ? JSON.stringify(lastInput(workflow.timeline, path), null, 2) : '';
    const input = h('textarea', {id: 'rerun-input', name: 'input', rows: '8', class: 'mono'});
    input.value = prefill;
    confirmDialog({
      title: `Rerun from ${path}?`,
      body: `The step ${path} and every step after it run again; steps before it keep their results unless they were undone (then they run again first).${
        takesInput
          ? ' Edit the input to replace it (a JSON object); left as it is, the step renders its input again. Redacted values are shown as such: replace them if you edit.'
          : ''
      }`,
      extra:
        takesInput &&
        h('div', {class: 'field'}, h('label', {for: 'rerun-input'}, 'Step input'), input),
      confirm: 'Rerun',
      kind: 'primary',
      action: () => {
        const body = {step: path};
        const text = input.value.trim();
        if (takesInput && text !== prefill.trim()) {
          try {
            body.input = JSON.parse(text);
          } catch {
            throw new Error('The input is not valid JSON.');
          }
          if (body.input === null || typeof body.input !== 'object' || Array.isArray(body.input))
            throw new Error('The input must be a JSON object.');
        }
        return ops(`/api/workflows/${encodeURIComponent(id)}/rerun`, {method: 'POST', body});
      },
      done: 'Rerun requested.',
    });
  }

  function confirmCancel() {
    const reason = h('textarea', {
      id: 'cancel-reason',
      name: 'reason',
      rows: '2',
      maxlength: '500',
      placeholder: 'cancelled by an operator',
    });
    confirmDialog({
      title: 'Cancel this workflow?',
      body: 'Nothing new starts; what already completed is compensated (refunds, releases), then the workflow ends cancelled.',
      extra: h(
        'div',
        {class: 'field'},
        h('label', {for: 'cancel-reason'}, 'Reason (optional)'),
        reason,
      ),
      confirm: 'Cancel the workflow',
      dismiss: 'Keep it running',
      kind: 'danger',
      action: () => {
        const text = reason.value.trim();
        return ops(`/api/workflows/${encodeURIComponent(id)}/cancel`, {
          method: 'POST',
          body: text ? {reason: text} : {},
        });
      },
      done: 'Cancel requested.',
    });
  }

  async function pauseOrResume(action) {
    try {
      await ops(`/api/workflows/${encodeURIComponent(id)}/${action}`, {method: 'POST'});
      toast(action === 'pause' ? 'Paused.' : 'Resumed.', 'ok');
      workflow = null; // re-render whatever changed
      load();
    } catch (failure) {
      toast(`Could not ${action} the workflow: ${failure.detail || failure.message}`, 'bad');
    }
  }

  function confirmSignal(path, name) {
    const payload = h('textarea', {
      id: 'signal-payload',
      name: 'payload',
      rows: '4',
      class: 'mono',
      placeholder: '{}',
    });
    confirmDialog({
      title: `Send the signal ${name}?`,
      body: `The step ${path} waits for it; the payload (a JSON object, empty for {}) becomes its output and the workflow goes on.`,
      extra: h(
        'div',
        {class: 'field'},
        h('label', {for: 'signal-payload'}, 'Payload (optional)'),
        payload,
      ),
      confirm: `Send ${name}`,
      kind: 'primary',
      action: () => {
        const text = payload.value.trim();
        let body = {};
        if (text) {
          try {
            body = JSON.parse(text);
          } catch {
            throw new Error('The payload is not valid JSON.');
          }
          if (body === null || typeof body !== 'object' || Array.isArray(body))
            throw new Error('The payload must be a JSON object.');
        }
        return ops(`/api/workflows/${encodeURIComponent(id)}/signals/${encodeURIComponent(name)}`, {
          method: 'POST',
          body: {payload: body},
        });
      },
      done: `Signal ${name} sent.`,
    });
  }

  function confirmDialog({title, body, extra, confirm, dismiss = 'Back', kind, action, done}) {
    const error = h('p', {class: 'field-error', role: 'alert', hidden: true});
    const confirmButton = h('button', {type: 'submit', class: kind}, confirm);
    const dialog = h(
      'dialog',
      {'aria-labelledby': 'dialog-title'},
      h(
        'form',
        {method: 'dialog', onsubmit: submit},
        h('h2', {id: 'dialog-title'}, title),
        h('p', {}, body),
        extra,
        error,
        h(
          'div',
          {class: 'actions'},
          h('button', {type: 'button', onclick: () => dialog.close()}, dismiss),
          confirmButton,
        ),
      ),
    );
    dialog.addEventListener('close', () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();

    async function submit(event) {
      event.preventDefault();
      confirmButton.disabled = true;
      error.hidden = true;
      try {
        await action();
        dialog.close();
        toast(done, 'ok');
        workflow = null; // re-render whatever changed
        load();
      } catch (failure) {
        error.textContent = failure.detail || failure.message;
        error.hidden = false;
        confirmButton.disabled = false;
      }
    }
  }

  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };
}

/** The input the step at `path` was last sent with (a task's request, a publish's payload). */
function lastInput(records, path) {
  let input = {};
  for (const record of records) {
    if (record.step !== path) continue;
    if (record.type === 'step_started' || record.type === 'step_attempt')
      input = record.data.request ?? record.data.payload ?? input;
    else if (record.type === 'rerun_requested' && record.data.input) input = record.data.input;
  }
  return input;
}

/** Whether the last pause or resume in the timeline is a pause. */
function isPaused(records) {
  let paused = false;
  for (const record of records) {
    if (record.type === 'pause_requested') paused = true;
    else if (['resume_requested', 'retry_requested', 'rerun_requested'].includes(record.type))
      paused = false;
  }
  return paused;
}

function fact(label, value, kind) {
  return h('div', {class: kind}, h('dt', {}, label), h('dd', {}, value));
}
