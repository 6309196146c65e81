// The customer's orders and the emails sent to them.

import {h, replace} from '../../shared/dom.js';
import {formatDateTime, formatMoney, plural, shortId} from '../../shared/format.js';
import {call, errorNotice, loading, page, requireSession} from '../app.js';

export async function ordersView(outlet) {
  const root = page(outlet, 'Your orders');
  if (!requireSession(root, 'your orders')) return;
  const content = h('div', {}, loading('Loading your orders…'));
  root.append(content);

  async function load() {
    try {
      const {orders} = await call('/api/orders');
      if (!orders.length) {
        replace(
          content,
          h(
            'div',
            {class: 'notice'},
            h('p', {}, 'You have no orders yet.'),
            h('p', {}, h('a', {href: '#/'}, 'Browse the books')),
          ),
        );
        return;
      }
      replace(content, h('ul', {class: 'order-list'}, orders.map(orderItem)));
    } catch (error) {
      replace(content, errorNotice(error, load));
    }
  }
  await load();
}

function orderItem(order) {
  const copies = order.items.reduce((sum, line) => sum + line.quantity, 0);
  return h(
    'li',
    {class: 'card order-item', dataset: {orderId: order.order_id}},
    h(
      'div',
      {},
      h('h2', {}, h('a', {href: `#/orders/${order.order_id}`}, `Order ${shortId(order.order_id)}`)),
      h('p', {class: 'muted'}, `${formatDateTime(order.created_at)} · ${plural(copies, 'book')}`),
      h('p', {class: 'order-titles'}, order.items.map((line) => line.title).join(', ')),
    ),
    h(
      'div',
      {class: 'order-side'},
      statusBadge(order.status),
      h('p', {class: 'amount'}, formatMoney(order.total_cents)),
    ),
  );
}

function statusBadge(status) {
  const kind = status === 'confirmed' ? 'ok' : status === 'failed' ? 'bad' : 'info';
  return h('span', {class: `badge ${kind}`}, status);
}

const KINDS = {
  welcome: {label: 'Welcome', badge: 'info'},
  order_confirmed: {label: 'Order confirmed', badge: 'ok'},
  order_failed: {label: 'Order failed', badge: 'bad'},
  order_refunded: {label: 'Refund', badge: 'warn'},
  return_requested: {label: 'Return requested', badge: 'info'},
  return_refunded: {label: 'Return refunded', badge: 'warn'},
  return_expired: {label: 'Return closed', badge: 'bad'},
};

export async function notificationsView(outlet) {
  const root = page(outlet, 'Your emails');
  if (!requireSession(root, 'the emails we sent you')) return;
  const refresh = h('button', {type: 'button', class: 'small', onclick: () => load()}, 'Refresh');
  const content = h('div', {}, loading('Loading your emails…'));
  root.append(
    h(
      'p',
      {class: 'actions'},
      h('span', {class: 'muted'}, 'Order emails arrive a moment after the order settles.'),
      refresh,
    ),
    content,
  );

  async function load() {
    refresh.disabled = true;
    try {
      const {notifications} = await call('/api/me/notifications');
      replace(
        content,
        notifications.length
          ? [
              h('p', {class: 'muted', role: 'status'}, plural(notifications.length, 'email')),
              h('ul', {class: 'mail-list'}, notifications.map(mailItem)),
            ]
          : h('p', {class: 'notice', role: 'status'}, 'No emails yet.'),
      );
    } catch (error) {
      replace(content, errorNotice(error, load));
    } finally {
      refresh.disabled = false;
    }
  }
  await load();
}

function mailItem(mail) {
  const kind = KINDS[mail.kind] || {label: mail.kind, badge: 'muted'};
  return h(
    'li',
    {class: 'card mail', dataset: {kind: mail.kind, orderId: mail.order_id || ''}},
    h(
      'div',
      {class: 'mail-head'},
      h('span', {class: `badge ${kind.badge}`}, kind.label),
      h('time', {datetime: mail.created_at, class: 'muted'}, formatDateTime(mail.created_at)),
    ),
    h('h2', {class: 'mail-subject'}, mail.subject),
    h(
      'p',
      {class: 'muted'},
      `To ${mail.email}`,
      mail.order_id && [
        ' · ',
        h('a', {href: `#/orders/${mail.order_id}`}, `order ${shortId(mail.order_id)}`),
      ],
    ),
    h('details', {}, h('summary', {}, 'Read the email'), h('pre', {class: 'mail-body'}, mail.body)),
  );
}
