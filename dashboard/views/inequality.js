// Inequality: one area's values by deprivation decile (or another ordered breakdown) with the
// slope index of inequality drawn as its fitted line, the gap between the most and least deprived,
// and Core20 (the most deprived fifth) highlighted. Figures and the table are the text alternative.

import { getJson, seg, visibleMetrics } from '../api.js';
import { inequalityChart } from '../charts.js';
import { field, h, replace } from '../dom.js';
import * as f from '../format.js';

/** Returns the API parameters of the inequality answer the route names. */
export function inequalityParams(query) {
  return { periodCode: query.get('period') || '', dimension: query.get('dimension') || 'imd_decile' };
}

/** Whether a group of the dimension lies in Core20 (IMD deciles 1–2, or quintile 1). */
function isCore20(dimension, code) {
  if (dimension === 'imd_decile') return code === '1' || code === '2';
  if (dimension === 'imd_quintile') return code === '1';
  return false;
}

/**
 * The fitted line's value at rank 0 on the identity scale. The platform reports SII = B and
 * RII = (A + B) / A (METHODS.md), so A = SII / (RII − 1); on a log or logit scale the line is not
 * straight and is not drawn.
 */
export function siiIntercept(answer) {
  // The platform gives the intercept on the identity scale; older answers are derived from SII and RII.
  if (f.has(answer.siiIntercept)) return Number(answer.siiIntercept);
  const sii = answer.sii?.value;
  const rii = answer.rii?.value;
  const scale = answer.scale || 'INEQUALITY_SCALE_IDENTITY';
  if (scale !== 'INEQUALITY_SCALE_IDENTITY' || !f.has(sii) || !f.has(rii) || Math.abs(Number(rii) - 1) < 1e-12) return null;
  return Number(sii) / (Number(rii) - 1);
}

/** The unit of a difference between two values: percentage points between two percentages. */
export function differenceUnit(unit) {
  return unit === '%' ? 'percentage points' : unit;
}

/** Renders `#/inequality/<metric code>/<area code>?period=…&dimension=…`. */
export async function render({ main, params, query, navigate }) {
  const [metricCode, areaCode] = params;
  const metrics = await visibleMetrics();
  const metricSelect = h('select', { name: 'metric' },
    h('option', { value: '' }, 'Choose an indicator'),
    metrics.map((m) => h('option', { value: m.code, selected: m.code === metricCode }, m.current?.spec?.title || m.code)));
  const areaInput = h('input', { type: 'text', name: 'area', value: areaCode || '', spellcheck: 'false' });
  const apiParams = inequalityParams(query);
  const periodInput = h('input', { type: 'text', name: 'period', value: apiParams.periodCode, spellcheck: 'false' });
  const dimensionSelect = h('select', { name: 'dimension' },
    h('option', { value: 'imd_decile', selected: apiParams.dimension === 'imd_decile' }, 'IMD decile'),
    h('option', { value: 'imd_quintile', selected: apiParams.dimension === 'imd_quintile' }, 'IMD quintile'));
  const form = h('form', { class: 'controls' },
    field('inequality-metric', 'Indicator', metricSelect),
    field('inequality-area', 'Area code', areaInput, 'For example E06000047 (County Durham)'),
    field('inequality-dimension', 'Deprivation groups', dimensionSelect),
    field('inequality-period', 'Period (optional)', periodInput, 'Empty means the latest'),
    h('button', { class: 'primary', type: 'submit' }, 'Show inequality'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(`/inequality/${seg(metricSelect.value)}/${seg(areaInput.value.trim().toUpperCase())}`, {
      period: periodInput.value.trim(), dimension: dimensionSelect.value === 'imd_decile' ? '' : dimensionSelect.value,
    });
  });
  if (!metricCode || !areaCode) {
    replace(main, h('h1', { tabindex: '-1' }, 'Inequality'), h('p', { class: 'lede' }, 'Choose an indicator and an area to see the gap between its most and least deprived communities.'), form);
    return;
  }
  replace(main, h('h1', { tabindex: '-1' }, 'Inequality'), form, h('p', { class: 'loading' }, 'Loading…'));
  const answer = await getJson(`/v1/metrics/${seg(metricCode)}/areas/${seg(areaCode)}/inequality`, apiParams);
  const metric = metrics.find((m) => m.code === metricCode);
  const title = metric?.current?.spec?.title || metricCode;
  const unit = metric?.current?.spec?.unit || '';
  let areaName = areaCode;
  try {
    areaName = (await getJson(`/v1/areas/${seg(areaCode)}`)).area?.name || areaCode;
  } catch {
    // The name is a nicety; the figures stand without it.
  }
  const groups = (answer.groups || []).map((g) => ({ ...g, core20: isCore20(answer.dimension, g.code) }));
  const first = groups.find((g) => g.code === answer.mostDeprivedCode);
  const last = groups.find((g) => g.code === answer.leastDeprivedCode);
  const intercept = siiIntercept(answer);
  const core20 = answer.core20 || {};
  const gapUnit = differenceUnit(unit);
  const sentence = `In ${areaName} (${answer.periodCode}), the most deprived group (${first?.label || first?.code || '–'}) has ${f.withUnit(first?.value, unit)} and the least deprived (${last?.label || last?.code || '–'}) ${f.withUnit(last?.value, unit)}: a gap of ${f.withUnit(answer.absoluteGap, gapUnit)}`
    + `${f.has(answer.relativeGap) ? ` (ratio ${f.value(answer.relativeGap)})` : ''}. The slope index of inequality is ${f.withUnit(answer.sii?.value, gapUnit)} (95% limits ${f.value(answer.sii?.lower95)} to ${f.value(answer.sii?.upper95)}), the relative index ${f.value(answer.rii?.value)}.`
    + (f.has(core20.core20Value) ? ` Core20 (the most deprived fifth) has ${f.withUnit(core20.core20Value, unit)} against ${f.withUnit(core20.restValue, unit)} for the rest: ${f.comparison(core20.comparison).toLowerCase()}.` : '');
  const figure = (label, text, id) => h('div', { class: 'figure', 'data-figure': id }, h('span', { class: 'label' }, label), h('span', { class: 'value' }, text));
  const item = (cls, text) => h('li', null, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text);
  replace(main,
    h('span', { class: 'caption' }, `Indicator ${metricCode}`),
    h('h1', { tabindex: '-1' }, `${title}: inequality in ${areaName}`),
    form,
    h('p', { class: 'summary', 'data-testid': 'inequality-summary' }, sentence),
    h('div', { class: 'figures' },
      figure('Gap, most minus least deprived', f.withUnit(answer.absoluteGap, gapUnit), 'gap'),
      figure('Slope index of inequality', f.withUnit(answer.sii?.value, gapUnit), 'sii'),
      figure('SII 95% limits', `${f.value(answer.sii?.lower95)} to ${f.value(answer.sii?.upper95)}`, 'sii-limits'),
      figure('Relative index of inequality', f.value(answer.rii?.value), 'rii'),
      figure('Core20', f.withUnit(core20.core20Value, unit), 'core20'),
      figure('Rest of the area', f.withUnit(core20.restValue, unit), 'rest')),
    h('ul', { class: 'legend', 'aria-label': 'Key to the chart' },
      item('bar-core20', 'Core20 (IMD deciles 1–2)'), item('bar-rest', 'Other groups'), item('line-sii', 'Slope index of inequality (fitted line)')),
    inequalityChart({
      groups: groups.map((g) => ({ code: g.code, value: g.value, lower: g.limits?.lower95, upper: g.limits?.upper95, population: g.population, core20: g.core20 })),
      sii: answer.sii?.value, intercept,
      gap: { first: first?.value, last: last?.value, value: answer.absoluteGap },
      label: `${title} in ${areaName} by ${answer.dimension === 'imd_quintile' ? 'deprivation quintile' : 'deprivation decile'}`,
      description: sentence,
    }),
    h('p', { class: 'caption' }, 'Each bar\'s width is its share of the population, so the horizontal axis is the population ranked from most to least deprived; the slope index of inequality is the fitted line\'s rise from one end to the other.'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'inequality-table' },
      h('caption', null, `${title}, ${areaName}, ${answer.periodCode}, by group`),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Group'),
        h('th', { scope: 'col', class: 'num' }, 'Count'),
        h('th', { scope: 'col', class: 'num' }, 'Denominator'),
        h('th', { scope: 'col', class: 'num' }, 'Value'),
        h('th', { scope: 'col', class: 'num' }, 'Lower 95% limit'),
        h('th', { scope: 'col', class: 'num' }, 'Upper 95% limit'),
        h('th', { scope: 'col' }, 'Core20'))),
      h('tbody', null, groups.map((g) => h('tr', { 'data-group': g.code },
        h('th', { scope: 'row' }, g.label || g.code),
        h('td', { class: 'num', 'data-col': 'count' }, f.count(g.numerator)),
        h('td', { class: 'num', 'data-col': 'denominator' }, f.count(g.denominator)),
        h('td', { class: 'num', 'data-col': 'value' }, f.value(g.value)),
        h('td', { class: 'num', 'data-col': 'lower' }, f.value(g.limits?.lower95)),
        h('td', { class: 'num', 'data-col': 'upper' }, f.value(g.limits?.upper95)),
        h('td', { 'data-col': 'core20' }, g.core20 ? 'Yes' : 'No')))))));
}
