// The dashboard's shell: sign-in, hash routing (`#/profile/E06000047`), the header, and focus
// management so that keyboard and screen-reader users land on each new view's heading.

import { ApiError, clearCredential, credential, forgetCache, getJson, setCredential } from './api.js';
import { announce, errorSummary, field, h, replace } from './dom.js';
import * as indicators from './views/indicators.js';
import * as profile from './views/profile.js';
import * as compare from './views/compare.js';
import * as trend from './views/trend.js';
import * as inequality from './views/inequality.js';
import * as charter from './views/charter.js';

const main = document.getElementById('main');
let whoami = null;
let renderCount = 0;

/** Reads the hash: `#/compare/code?areaType=…` → { path: '/compare/code', query }. */
function currentRoute() {
  const hash = decodeURI(window.location.hash.replace(/^#/, '')) || '/';
  const [path, search = ''] = hash.split('?');
  return { path: path || '/', query: new URLSearchParams(search) };
}

/** Goes to a route; views call it when a form changes what they show. */
export function navigate(path, query) {
  const search = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v !== undefined && v !== null)).toString() : '';
  window.location.hash = `#${path}${search ? `?${search}` : ''}`;
}

const routes = [
  { pattern: /^\/$/, nav: null, view: home, public: true },
  { pattern: /^\/signin$/, nav: null, view: signIn, public: true },
  { pattern: /^\/indicators$/, nav: 'indicators', view: indicators.list },
  { pattern: /^\/indicators\/([^/]+)$/, nav: 'indicators', view: indicators.detail },
  { pattern: /^\/profile(?:\/([^/]+))?$/, nav: 'profile', view: profile.render },
  { pattern: /^\/compare(?:\/([^/]+))?$/, nav: 'compare', view: compare.render },
  { pattern: /^\/trend(?:\/([^/]+)(?:\/([^/]+))?)?$/, nav: 'trend', view: trend.render },
  { pattern: /^\/inequality(?:\/([^/]+)(?:\/([^/]+))?)?$/, nav: 'inequality', view: inequality.render },
  { pattern: /^\/charters$/, nav: 'charters', view: charter.list },
  { pattern: /^\/charters\/([^/]+)$/, nav: 'charters', view: charter.detail },
];

async function loadWhoAmI() {
  if (!credential()) {
    whoami = null;
  } else if (!whoami) {
    whoami = (await getJson('/v1/whoami')).principal || {};
  }
  renderWho();
  return whoami;
}

function renderWho() {
  const who = document.getElementById('who');
  if (!whoami) {
    replace(who, h('a', { href: '#/signin', class: 'brand-sub', 'data-testid': 'sign-in-link' }, h('span', { class: 'who-link' }, 'Sign in')));
    who.querySelector('a').classList.add('on-blue');
    return;
  }
  const name = whoami.displayName || whoami.id;
  replace(who,
    h('span', { 'data-testid': 'signed-in-as' }, `Signed in as ${name} (${whoami.organisationCode})`),
    h('button', { type: 'button', onclick: signOut }, 'Sign out'));
}

function signOut() {
  clearCredential();
  forgetCache();
  whoami = null;
  renderWho();
  announce('Signed out');
  navigate('/signin');
}

function home() {
  replace(main,
    h('h1', { tabindex: '-1' }, 'Health inequality indicators'),
    h('p', { class: 'lede' }, 'The indicators NHS trusts, councils and national bodies share on this platform, compared with England and your region, by deprivation, over time, and the anchor commitments your place has made.'),
    whoami ? null : h('div', { class: 'notice' }, h('p', null, h('a', { href: '#/signin' }, 'Sign in'), ' with your organisation\'s API key or your NHS login token to see the figures you are allowed to see.')),
    h('div', { class: 'card-grid' },
      card('#/indicators', 'Indicators', 'Search the indicators and read how each is defined, measured and owned.'),
      card('#/profile/E06000047', 'Area profile', 'Every indicator for one area against England and its region, as a spine chart.'),
      card('#/compare', 'Compare areas', 'One indicator across areas: values, confidence limits, comparison, quintile and rank, with a CSV download.'),
      card('#/trend', 'Trend', 'One area over time against its benchmark, with confidence intervals.'),
      card('#/inequality', 'Inequality', 'One area by deprivation decile, with the slope index of inequality and Core20.'),
      card('#/charters', 'Anchor charters', 'Each member\'s commitments against their trajectory, and the charter\'s roll-up.')));
}

function card(href, title, text) {
  return h('div', { class: 'card' }, h('h2', null, h('a', { href }, title)), h('p', null, text));
}

function signIn(ctx) {
  const input = h('input', { type: 'password', name: 'credential', autocomplete: 'off', spellcheck: 'false', required: true });
  const problem = h('div');
  const form = h('form', { class: 'controls', novalidate: true },
    field('credential', 'API key or OIDC access token', input,
      'Sent only to this platform as a bearer token. Kept for this browser tab and forgotten when you close it or sign out.'),
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) {
      replace(problem, errorSummary(new ApiError(400, 'INVALID_ARGUMENT', 'Enter an API key or an access token.')));
      input.focus();
      return;
    }
    setCredential(value);
    forgetCache();
    whoami = null;
    try {
      await loadWhoAmI();
      announce(`Signed in as ${whoami.displayName || whoami.id}`);
      navigate(ctx.query.get('next') || '/indicators');
    } catch (error) {
      clearCredential();
      whoami = null;
      renderWho();
      replace(problem, errorSummary(error, { onSignInPage: true }));
      problem.querySelector('[role=alert]')?.focus();
    }
  });
  replace(main,
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', { class: 'lede' }, 'Use an API key issued to your organisation, or an access token from your organisation\'s single sign-on (OIDC).'),
    problem,
    form,
    h('p', { class: 'caption' }, 'What you see depends on your organisation and roles: private indicators appear only to their owners.'));
}

async function render() {
  const token = ++renderCount;
  const route = currentRoute();
  const match = routes.map((r) => ({ r, m: r.pattern.exec(route.path) })).find((x) => x.m);
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (match && link.dataset.nav === match.r.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    await loadWhoAmI();
  } catch (error) {
    // A stale or revoked key: forget it and ask again.
    if (error instanceof ApiError && error.status === 401) {
      clearCredential();
      whoami = null;
      renderWho();
    } else {
      replace(main, h('h1', { tabindex: '-1' }, 'The platform is not available'), errorSummary(error));
      return;
    }
  }
  if (!match) {
    replace(main, h('h1', { tabindex: '-1' }, 'Page not found'), h('p', null, h('a', { href: '#/' }, 'Go to the start')));
  } else if (!match.r.public && !whoami) {
    navigate('/signin', { next: route.path + (route.query.toString() ? `?${route.query}` : '') });
    return;
  } else {
    const params = match.m.slice(1).map((p) => (p === undefined ? '' : decodeURIComponent(p)));
    try {
      await match.r.view({ main, params, query: route.query, navigate, whoami, isCurrent: () => token === renderCount });
    } catch (error) {
      if (token !== renderCount) return;
      const heading = main.querySelector('h1') || h('h1', { tabindex: '-1' }, 'Something went wrong');
      replace(main, heading, errorSummary(error));
    }
  }
  if (token !== renderCount) return;
  const heading = main.querySelector('h1');
  document.title = `${heading ? heading.textContent : 'sharedmetrics'} – sharedmetrics`;
  if (renderCount > 1 && heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
  main.setAttribute('data-ready', 'true');
  document.body.setAttribute('data-route', route.path);
}

window.addEventListener('hashchange', () => {
  main.removeAttribute('data-ready');
  render();
});
render();
