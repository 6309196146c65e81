// The storefront and the operations console in a real browser, against the whole running system
// (started by browser_test.cpp; to run against a system started by hand, see README.md,
// "Browser tests").
//
//   BASE_URL=http://127.0.0.1:8080 ADMIN_TOKEN=... node --test-reporter=spec tests/browser/bookstore.test.mjs
//
// The tests run in order and share what they bought: the console tests look at the orders the
// storefront tests placed.

import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';
import {PHONE, catalogue, config, eventually, futureExpiry, launchBrowser, screenshot, uniqueName, withPage} from './support.mjs';

const [rabbit, hatter, cheshire] = catalogue;
const PASSWORD = 'correct horse battery';

let browser;
const orders = {confirmed: null, declined: null};

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

// ---- Storefront helpers -------------------------------------------------------------------

async function signUp(page, tag) {
  const username = uniqueName(tag);
  await page.goto('/#/signup');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email address').fill(`${username}@example.com`);
  await page.getByLabel('Password', {exact: true}).fill(PASSWORD);
  await page.getByLabel('First name').fill('Alice');
  await page.getByLabel('Last name').fill('Liddell');
  await page.getByRole('button', {name: 'Create account'}).click();
  // Signing up signs in too.
  await page.getByRole('navigation', {name: 'Main'}).getByText(username).waitFor();
  return username;
}

/** The card of a book in the catalogue, after searching for its title. */
async function findBook(page, book) {
  await page.goto('/#/');
  await page.getByLabel('Search the catalogue').fill(book.title);
  await page.getByRole('button', {name: 'Search', exact: true}).click();
  // The results of this search (not the list shown before it).
  await page.locator('.results-summary', {hasText: book.title}).waitFor();
  const card = page.locator(`li.book[data-isbn="${book.isbn}"]`);
  await card.waitFor();
  return card;
}

/** The stock the catalogue shows for a book. */
async function shownStock(page, book) {
  const card = await findBook(page, book);
  const text = await card.locator('.book-stock').innerText();
  const match = /(\d+) in stock/i.exec(text);
  assert.ok(match, `no stock shown for ${book.title}: '${text}'`);
  return Number(match[1]);
}

/** Adds one copy; `copies`: how many the basket then holds. */
async function addToBasket(page, book, copies) {
  const card = await findBook(page, book);
  await card.getByRole('button', {name: 'Add to basket'}).click();
  const copiesText = `${copies} ${copies === 1 ? 'copy' : 'copies'} in your basket`;
  await page.locator('.toast', {hasText: book.title}).filter({hasText: copiesText}).waitFor();
  return card;
}

async function openBasket(page) {
  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: /Basket/}).click();
  await page.getByRole('heading', {name: 'Your basket'}).waitFor();
}

async function pay(page, {method, number}) {
  await page.getByRole('radio', {name: method}).check();
  await page.getByLabel('Card number').fill(number);
  await page.getByLabel('Expiry date').fill(futureExpiry());
  await page.getByLabel('Security code').fill('123');
  await page.getByRole('button', {name: /^Pay /}).click();
}

/** Waits on the order page until the order settles; returns {id, status}. */
async function settledOrder(page) {
  await page.waitForURL(/#\/orders\/[0-9a-f-]+$/);
  const id = page.url().split('/').pop();
  const panel = page.locator('.status-panel[data-status="confirmed"], .status-panel[data-status="failed"]');
  await panel.waitFor({timeout: 60_000});
  return {id, status: await panel.getAttribute('data-status'), panel};
}

// ---- Storefront ---------------------------------------------------------------------------

describe('storefront', () => {
  test('a new customer signs up, signs in, buys two books and gets the order confirmed with its invoice', () =>
    withPage(browser, 'storefront-purchase', async (page) => {
      await page.goto('/');
      await page.getByRole('heading', {name: 'Books'}).waitFor();
      await page.locator('li.book').first().waitFor();
      await screenshot(page, 'storefront-catalogue');

      const username = await signUp(page, 'shopper');
      await page.getByRole('button', {name: 'Sign out'}).click();
      await page.getByRole('link', {name: 'Sign in', exact: true}).click();
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', {name: 'Sign in'}).click();
      await page.getByRole('navigation', {name: 'Main'}).getByText(username).waitFor();

      await addToBasket(page, rabbit, 1);
      // Three copies of a title at most: the API's refusal of a fourth is shown on the card.
      for (let copies = 1; copies <= 3; copies++) await addToBasket(page, hatter, copies);
      const hatterCard = await findBook(page, hatter);
      await hatterCard.getByRole('button', {name: 'Add to basket'}).click();
      const refusal = hatterCard.locator('.card-message');
      await refusal.waitFor();
      assert.match(await refusal.innerText(), /3 copies/);

      await openBasket(page);
      const quantity = page.getByLabel(`Quantity of ${hatter.title}`);
      assert.equal(await quantity.inputValue(), '3');
      await quantity.fill('1');
      await quantity.press('Tab');
      await page.locator('.toast', {hasText: `“${hatter.title}”: 1 copy.`}).waitFor();
      assert.equal(await page.locator('li.basket-line').count(), 2);
      const expectedTotal = rabbit.price_cents + hatter.price_cents;
      assert.match(await page.locator('.basket-total').innerText(), new RegExp(`\\$${(expectedTotal / 100).toFixed(2)}`));
      await screenshot(page, 'storefront-basket');

      await page.getByRole('link', {name: 'Checkout'}).click();
      await page.getByRole('heading', {name: 'Checkout'}).waitFor();
      // A wrong card number: the API's message shows next to the field.
      await pay(page, {method: 'Mastercard', number: '5555 5555 5555 4440'});
      const cardError = page.locator('[data-field="card_number"] .field-error');
      await cardError.waitFor();
      assert.match(await cardError.innerText(), /card number/i);
      assert.equal(await page.getByLabel('Card number').getAttribute('aria-invalid'), 'true');
      await screenshot(page, 'storefront-checkout-errors');

      await pay(page, {method: 'Mastercard', number: '5555 5555 5555 4444'});
      const order = await settledOrder(page);
      assert.equal(order.status, 'confirmed', await order.panel.innerText());
      assert.match(await page.getByRole('status').filter({hasText: 'Confirmed'}).innerText(), /Confirmed/);
      orders.confirmed = order.id;
      await screenshot(page, 'storefront-order-confirmed');

      // The invoice email: sent when the notification service sees order.confirmed.
      await page.getByRole('link', {name: 'See your emails'}).click();
      const invoice = page.locator(`li.mail[data-kind="order_confirmed"][data-order-id="${order.id}"]`);
      await eventually(
        async () => {
          if (await invoice.count()) return true;
          await page.getByRole('button', {name: 'Refresh'}).click();
          return false;
        },
        {interval: 1000, what: 'the order confirmation email'},
      );
      await invoice.getByText('Read the email').click();
      assert.match(await invoice.locator('.mail-body').innerText(), new RegExp(rabbit.title.replace(/[:]/g, '.')));
      await screenshot(page, 'storefront-notifications');

      await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Orders'}).click();
      await page.locator(`li.order-item[data-order-id="${order.id}"]`).waitFor();
      await screenshot(page, 'storefront-orders');
    }));

  test('a declined card shows the reason, and the stock shown is restored', () =>
    withPage(browser, 'storefront-declined', async (page) => {
      await signUp(page, 'declined');
      const stockBefore = await shownStock(page, cheshire);
      await addToBasket(page, cheshire, 1);
      await addToBasket(page, cheshire, 2);

      await openBasket(page);
      await page.getByRole('link', {name: 'Checkout'}).click();
      await pay(page, {method: 'Visa', number: '4000 0000 0000 0002'});
      const order = await settledOrder(page);
      assert.equal(order.status, 'failed');
      assert.match(await order.panel.locator('.reason').innerText(), /declined/i);
      orders.declined = order.id;
      await screenshot(page, 'storefront-order-failed');

      // The reservation was released: the catalogue shows the stock of before.
      assert.equal(await shownStock(page, cheshire), stockBefore);
    }));

  test('a customer returns one book of a confirmed order; the parcel is received in the console and the refund shows', () =>
    withPage(browser, 'storefront-return', async (page) => {
      await signUp(page, 'returner');
      await addToBasket(page, rabbit, 1);
      await addToBasket(page, rabbit, 2);
      await addToBasket(page, hatter, 1);
      const stockBefore = await shownStock(page, rabbit);
      await openBasket(page);
      await page.getByRole('link', {name: 'Checkout'}).click();
      await pay(page, {method: 'Visa', number: '4242 4242 4242 4242'});
      const order = await settledOrder(page);
      assert.equal(order.status, 'confirmed', await order.panel.innerText());

      // The order page lists no return yet and offers one.
      const returns = page.locator('section.order-returns');
      await returns.getByText('No books of this order are being returned.').waitFor();
      await returns.getByRole('link', {name: 'Return books'}).click();
      await page.getByRole('heading', {name: 'Return books'}).waitFor();
      // Nothing chosen: the form says so instead of asking the API.
      await page.getByRole('button', {name: 'Ask for the return'}).click();
      await page.getByRole('alert').getByText('Choose at least one book to return.').waitFor();
      const rabbitLine = page.getByLabel(rabbit.title);
      assert.deepEqual(await rabbitLine.locator('option').allInnerTexts(), ['Keep', 'Return 1', 'Return 2']);
      await rabbitLine.selectOption('1');
      await screenshot(page, 'storefront-return-form');
      await page.getByRole('button', {name: 'Ask for the return'}).click();

      await page.waitForURL(/#\/returns\/[0-9a-f-]+$/);
      const returnId = page.url().split('/').pop();
      const panel = page.locator('.return-status .status-panel');
      await page.locator('.return-status [data-status="awaiting_parcel"]').first().waitFor();
      assert.match(await panel.innerText(), /Please send the books .* by /);
      assert.match(await page.locator('.return-details').innerText(), new RegExp(`1 × ${rabbit.title}`));
      await screenshot(page, 'storefront-return-awaiting');

      // The warehouse receives the parcel: the operator presses "Parcel received" in the console.
      await openWorkflow(page, returnId);
      const parcel = page.locator('.node[data-step="parcel"]');
      await parcel.locator('.step-state', {hasText: 'waiting'}).waitFor();
      await parcel.getByRole('button', {name: 'Parcel received', exact: true}).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('Payload (optional)').fill('{"scanned_by": "console"}');
      await dialog.getByRole('button', {name: 'Send parcel_received'}).click();
      await dialog.waitFor({state: 'detached'});
      await page.locator('.node[data-step="parcel"][data-state="done"]').waitFor();
      await screenshot(page, 'console-return-parcel-received');

      // Back in the store, the return ends refunded, and the book is back in stock.
      await page.goto(`/#/returns/${returnId}`);
      await page.locator('.return-status [data-status="refunded"]').first().waitFor({timeout: 60_000});
      assert.match(await panel.innerText(), new RegExp(`We refunded \\$${(rabbit.price_cents / 100).toFixed(2)}`));
      await screenshot(page, 'storefront-return-refunded');
      await page.getByRole('link', {name: 'Back to the order'}).click();
      const listed = page.locator(`li.return-item[data-return-id="${returnId}"]`);
      await listed.waitFor();
      assert.match(await listed.innerText(), /Refunded/i);
      // The returned line cannot be returned again; the other one can.
      await page.getByRole('link', {name: 'Return books'}).click();
      await page.getByRole('heading', {name: 'Return books'}).waitFor();
      await page.getByLabel(hatter.title).waitFor();
      assert.equal(await page.locator('form.return-form select').count(), 1);
      // Two were bought and one came back.
      assert.equal(await shownStock(page, rabbit), stockBefore - 1);
    }));

  test('the catalogue fits a phone screen', () =>
    withPage(browser, 'storefront-phone', async (page) => {
      await page.goto('/');
      await page.locator('li.book').first().waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
      await screenshot(page, 'storefront-phone');
    }, {viewport: PHONE}));
});

// ---- Operations console --------------------------------------------------------------------

async function openConsole(page, token = config.adminToken) {
  await page.goto('/console');
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', {name: 'Open the console'}).click();
}

/** Signs in to the console and opens the page of workflow `id`. */
async function openWorkflow(page, id) {
  await openConsole(page);
  await page.getByRole('heading', {name: 'Workflows'}).waitFor();
  await page.goto(`/console#/workflows/${id}`);
}

/** Starts a workflow of `definition` with the id `id` through the operator API. */
async function startWorkflow(definition, id, input) {
  const started = await operatorApi('/api/workflows', {method: 'POST', body: {definition, id, input}});
  assert.equal(started.status, 202, JSON.stringify(started.body));
}

/** An operator API call with the admin token; returns the parsed answer. */
async function operatorApi(path, {method = 'GET', body} = {}) {
  const response = await fetch(`${config.baseUrl}${path}`, {
    method,
    headers: {Authorization: `Bearer ${config.adminToken}`, 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {status: response.status, body: text ? JSON.parse(text) : null};
}

/** [[step path, state]] of the diagram shown. */
function diagramStates(page) {
  return page.$$eval('.diagram .node', (nodes) => nodes.map((n) => [n.dataset.step, n.dataset.state]));
}

describe('operations console', () => {
  test('a bad admin token is refused', () =>
    withPage(browser, 'console-refused', async (page) => {
      await openConsole(page, 'not-the-admin-token');
      const refusal = page.getByRole('alert');
      await refusal.waitFor();
      assert.match(await refusal.innerText(), /refused/i);
      assert.equal(await page.getByRole('navigation', {name: 'Console'}).getByRole('link').count(), 0);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('wonderland.admin-token')), null);
      await screenshot(page, 'console-refused');
    }));

  test('the declined order is drawn with every step in its final state', () =>
    withPage(browser, 'console-declined-order', async (page) => {
      assert.ok(orders.declined, 'the storefront test placed no declined order');
      await openConsole(page);
      await page.getByRole('heading', {name: 'Workflows'}).waitFor();
      await page.getByLabel('Status', {exact: true}).selectOption('failed');
      await page.getByRole('button', {name: 'Apply'}).click();
      const row = page.locator(`tr[data-workflow-id="${orders.declined}"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute('data-status'), 'failed');
      await page.locator('.count-tile[data-count="failed"] dd').waitFor();
      await screenshot(page, 'console-workflows');

      await row.getByRole('link').click();
      await page.locator('.diagram').waitFor();
      const states = new Map(await diagramStates(page));
      assert.deepEqual(Object.fromEntries(states), {
        validate: 'done',
        reserve: 'compensated',
        charge: 'failed',
        fulfil: 'pending',
        'fulfil/confirm_stock': 'pending',
        'fulfil/record_order': 'pending',
        announce: 'pending',
        'on_failure/announce_failure': 'done',
      });
      assert.match(await page.locator('.node[data-step="charge"]').innerText(), /declined/i);
      assert.equal(await page.getByRole('button', {name: 'Retry'}).isEnabled(), true);
      assert.equal(await page.getByRole('button', {name: 'Cancel'}).isEnabled(), false);
      // It failed before its pivot: what it did was undone.
      assert.equal(await page.locator('.wf-summary [data-pivot="fulfil"]').innerText(), 'fulfil not passed');
      await page.locator('.node[data-step="fulfil"] .pivot-tag').waitFor();

      // The timeline: the reservation undone, and the charge's request on demand.
      const timeline = page.locator('.timeline');
      await timeline.locator('[data-type="compensation_succeeded"][data-step="reserve"]').waitFor();
      const charge = timeline.locator('[data-type="step_started"][data-step="charge"]');
      await charge.getByText('Request').click();
      const request = await charge.locator('pre').innerText();
      // The charge carries only the payment token, and operators see it redacted.
      assert.match(request, /"payment_token": "\[redacted\]"/, 'the payment token is redacted');
      assert.doesNotMatch(request, /4000 ?0000 ?0000 ?0002/);
      assert.doesNotMatch(request, /cvv|expiry/);
      await screenshot(page, 'console-workflow-failed');

      // Retry asks first; backing out changes nothing.
      await page.getByRole('button', {name: 'Retry'}).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', {name: 'Retry this workflow?'}).waitFor();
      await dialog.getByRole('button', {name: 'Back'}).click();
      await dialog.waitFor({state: 'detached'});
    }));

  test('a waiting signal step shows what it waits for, its button sends the signal, and a pause holds the next step', () =>
    withPage(browser, 'console-signal', async (page) => {
      const id = uniqueName('approval');
      await startWorkflow('console_approval', id);
      await openWorkflow(page, id);
      const approval = page.locator('.node[data-step="approval"]');
      await approval.locator('.step-state', {hasText: 'waiting'}).waitFor();
      assert.match(await approval.innerText(), /signal approved/);
      assert.match(await approval.innerText(), /for approved · timeout /);
      assert.match(await page.locator('.node[data-step="settle"]').innerText(), /wait 10 ms/);
      await screenshot(page, 'console-signal-waiting');

      // Paused, the workflow still takes its signal but holds the next step.
      await page.getByRole('button', {name: 'Pause'}).click();
      await page.getByText('paused: no new step starts').waitFor();
      await approval.getByRole('button', {name: 'Approved', exact: true}).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('Payload (optional)').fill('["not an object"]');
      await dialog.getByRole('button', {name: 'Send approved'}).click();
      await dialog.getByText('The payload must be a JSON object.').waitFor();
      await dialog.getByLabel('Payload (optional)').fill('{"by": "console"}');
      await dialog.getByRole('button', {name: 'Send approved'}).click();
      await dialog.waitFor({state: 'detached'});
      await page.locator('.node[data-step="approval"][data-state="done"]').waitFor();
      assert.equal(await page.locator('.node[data-step="settle"]').getAttribute('data-state'), 'pending');
      await page.getByRole('button', {name: 'Resume'}).click();
      await page.locator('.node[data-step="settle"][data-state="done"]').waitFor();
      assert.equal(await approval.getByRole('button', {name: 'Approved', exact: true}).count(), 0);
      await page.locator('.timeline [data-type="signal_received"]').waitFor();
      await screenshot(page, 'console-signal-taken');
    }));

  test('past its pivot a workflow says so, and it can no longer be cancelled', () =>
    withPage(browser, 'console-pivot', async (page) => {
      const id = uniqueName('pivot');
      await startWorkflow('console_pivot', id);
      await openWorkflow(page, id);
      await page.locator('.node[data-step="approval"] .step-state', {hasText: 'waiting'}).waitFor();
      const pivot = page.locator('.wf-summary [data-pivot="commit"][data-passed="true"]');
      await pivot.waitFor();
      assert.equal(await pivot.innerText(), 'commit passed: what it did stands, it can no longer be cancelled');
      assert.equal(await page.locator('.node[data-step="commit"] .pivot-tag').textContent(), 'pivot');
      assert.equal(await page.locator('.node[data-step="approval"] .pivot-tag').count(), 0);
      const cancel = page.getByRole('button', {name: 'Cancel', exact: true});
      assert.equal(await cancel.isEnabled(), false);
      assert.match(await cancel.getAttribute('title'), /Passed its pivot commit/);
      assert.equal(await page.getByRole('button', {name: 'Pause'}).isEnabled(), true);
      await screenshot(page, 'console-pivot-passed');
      // The API refuses what the console does not offer.
      const refused = await operatorApi(`/api/workflows/${id}/cancel`, {method: 'POST', body: {}});
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      const sent = await operatorApi(`/api/workflows/${id}/signals/approved`, {method: 'POST', body: {}});
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      await page.locator('.wf-summary [data-pivot="commit"]', {hasText: /^commit passed: what it did stands$/}).waitFor();
      assert.equal(await page.locator('.node[data-step="approval"]').getAttribute('data-state'), 'done');
    }));

  test('a failed workflow is rerun from its failed step with an input edited in the console', () =>
    withPage(browser, 'console-rerun', async (page) => {
      const id = uniqueName('lookup');
      await startWorkflow('console_lookup', id, {isbn: '9780000009993'});
      await openWorkflow(page, id);
      const lookup = page.locator('.node[data-step="lookup"]');
      await page.locator('.node[data-step="lookup"][data-state="failed"]').waitFor();

      // The dialog shows the input the step was given, and refuses what is not a JSON object.
      await lookup.getByRole('button', {name: 'Rerun from here'}).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', {name: 'Rerun from lookup?'}).waitFor();
      const input = dialog.getByLabel('Step input');
      assert.match(await input.inputValue(), /"isbn": "9780000009993"/);
      await input.fill('{"isbn": ');
      await dialog.getByRole('button', {name: 'Rerun'}).click();
      await dialog.getByText('The input is not valid JSON.').waitFor();
      await input.fill('["not an object"]');
      await dialog.getByRole('button', {name: 'Rerun'}).click();
      await dialog.getByText('The input must be a JSON object.').waitFor();
      await screenshot(page, 'console-rerun-dialog');
      await input.fill(JSON.stringify({isbn: rabbit.isbn}));
      await dialog.getByRole('button', {name: 'Rerun'}).click();
      await dialog.waitFor({state: 'detached'});

      await page.locator('.node[data-step="lookup"][data-state="done"]').waitFor();
      await page.locator('.timeline [data-type="rerun_requested"]').waitFor();
      const {body: view} = await operatorApi(`/api/workflows/${id}`);
      assert.equal(view.status, 'completed');
      const completed = view.timeline.find((r) => r.type === 'completed');
      assert.equal(completed.data.output.title, rabbit.title);
      const rerun = view.timeline.find((r) => r.type === 'rerun_requested');
      assert.deepEqual(rerun.data.input, {isbn: rabbit.isbn}, 'the journal records the new input');
      assert.match(rerun.data.requested_by, /^admin token from /);
      await screenshot(page, 'console-rerun-done');
    }));

  test('a workflow step links to its child and back, and a map step shows its progress with links to its iterations', () =>
    withPage(browser, 'console-children', async (page) => {
      const id = uniqueName('family');
      await startWorkflow('console_family', id, {items: ['x', 'y', 'z']});
      const signal = async (workflow, by) => {
        const sent = await operatorApi(`/api/workflows/${workflow}/signals/approved`, {
          method: 'POST',
          body: {signal_id: `s-${workflow}`, payload: {by}},
        });
        assert.equal(sent.status, 202, JSON.stringify(sent.body));
      };
      const child = `${id}.approve`;
      const iteration = (index) => `${id}.each.${index}`;
      await openWorkflow(page, id);

      // The workflow step runs its child and links to it; the map has not started.
      const approve = page.locator('.node[data-step="approve"]');
      await page.locator('.node[data-step="approve"][data-state="running"]').waitFor();
      assert.match(await approve.innerText(), /workflow console_approval v1/);
      const childLink = approve.locator('a.child-link');
      await childLink.waitFor();
      assert.equal(await childLink.getAttribute('data-child'), child);
      assert.equal(await childLink.innerText(), `→ ${child}`);
      const each = page.locator('.node[data-step="each"]');
      assert.equal(await each.getAttribute('data-state'), 'pending');
      assert.equal(await each.locator('a.child-link').count(), 0);
      await screenshot(page, 'console-child-running');

      // The child's page names its parent and links back to it.
      await childLink.click();
      await page.locator(`.wf-summary [data-workflow-id="${child}"]`).waitFor();
      const parentLink = page.locator(`.wf-summary a[data-parent="${id}"]`);
      await parentLink.waitFor();
      assert.match(await parentLink.locator('..').innerText(), new RegExp(`^${id} step approve$`));
      await page.locator('.node[data-step="approval"][data-state="running"]').waitFor();
      await signal(child, 'child');
      await page.locator('.node[data-step="settle"][data-state="done"]').waitFor();
      await parentLink.click();
      await page.locator(`.wf-summary [data-workflow-id="${id}"]`).waitFor();

      // The map runs two iterations at a time: its progress, and a link to each iteration.
      await page.locator('.node[data-step="approve"][data-state="done"]').waitFor();
      await page.locator('.node[data-step="each"][data-state="running"]').waitFor();
      const iterationLinks = () =>
        each.locator('a.child-link').evaluateAll((links) => links.map((a) => [a.dataset.child, a.textContent]));
      await each.locator('.step-state', {hasText: '0/3 done'}).waitFor();
      await eventually(async () => (await iterationLinks()).length === 2, {what: 'links to the two running iterations'});
      assert.deepEqual(await iterationLinks(), [
        [iteration(0), '#0 running'],
        [iteration(1), '#1 running'],
      ]);
      await signal(iteration(1), 'second');
      await each.locator('.step-state', {hasText: '1/3 done'}).waitFor();
      await eventually(async () => (await iterationLinks()).length === 3, {what: 'a link to the third iteration'});
      assert.deepEqual(await iterationLinks(), [
        [iteration(0), '#0 running'],
        [iteration(1), '#1 done'],
        [iteration(2), '#2 running'],
      ]);
      await screenshot(page, 'console-map-running');

      // An iteration's page links back to the map's workflow.
      await each.locator(`a.child-link[data-child="${iteration(2)}"]`).click();
      await page.locator(`.wf-summary [data-workflow-id="${iteration(2)}"]`).waitFor();
      const back = page.locator(`.wf-summary a[data-parent="${id}"]`);
      assert.match(await back.locator('..').innerText(), new RegExp(`^${id} step each$`));
      await page.locator('.node[data-step="approval"][data-state="running"]').waitFor();
      await back.click();
      await page.locator(`.wf-summary [data-workflow-id="${id}"]`).waitFor();

      await signal(iteration(0), 'first');
      await signal(iteration(2), 'third');
      await page.locator('.node[data-step="each"][data-state="done"]').waitFor();
      assert.match(await each.locator('.step-state').innerText(), /3\/3 done/);
      const {body: view} = await operatorApi(`/api/workflows/${id}`);
      assert.equal(view.status, 'completed');
      assert.deepEqual(view.timeline.find((r) => r.type === 'completed').data.output, {
        by: 'child',
        items: [
          {item: 'x', by: 'first'},
          {item: 'y', by: 'second'},
          {item: 'z', by: 'third'},
        ],
      });
      await screenshot(page, 'console-map-done');
    }));

  test('a bulk retry counts the workflows of the filter first, then retries them and shows its progress', () =>
    withPage(browser, 'console-bulk', async (page) => {
      const ids = [uniqueName('bulk'), uniqueName('bulk'), uniqueName('bulk')];
      for (const id of ids) {
        await startWorkflow('console_bulk', id);
      }
      const statusOf = async (id) => (await operatorApi(`/api/workflows/${id}`)).body?.status;
      for (const id of ids) await eventually(async () => (await statusOf(id)) === 'failed', {what: `${id} to fail`});
      const failed = (await operatorApi('/api/workflows?definition=console_bulk&status=failed&limit=1000')).body.items;

      await openConsole(page);
      await page.getByRole('heading', {name: 'Workflows'}).waitFor();
      await page.getByLabel('Status', {exact: true}).selectOption('failed');
      await page.getByLabel('Definition', {exact: true}).selectOption('console_bulk');
      await page.getByRole('button', {name: 'Apply'}).click();
      await page.locator(`tr[data-workflow-id="${ids[0]}"]`).waitFor();

      // The dry run counts what the filter matches, and changes nothing.
      const bulk = page.getByRole('region', {name: 'Bulk action'});
      await bulk.getByLabel('Action').selectOption('retry');
      await bulk.getByRole('button', {name: 'Count matching workflows'}).click();
      const matched = failed.length;
      await bulk.locator('.bulk-count', {hasText: `${matched} workflows match.`}).waitFor();
      assert.equal(await statusOf(ids[0]), 'failed');
      await screenshot(page, 'console-bulk-count');

      await bulk.getByRole('button', {name: `Retry ${matched} workflows`}).click();
      await bulk.locator('.bulk-counters[data-state="finished"]').waitFor();
      assert.equal(await bulk.locator('[data-counter="done"] dd').innerText(), `${matched} of ${matched}`);
      assert.equal(await bulk.locator('[data-counter="succeeded"] dd').innerText(), String(matched));
      assert.equal(await bulk.locator('[data-counter="skipped"] dd').innerText(), '0');
      assert.equal(await bulk.locator('[data-counter="failed"] dd').innerText(), '0');
      await page.locator('.toast', {hasText: 'Bulk retry finished.'}).waitFor();
      await screenshot(page, 'console-bulk-finished');
      for (const id of ids) await eventually(async () => (await statusOf(id)) === 'completed', {what: `${id} to complete`});
    }));

  test('the confirmed order is drawn with every step done', () =>
    withPage(browser, 'console-confirmed-order', async (page) => {
      assert.ok(orders.confirmed, 'the storefront test placed no confirmed order');
      // The storefront says confirmed at the purchase's pivot; the announcement follows.
      await eventually(async () => (await operatorApi(`/api/workflows/${orders.confirmed}`)).body?.status === 'completed', {
        what: 'the confirmed order to complete',
      });
      await openWorkflow(page, orders.confirmed);
      await page.locator('.diagram').waitFor();
      const states = await diagramStates(page);
      for (const [step, state] of states) {
        assert.equal(state, step.startsWith('on_failure/') ? 'pending' : 'done', `step ${step}`);
      }
      assert.deepEqual(states.map(([step]) => step).sort(), [
        'announce', 'charge', 'fulfil', 'fulfil/confirm_stock', 'fulfil/record_order',
        'on_failure/announce_failure', 'reserve', 'validate',
      ]);
      await screenshot(page, 'console-workflow-confirmed');
    }));

  test('the log viewer filtered by the order id shows its lines, and they lead back to it', () =>
    withPage(browser, 'console-logs', async (page) => {
      await openWorkflow(page, orders.declined);
      await page.getByRole('link', {name: 'Logs of this workflow'}).click();
      await page.getByRole('heading', {name: 'Logs'}).waitFor();
      assert.equal(await page.getByLabel('Correlation id').inputValue(), orders.declined);
      const lines = page.locator('.log-line');
      await eventually(async () => (await lines.count()) >= 5, {what: 'log lines of the order'});
      const correlations = await lines.evaluateAll((all) => all.map((l) => l.dataset.correlationId));
      assert.ok(correlations.every((c) => c === orders.declined), `lines of other flows: ${correlations}`);
      assert.match(await page.locator('.log-viewer').innerText(), /step_failed/);
      await eventually(async () => (await page.locator('.stream-state').getAttribute('data-state')) === 'open', {
        what: 'the live feed',
      });
      await screenshot(page, 'console-logs');

      await page.getByRole('button', {name: 'Pause'}).click();
      assert.equal(await page.getByRole('button', {name: 'Resume'}).getAttribute('aria-pressed'), 'true');
      await page.getByRole('button', {name: 'Resume'}).click();

      await lines.first().locator('.log-correlation').click();
      await page.getByRole('heading', {name: 'Workflow'}).waitFor();
      await page.locator(`[data-workflow-id="${orders.declined}"]`).waitFor();
    }));

  test('the metrics page draws its charts', () =>
    withPage(browser, 'console-metrics', async (page) => {
      await openConsole(page);
      await page.getByRole('navigation', {name: 'Console'}).getByRole('link', {name: 'Metrics'}).click();
      await page.getByRole('heading', {name: 'Metrics'}).waitFor();
      await eventually(async () => /\d+ samples/.test(await page.locator('main [role="status"]').first().innerText()), {
        what: 'metrics samples',
      });
      assert.equal(await page.locator('figure.chart svg').count(), 5);
      await page.locator('figure.chart', {hasText: 'Journal commit time'}).waitFor();
      await page.locator('td', {hasText: 'payment.charge'}).waitFor();
      await screenshot(page, 'console-metrics');
    }));

  test('the mediators page lists the mediator that answers, alive, with its workflows', () =>
    withPage(browser, 'console-mediators', async (page) => {
      await openConsole(page);
      await page.getByRole('navigation', {name: 'Console'}).getByRole('link', {name: 'Mediators'}).click();
      await page.getByRole('heading', {name: 'Mediators'}).waitFor();
      const rows = page.locator('table.mediator-table tbody tr');
      await rows.first().waitFor();
      assert.equal(await rows.count(), 1);
      assert.equal(await rows.first().getAttribute('data-alive'), 'true');
      assert.match(await rows.first().innerText(), /answered this page/);
      assert.match(await rows.first().locator('td.number').innerText(), /^\d+$/);
      assert.match(await page.locator('main [role="status"]').first().innerText(), /SQLite/);
      await screenshot(page, 'console-mediators');
    }));
});
