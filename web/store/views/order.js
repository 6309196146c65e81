// One order, followed live: pending → confirmed, or failed with the reason.

import {ApiError} from '../../shared/api.js';
import {h, replace} from '../../shared/dom.js';
import {formatDateTime, formatMoney} from '../../shared/format.js';
import {call, errorNotice, loading, page, refreshBasket, requireSession} from '../app.js';
import {orderReturns} from './returns.js';

/** How long the server may hold a look at a pending order (a long poll: it answers as soon as the
 * order ends), and the pause before the next look, growing up to the maximum after errors. */
const WAIT_MS = 10000;
const POLL_MS = 200;
const MAX_POLL_MS = 3000;

export async function orderView(outlet, {params: [orderId]}) {
  const root = page(outlet, 'Your order');
  if (!requireSession(root, 'this order')) return;
  // The status is announced when it changes (and only then: the region is replaced, not re-read).
  const status = h('div', {class: 'order-status', role: 'status', 'aria-live': 'polite'});
  const details = h('div', {class: 'order-details'}, loading('Loading the order…'));
  root.append(h('p', {class: 'muted mono'}, `Order ${orderId}`), status, details);

  let timer = null;
  let stopped = false;
  let delay = POLL_MS;
  let last = null;

  async function poll() {
    try {
      // The first look answers at once, so that the page shows the order; later ones wait.
      const wait = last ? `?wait_ms=${WAIT_MS}` : '';
      const order = await call(`/api/orders/${encodeURIComponent(orderId)}${wait}`);
      if (stopped) return;
      if (!last || last.status !== order.status || last.updated_at !== order.updated_at)
        render(order);
      last = order;
      if (order.status === 'pending') {
        schedule();
      } else {
        refreshBasket();
      }
    } catch (error) {
      if (stopped) return;
      if (error instanceof ApiError && error.transient) {
        schedule(); // keep following through a hiccup
        return;
      }
      replace(status);
      replace(details, errorNotice(error));
    }
  }

  function schedule() {
    timer = setTimeout(poll, delay);
    delay = Math.min(MAX_POLL_MS, Math.round(delay * 1.3));
  }

  function render(order) {
    replace(status, statusPanel(order));
    replace(details, orderDetails(order), order.status === 'confirmed' && orderReturns(order));
  }

  await poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function statusPanel(order) {
  switch (order.status) {
    case 'confirmed':
      return h(
        'div',
        {class: 'status-panel ok', dataset: {status: 'confirmed'}},
        h(
          'p',
          {class: 'status-line'},
          h('span', {class: 'status-icon', 'aria-hidden': 'true'}, '✓'),
          ' ',
          h('strong', {}, 'Confirmed'),
        ),
        h(
          'p',
          {},
          'Thank you! Your books are reserved and paid for. The invoice is on its way to your email.',
        ),
        h(
          'p',
          {class: 'actions'},
          h('a', {class: 'button', href: '#/notifications'}, 'See your emails'),
          h('a', {class: 'button', href: '#/'}, 'Keep shopping'),
        ),
      );
    case 'failed':
      return h(
        'div',
        {class: 'status-panel bad', dataset: {status: 'failed'}},
        h(
          'p',
          {class: 'status-line'},
          h('span', {class: 'status-icon', 'aria-hidden': 'true'}, '✕'),
          ' ',
          h('strong', {}, 'Failed'),
        ),
        h('p', {class: 'reason'}, order.reason || 'The order could not be completed.'),
        h('p', {}, 'Nothing was charged or reserved, and your basket is unchanged.'),
        h(
          'p',
          {class: 'actions'},
          h('a', {class: 'button primary', href: '#/checkout'}, 'Try again'),
          h('a', {class: 'button', href: '#/basket'}, 'Back to the basket'),
        ),
      );
    default:
      return h(
        'div',
        {class: 'status-panel pending', dataset: {status: 'pending'}},
        h(
          'p',
          {class: 'status-line'},
          h('span', {class: 'spinner', 'aria-hidden': 'true'}),
          ' ',
          h('strong', {}, 'Pending'),
        ),
        h(
          'p',
          {},
          'We are reserving your books and taking the payment. This page updates by itself.',
        ),
      );
  }
}

function orderDetails(order) {
  if (!order.items.length)
    return h('p', {class: 'muted'}, `Placed ${formatDateTime(order.created_at)}.`);
  return h(
    'div',
    {class: 'card order-lines'},
    h(
      'ul',
      {},
      order.items.map((line) =>
        h(
          'li',
          {},
          h('span', {}, `${line.quantity} × ${line.title}`),
          h('span', {class: 'amount'}, formatMoney(line.line_total_cents)),
        ),
      ),
    ),
    h(
      'p',
      {class: 'summary-total'},
      h('span', {}, order.status === 'confirmed' ? 'Paid' : 'Total'),
      h('strong', {class: 'amount'}, formatMoney(order.total_cents)),
    ),
    h(
      'p',
      {class: 'muted'},
      `Placed ${formatDateTime(order.created_at)} · last update ${formatDateTime(order.updated_at)}`,
    ),
  );
}
