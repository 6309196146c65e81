// Signing up, in and out.

import {ApiError, request} from '../../shared/api.js';
import {h} from '../../shared/dom.js';
import {busy, errorSummary, field, showErrors} from '../../shared/forms.js';
import {link, navigate} from '../../shared/router.js';
import {toast} from '../../shared/toast.js';
import {page, refreshBasket} from '../app.js';
import {clearSession, currentSession, saveSession} from '../session.js';

/** Where to go after signing in: the page that asked for it, if it is one of ours. */
function nextPath(query) {
  const next = query.get('next') || '/';
  return next.startsWith('/') && !next.startsWith('/signin') && !next.startsWith('/signup')
    ? next
    : '/';
}

async function signIn(username, password, remember) {
  const session = await request('/api/sessions', {method: 'POST', body: {username, password}});
  saveSession({...session, username}, {remember});
  refreshBasket();
  return session;
}

export function signInView(outlet, {query}) {
  const root = page(outlet, 'Sign in');
  const next = nextPath(query);
  if (currentSession()) {
    root.append(
      h(
        'p',
        {class: 'notice'},
        `You are signed in as ${currentSession().username}. `,
        h('a', {href: `#${next}`}, 'Continue'),
      ),
    );
    return;
  }
  const form = h(
    'form',
    {class: 'account-form card', novalidate: true, onsubmit: submit},
    errorSummary(),
    field({
      label: 'Username',
      name: 'username',
      autocomplete: 'username',
      required: true,
      value: query.get('username') || '',
    }),
    field({
      label: 'Password',
      name: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    }),
    h(
      'div',
      {class: 'field'},
      h(
        'label',
        {class: 'check'},
        h('input', {type: 'checkbox', name: 'remember'}),
        'Keep me signed in on this device',
      ),
    ),
    h('p', {class: 'actions'}, h('button', {class: 'primary', type: 'submit'}, 'Sign in')),
    h('p', {}, 'New here? ', h('a', {href: link('/signup', {next})}, 'Create an account')),
  );
  root.append(form);

  async function submit(event) {
    event.preventDefault();
    const {username, password, remember} = form.elements;
    const missing = [];
    if (!username.value.trim()) missing.push({field: 'username', message: 'enter your username'});
    if (!password.value) missing.push({field: 'password', message: 'enter your password'});
    if (missing.length) return showErrors(form, {errors: missing});
    await busy(form, async () => {
      try {
        await signIn(username.value.trim(), password.value, remember.checked);
        toast(`Signed in as ${username.value.trim()}.`, 'ok');
        navigate(next);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, error, {
          title: error.status === 401 ? 'Wrong username or password' : 'Could not sign in',
        });
      }
    });
  }
}

export function signUpView(outlet, {query}) {
  const root = page(outlet, 'Create an account');
  const next = nextPath(query);
  const form = h(
    'form',
    {class: 'account-form card', novalidate: true, onsubmit: submit},
    errorSummary(),
    field({
      label: 'Username',
      name: 'username',
      hint: '3 to 32 letters, digits, dots, dashes or underscores',
      autocomplete: 'username',
      required: true,
    }),
    field({
      label: 'Email address',
      name: 'email',
      type: 'email',
      autocomplete: 'email',
      required: true,
    }),
    field({
      label: 'Password',
      name: 'password',
      type: 'password',
      hint: 'At least 8 characters',
      autocomplete: 'new-password',
      required: true,
    }),
    h(
      'div',
      {class: 'field-row'},
      field({label: 'First name', name: 'first_name', autocomplete: 'given-name', required: true}),
      field({label: 'Last name', name: 'last_name', autocomplete: 'family-name', required: true}),
    ),
    field({label: 'Phone (optional)', name: 'phone', type: 'tel', autocomplete: 'tel'}),
    h('p', {class: 'actions'}, h('button', {class: 'primary', type: 'submit'}, 'Create account')),
    h('p', {}, 'Already have an account? ', h('a', {href: link('/signin', {next})}, 'Sign in')),
  );
  root.append(form);

  async function submit(event) {
    event.preventDefault();
    const value = (name) => form.elements[name].value.trim();
    const body = {
      username: value('username'),
      email: value('email'),
      password: form.elements.password.value,
      first_name: value('first_name'),
      last_name: value('last_name'),
    };
    if (value('phone')) body.phone = value('phone');
    const labels = {
      username: 'a username',
      email: 'your email address',
      password: 'a password',
      first_name: 'your first name',
      last_name: 'your last name',
    };
    const missing = Object.entries(labels)
      .filter(([name]) => !body[name])
      .map(([name, what]) => ({field: name, message: `enter ${what}`}));
    if (missing.length) return showErrors(form, {errors: missing});
    await busy(form, async () => {
      try {
        await request('/api/customers', {method: 'POST', body});
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, error, {title: 'Your account could not be created'});
        return;
      }
      try {
        await signIn(body.username, body.password, false);
        toast(`Welcome to Wonderland, ${body.first_name}!`, 'ok');
        navigate(next);
      } catch {
        toast('Your account is ready. Please sign in.', 'ok');
        navigate('/signin', {next, username: body.username});
      }
    });
  }
}

export async function signOut() {
  const session = currentSession();
  clearSession();
  if (session) {
    try {
      await request('/api/sessions/current', {method: 'DELETE', token: session.token});
    } catch {
      // The token is forgotten here either way; it expires on the server.
    }
  }
  toast('You are signed out.', 'ok');
  navigate('/');
}
