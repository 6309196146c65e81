// Checkout: the basket's summary and the payment form. The API validates the payment details;
// its field errors (`payment.card_number`, ...) are shown next to the fields they name.

import {ApiError, newKey} from '../../shared/api.js';
import {h, replace} from '../../shared/dom.js';
import {formatMoney} from '../../shared/format.js';
import {busy, clearErrors, errorSummary, field, showErrors} from '../../shared/forms.js';
import {navigate} from '../../shared/router.js';
import {call, errorNotice, loading, page, requireSession} from '../app.js';

const METHODS = [
  {value: 'visa', label: 'Visa', card: true},
  {value: 'mastercard', label: 'Mastercard', card: true},
  {value: 'paypal', label: 'PayPal', card: false},
];

export async function checkoutView(outlet) {
  const root = page(outlet, 'Checkout');
  if (!requireSession(root, 'the checkout')) return;
  const content = h('div', {}, loading('Loading your basket…'));
  root.append(content);

  let basket;
  try {
    basket = await call('/api/basket');
  } catch (error) {
    replace(
      content,
      errorNotice(error, () => navigate('/checkout', {}, {replace: true})),
    );
    return;
  }
  if (!basket.items.length) {
    replace(
      content,
      h(
        'div',
        {class: 'notice'},
        h('p', {}, 'Your basket is empty.'),
        h('p', {}, h('a', {href: '#/'}, 'Browse the books')),
      ),
    );
    return;
  }
  if (basket.items.some((line) => !line.available)) {
    replace(
      content,
      h(
        'div',
        {class: 'notice warn'},
        h('p', {}, 'Some books in your basket are no longer in stock in the quantity you chose.'),
        h('p', {}, h('a', {href: '#/basket'}, 'Review your basket')),
      ),
    );
    return;
  }

  const form = paymentForm(basket);
  replace(content, h('div', {class: 'checkout'}, form, summary(basket)));
}

function summary(basket) {
  return h(
    'aside',
    {class: 'order-summary card', 'aria-labelledby': 'summary-title'},
    h('h2', {id: 'summary-title'}, 'Your order'),
    h(
      'ul',
      {},
      basket.items.map((line) =>
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
      h('span', {}, 'Total'),
      h('strong', {class: 'amount'}, formatMoney(basket.total_cents)),
    ),
    h('p', {}, h('a', {href: '#/basket'}, 'Change the basket')),
  );
}

function paymentForm(basket) {
  const methods = h(
    'fieldset',
    {class: 'methods', dataset: {field: 'method'}, 'aria-describedby': 'method-error'},
    h('legend', {}, 'Payment method'),
    h(
      'div',
      {class: 'method-options'},
      METHODS.map((m, i) =>
        h(
          'label',
          {class: 'method-option'},
          h('input', {
            type: 'radio',
            name: 'method',
            value: m.value,
            checked: i === 0,
            onchange: showGroup,
          }),
          h('span', {}, m.label),
        ),
      ),
    ),
    h('p', {class: 'field-error', id: 'method-error', hidden: true}),
  );
  const card = h(
    'div',
    {class: 'card-fields'},
    field({
      label: 'Card number',
      name: 'card_number',
      inputmode: 'numeric',
      autocomplete: 'cc-number',
      placeholder: '4242 4242 4242 4242',
    }),
    h(
      'div',
      {class: 'field-row'},
      field({
        label: 'Expiry date',
        name: 'expiry',
        hint: 'MM/YY',
        autocomplete: 'cc-exp',
        inputmode: 'numeric',
        maxlength: '5',
        placeholder: '12/29',
      }),
      field({
        label: 'Security code',
        name: 'cvv',
        hint: '3 digits on the back',
        autocomplete: 'cc-csc',
        inputmode: 'numeric',
        maxlength: '3',
      }),
    ),
  );
  const paypal = h(
    'div',
    {class: 'paypal-fields', hidden: true},
    field({
      label: 'PayPal email address',
      name: 'paypal_email',
      type: 'email',
      autocomplete: 'email',
    }),
  );
  const submit = h(
    'button',
    {class: 'primary pay', type: 'submit'},
    `Pay ${formatMoney(basket.total_cents)}`,
  );
  const form = h(
    'form',
    {class: 'payment card', novalidate: true, 'aria-labelledby': 'payment-title', onsubmit: pay},
    h('h2', {id: 'payment-title'}, 'Payment'),
    errorSummary(),
    methods,
    card,
    paypal,
    submit,
  );

  function method() {
    return METHODS.find((m) => m.value === form.elements.method.value) || METHODS[0];
  }

  function showGroup() {
    card.hidden = !method().card;
    paypal.hidden = method().card;
  }

  function details() {
    const m = method();
    const value = (name) => form.elements[name].value.trim();
    return m.card
      ? {
          method: m.value,
          card_number: value('card_number'),
          expiry: value('expiry'),
          cvv: value('cvv'),
        }
      : {method: m.value, paypal_email: value('paypal_email')};
  }

  /** What can be told before asking: empty fields. The API checks the rest. */
  function missing(payment) {
    const labels = {
      card_number: 'the card number',
      expiry: 'the expiry date',
      cvv: 'the security code',
      paypal_email: 'your PayPal email address',
    };
    return Object.entries(payment)
      .filter(([name, value]) => name !== 'method' && !value)
      .map(([name]) => ({field: `payment.${name}`, message: `enter ${labels[name]}`}));
  }

  async function pay(event) {
    event.preventDefault();
    clearErrors(form);
    const payment = details();
    const errors = missing(payment);
    if (errors.length) {
      showErrors(form, {errors}, {fieldName});
      return;
    }
    // One key per checkout: a retry after a lost answer finds the same order.
    const key = newKey();
    await busy(form, async () => {
      try {
        const accepted = await placeOrder(payment, key);
        navigate(`/orders/${accepted.order_id}`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, error, {fieldName, title: 'The payment was not accepted'});
      }
    });
  }

  return form;
}

/** `payment.card_number` → `card_number`; `payment.method` → the method radios. */
function fieldName(apiField) {
  return apiField.replace(/^payment\./, '');
}

async function placeOrder(payment, key) {
  const send = () =>
    call('/api/orders', {method: 'POST', body: {payment}, headers: {'Idempotency-Key': key}});
  try {
    return await send();
  } catch (error) {
    if (!(error instanceof ApiError) || !error.transient) throw error;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return send();
  }
}
