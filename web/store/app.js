// What the storefront's views share: API calls as the signed-in customer, short messages, the
// basket's size in the header, and the page frame (title, heading, sign-in prompt).

import {ApiError, request} from '../shared/api.js';
import {h} from '../shared/dom.js';
import {currentRoute, link, navigate} from '../shared/router.js';
import {toast} from '../shared/toast.js';
import {clearSession, currentSession} from './session.js';

/**
 * Calls the API with the customer's token (when signed in). A 401 on a signed-in call means the
 * session ended: it is forgotten and the customer is taken to sign in, then back here.
 */
export async function call(path, options = {}) {
  const session = currentSession();
  try {
    return await request(path, {...options, token: session?.token});
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && session) {
      clearSession();
      toast('Your session has ended. Please sign in again.', 'warn');
      navigate('/signin', {next: currentRoute().path});
    }
    throw error;
  }
}

// ---- The basket's size, shown in the header --------------------------------------------------

let basketCount = 0;

/** Copies in the basket (as last seen). */
export function basketSize() {
  return basketCount;
}

/** Records a basket the API returned and updates the header. */
export function basketChanged(basket) {
  basketCount = (basket?.items || []).reduce((sum, line) => sum + line.quantity, 0);
  window.dispatchEvent(new CustomEvent('basket-change'));
}

/** Reloads the basket's size (after sign-in, or when a page opens). */
export async function refreshBasket() {
  if (!currentSession()) return basketChanged(null);
  try {
    basketChanged(await call('/api/basket'));
  } catch {
    // The header keeps the last known count; the basket page shows the error.
  }
}

// ---- Page frame -----------------------------------------------------------------------------

/** A page: sets the document title and returns {page, heading} to fill. */
export function page(outlet, title, ...intro) {
  document.title = `${title} · Wonderland Bookstore`;
  const heading = h('h1', {tabindex: '-1'}, title);
  const root = h('div', {class: 'page'}, heading, ...intro);
  outlet.append(root);
  return root;
}

/** When signed out: renders an invitation to sign in for `what` and returns false. */
export function requireSession(root, what) {
  if (currentSession()) return true;
  const next = currentRoute().path;
  root.append(
    h(
      'div',
      {class: 'notice'},
      h('p', {}, `Sign in to see ${what}.`),
      h(
        'p',
        {class: 'actions'},
        h('a', {class: 'button primary', href: link('/signin', {next})}, 'Sign in'),
        h('a', {class: 'button', href: link('/signup', {next})}, 'Create an account'),
      ),
    ),
  );
  return false;
}

/** A problem as a notice with an optional "Try again". */
export function errorNotice(error, retry) {
  return h(
    'div',
    {class: 'notice bad', role: 'alert'},
    h('p', {}, error.detail || error.message || 'Something went wrong.'),
    retry && h('p', {}, h('button', {type: 'button', onclick: retry}, 'Try again')),
  );
}

/** "Loading…" with a spinner, announced politely. */
export function loading(text = 'Loading…') {
  return h(
    'p',
    {class: 'loading', role: 'status'},
    h('span', {class: 'spinner', 'aria-hidden': 'true'}),
    ' ',
    text,
  );
}
