// A workflow definition drawn as a diagram, each step coloured by its state in one workflow.
//
// Steps follow each other top to bottom; the branches of a parallel step (and the cases of a
// choice) stand side by side; the `on_failure` steps have a lane of their own. A step's state is
// read from the workflow's timeline (the journal records, docs/workflows.md):
//
//   pending      no record yet ("not run" once the workflow has settled)
//   running      an attempt is in flight or waiting to be retried
//   done         succeeded
//   failed       failed for good (or its compensation failed)
//   compensating its compensation is in flight
//   compensated  succeeded, then undone by its compensation
//
// A wait or signal step that is running is shown as waiting, with what it waits for (the time,
// or the signal and its timeout); a waiting signal step has a button that sends the signal
// (`onSignal`). Steps that a signal's timeout jumped over (`on_timeout`) are shown as skipped.
// A workflow step links to its child workflow; a map step shows how many of its iterations are
// done (e.g. "3/5 done") and links to the iterations running or failed.

import {h} from '../shared/dom.js';
import {formatDateTime, formatDuration} from '../shared/format.js';

export const STATES = ['pending', 'running', 'done', 'failed', 'compensating', 'compensated'];

const ITERATION_STATES = {
  iteration_started: 'running',
  iteration_succeeded: 'done',
  iteration_failed: 'failed',
  iteration_undone: 'compensated',
};

/** Every step path's state from a timeline: Map(path → {state, attempts, duration_ms, error, lastError}). */
export function stepStates(timeline) {
  const states = new Map();
  const of = (path) => {
    if (!states.has(path))
      states.set(path, {state: 'pending', attempts: 0, duration_ms: null, error: null});
    return states.get(path);
  };
  for (const record of timeline) {
    if (!record.step) continue;
    const s = of(record.step);
    const data = record.data || {};
    switch (record.type) {
      case 'step_started':
      case 'step_attempt':
        s.state = 'running';
        s.attempts = Math.max(s.attempts, record.attempt || 1);
        s.error = null;
        if (data.signal) s.waiting = {signal: data.signal, until: data.timeout_at};
        else if (data.wait_until) s.waiting = {until: data.wait_until};
        if (data.child_id) s.children = [{id: data.child_id, state: 'running'}];
        if (Array.isArray(data.items))
          s.children = data.items.map(() => ({id: null, state: 'pending'}));
        break;
      case 'iteration_started':
      case 'iteration_succeeded':
      case 'iteration_failed':
      case 'iteration_undone':
        if (s.children && s.children[data.index]) {
          const child = s.children[data.index];
          child.id = data.child_id;
          child.state = ITERATION_STATES[record.type];
        }
        break;
      case 'step_attempt_failed':
        s.state = 'running';
        s.error = data.error || null;
        break;
      case 'step_succeeded':
        s.state = 'done';
        s.duration_ms = data.duration_ms ?? null;
        s.error = null;
        s.waiting = null;
        s.timedOut = data.timed_out === true;
        for (const id of data.skipped || []) of(siblingPath(record.step, id)).skipped = true;
        break;
      case 'step_failed':
        s.waiting = null;
        s.state = 'failed';
        s.duration_ms = data.duration_ms ?? null;
        s.error = data.error || null;
        break;
      case 'compensation_started':
      case 'compensation_attempt':
        s.state = 'compensating';
        break;
      case 'compensation_attempt_failed':
        s.error = data.error || null;
        break;
      case 'compensation_succeeded':
        s.state = 'compensated';
        s.error = null;
        break;
      case 'compensation_failed':
        s.state = 'failed';
        s.error = data.error || null;
        s.compensationFailed = true;
        break;
      default:
        break;
    }
  }
  return states;
}

/** The path of the step `id` in the same sequence as the step at `path`. */
function siblingPath(path, id) {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? id : `${path.slice(0, slash + 1)}${id}`;
}

/** A choice's chosen case index from its records (-1: default), or undefined before it chose. */
function chosenCase(timeline, path) {
  for (const record of timeline) {
    if (
      record.step === path &&
      record.type === 'step_started' &&
      record.data &&
      'case' in record.data
    ) {
      return record.data.case;
    }
  }
  return undefined;
}

/**
 * The diagram of `definition` for a workflow with `timeline`. `settled`: the workflow has ended
 * (pending steps are then shown as not run). `onSelect(path)`: a step was activated.
 * `onSignal(path, name)`: the button of a waiting signal step was pressed.
 * `onRerun(path, step)`: "Rerun from here" on a top-level step that failed, or holds one that
 * did, was pressed (given only for a workflow that can be rerun).
 */
export function diagram(definition, timeline, {settled, onSelect, selected, onSignal, onRerun}) {
  const states = stepStates(timeline);
  const failedTops = new Set();
  for (const [path, s] of states) if (s.state === 'failed') failedTops.add(path.split('/')[0]);
  const context = {
    states,
    timeline,
    settled,
    onSelect,
    selected,
    onSignal,
    onRerun,
    failedTops,
    pivot: definition.pivot,
  };
  return h(
    'div',
    {class: 'diagram', dataset: {definition: definition.name}},
    legend(),
    h(
      'div',
      {class: 'lane'},
      h('h3', {class: 'lane-title'}, 'Steps'),
      sequence(definition.steps || [], '', context),
    ),
    (definition.on_failure || []).length > 0 &&
      h(
        'div',
        {class: 'lane lane-failure'},
        h('h3', {class: 'lane-title'}, 'On failure'),
        sequence(definition.on_failure, 'on_failure/', context),
      ),
  );
}

function legend() {
  return h(
    'ul',
    {class: 'legend', 'aria-label': 'Step states'},
    STATES.map((state) =>
      h('li', {}, h('span', {class: `swatch state-${state}`, 'aria-hidden': 'true'}), state),
    ),
  );
}

function sequence(steps, prefix, context) {
  return h(
    'ol',
    {class: 'flow'},
    steps.map((step) => node(step, `${prefix}${step.id}`, context)),
  );
}

function node(step, path, context) {
  const s = context.states.get(path) || {state: 'pending', attempts: 0};
  if (step.kind === 'parallel') {
    return h(
      'li',
      {class: ['node', 'composite', `state-${s.state}`], dataset: {step: path, state: s.state}},
      box(step, path, s, context),
      h(
        'div',
        {class: 'branches', style: `--branches: ${step.branches.length}`},
        step.branches.map((branch, i) =>
          h(
            'div',
            {class: 'branch', 'aria-label': `Branch ${i + 1} of ${step.id}`, role: 'group'},
            sequence(branch, `${path}/`, context),
          ),
        ),
      ),
    );
  }
  if (step.kind === 'choice') {
    const chosen = chosenCase(context.timeline, path);
    const cases = (step.cases || []).map((c, i) => ({
      label: caseLabel(c),
      steps: c.steps || [],
      index: i,
    }));
    if (step.default) cases.push({label: 'otherwise', steps: step.default, index: -1});
    return h(
      'li',
      {class: ['node', 'composite', `state-${s.state}`], dataset: {step: path, state: s.state}},
      box(step, path, s, context),
      h(
        'div',
        {class: 'branches', style: `--branches: ${cases.length}`},
        cases.map((c) =>
          h(
            'div',
            {
              class: ['branch', chosen !== undefined && chosen !== c.index && 'not-chosen'],
              role: 'group',
              'aria-label': `Case ${c.label}`,
            },
            h('p', {class: 'case-label'}, c.label, chosen === c.index && ' (chosen)'),
            sequence(c.steps, `${path}/`, context),
          ),
        ),
      ),
    );
  }
  const sendable =
    step.kind === 'signal' && s.waiting && !context.settled && context.onSignal !== undefined;
  const rerunnable =
    context.onRerun !== undefined && !path.includes('/') && context.failedTops.has(path);
  return h(
    'li',
    {
      class: ['node', `state-${s.state}`, s.waiting && 'waiting', s.skipped && 'skipped'],
      dataset: {step: path, state: s.state, kind: step.kind},
    },
    box(step, path, s, context),
    sendable &&
      h(
        'button',
        {
          type: 'button',
          class: 'signal-send',
          dataset: {signal: step.signal},
          title: `Send the signal ${step.signal}`,
          onclick: () => context.onSignal(path, step.signal),
        },
        signalLabel(step.signal),
      ),
    rerunnable &&
      h(
        'button',
        {type: 'button', class: 'rerun', onclick: () => context.onRerun(path, step)},
        'Rerun from here',
      ),
    childLinks(step, s),
  );
}

/** Links to the child workflows of a workflow step (its child) or a map step (the iterations
 * running, failed or undone; all of them when there are few). */
function childLinks(step, s) {
  if (!s.children || (step.kind !== 'workflow' && step.kind !== 'map')) return null;
  const shown = s.children.filter(
    (c) => c.id && (step.kind === 'workflow' || s.children.length <= 5 || c.state !== 'done'),
  );
  if (shown.length === 0) return null;
  return h(
    'p',
    {class: 'child-links'},
    shown.map((c) =>
      h(
        'a',
        {
          class: ['mono', 'child-link', `state-${c.state}`],
          href: `#/workflows/${encodeURIComponent(c.id)}`,
          title: `Show workflow ${c.id} (${c.state})`,
          dataset: {child: c.id},
        },
        step.kind === 'workflow' ? `→ ${c.id}` : `#${s.children.indexOf(c)} ${c.state}`,
      ),
    ),
  );
}

/** What a leaf step does, in a few words. */
function stepWhat(step) {
  switch (step.kind) {
    case 'task':
      return step.action;
    case 'publish':
      return `publish ${step.topic}`;
    case 'wait':
      if ('duration_ms' in step)
        return typeof step.duration_ms === 'number'
          ? `wait ${formatDuration(step.duration_ms)}`
          : `wait ${step.duration_ms}`;
      return `wait until ${step.until}`;
    case 'signal':
      return `signal ${step.signal}`;
    case 'workflow':
      return `workflow ${step.definition}${step.version ? ` v${step.version}` : ''}`;
    case 'map':
      return `map ${typeof step.items === 'string' ? step.items : `${step.items.length} items`}`;
    default:
      return step.kind;
  }
}

function stateLabel(s, context) {
  if (s.skipped && s.state === 'pending') return 'skipped';
  if (s.state === 'pending' && context.settled) return 'not run';
  if (s.state === 'running' && s.waiting) return 'waiting';
  if (s.state === 'done' && s.timedOut) return 'timed out';
  return s.state;
}

function caseLabel(c) {
  if ('equals' in c) return `= ${JSON.stringify(c.equals)}`;
  if ('one_of' in c) return `in ${JSON.stringify(c.one_of)}`;
  if ('less_than' in c) return `< ${c.less_than}`;
  if ('greater_than' in c) return `> ${c.greater_than}`;
  return 'case';
}

function box(step, path, s, context) {
  const label = stateLabel(s, context);
  const what = stepWhat(step);
  const facts = [];
  if (s.state === 'running' && s.waiting) {
    if (s.waiting.signal) facts.push(`for ${s.waiting.signal}`);
    if (s.waiting.until)
      facts.push(`${s.waiting.signal ? 'timeout ' : 'until '}${formatDateTime(s.waiting.until)}`);
  }
  if (step.kind === 'map' && s.children) {
    const done = s.children.filter((c) => c.state === 'done' || c.state === 'compensated').length;
    const failed = s.children.filter((c) => c.state === 'failed').length;
    facts.push(`${done}/${s.children.length} done`);
    if (failed > 0) facts.push(`${failed} failed`);
  }
  if (s.attempts > 1) facts.push(`${s.attempts} attempts`);
  if (s.duration_ms !== null && s.duration_ms !== undefined)
    facts.push(formatDuration(s.duration_ms));
  return h(
    'button',
    {
      type: 'button',
      class: 'step-box',
      'aria-pressed': context.selected === path ? 'true' : 'false',
      title: `Show the timeline of ${path}`,
      onclick: () => context.onSelect(path),
    },
    h(
      'span',
      {class: 'step-name'},
      step.id,
      context.pivot === path &&
        h(
          'span',
          {class: 'pivot-tag', title: 'The pivot: once it succeeded, what the workflow did stands'},
          'pivot',
        ),
    ),
    h('span', {class: 'step-what mono'}, what),
    h(
      'span',
      {class: 'step-state'},
      h('span', {class: 'state-dot', 'aria-hidden': 'true'}),
      label,
      facts.length > 0 && ` · ${facts.join(' · ')}`,
    ),
    step.compensation &&
      h(
        'span',
        {class: 'step-compensation'},
        `↺ ${step.compensation.action}`,
        (s.state === 'compensated' || s.state === 'compensating' || s.compensationFailed) &&
          `: ${s.compensationFailed ? 'failed' : s.state}`,
      ),
    s.error &&
      s.state !== 'done' &&
      h('span', {class: 'step-error'}, `${s.error.code}: ${s.error.message}`),
  );
}

/** What a signal's button says: its name as words, `parcel_received` → `Parcel received`. */
function signalLabel(name) {
  const words = name.replace(/[_.-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
