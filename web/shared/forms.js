// Form fields and their messages: a label, the control, a hint and an error slot that the
// control names in aria-describedby, so that a screen reader reads the message with the field.
//
// Errors from the API (a problem's `errors: [{field, message}]`) are shown next to the control
// whose `name` matches the field (after `fieldName` maps it); the ones that match no control, and
// the problem itself when it names no field, go to the form's summary at the top.

import {h, replace, focus} from './dom.js';

let counter = 0;

/**
 * A labelled input: field({label: 'Email', name: 'email', type: 'email', autocomplete: 'email'}).
 * Extra properties go to the <input>. `hint` is shown under the label.
 */
export function field({label, name, hint, type = 'text', ...attrs}) {
  const id = `f-${name.replace(/[^a-z0-9_-]/gi, '-')}-${++counter}`;
  const describedBy = [`${id}-error`];
  if (hint) describedBy.unshift(`${id}-hint`);
  const control =
    type === 'select'
      ? h('select', {id, name, 'aria-describedby': describedBy.join(' '), ...attrs})
      : h('input', {id, name, type, 'aria-describedby': describedBy.join(' '), ...attrs});
  return h(
    'div',
    {class: 'field', dataset: {field: name}},
    h('label', {for: id}, label),
    hint && h('p', {class: 'hint', id: `${id}-hint`}, hint),
    control,
    h('p', {class: 'field-error', id: `${id}-error`, hidden: true}),
  );
}

/** The summary slot a form shows its general errors in; put it first in the form. */
export function errorSummary() {
  return h('div', {class: 'error-summary', role: 'alert', tabindex: '-1', hidden: true});
}

/** Removes every message of `form`. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll('.field-error')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of form.querySelectorAll('[aria-invalid]'))
    control.removeAttribute('aria-invalid');
  const summary = form.querySelector('.error-summary');
  if (summary) {
    summary.hidden = true;
    summary.replaceChildren();
  }
}

/** Shows `message` next to the control named `name`; returns false when there is none. */
export function setFieldError(form, name, message) {
  const wrapper = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  if (!wrapper) return false;
  const slot = wrapper.querySelector('.field-error');
  slot.textContent = message;
  slot.hidden = false;
  for (const control of wrapper.querySelectorAll('input, select, textarea')) {
    control.setAttribute('aria-invalid', 'true');
  }
  return true;
}

/**
 * Shows an ApiError (or any Error) on `form`: each field error next to its control and, with the
 * rest, in the summary (a field's entry links to it). `fieldName(apiField)` maps the API's field
 * names to control names (identity by default). Focus goes to the summary.
 */
export function showErrors(form, error, {fieldName = (f) => f, title = 'There is a problem'} = {}) {
  clearErrors(form);
  const fieldErrors = error.errors || [];
  const items = fieldErrors.map(({field: apiField, message}) => {
    const name = fieldName(apiField);
    if (!setFieldError(form, name, capitalise(message))) return `${apiField}: ${message}`;
    return {name, text: `${fieldLabel(form, name)}: ${message}`};
  });
  if (!fieldErrors.length) items.push(error.detail || error.message || 'Something went wrong.');
  const summary = form.querySelector('.error-summary');
  if (!summary) {
    focus(form.querySelector('[aria-invalid="true"]'));
    return;
  }
  replace(
    summary,
    h('h2', {}, title),
    h(
      'ul',
      {},
      items.map((item) =>
        h(
          'li',
          {},
          typeof item === 'string'
            ? item
            : h(
                'a',
                {href: '#', onclick: (event) => focusField(event, form, item.name)},
                item.text,
              ),
        ),
      ),
    ),
  );
  summary.hidden = false;
  focus(summary);
}

function fieldLabel(form, name) {
  const wrapper = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  return wrapper?.querySelector('legend, label')?.textContent ?? name;
}

function focusField(event, form, name) {
  event.preventDefault();
  focus(form.querySelector(`[data-field="${CSS.escape(name)}"] :is(input, select, textarea)`));
}

function capitalise(text) {
  const s = String(text || '');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Disables a form's controls while `work` runs (no double submissions), then restores them. */
export async function busy(form, work) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')].filter(
    (c) => !c.disabled,
  );
  form.setAttribute('aria-busy', 'true');
  for (const c of controls) c.disabled = true;
  try {
    return await work();
  } finally {
    for (const c of controls) c.disabled = false;
    form.removeAttribute('aria-busy');
  }
}
