// Small DOM helpers: elements are built with createElement and text nodes, never from HTML
// strings, so no figure or name from the API can inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function setAttributes(element, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.setAttribute('class', value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
}

/** Creates an HTML element with attributes (`onclick` etc. add listeners) and children. */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attrs);
  append(element, children);
  return element;
}

/** Creates an SVG element with attributes and children. */
export function s(tag, attrs, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attrs);
  append(element, children);
  return element;
}

/** Replaces an element's children. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/** A labelled form field: the label names the control for assistive technology. */
export function field(id, label, control, hint) {
  control.id = id;
  if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null, control);
}

/** Announces a short message to screen readers through the page's live region. */
export function announce(message) {
  const region = document.getElementById('status');
  if (region) region.textContent = message;
}

/** An error box that says what went wrong and what to do next. */
export function errorSummary(error, { onSignInPage = false } = {}) {
  const advice = error.status === 401 && !onSignInPage
    ? h('p', null, 'Your API key or token was not accepted. ', h('a', { href: '#/signin' }, 'Sign in again'), '.')
    : error.status === 404
      ? h('p', null, 'It does not exist, or your organisation may not see it.')
      : null;
  return h('div', { class: 'error-summary', role: 'alert', tabindex: '-1' },
    h('h2', null, 'There is a problem'),
    h('p', { 'data-testid': 'error-message' }, error.message || String(error)),
    advice);
}
