// The operations console: behind the admin token; workflows, one workflow's diagram and
// timeline, live logs and metrics, routed in the URL fragment.

import {request} from '../shared/api.js';
import {focus, h, replace} from '../shared/dom.js';
import {Router} from '../shared/router.js';
import {logsView} from './logs.js';
import {mediatorsView} from './mediators.js';
import {metricsView} from './metrics.js';
import {
  adminToken,
  forgetToken,
  isRefusal,
  page,
  refusalMessage,
  saveToken,
  whenRefused,
} from './ops.js';
import {MetricsSampler} from './sampler.js';
import {workflowView} from './workflow.js';
import {workflowsView} from './workflows.js';

const main = document.getElementById('main');
const nav = document.getElementById('console-nav');
const session = document.getElementById('console-session');
const sampler = new MetricsSampler();
let router = null;

const SECTIONS = [
  {path: '/workflows', label: 'Workflows'},
  {path: '/logs', label: 'Logs'},
  {path: '/metrics', label: 'Metrics'},
  {path: '/mediators', label: 'Mediators'},
];

// Views get the route and the console's shared parts; without a token, the token form shows.
const shared = {sampler};
const guarded = (view) => (outlet, route) =>
  adminToken() ? view(outlet, route, shared) : showGate();
const routes = [
  {path: /^\/(?:workflows)?$/, view: guarded(workflowsView)},
  {path: /^\/workflows\/([^/]+)$/, view: guarded(workflowView)},
  {path: /^\/logs$/, view: guarded(logsView)},
  {path: /^\/metrics$/, view: guarded(metricsView)},
  {path: /^\/mediators$/, view: guarded(mediatorsView)},
];

function notFound(outlet) {
  page(outlet, 'Page not found').append(
    h('p', {}, h('a', {href: '#/workflows'}, 'Go to the workflows')),
  );
}

function renderNav(path) {
  if (!adminToken()) return;
  replace(
    nav,
    h(
      'ul',
      {},
      SECTIONS.map((s) => {
        const current =
          path === s.path ||
          path.startsWith(`${s.path}/`) ||
          (s.path === '/workflows' && path === '/');
        return h(
          'li',
          {},
          h('a', {href: `#${s.path}`, 'aria-current': current ? 'page' : null}, s.label),
        );
      }),
    ),
  );
  replace(
    session,
    h('span', {class: 'muted'}, 'Operator'),
    h('button', {type: 'button', class: 'small', onclick: () => signOut()}, 'Sign out'),
  );
}

/** The token form; `message` says why it is shown (a refusal). */
function showGate(message) {
  document.title = 'Sign in · Wonderland operations';
  replace(nav);
  replace(session);
  const token = h('input', {
    id: 'admin-token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-hint token-error',
  });
  const error = h(
    'div',
    {id: 'token-error', class: 'notice bad refusal', role: 'alert', hidden: !message},
    message || '',
  );
  const form = h(
    'form',
    {class: 'gate card', onsubmit: submit},
    h('h1', {tabindex: '-1'}, 'Operations console'),
    h(
      'p',
      {},
      'The console shows every workflow, log line and metric of this Wonderland. Enter the operator token to continue.',
    ),
    error,
    h(
      'div',
      {class: 'field'},
      h('label', {for: 'admin-token'}, 'Admin token'),
      h(
        'p',
        {class: 'hint', id: 'token-hint'},
        'WONDERLAND_ADMIN_TOKEN of the mediator (scripts/run.sh prints it). It is kept in this tab only.',
      ),
      token,
    ),
    h('p', {class: 'actions'}, h('button', {class: 'primary', type: 'submit'}, 'Open the console')),
  );
  replace(main, form);
  focus(message ? error : token);

  async function submit(event) {
    event.preventDefault();
    const value = token.value.trim();
    if (!value) {
      error.textContent = 'Enter the admin token.';
      error.hidden = false;
      focus(token);
      return;
    }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      // Any operator route tells whether the token is accepted.
      await request('/api/definitions', {token: value});
      saveToken(value);
      open();
    } catch (failure) {
      error.textContent = isRefusal(failure)
        ? refusalMessage(failure)
        : `The mediator could not be asked: ${failure.message}`;
      error.hidden = false;
      token.select();
      focus(error);
    } finally {
      button.disabled = false;
    }
  }
}

function open() {
  sampler.start();
  if (!router) {
    router = new Router(main, routes, notFound);
    let previous = null;
    router.onNavigate((route) => renderNav(route.path));
    // Keyboard and screen reader users start at the new page's heading.
    router.onRendered((route) => {
      if (previous !== route.path) focus(main.querySelector('h1'));
      previous = route.path;
    });
    router.start();
  } else {
    router.render();
  }
}

function signOut(message) {
  forgetToken();
  sampler.stop();
  sampler.samples = [];
  if (router?.cleanup) {
    router.cleanup();
    router.cleanup = null;
  }
  showGate(message);
}

// A token that stops being accepted (the mediator restarted with another one) ends the session.
whenRefused((error) => signOut(refusalMessage(error)));

if (adminToken()) {
  open();
} else {
  showGate();
}
