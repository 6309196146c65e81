// Client-side navigation in the URL fragment ("#/orders/42?tab=x"), so that the server needs no
// route of its own for each page and every page can be bookmarked and reloaded.
//
//   const router = new Router(outlet, [
//     {path: /^\/orders\/([^/]+)$/, view: orderView},   // view(outlet, {params, query}) → cleanup?
//   ], notFoundView);
//   router.start();
//
// A view renders into the outlet and may return a cleanup function (or a promise of one), run
// when the next view replaces it: that is where polling and streams stop.

/** The current location's route: {path: '/orders/42', query: URLSearchParams}. */
export function currentRoute() {
  // Still encoded: path parameters are decoded one by one, the query by URLSearchParams.
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = hash.split('?');
  return {path: path || '/', query: new URLSearchParams(search)};
}

/** A fragment link: link('/orders', {page: 2}) → '#/orders?page=2' (empty values left out). */
export function link(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, value);
  }
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ''}`;
}

/** Goes to a route; `replace` keeps the history entry (for redirects and filter changes). */
export function navigate(path, query = {}, {replace = false} = {}) {
  const target = link(path, query);
  if (replace) {
    history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target;
  }
}

export class Router {
  constructor(outlet, routes, notFound) {
    this.outlet = outlet;
    this.routes = routes;
    this.notFound = notFound;
    this.cleanup = null;
    this.generation = 0;
    this.listeners = [];
    this.renderedListeners = [];
  }

  start() {
    window.addEventListener('hashchange', () => this.render());
    this.render();
  }

  /** Calls `listener(route)` at every navigation, before the view renders (e.g. to mark the
   * current link). */
  onNavigate(listener) {
    this.listeners.push(listener);
  }

  /** Calls `listener(route)` once the view of a navigation has rendered (e.g. to move focus). */
  onRendered(listener) {
    this.renderedListeners.push(listener);
  }

  async render() {
    const generation = ++this.generation;
    if (this.cleanup) {
      const cleanup = this.cleanup;
      this.cleanup = null;
      cleanup();
    }
    const route = currentRoute();
    let view = this.notFound;
    let params = [];
    for (const candidate of this.routes) {
      const match = candidate.path.exec(route.path);
      if (match) {
        view = candidate.view;
        params = match.slice(1).map(decodeParam);
        break;
      }
    }
    for (const listener of this.listeners) listener(route);
    this.outlet.replaceChildren();
    const cleanup = await view(this.outlet, {params, query: route.query});
    // A navigation that happened while the view was loading has already moved on.
    if (generation !== this.generation) {
      if (typeof cleanup === 'function') cleanup();
      return;
    }
    if (typeof cleanup === 'function') this.cleanup = cleanup;
    for (const listener of this.renderedListeners) listener(route);
  }
}

function decodeParam(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a stray '%': taken as it is
  }
}
