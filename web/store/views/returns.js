// Returns: asking to return books of a confirmed order, a return followed until it ends, and the
// returns of an order on its page.

import {ApiError} from '../../shared/api.js';
import {h, replace} from '../../shared/dom.js';
import {errorSummary, field, showErrors, busy, clearErrors} from '../../shared/forms.js';
import {formatDateTime, formatMoney, shortId} from '../../shared/format.js';
import {navigate} from '../../shared/router.js';
import {call, errorNotice, loading, page, requireSession} from '../app.js';

/** How often a return that is still open is looked at again. */
const POLL_MS = 3000;

const STATUS = {
  awaiting_parcel: {kind: 'info', label: 'Awaiting your parcel'},
  refunding: {kind: 'info', label: 'Parcel received, refunding'},
  refunded: {kind: 'ok', label: 'Refunded'},
  expired: {kind: 'bad', label: 'Closed: no parcel'},
  failed: {kind: 'bad', label: 'Failed'},
};

function statusBadge(status) {
  const s = STATUS[status] || {kind: 'info', label: status};
  return h('span', {class: `badge ${s.kind}`, dataset: {status}}, s.label);
}

/** The returns of a confirmed order, and the way to ask for one, for the order's page. */
export function orderReturns(order) {
  const list = h('div', {class: 'return-list'}, loading('Loading the returns…'));
  const section = h(
    'section',
    {class: 'card order-returns', 'aria-labelledby': 'returns-title'},
    h('h2', {id: 'returns-title'}, 'Returns'),
    list,
    h(
      'p',
      {class: 'actions'},
      h('a', {class: 'button', href: `#/orders/${order.order_id}/return`}, 'Return books'),
    ),
  );
  call(`/api/orders/${encodeURIComponent(order.order_id)}/returns`)
    .then(({returns}) => {
      if (!returns.length) {
        replace(list, h('p', {class: 'muted'}, 'No books of this order are being returned.'));
        return;
      }
      replace(
        list,
        h(
          'ul',
          {},
          returns.map((r) =>
            h(
              'li',
              {class: 'return-item', dataset: {returnId: r.return_id}},
              h('a', {href: `#/returns/${r.return_id}`}, `Return ${shortId(r.return_id)}`),
              ' ',
              statusBadge(r.status),
              ' ',
              h('span', {class: 'amount'}, formatMoney(r.refund_cents)),
            ),
          ),
        ),
      );
    })
    .catch((error) => replace(list, errorNotice(error)));
  return section;
}

/** #/orders/{id}/return: a quantity per line of the order; the lines already returned are left out. */
export async function returnFormView(outlet, {params: [orderId]}) {
  const root = page(outlet, 'Return books');
  if (!requireSession(root, 'this order')) return;
  const content = h('div', {}, loading('Loading the order…'));
  root.append(h('p', {class: 'muted mono'}, `Order ${orderId}`), content);
  try {
    const id = encodeURIComponent(orderId);
    const [order, {returns}] = await Promise.all([
      call(`/api/orders/${id}`),
      call(`/api/orders/${id}/returns`),
    ]);
    const returned = new Set(returns.flatMap((r) => r.lines.map((l) => l.isbn)));
    const open = order.items.filter((line) => !returned.has(line.isbn));
    if (order.status !== 'confirmed' || !open.length) {
      replace(
        content,
        h(
          'div',
          {class: 'notice'},
          h(
            'p',
            {},
            order.status !== 'confirmed'
              ? 'Only a confirmed order can be returned.'
              : 'Every book of this order is already in a return.',
          ),
          h('p', {}, h('a', {href: `#/orders/${orderId}`}, 'Back to the order')),
        ),
      );
      return;
    }
    replace(content, returnForm(orderId, open));
  } catch (error) {
    replace(content, errorNotice(error));
  }
}

function returnForm(orderId, lines) {
  const fields = lines.map((line, i) =>
    field({
      type: 'select',
      label: `${line.title} (${formatMoney(line.unit_price_cents)} each)`,
      name: `lines[${i}].quantity`,
      hint: `You bought ${line.quantity}.`,
      dataset: {isbn: line.isbn},
    }),
  );
  fields.forEach((wrapper, i) => {
    const select = wrapper.querySelector('select');
    for (let q = 0; q <= lines[i].quantity; q++)
      select.append(h('option', {value: String(q)}, q === 0 ? 'Keep' : `Return ${q}`));
  });
  const form = h(
    'form',
    {class: 'card return-form', novalidate: true, onsubmit: send},
    errorSummary(),
    ...fields,
    h(
      'p',
      {class: 'hint'},
      'Once you ask, the return page tells you where and by when to send the parcel. The refund follows when it arrives.',
    ),
    h('button', {class: 'primary', type: 'submit'}, 'Ask for the return'),
  );

  /** The chosen lines, and the control name of each line sent (to place the API's errors). */
  function chosen() {
    const sent = [];
    const names = [];
    fields.forEach((wrapper, i) => {
      const quantity = Number(wrapper.querySelector('select').value);
      if (quantity > 0) {
        sent.push({isbn: lines[i].isbn, quantity});
        names.push(`lines[${i}].quantity`);
      }
    });
    return {sent, names};
  }

  async function send(event) {
    event.preventDefault();
    clearErrors(form);
    const {sent, names} = chosen();
    if (!sent.length) {
      showErrors(form, {errors: [], detail: 'Choose at least one book to return.'});
      return;
    }
    // The API numbers the lines it was sent; the form's controls number every open line.
    const fieldName = (apiField) => {
      const m = /^lines\[(\d+)\]\.(\w+)$/.exec(apiField);
      return m ? names[Number(m[1])] || apiField : apiField;
    };
    await busy(form, async () => {
      try {
        const accepted = await call(`/api/orders/${encodeURIComponent(orderId)}/returns`, {
          method: 'POST',
          body: {lines: sent},
        });
        navigate(`/returns/${accepted.return_id}`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, error, {fieldName, title: 'The return was not accepted'});
      }
    });
  }

  return form;
}

/** #/returns/{id}: one return, looked at again while it is open. */
export async function returnView(outlet, {params: [returnId]}) {
  const root = page(outlet, 'Your return');
  if (!requireSession(root, 'this return')) return;
  const status = h('div', {class: 'return-status', role: 'status', 'aria-live': 'polite'});
  const details = h('div', {class: 'return-details'}, loading('Loading the return…'));
  root.append(h('p', {class: 'muted mono'}, `Return ${returnId}`), status, details);
  let timer = null;
  let stopped = false;
  let last = null;

  async function poll() {
    try {
      const r = await call(`/api/returns/${encodeURIComponent(returnId)}`);
      if (stopped) return;
      if (!last || last.status !== r.status || last.updated_at !== r.updated_at) {
        replace(status, statusPanel(r));
        replace(details, returnDetails(r));
      }
      last = r;
      if (r.status === 'awaiting_parcel' || r.status === 'refunding')
        timer = setTimeout(poll, POLL_MS);
    } catch (error) {
      if (stopped) return;
      if (error instanceof ApiError && error.transient) {
        timer = setTimeout(poll, POLL_MS);
        return;
      }
      replace(status);
      replace(details, errorNotice(error));
    }
  }

  await poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function statusPanel(r) {
  const text = {
    awaiting_parcel: `Please send the books to Wonderland Bookstore, Returns, by ${formatDateTime(
      r.parcel_deadline,
    )}. We refund ${formatMoney(r.refund_cents)} when the parcel arrives.`,
    refunding: 'Your parcel arrived. We are putting the books back on the shelf and refunding you.',
    refunded: `We refunded ${formatMoney(
      r.refund_cents,
    )} to your payment method. The credit note is in your emails.`,
    expired: `The parcel did not arrive by ${formatDateTime(
      r.parcel_deadline,
    )}, so the return is closed.`,
    failed: r.reason || 'The return could not be completed.',
  }[r.status];
  const kind = (STATUS[r.status] || {}).kind || 'info';
  return h(
    'div',
    {class: `status-panel ${kind === 'info' ? 'pending' : kind}`, dataset: {status: r.status}},
    h('p', {class: 'status-line'}, statusBadge(r.status)),
    h('p', {class: 'reason'}, text),
    h(
      'p',
      {class: 'actions'},
      h('a', {class: 'button', href: `#/orders/${r.order_id}`}, 'Back to the order'),
      r.status === 'refunded' &&
        h('a', {class: 'button', href: '#/notifications'}, 'See your emails'),
    ),
  );
}

function returnDetails(r) {
  return h(
    'div',
    {class: 'card order-lines'},
    h(
      'ul',
      {},
      r.lines.map((line) =>
        h(
          'li',
          {},
          h('span', {}, `${line.quantity} × ${line.title}`),
          h('span', {class: 'amount'}, formatMoney(line.refund_cents)),
        ),
      ),
    ),
    h(
      'p',
      {class: 'summary-total'},
      h('span', {}, r.status === 'refunded' ? 'Refunded' : 'To refund'),
      h('strong', {class: 'amount'}, formatMoney(r.refund_cents)),
    ),
    h(
      'p',
      {class: 'muted'},
      `Asked ${formatDateTime(r.created_at)} · last update ${formatDateTime(r.updated_at)}`,
    ),
  );
}
