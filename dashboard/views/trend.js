// Trend: one area's series for one indicator with 95% intervals against its benchmark (England or
// the area's region), and the recent-trend test. The table below the chart is its text alternative.

import { getJson, seg, visibleMetrics } from '../api.js';
import { trendChart } from '../charts.js';
import { field, h, replace } from '../dom.js';
import * as f from '../format.js';

/** Returns the API parameters of the trend the route names. */
export function trendParams(query) {
  return query.get('benchmark') === 'region' ? { 'benchmark.parentAreaType': 'AREA_TYPE_REGION' } : {};
}

/** Renders `#/trend/<metric code>/<area code>?benchmark=england|region`. */
export async function render({ main, params, query, navigate }) {
  const [metricCode, areaCode] = params;
  const metrics = await visibleMetrics();
  const metricSelect = h('select', { name: 'metric' },
    h('option', { value: '' }, 'Choose an indicator'),
    metrics.map((m) => h('option', { value: m.code, selected: m.code === metricCode }, m.current?.spec?.title || m.code)));
  const areaInput = h('input', { type: 'text', name: 'area', value: areaCode || '', spellcheck: 'false' });
  const benchmarkSelect = h('select', { name: 'benchmark' },
    h('option', { value: 'england', selected: query.get('benchmark') !== 'region' }, 'England'),
    h('option', { value: 'region', selected: query.get('benchmark') === 'region' }, 'The area\'s region'));
  const form = h('form', { class: 'controls' },
    field('trend-metric', 'Indicator', metricSelect),
    field('trend-area', 'Area code', areaInput, 'For example E06000047 (County Durham)'),
    field('trend-benchmark', 'Compare with', benchmarkSelect),
    h('button', { class: 'primary', type: 'submit' }, 'Show trend'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(`/trend/${seg(metricSelect.value)}/${seg(areaInput.value.trim().toUpperCase())}`, { benchmark: benchmarkSelect.value === 'region' ? 'region' : '' });
  });
  if (!metricCode || !areaCode) {
    replace(main, h('h1', { tabindex: '-1' }, 'Trend'), h('p', { class: 'lede' }, 'Choose an indicator and an area to see its values over time.'), form);
    return;
  }
  replace(main, h('h1', { tabindex: '-1' }, 'Trend'), form, h('p', { class: 'loading' }, 'Loading…'));
  const answer = await getJson(`/v1/metrics/${seg(metricCode)}/areas/${seg(areaCode)}/trend`, trendParams(query));
  const metric = metrics.find((m) => m.code === metricCode);
  const title = metric?.current?.spec?.title || metricCode;
  const unit = metric?.current?.spec?.unit || '';
  const points = answer.points || [];
  const benchmarkName = query.get('benchmark') === 'region' ? 'its region' : 'England';
  const t = f.trend(answer.trend);
  const latest = [...points].reverse().find((p) => f.has(p.value));
  const sentence = points.length
    ? `${answer.areaName || areaCode} has ${points.length} period${points.length === 1 ? '' : 's'} from ${points[0].periodCode} to ${points[points.length - 1].periodCode}. `
      + (latest ? `The latest value is ${f.withUnit(latest.value, unit)} in ${latest.periodCode} (95% limits ${f.value(latest.limits?.lower95)} to ${f.value(latest.limits?.upper95)}), ${f.comparison(latest.comparison).toLowerCase()} compared with ${benchmarkName} (${f.withUnit(latest.benchmarkValue, unit)}). ` : '')
      + `Recent trend${answer.trend?.firstPeriodCode ? ` (${answer.trend.firstPeriodCode} to ${answer.trend.lastPeriodCode})` : ''}: ${t.text.toLowerCase()}.`
    : `There are no figures for ${answer.areaName || areaCode}.`;
  const chartPoints = points.map((p) => ({
    label: p.periodCode, value: p.value, lower: p.limits?.lower95, upper: p.limits?.upper95, benchmark: p.benchmarkValue, cls: f.comparisonClass(p.comparison),
  }));
  const item = (cls, text) => h('li', null, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  replace(main,
    h('span', { class: 'caption' }, `Indicator ${metricCode}`),
    h('h1', { tabindex: '-1' }, `${title}: ${answer.areaName || areaCode} over time`),
    form,
    h('p', { class: 'summary', 'data-testid': 'trend-summary' }, sentence),
    h('p', { class: `trend ${t.cls}`, 'data-testid': 'trend-result' }, h('span', { class: 'arrow', 'aria-hidden': 'true' }, t.arrow), ' ', t.text),
    h('ul', { class: 'legend', 'aria-label': 'Key to the chart' },
      item('line-series', answer.areaName || areaCode), item('line-benchmark', benchmarkName === 'England' ? 'England' : 'Region'),
      item('cmp-better', 'Better'), item('cmp-similar', 'Similar'), item('cmp-worse', 'Worse'), item('cmp-not-compared', 'Not compared')),
    trendChart({ points: chartPoints, unit, label: `${title} in ${answer.areaName || areaCode} over time`, description: sentence }),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'trend-table' },
      h('caption', null, `${title}, ${answer.areaName || areaCode}, by period`),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Period'),
        h('th', { scope: 'col', class: 'num' }, 'Count'),
        h('th', { scope: 'col', class: 'num' }, 'Denominator'),
        h('th', { scope: 'col', class: 'num' }, 'Value'),
        h('th', { scope: 'col', class: 'num' }, 'Lower 95% limit'),
        h('th', { scope: 'col', class: 'num' }, 'Upper 95% limit'),
        h('th', { scope: 'col', class: 'num' }, benchmarkName === 'England' ? 'England' : 'Region'),
        h('th', { scope: 'col' }, 'Compared'))),
      h('tbody', null, points.map((p) => h('tr', { 'data-period': p.periodCode },
        h('th', { scope: 'row' }, p.periodCode),
        h('td', { class: 'num', 'data-col': 'count' }, f.count(p.numerator)),
        h('td', { class: 'num', 'data-col': 'denominator' }, f.count(p.denominator)),
        h('td', { class: 'num', 'data-col': 'value' }, f.value(p.value)),
        h('td', { class: 'num', 'data-col': 'lower' }, f.value(p.limits?.lower95)),
        h('td', { class: 'num', 'data-col': 'upper' }, f.value(p.limits?.upper95)),
        h('td', { class: 'num', 'data-col': 'benchmark' }, f.value(p.benchmarkValue)),
        h('td', { 'data-col': 'comparison' }, h('span', { class: `badge ${f.comparisonClass(p.comparison)}` }, f.comparison(p.comparison)))))))));
}
