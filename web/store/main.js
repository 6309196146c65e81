// The storefront: the header navigation and the pages, routed in the URL fragment.

import {focus, h, hidden, replace} from '../shared/dom.js';
import {Router} from '../shared/router.js';
import {basketSize, page, refreshBasket} from './app.js';
import {currentSession} from './session.js';
import {signInView, signOut, signUpView} from './views/account.js';
import {basketView} from './views/basket.js';
import {catalogueView} from './views/catalogue.js';
import {checkoutView} from './views/checkout.js';
import {notificationsView, ordersView} from './views/history.js';
import {orderView} from './views/order.js';
import {returnFormView, returnView} from './views/returns.js';

const routes = [
  {path: /^\/$/, view: catalogueView},
  {path: /^\/basket$/, view: basketView},
  {path: /^\/checkout$/, view: checkoutView},
  {path: /^\/orders$/, view: ordersView},
  {path: /^\/orders\/([^/]+)$/, view: orderView},
  {path: /^\/orders\/([^/]+)\/return$/, view: returnFormView},
  {path: /^\/returns\/([^/]+)$/, view: returnView},
  {path: /^\/notifications$/, view: notificationsView},
  {path: /^\/signin$/, view: signInView},
  {path: /^\/signup$/, view: signUpView},
];

function notFound(outlet) {
  const root = page(outlet, 'Page not found');
  root.append(h('p', {}, 'There is no such page. ', h('a', {href: '#/'}, 'Go to the books')));
}

const nav = document.getElementById('nav');
const main = document.getElementById('main');
let currentPath = null;

function navLink(path, label, extra) {
  const current =
    currentPath === path ||
    (path === '/orders' &&
      (currentPath?.startsWith('/orders/') || currentPath?.startsWith('/returns/')));
  return h(
    'li',
    {},
    h('a', {href: `#${path}`, 'aria-current': current ? 'page' : null}, label, extra),
  );
}

function renderNav() {
  const session = currentSession();
  const count = basketSize();
  replace(
    nav,
    navLink('/', 'Books'),
    navLink('/basket', 'Basket', [
      ' ',
      h('span', {class: 'count', 'aria-hidden': 'true'}, String(count)),
      hidden(`, ${count} ${count === 1 ? 'copy' : 'copies'}`),
    ]),
    session && navLink('/orders', 'Orders'),
    session && navLink('/notifications', 'Emails'),
    session
      ? h(
          'li',
          {class: 'account'},
          h('span', {class: 'who'}, hidden('Signed in as '), session.username),
          h('button', {type: 'button', class: 'small', onclick: signOut}, 'Sign out'),
        )
      : [
          navLink('/signin', 'Sign in'),
          h('li', {}, h('a', {class: 'button primary small', href: '#/signup'}, 'Create account')),
        ],
  );
}

const router = new Router(main, routes, notFound);
let first = true;
router.onNavigate((route) => {
  currentPath = route.path;
  renderNav();
});
router.onRendered(() => {
  // Screen readers and keyboard users start at the new page's heading.
  if (!first) focus(main.querySelector('h1'));
  first = false;
});
window.addEventListener('session-change', renderNav);
window.addEventListener('basket-change', renderNav);
router.start();
refreshBasket();
