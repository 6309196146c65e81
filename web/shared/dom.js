// Building DOM nodes without HTML strings, so that text from the server is never parsed as markup.
//
//   h('button', {class: 'primary', type: 'button', onclick: buy}, 'Buy ', h('strong', {}, title))
//
// Properties: `class`, `text`, `dataset` (object), `style` (CSS text, applied through the CSSOM,
// which the Content-Security-Policy allows), `on<event>` (a listener), booleans (set when
// true, left out when false), `null`/`undefined` (left out), anything else as an attribute.
// Children: nodes, strings, numbers, arrays of them; null, undefined and false are skipped.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(element, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') {
      element.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (name === 'text') {
      element.textContent = value;
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (name === 'style') {
      // Through the CSSOM: the Content-Security-Policy refuses style attributes.
      element.style.cssText = value;
    } else if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children (nodes, text, nested arrays) to `parent`. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** An HTML element. */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element. */
export function s(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

/** Replaces the content of `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Moves focus to `element` (made focusable if needed) without scrolling past it. */
export function focus(element) {
  if (!element) return;
  if (!element.hasAttribute('tabindex') && element.tabIndex < 0)
    element.setAttribute('tabindex', '-1');
  element.focus({preventScroll: false});
}

/** Text for a screen reader only. */
export function hidden(text) {
  return h('span', {class: 'visually-hidden'}, text);
}
