// The operator's token and calls to the operator API with it.
//
// The token is kept in sessionStorage: it lasts as long as the tab and is never written to disk.
// Every call sends it as `Authorization: Bearer`; a 401 or 403 means the mediator does not (or no
// longer) accept it, which ends the console session with the reason.

import {ApiError, request} from '../shared/api.js';
import {h} from '../shared/dom.js';

const KEY = 'wonderland.admin-token';

export function adminToken() {
  return sessionStorage.getItem(KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

/** Whether an error is the mediator refusing the token. */
export function isRefusal(error) {
  return error instanceof ApiError && (error.status === 401 || error.status === 403);
}

/** The refusal, as the operator reads it. */
export function refusalMessage(error) {
  return error.status === 403
    ? `The mediator refused this token (HTTP 403: ${error.detail || 'permission denied'}).`
    : `The mediator refused the request: no valid token (HTTP 401: ${error.detail || 'unauthenticated'}).`;
}

let onRefused = () => {};

/** What to do when the token stops being accepted (set once by main.js). */
export function whenRefused(handler) {
  onRefused = handler;
}

/** Calls an operator route with the token; see request() for the options. */
export async function ops(path, options = {}) {
  try {
    return await request(path, {...options, token: adminToken()});
  } catch (error) {
    if (isRefusal(error)) onRefused(error);
    throw error;
  }
}

/** A page of the console: sets the title and returns its root. */
export function page(outlet, title, ...rest) {
  document.title = `${title} · Wonderland operations`;
  const root = h('div', {class: 'page'}, h('h1', {tabindex: '-1'}, title), ...rest);
  outlet.append(root);
  return root;
}

/** A status as a coloured badge with its name (colour is never the only cue). */
export function statusBadge(status) {
  const kinds = {
    running: 'info',
    completed: 'ok',
    failed: 'bad',
    cancelled: 'muted',
    needs_attention: 'warn',
  };
  return h(
    'span',
    {class: `badge ${kinds[status] || 'muted'}`, dataset: {status}},
    status.replace('_', ' '),
  );
}
