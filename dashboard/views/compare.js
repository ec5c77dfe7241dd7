// Comparison table: one indicator across areas with value, 95% limits, comparison with the
// benchmark, quintile and rank; sortable by keyboard (each column heading is a button) and
// downloadable as the API's own CSV.

import { getCsv, getJson, seg, visibleMetrics } from '../api.js';
import { announce, field, h, replace } from '../dom.js';
import * as f from '../format.js';

const AREA_TYPES = [
  'AREA_TYPE_LOCAL_AUTHORITY_DISTRICT', 'AREA_TYPE_UPPER_TIER_LOCAL_AUTHORITY', 'AREA_TYPE_SUB_ICB_LOCATION', 'AREA_TYPE_ICB', 'AREA_TYPE_NHS_REGION',
  'AREA_TYPE_REGION', 'AREA_TYPE_WARD', 'AREA_TYPE_LSOA', 'AREA_TYPE_ORGANISATION',
];

/** The order of comparison results from best to worst, for sorting. */
const COMPARISON_ORDER = [
  'COMPARISON_RESULT_MUCH_BETTER', 'COMPARISON_RESULT_BETTER', 'COMPARISON_RESULT_MUCH_HIGHER', 'COMPARISON_RESULT_HIGHER',
  'COMPARISON_RESULT_SIMILAR', 'COMPARISON_RESULT_LOWER', 'COMPARISON_RESULT_MUCH_LOWER', 'COMPARISON_RESULT_WORSE',
  'COMPARISON_RESULT_MUCH_WORSE', 'COMPARISON_RESULT_NOT_COMPARED',
];

const COLUMNS = [
  { key: 'rank', label: 'Rank', num: true, get: (a) => (a.rank ? Number(a.rank) : null) },
  { key: 'area', label: 'Area', get: (a) => a.areaName || a.areaCode },
  { key: 'value', label: 'Value', num: true, get: (a) => (f.has(a.value) ? Number(a.value) : null), show: (a) => f.value(a.value) },
  { key: 'lower', label: 'Lower 95% limit', num: true, get: (a) => (f.has(a.limits?.lower95) ? Number(a.limits.lower95) : null), show: (a) => f.value(a.limits?.lower95) },
  { key: 'upper', label: 'Upper 95% limit', num: true, get: (a) => (f.has(a.limits?.upper95) ? Number(a.limits.upper95) : null), show: (a) => f.value(a.limits?.upper95) },
  { key: 'comparison', label: 'Compared with benchmark', get: (a) => COMPARISON_ORDER.indexOf(a.comparison || 'COMPARISON_RESULT_NOT_COMPARED') },
  { key: 'quintile', label: 'Quintile', num: true, get: (a) => (a.quintile ? Number(a.quintile) : null) },
  { key: 'numerator', label: 'Count', num: true, get: (a) => (f.has(a.numerator) ? Number(a.numerator) : null), show: (a) => f.count(a.numerator) },
  { key: 'denominator', label: 'Denominator', num: true, get: (a) => (f.has(a.denominator) ? Number(a.denominator) : null), show: (a) => f.count(a.denominator) },
];

/** Returns the API parameters of the comparison the route names. */
export function comparisonParams(query) {
  return {
    areaType: query.get('areaType') || 'AREA_TYPE_LOCAL_AUTHORITY_DISTRICT',
    parentAreaCode: query.get('parent') || '',
    periodCode: query.get('period') || '',
    pageSize: 1000,
  };
}

function cell(column, area) {
  if (column.key === 'area') return h('th', { scope: 'row', 'data-col': 'area' }, area.areaName || area.areaCode, h('span', { class: 'caption' }, ` ${area.areaCode}`));
  if (column.key === 'comparison') return h('td', { 'data-col': 'comparison' }, h('span', { class: `badge ${f.comparisonClass(area.comparison)}` }, f.comparison(area.comparison)));
  const text = column.show ? column.show(area) : (column.get(area) ?? '–');
  return h('td', { class: column.num ? 'num' : null, 'data-col': column.key }, text === 0 ? '–' : String(text));
}

/** Renders `#/compare/<metric code>?areaType=…&parent=…&period=…&highlight=…`. */
export async function render({ main, params, query, navigate }) {
  const [metricCode] = params;
  const metrics = await visibleMetrics();
  const metricSelect = h('select', { name: 'metric' },
    h('option', { value: '' }, 'Choose an indicator'),
    metrics.map((m) => h('option', { value: m.code, selected: m.code === metricCode }, m.current?.spec?.title || m.code)));
  const apiParams = comparisonParams(query);
  const typeSelect = h('select', { name: 'areaType' }, AREA_TYPES.map((t) => h('option', { value: t, selected: t === apiParams.areaType }, f.areaType(t))));
  const parentInput = h('input', { type: 'text', name: 'parent', value: apiParams.parentAreaCode, spellcheck: 'false' });
  const periodInput = h('input', { type: 'text', name: 'period', value: apiParams.periodCode, spellcheck: 'false' });
  const form = h('form', { class: 'controls' },
    field('compare-metric', 'Indicator', metricSelect),
    field('compare-type', 'Areas', typeSelect),
    field('compare-parent', 'Within area (optional)', parentInput, 'For example E12000001 (North East)'),
    field('compare-period', 'Period (optional)', periodInput, 'Empty means the latest, for example 2024/25'),
    h('button', { class: 'primary', type: 'submit' }, 'Compare'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(`/compare/${seg(metricSelect.value)}`, {
      areaType: typeSelect.value, parent: parentInput.value.trim().toUpperCase(), period: periodInput.value.trim(), highlight: query.get('highlight') || '',
    });
  });
  if (!metricCode) {
    replace(main, h('h1', { tabindex: '-1' }, 'Compare areas'), h('p', { class: 'lede' }, 'Choose an indicator and the areas to compare.'), form);
    return;
  }
  replace(main, h('h1', { tabindex: '-1' }, 'Compare areas'), form, h('p', { class: 'loading' }, 'Loading…'));
  const path = `/v1/metrics/${seg(metricCode)}/comparisons`;
  const answer = await getJson(path, apiParams);
  const title = metrics.find((m) => m.code === metricCode)?.current?.spec?.title || metricCode;
  const benchmark = (answer.benchmarks || [])[0];
  const highlight = query.get('highlight') || '';
  let rows = [...(answer.areas || [])];
  let sort = { key: 'rank', ascending: true };

  const tbody = h('tbody');
  const headerCells = COLUMNS.map((column) => {
    const button = h('button', { type: 'button', class: 'sort', 'data-sort': column.key }, column.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }));
    const th = h('th', { scope: 'col', class: column.num ? 'num' : null, 'aria-sort': column.key === 'rank' ? 'ascending' : 'none' }, button);
    button.addEventListener('click', () => {
      sort = { key: column.key, ascending: sort.key === column.key ? !sort.ascending : true };
      draw();
      announce(`Sorted by ${column.label}, ${sort.ascending ? 'ascending' : 'descending'}`);
    });
    return th;
  });
  function draw() {
    const column = COLUMNS.find((c) => c.key === sort.key);
    rows.sort((a, b) => {
      const [x, y] = [column.get(a), column.get(b)];
      // Missing values sort last whichever the direction, as the API lists unranked areas last.
      if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
      if (y === null || y === undefined) return -1;
      const order = typeof x === 'string' ? x.localeCompare(y) : x - y;
      return sort.ascending ? order : -order;
    });
    headerCells.forEach((th, i) => {
      const active = COLUMNS[i].key === sort.key;
      th.setAttribute('aria-sort', active ? (sort.ascending ? 'ascending' : 'descending') : 'none');
      th.querySelector('.arrow').textContent = active ? (sort.ascending ? ' ▲' : ' ▼') : '';
    });
    replace(tbody, rows.map((area) => h('tr', { 'data-area': area.areaCode, class: area.areaCode === highlight ? 'highlight' : null }, COLUMNS.map((c) => cell(c, area)))));
  }
  draw();

  const download = h('button', { type: 'button', class: 'secondary', 'data-testid': 'download-csv' }, 'Download CSV');
  download.addEventListener('click', async () => {
    const text = await getCsv(path, apiParams);
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
    const link = h('a', { href: url, download: `${metricCode}-${answer.periodCode || 'latest'}-comparison.csv`.replace(/[/\\]/g, '-') });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    announce('CSV downloaded');
  });

  replace(main,
    h('span', { class: 'caption' }, `Indicator ${metricCode}`),
    h('h1', { tabindex: '-1' }, `${title}: compare areas`),
    form,
    h('p', { class: 'summary', 'data-testid': 'compare-summary' },
      `${f.areaType(apiParams.areaType)}s${apiParams.parentAreaCode ? ` within ${apiParams.parentAreaCode}` : ''}, ${answer.periodCode || ''}: ${answer.totalSize ?? rows.length} areas compared with ${benchmark?.name || 'England'}`,
      benchmark && f.has(benchmark.value) ? ` (${f.value(benchmark.value)}, 95% limits ${f.value(benchmark.limits?.lower95)} to ${f.value(benchmark.limits?.upper95)})` : '',
      '. Polarity: ', f.polarity(answer.polarity).toLowerCase(), '. Quintile 1 is the best fifth.'),
    h('p', null, download, ' ', h('span', { class: 'caption' }, 'The same figures as the API gives in CSV.')),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'comparison-table' },
      h('caption', null, `${title}, ${answer.periodCode || ''}. Select a column heading to sort.`),
      h('thead', null, h('tr', null, headerCells)),
      tbody)));
}
