// Short messages in the corner of the page (the #toasts region, role=status, so screen readers
// read them out), gone after a few seconds; failures stay longer.

import {h} from './dom.js';

const MAX_SHOWN = 3;

export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const item = h('p', {class: `toast ${kind}`}, message);
  region.append(item);
  // A few at a time: older ones make room rather than cover the page.
  while (region.childElementCount > MAX_SHOWN) region.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === 'bad' ? 9000 : 5000);
}
