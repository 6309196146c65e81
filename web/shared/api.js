// Calls to the mediator's HTTP API (docs/openapi.json): JSON in and out, and every failure as an
// ApiError built from the RFC 9457 problem the server sends (application/problem+json).

/** A failed call: the HTTP status (0 when the server could not be reached) and the problem. */
export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || (status === 0 ? 'unavailable' : 'unknown');
    this.title = problem.title || '';
    this.detail = problem.detail || '';
    this.retryable = Boolean(problem.retryable);
    /** [{field, message}]: what was wrong with which field of the request. */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }

  /** Whether another attempt may succeed: no answer, a server error, or a retryable problem. */
  get transient() {
    return this.status === 0 || this.status >= 500 || this.retryable;
  }
}

/**
 * Sends one request and returns the parsed JSON body (null for 204).
 *
 *   const page = await request('/api/books?q=tolkien');
 *   await request('/api/basket/items/9780261103573', {method: 'PUT', body: {quantity: 2}, token});
 *
 * Options: method, body (sent as JSON), token (Authorization: Bearer), headers, signal.
 * Throws ApiError for any answer that is not 2xx and when the server cannot be reached; an abort
 * through `signal` rethrows the AbortError.
 */
export async function request(path, {method = 'GET', body, token, headers = {}, signal} = {}) {
  const init = {method, headers: {Accept: 'application/json', ...headers}, signal};
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, {
      title: 'No connection',
      detail: 'The store could not be reached. Check your connection and try again.',
      retryable: true,
    });
  }
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  const payload = type.includes('json')
    ? await response.json().catch(() => null)
    : await response.text();
  if (!response.ok) {
    const problem = payload && typeof payload === 'object' ? payload : {title: response.statusText};
    throw new ApiError(response.status, problem);
  }
  return payload;
}

/** A new random key, e.g. for Idempotency-Key. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
