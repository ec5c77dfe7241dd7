// Area profile: every indicator for one area against England and its region, as a spine chart
// coloured by the comparison with England, with trend arrows. The table holds every figure the
// chart shows, so it is the chart's text alternative.

import { getJson, seg } from '../api.js';
import { spine } from '../charts.js';
import { field, h, replace } from '../dom.js';
import * as f from '../format.js';

const REGION = 'AREA_TYPE_REGION';
const UPPER_TIER = 'AREA_TYPE_UPPER_TIER_LOCAL_AUTHORITY';
const DISTRICT = 'AREA_TYPE_LOCAL_AUTHORITY_DISTRICT';

/** The area types offered when looking an area up by name. */
export const PROFILED_TYPES = [
  'AREA_TYPE_LOCAL_AUTHORITY_DISTRICT', 'AREA_TYPE_UPPER_TIER_LOCAL_AUTHORITY', 'AREA_TYPE_SUB_ICB_LOCATION',
  'AREA_TYPE_ICB', 'AREA_TYPE_REGION', 'AREA_TYPE_NHS_REGION', 'AREA_TYPE_ENGLAND',
];

function legend() {
  const item = (cls, text) => h('li', null, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  return h('ul', { class: 'legend', 'aria-label': 'Key to the spine chart' },
    item('cmp-better', 'Better than England'), item('cmp-similar', 'Similar'), item('cmp-worse', 'Worse than England'),
    item('cmp-higher', 'Higher (no judgement)'), item('cmp-lower', 'Lower (no judgement)'), item('cmp-not-compared', 'Not compared'),
    item('region', 'Region'), item('range', 'Range of every area in England'), item('iqr', '25th to 75th percentile'));
}

/** A search by area name: links to the profile of each match of a profiled type. */
async function findArea(text, navigate) {
  const input = h('input', { type: 'search', name: 'find', value: text, autocomplete: 'off' });
  const form = h('form', { class: 'controls', role: 'search' },
    field('profile-find', 'Find an area by name', input, 'For example Durham, Newcastle or North East'),
    h('button', { class: 'secondary', type: 'submit' }, 'Find'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate('/profile', { find: input.value.trim() });
  });
  if (!text) return [form];
  // One search per profiled area type: a name such as Durham matches hundreds of LSOAs, which
  // would crowd the districts and ICBs out of a single page.
  const answers = await Promise.all(PROFILED_TYPES.map((type) => getJson('/v1/areas', { search: text, type, pageSize: 20 })));
  // A unitary authority is a district and an upper tier under one code: listed once.
  const areas = [...new Map(answers.flatMap((a) => a.areas || []).map((a) => [a.code, a])).values()];
  return [form, areas.length
    ? h('ul', { 'data-testid': 'area-matches' }, areas.map((a) => h('li', null, h('a', { href: `#/profile/${seg(a.code)}` }, a.name), ` ${f.areaType(a.type)} ${a.code}`)))
    : h('p', null, `No area matches “${text}”.`)];
}

/** Renders `#/profile/<area code>`, or `#/profile?find=<name>` to look an area up. */
export async function render({ main, params, query, navigate }) {
  const [areaCode] = params;
  const input = h('input', { type: 'text', name: 'area', value: areaCode, autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { class: 'controls' },
    field('profile-area', 'Area code', input, 'An ONS GSS code, for example E06000047 (County Durham)'),
    h('button', { class: 'primary', type: 'submit' }, 'Show profile'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(`/profile/${seg(input.value.trim().toUpperCase())}`);
  });
  if (!areaCode) {
    replace(main, h('h1', { tabindex: '-1' }, 'Area profile'), h('p', { class: 'lede' }, 'Choose an area to see every indicator against England and its region.'),
      form, await findArea(query.get('find') || '', navigate));
    return;
  }
  replace(main, h('h1', { tabindex: '-1' }, 'Area profile'), form, h('p', { class: 'loading' }, 'Loading…'));

  const { area } = await getJson(`/v1/areas/${seg(areaCode)}`);
  const region = (area.parents || []).find((p) => p.type === REGION);
  // A county (or a region) lists the districts within it, each linked to its own profile.
  const districts = [UPPER_TIER, REGION].includes(area.type)
    ? (await getJson('/v1/areas', { parentCode: area.code, type: DISTRICT, pageSize: 500 })).areas || []
    : [];
  // One after the other, not in parallel: an uncached profile is heavy, and two at once on a small
  // server can both outlast the gateway's default deadline; the second reuses what the first loaded.
  const england = await getJson(`/v1/areas/${seg(areaCode)}/profile`, { pageSize: 500 });
  const regional = region ? await getJson(`/v1/areas/${seg(areaCode)}/profile`, { pageSize: 500, 'benchmark.parentAreaType': REGION }) : null;
  const byRegion = new Map((regional?.metrics || []).map((m) => [m.metricCode, m]));
  const all = [...(england.metrics || [])].sort((a, b) => (a.title || a.metricCode).localeCompare(b.title || b.metricCode));
  // Indicators with no figures for any period are listed apart, so the spine chart stays readable.
  const metrics = all.filter((m) => m.periodCode);
  const empty = all.filter((m) => !m.periodCode);

  const rows = metrics.map((m) => {
    const r = byRegion.get(m.metricCode);
    const cmp = f.comparison(m.comparison);
    const t = f.trend(m.trend);
    const lowIsGood = m.polarity === 'POLARITY_LOW_IS_GOOD';
    const worst = lowIsGood ? m.range?.highest : m.range?.lowest;
    const best = lowIsGood ? m.range?.lowest : m.range?.highest;
    const judged = m.polarity !== 'POLARITY_NO_JUDGEMENT';
    const valueText = m.suppressed || !f.has(m.value)
      ? `no value (${f.enumLabel(m.suppressionReason || 'STATISTIC_SUPPRESSION_REASON_NO_DATA', 'STATISTIC_SUPPRESSION_REASON_').toLowerCase()})`
      : f.withUnit(m.value, m.unit);
    const description = `${judged ? '' : 'No judgement of better or worse: lowest on the left. '}${area.name}: ${valueText}; England ${f.withUnit(m.benchmarkValue, m.unit)}${region ? `; ${region.name} ${f.withUnit(r?.benchmarkValue, m.unit)}` : ''}; ${cmp.toLowerCase()} compared with England; areas range from ${f.withUnit(m.range?.lowest, m.unit)} to ${f.withUnit(m.range?.highest, m.unit)}.`;
    return h('tr', { 'data-metric': m.metricCode },
      h('th', { scope: 'row' }, h('a', { href: `#/indicators/${seg(m.metricCode)}` }, m.title || m.metricCode), m.unit ? h('span', { class: 'caption' }, ` (${m.unit})`) : null),
      h('td', { 'data-col': 'period' }, m.periodCode || '–'),
      h('td', { class: 'num', 'data-col': 'count' }, f.count(m.numerator)),
      h('td', { class: 'num', 'data-col': 'value' }, f.value(m.value)),
      h('td', { class: 'num', 'data-col': 'region' }, f.value(r?.benchmarkValue)),
      h('td', { class: 'num', 'data-col': 'england' }, f.value(m.benchmarkValue)),
      h('td', { 'data-col': 'comparison' }, h('span', { class: `badge ${f.comparisonClass(m.comparison)}` }, cmp)),
      h('td', { 'data-col': 'trend', class: `trend ${t.cls}` }, h('span', { class: 'arrow', 'aria-hidden': 'true' }, t.arrow), ' ', h('span', { class: 'trend-text' }, t.text)),
      h('td', { class: 'num', 'data-col': 'worst' }, f.value(worst)),
      h('td', { class: 'spine-cell' }, spine({
        england: m.benchmarkValue, range: m.range, area: m.value, region: r?.benchmarkValue, polarity: m.polarity,
        comparisonClass: f.comparisonClass(m.comparison), label: `Spine chart: ${m.title || m.metricCode}`, description,
      })),
      h('td', { class: 'num', 'data-col': 'best' }, f.value(best)));
  });

  replace(main,
    h('span', { class: 'caption' }, `${f.areaType(area.type)} ${area.code}`),
    h('h1', { tabindex: '-1', 'data-testid': 'area-name' }, `${area.name}: area profile`),
    form,
    h('p', { class: 'summary' }, `${metrics.length} indicator${metrics.length === 1 ? '' : 's'} with figures for ${area.name}, each compared with England${region ? ` (and shown against ${region.name})` : ''} at 95% confidence. The spine chart puts England in the centre, the worst area on the left and the best on the right.`),
    legend(),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'profile-table', class: 'profile' },
      h('caption', null, `${area.name} compared with England${region ? ` and ${region.name}` : ''}`),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Indicator'),
        h('th', { scope: 'col' }, 'Period'),
        h('th', { scope: 'col', class: 'num' }, 'Count'),
        h('th', { scope: 'col', class: 'num' }, 'Value'),
        h('th', { scope: 'col', class: 'num' }, region ? region.name : 'Region'),
        h('th', { scope: 'col', class: 'num' }, 'England'),
        h('th', { scope: 'col' }, 'Compared with England'),
        h('th', { scope: 'col' }, 'Recent trend'),
        h('th', { scope: 'col', class: 'num' }, 'Worst or lowest'),
        h('th', { scope: 'col' }, 'Range'),
        h('th', { scope: 'col', class: 'num' }, 'Best or highest'))),
      h('tbody', null, rows))),
    empty.length
      ? h('div', { class: 'card' },
        h('h2', null, `No figures yet for ${area.name}`),
        h('ul', { 'data-testid': 'profile-empty' }, empty.map((m) => h('li', { 'data-metric': m.metricCode }, h('a', { href: `#/indicators/${seg(m.metricCode)}` }, m.title || m.metricCode)))))
      : null,
    districts.length
      ? h('div', { class: 'card' },
        h('h2', null, `Districts in ${area.name}`),
        h('ul', { 'data-testid': 'profile-districts' }, districts.map((d) => h('li', null, h('a', { href: `#/profile/${seg(d.code)}` }, d.name), ` ${d.code}`))))
      : null);
}
