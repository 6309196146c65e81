// The signed-in customer's session: {token, customer_id, username, expires_at}. Kept in
// sessionStorage (this tab, until it closes) or, when the customer asks to stay signed in, in
// localStorage. Changes are announced with a 'session-change' event on window.

const KEY = 'wonderland.session';

function read(storage) {
  try {
    const session = JSON.parse(storage.getItem(KEY) || 'null');
    if (!session || !session.token) return null;
    if (session.expires_at && Date.parse(session.expires_at) <= Date.now()) {
      storage.removeItem(KEY);
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

/** The current session, or null when signed out. */
export function currentSession() {
  return read(sessionStorage) || read(localStorage);
}

export function saveSession(session, {remember = false} = {}) {
  clearStored();
  (remember ? localStorage : sessionStorage).setItem(KEY, JSON.stringify(session));
  window.dispatchEvent(new CustomEvent('session-change'));
}

export function clearSession() {
  clearStored();
  window.dispatchEvent(new CustomEvent('session-change'));
}

function clearStored() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}
