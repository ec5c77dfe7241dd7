// Indicator search and metadata: what each indicator measures, how, who owns it, which way is
// better, and when it was last updated. Only the indicators the caller may see are listed.

import { getJson, seg } from '../api.js';
import { field, h, replace } from '../dom.js';
import * as f from '../format.js';

/** The list of visible indicators, searched by text and tag. */
export async function list({ main, query, navigate }) {
  const search = query.get('q') || '';
  const tag = query.get('tag') || '';
  const searchInput = h('input', { type: 'search', name: 'q', value: search });
  const tagInput = h('input', { type: 'text', name: 'tag', value: tag });
  const form = h('form', { class: 'controls', role: 'search' },
    field('indicator-search', 'Search indicators', searchInput, 'Words from the title, description or code'),
    field('indicator-tag', 'Tag', tagInput, 'For example anchor or core20plus5'),
    h('button', { class: 'primary', type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate('/indicators', { q: searchInput.value.trim(), tag: tagInput.value.trim() });
  });
  const results = h('div', null, h('p', { class: 'loading' }, 'Loading…'));
  replace(main, h('h1', { tabindex: '-1' }, 'Indicators'), form, results);
  const body = await getJson('/v1/metrics', { search, tag, pageSize: 200 });
  const metrics = body.metrics || [];
  const total = body.totalSize ?? metrics.length;
  if (!metrics.length) {
    replace(results, h('p', { 'data-testid': 'result-count' }, 'No indicators match.'));
    return;
  }
  replace(results,
    h('p', { 'data-testid': 'result-count' }, `${total} indicator${total === 1 ? '' : 's'}${search || tag ? ' match' : ''}.`),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'indicator-table' },
      h('caption', { class: 'visually-hidden' }, 'Indicators you can see'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Indicator'),
        h('th', { scope: 'col' }, 'Owners'),
        h('th', { scope: 'col' }, 'Polarity'),
        h('th', { scope: 'col' }, 'Value type'),
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Last updated'))),
      h('tbody', null, metrics.map((m) => {
        const v = m.current || {};
        const spec = v.spec || {};
        return h('tr', { 'data-metric': m.code },
          h('th', { scope: 'row' }, h('a', { href: `#/indicators/${seg(m.code)}` }, spec.title || m.code), h('br'), h('span', { class: 'caption' }, m.code)),
          h('td', null, (spec.owners || []).join(', ')),
          h('td', null, f.polarity(spec.polarity)),
          h('td', null, f.enumLabel(spec.valueType, 'VALUE_TYPE_')),
          h('td', null, f.enumLabel(v.status, 'METRIC_STATUS_')),
          h('td', null, f.date(v.publishedAt || v.createdAt)));
      })))));
}

async function organisationName(code) {
  try {
    const body = await getJson(`/v1/organisations/${seg(code)}`);
    return body.organisation?.name ? `${body.organisation.name} (${code})` : code;
  } catch {
    return code;
  }
}

/** One indicator's definition, method, owners, polarity and last update. */
export async function detail({ main, params }) {
  const [code] = params;
  const body = await getJson(`/v1/metrics/${seg(code)}`);
  const metric = body.metric;
  const version = metric.current || {};
  const spec = version.spec || {};
  const owners = await Promise.all((spec.owners || []).map(organisationName));
  const row = (term, description, id) => [h('dt', null, term), h('dd', id ? { 'data-field': id } : null, description || '–')];
  const quantity = (q) => (q && (q.definition || q.source)
    ? [(q.definition || '').replace(/\.$/, ''), q.definition ? '. ' : '', q.source ? `Source: ${q.source.replace(/\.$/, '')}.` : '']
    : '–');
  replace(main,
    h('span', { class: 'caption' }, `Indicator ${metric.code}`),
    h('h1', { tabindex: '-1' }, spec.title || metric.code),
    h('p', { class: 'lede', 'data-field': 'description' }, spec.description || ''),
    h('p', null,
      h('a', { href: `#/compare/${seg(metric.code)}` }, 'Compare areas'), ' · ',
      h('a', { href: `#/trend/${seg(metric.code)}` }, 'Trend'), ' · ',
      h('a', { href: `#/inequality/${seg(metric.code)}` }, 'Inequality')),
    h('div', { class: 'card' },
      h('h2', null, 'Definition'),
      h('dl', { class: 'meta' },
        row('Rationale', spec.rationale),
        row('Numerator', quantity(spec.numerator)),
        row('Denominator', quantity(spec.denominator)),
        row('Areas', (spec.areaTypes || []).map(f.areaType).join(', ')),
        row('Breakdowns', (spec.dimensions || []).join(', ')),
        row('Tags', (spec.tags || []).join(', ')))),
    h('div', { class: 'card' },
      h('h2', null, 'Method'),
      h('dl', { class: 'meta' },
        row('Methodology', spec.methodology, 'methodology'),
        row('Value type', f.enumLabel(spec.valueType, 'VALUE_TYPE_'), 'value-type'),
        row('Unit', spec.unit ? `${spec.unit}${spec.multiplier > 1 ? ` (multiplier ${Number(spec.multiplier).toLocaleString('en-GB')})` : ''}` : '–', 'unit'),
        row('Confidence intervals', f.enumLabel(spec.ciMethod, 'CI_METHOD_'), 'ci-method'),
        row('Polarity', f.polarity(spec.polarity), 'polarity'),
        row('Period type', f.enumLabel(spec.periodType, 'PERIOD_TYPE_')),
        row('Disclosure control', `Counts from 1 to ${version.effectiveDisclosureThreshold ?? 7} are suppressed for readers outside the submitting organisation`))),
    h('div', { class: 'card' },
      h('h2', null, 'Ownership and status'),
      h('dl', { class: 'meta' },
        row('Owners', owners.join('; '), 'owners'),
        row('Visibility', f.enumLabel(spec.visibility, 'VISIBILITY_'), 'visibility'),
        row('Status', f.enumLabel(version.status, 'METRIC_STATUS_'), 'status'),
        row('Version', `${version.version ?? '–'} of ${metric.versionCount ?? '–'}`, 'version'),
        row('Last updated', f.date(version.publishedAt || version.createdAt), 'last-updated'),
        row('Valid', `${spec.validFrom || '–'}${spec.validTo ? ` to ${spec.validTo}` : ' onwards'}`))));
}
