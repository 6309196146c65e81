// The catalogue: search, pages of books with their stock, "Add to basket".

import {ApiError} from '../../shared/api.js';
import {h, replace} from '../../shared/dom.js';
import {formatMoney, plural} from '../../shared/format.js';
import {link, navigate} from '../../shared/router.js';
import {toast} from '../../shared/toast.js';
import {basketChanged, call, errorNotice, loading, page} from '../app.js';
import {currentSession} from '../session.js';

const PAGE_SIZE = 12;
/** The API's limit of copies of one title in a basket. */
const MAX_COPIES = 3;

export async function catalogueView(outlet, {query}) {
  const state = {q: query.get('q') || '', page: Math.max(1, Number(query.get('page')) || 1)};
  const controller = new AbortController();
  /** Copies of each title already in the basket, by ISBN (signed in only). */
  const inBasket = new Map();
  let basketLoaded = false;

  const root = page(outlet, 'Books');
  const input = h('input', {
    id: 'search',
    type: 'search',
    name: 'q',
    value: state.q,
    placeholder: 'Title, author or publisher',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    {class: 'search', role: 'search', onsubmit: search},
    h('label', {for: 'search'}, 'Search the catalogue'),
    h(
      'div',
      {class: 'search-row'},
      input,
      h('button', {class: 'primary', type: 'submit'}, 'Search'),
    ),
  );
  const summary = h('p', {class: 'results-summary', role: 'status'});
  const results = h('div', {class: 'results'});
  root.append(form, summary, results);

  function search(event) {
    event.preventDefault();
    state.q = input.value.trim();
    state.page = 1;
    load();
  }

  function goTo(pageNumber) {
    state.page = pageNumber;
    load().then(() => summary.scrollIntoView({block: 'start'}));
  }

  async function load() {
    // The address follows the search (bookmarkable) without re-rendering the page.
    history.replaceState(null, '', link('/', {q: state.q, page: state.page > 1 ? state.page : ''}));
    replace(results, loading('Loading books…'));
    const params = new URLSearchParams({page: state.page, page_size: PAGE_SIZE});
    if (state.q) params.set('q', state.q);
    try {
      const [books] = await Promise.all([
        call(`/api/books?${params}`, {signal: controller.signal}),
        loadBasket(),
      ]);
      render(books);
    } catch (error) {
      if (error.name === 'AbortError') return;
      summary.textContent = '';
      replace(results, errorNotice(error, load));
    }
  }

  async function loadBasket() {
    if (!currentSession() || basketLoaded) return;
    try {
      const basket = await call('/api/basket', {signal: controller.signal});
      for (const line of basket.items) inBasket.set(line.isbn, line.quantity);
      basketLoaded = true;
    } catch {
      // Adding still works; the API has the last word on quantities.
    }
  }

  function render(books) {
    const pages = Math.max(1, Math.ceil(books.total / books.page_size));
    summary.textContent = books.total
      ? `${plural(books.total, 'book')}${state.q ? ` matching “${state.q}”` : ''} · page ${books.page} of ${pages}`
      : '';
    if (!books.items.length) {
      replace(
        results,
        h(
          'div',
          {class: 'notice'},
          h('p', {}, state.q ? `No book matches “${state.q}”.` : 'The shelves are empty.'),
          state.q && h('p', {}, h('a', {href: '#/', onclick: clearSearch}, 'Show every book')),
        ),
      );
      return;
    }
    replace(
      results,
      h('ul', {class: 'book-grid'}, books.items.map(bookCard)),
      pages > 1 && pager(books.page, pages),
    );
  }

  function clearSearch(event) {
    event.preventDefault();
    input.value = '';
    state.q = '';
    state.page = 1;
    load();
  }

  function pager(current, pages) {
    return h(
      'nav',
      {class: 'pager', 'aria-label': 'Pages'},
      h(
        'button',
        {type: 'button', disabled: current <= 1, onclick: () => goTo(current - 1)},
        '← Previous',
      ),
      h('span', {'aria-current': 'page'}, `Page ${current} of ${pages}`),
      h(
        'button',
        {type: 'button', disabled: current >= pages, onclick: () => goTo(current + 1)},
        'Next →',
      ),
    );
  }

  function bookCard(book) {
    const titleId = `book-${book.isbn}`;
    const message = h('p', {class: 'card-message', role: 'alert', hidden: true});
    const button = h(
      'button',
      {
        class: 'primary',
        type: 'button',
        disabled: book.stock <= 0,
        'aria-describedby': titleId,
        onclick: () => add(book, button, message),
      },
      book.stock > 0 ? 'Add to basket' : 'Sold out',
    );
    return h(
      'li',
      {class: 'book card', dataset: {isbn: book.isbn}},
      cover(book),
      h(
        'div',
        {class: 'book-body'},
        h('h2', {class: 'book-title', id: titleId}, book.title),
        h('p', {class: 'book-author'}, book.author),
        h('p', {class: 'book-meta muted'}, `${book.publisher} · ISBN ${book.isbn}`),
        h('p', {class: 'book-price'}, formatMoney(book.price_cents)),
        stockBadge(book.stock),
        button,
        message,
      ),
    );
  }

  async function add(book, button, message) {
    message.hidden = true;
    if (!currentSession()) {
      toast('Sign in to fill your basket.', 'info');
      navigate('/signin', {next: '/'});
      return;
    }
    const quantity = (inBasket.get(book.isbn) || 0) + 1;
    button.disabled = true;
    try {
      const basket = await call(`/api/basket/items/${book.isbn}`, {
        method: 'PUT',
        body: {quantity},
      });
      inBasket.set(book.isbn, quantity);
      basketChanged(basket);
      toast(`Added “${book.title}”: ${plural(quantity, 'copy', 'copies')} in your basket.`, 'ok');
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      message.textContent = describeRefusal(error, quantity);
      message.hidden = false;
    } finally {
      button.disabled = book.stock <= 0;
    }
  }

  load();
  return () => controller.abort();
}

/** Why the API refused a quantity, in a sentence. */
function describeRefusal(error, quantity) {
  const field = error.errors.find((e) => e.field === 'quantity');
  if (field && quantity > MAX_COPIES) {
    return `You already have ${MAX_COPIES} copies in your basket, the most per title (quantity ${field.message}).`;
  }
  if (field) return `Quantity ${field.message}.`;
  return error.detail || error.message;
}

function stockBadge(stock) {
  if (stock <= 0)
    return h('p', {class: 'book-stock'}, h('span', {class: 'badge bad'}, 'Out of stock'));
  const kind = stock <= 5 ? 'warn' : 'ok';
  return h(
    'p',
    {class: 'book-stock'},
    h('span', {class: `badge ${kind}`, dataset: {stock}}, `${stock} in stock`),
  );
}

/** A cover drawn from the title: a colour from the ISBN and the title's initials. */
function cover(book) {
  let hash = 0;
  for (const c of book.isbn) hash = (hash * 31 + c.charCodeAt(0)) % 360;
  const initials = book.title
    .split(/\s+/)
    .filter((w) => /^[A-Za-z0-9]/.test(w))
    .slice(0, 2)
    .map((w) => w[0].toUpperCase())
    .join('');
  return h(
    'div',
    {class: 'cover', 'aria-hidden': 'true', style: `--hue: ${hash}`},
    h('span', {}, initials),
  );
}
