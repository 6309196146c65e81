// The basket: change quantities, remove books, go to checkout.

import {ApiError} from '../../shared/api.js';
import {focus, h, hidden, replace} from '../../shared/dom.js';
import {formatMoney, plural} from '../../shared/format.js';
import {toast} from '../../shared/toast.js';
import {basketChanged, call, errorNotice, loading, page, requireSession} from '../app.js';

export async function basketView(outlet) {
  const root = page(outlet, 'Your basket');
  if (!requireSession(root, 'your basket')) return;
  const content = h('div', {}, loading('Loading your basket…'));
  root.append(content);

  async function load() {
    replace(content, loading('Loading your basket…'));
    try {
      render(await call('/api/basket'));
    } catch (error) {
      replace(content, errorNotice(error, load));
    }
  }

  function render(basket, focusIsbn) {
    basketChanged(basket);
    if (!basket.items.length) {
      replace(
        content,
        h(
          'div',
          {class: 'notice'},
          h('p', {}, 'Your basket is empty.'),
          h('p', {}, h('a', {class: 'button primary', href: '#/'}, 'Browse the books')),
        ),
      );
      return;
    }
    const unavailable = basket.items.filter((line) => !line.available);
    replace(
      content,
      h(
        'ul',
        {class: 'basket-lines', 'aria-label': 'Books in your basket'},
        basket.items.map(lineItem),
      ),
      h(
        'div',
        {class: 'basket-total card'},
        h(
          'p',
          {},
          h('span', {}, `Total (${plural(copies(basket), 'copy', 'copies')})`),
          h('strong', {class: 'amount'}, formatMoney(basket.total_cents)),
        ),
        unavailable.length > 0 &&
          h(
            'p',
            {class: 'notice warn'},
            'Some books are no longer in stock in the quantity you chose. Lower the quantity or remove them to check out.',
          ),
        h(
          'p',
          {class: 'actions'},
          h('a', {class: 'button', href: '#/'}, 'Keep shopping'),
          unavailable.length
            ? h('button', {class: 'primary', type: 'button', disabled: true}, 'Checkout')
            : h('a', {class: 'button primary', href: '#/checkout'}, 'Checkout'),
        ),
      ),
    );
    if (focusIsbn) focus(content.querySelector(`[data-isbn="${focusIsbn}"] input`));
  }

  function lineItem(line) {
    const inputId = `qty-${line.isbn}`;
    const errorId = `qty-${line.isbn}-error`;
    const error = h('p', {class: 'field-error', id: errorId, hidden: true});
    const quantity = h('input', {
      id: inputId,
      type: 'number',
      inputmode: 'numeric',
      min: '1',
      max: '3',
      step: '1',
      value: line.quantity,
      'aria-describedby': errorId,
      onchange: () => update(line, quantity, error),
    });
    return h(
      'li',
      {class: 'basket-line card', dataset: {isbn: line.isbn}},
      h(
        'div',
        {class: 'line-book'},
        h('h2', {class: 'line-title'}, line.title),
        line.author && h('p', {class: 'muted'}, line.author),
        h('p', {class: 'muted'}, `${formatMoney(line.unit_price_cents)} each`),
        !line.available &&
          h(
            'p',
            {},
            h(
              'span',
              {class: 'badge warn'},
              line.stock > 0 ? `Only ${line.stock} left` : 'Out of stock',
            ),
          ),
      ),
      h(
        'div',
        {class: 'line-quantity field'},
        h('label', {for: inputId}, 'Quantity', hidden(` of ${line.title}`)),
        quantity,
        error,
      ),
      h('p', {class: 'line-total amount'}, formatMoney(line.line_total_cents)),
      h(
        'button',
        {class: 'small', type: 'button', onclick: () => remove(line)},
        'Remove',
        hidden(` ${line.title}`),
      ),
    );
  }

  async function update(line, input, error) {
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    const quantity = Number(input.value);
    if (quantity === 0 || input.value === '') return remove(line);
    try {
      const basket = await call(`/api/basket/items/${line.isbn}`, {
        method: 'PUT',
        body: {quantity},
      });
      render(basket, line.isbn);
      toast(`“${line.title}”: ${plural(quantity, 'copy', 'copies')}.`, 'ok');
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      const field = failure.errors.find((e) => e.field === 'quantity');
      error.textContent = field ? `Quantity ${field.message}.` : failure.detail || failure.message;
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  }

  async function remove(line) {
    try {
      const basket = await call(`/api/basket/items/${line.isbn}`, {method: 'DELETE'});
      render(basket);
      toast(`Removed “${line.title}”.`, 'ok');
      focus(root.querySelector('h1'));
    } catch (failure) {
      toast(`Could not remove “${line.title}”: ${failure.detail || failure.message}`, 'bad');
    }
  }

  await load();
}

function copies(basket) {
  return basket.items.reduce((sum, line) => sum + line.quantity, 0);
}
