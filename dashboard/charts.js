// Hand-written SVG charts. Each is drawn for people who can see it; each view also gives the same
// figures as a table or a sentence (the chart's text alternative), and each SVG is labelled with
// role="img" and a description so a screen reader announces what it shows.

import { s } from './dom.js';
import { has, value as fmt } from './format.js';

/** Returns about `count` round tick values covering [min, max]. */
export function ticks(min, max, count = 5) {
  if (!(max > min)) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return ticks(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((m) => m >= raw) || raw;
  const out = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step) out.push(Number(t.toFixed(10)));
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

function chartRoot(width, height, label, desc) {
  const id = `chart-${Math.random().toString(36).slice(2)}`;
  return s('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc`, focusable: 'false',
  }, s('title', { id: `${id}-title` }, label), s('desc', { id: `${id}-desc` }, desc));
}

function yAxis(svg, scale, tickValues, left, right) {
  const axis = s('g', { class: 'axis', 'aria-hidden': 'true' });
  for (const t of tickValues) {
    const y = scale(t);
    axis.append(s('line', { class: 'gridline', x1: left, x2: right, y1: y, y2: y }));
    axis.append(s('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, fmt(t)));
  }
  svg.append(axis);
}

/**
 * A Fingertips-style spine chart row: England at the centre, the worst side on the left and the
 * best on the right (for a metric with no judgement, low on the left); the light bar is the range
 * of every area of the type in England, the dark bar the 25th to 75th percentiles; the circle is
 * the area (coloured by its comparison), the diamond its region.
 */
export function spine({ england, range, area, region, polarity, comparisonClass, label, description }) {
  const width = 220;
  const height = 30;
  const mid = width / 2;
  const half = width / 2 - 10;
  const candidates = [range?.lowest, range?.highest, area, region].filter(has).map(Number);
  const centre = has(england) ? Number(england) : (candidates.length ? (Math.min(...candidates) + Math.max(...candidates)) / 2 : 0);
  const spread = Math.max(1e-9, ...candidates.map((v) => Math.abs(v - centre)));
  const direction = polarity === 'POLARITY_LOW_IS_GOOD' ? -1 : 1;
  const x = (v) => mid + (direction * (Number(v) - centre) / spread) * half;
  const svg = chartRoot(width, height, label, description);
  svg.classList.add('spine');
  if (has(range?.lowest) && has(range?.highest)) {
    const [a, b] = [x(range.lowest), x(range.highest)].sort((p, q) => p - q);
    svg.append(s('rect', { class: 'spine-range', x: a, y: 7, width: Math.max(1, b - a), height: 16 }));
  }
  if (has(range?.percentile25) && has(range?.percentile75)) {
    const [a, b] = [x(range.percentile25), x(range.percentile75)].sort((p, q) => p - q);
    svg.append(s('rect', { class: 'spine-iqr', x: a, y: 7, width: Math.max(1, b - a), height: 16 }));
  }
  if (has(england)) svg.append(s('line', { class: 'spine-centre', x1: mid, x2: mid, y1: 2, y2: 28 }));
  if (has(region)) {
    const rx = x(region);
    svg.append(s('path', { class: 'region-marker', d: `M${rx} 8 L${rx + 7} 15 L${rx} 22 L${rx - 7} 15 Z` }));
  }
  if (has(area)) svg.append(s('circle', { class: `marker ${comparisonClass}`, cx: x(area), cy: 15, r: 7 }));
  return svg;
}

/** A line chart of one area's series with 95% interval whiskers and a dashed benchmark line. */
export function trendChart({ points, unit, label, description }) {
  const width = 760;
  const height = 340;
  const margin = { left: 64, right: 24, top: 20, bottom: 48 };
  const values = points.flatMap((p) => [p.value, p.lower, p.upper, p.benchmark]).filter(has).map(Number);
  const tickValues = ticks(Math.min(...values, Infinity) === Infinity ? 0 : Math.min(...values), values.length ? Math.max(...values) : 1);
  const [lo, hi] = [tickValues[0], tickValues[tickValues.length - 1]];
  const y = (v) => margin.top + (1 - (Number(v) - lo) / (hi - lo || 1)) * (height - margin.top - margin.bottom);
  const step = (width - margin.left - margin.right) / Math.max(1, points.length);
  const x = (i) => margin.left + step * (i + 0.5);
  const svg = chartRoot(width, height, label, description);
  yAxis(svg, y, tickValues, margin.left, width - margin.right);
  svg.append(s('text', { x: 12, y: margin.top - 6, 'aria-hidden': 'true' }, unit || ''));
  const xAxis = s('g', { class: 'axis', 'aria-hidden': 'true' });
  points.forEach((p, i) => xAxis.append(s('text', { x: x(i), y: height - margin.bottom + 20, 'text-anchor': 'middle' }, p.label)));
  svg.append(xAxis);
  const line = (key, cls) => {
    const d = points.map((p, i) => (has(p[key]) ? `${x(i)},${y(p[key])}` : null)).filter(Boolean);
    if (d.length > 1) svg.append(s('polyline', { class: cls, points: d.join(' ') }));
  };
  line('benchmark', 'benchmark-line');
  line('value', 'series-line');
  points.forEach((p, i) => {
    if (has(p.lower) && has(p.upper)) {
      svg.append(s('line', { class: 'whisker', x1: x(i), x2: x(i), y1: y(p.lower), y2: y(p.upper) }));
      svg.append(s('line', { class: 'whisker', x1: x(i) - 6, x2: x(i) + 6, y1: y(p.lower), y2: y(p.lower) }));
      svg.append(s('line', { class: 'whisker', x1: x(i) - 6, x2: x(i) + 6, y1: y(p.upper), y2: y(p.upper) }));
    }
    if (has(p.value)) svg.append(s('circle', { class: `marker ${p.cls || ''}`, cx: x(i), cy: y(p.value), r: 6 }));
  });
  return svg;
}

/**
 * Bars of each deprivation group (width proportional to its population, so the x axis is the
 * population's rank from most to least deprived), 95% whiskers, Core20 bars highlighted, the
 * slope index of inequality drawn as its fitted line from rank 0 to rank 1, and the gap between
 * the most and least deprived marked on the right.
 */
export function inequalityChart({ groups, sii, intercept, gap, label, description }) {
  const width = 760;
  const height = 360;
  const margin = { left: 64, right: 96, top: 20, bottom: 56 };
  const withValue = groups.filter((g) => has(g.value));
  const values = withValue.flatMap((g) => [g.value, g.lower, g.upper]).filter(has).map(Number);
  if (has(intercept) && has(sii)) values.push(Number(intercept), Number(intercept) + Number(sii));
  const tickValues = ticks(Math.min(0, ...values), values.length ? Math.max(...values) : 1);
  const [lo, hi] = [tickValues[0], tickValues[tickValues.length - 1]];
  const y = (v) => margin.top + (1 - (Number(v) - lo) / (hi - lo || 1)) * (height - margin.top - margin.bottom);
  const plotWidth = width - margin.left - margin.right;
  const x = (rank) => margin.left + rank * plotWidth;
  const svg = chartRoot(width, height, label, description);
  yAxis(svg, y, tickValues, margin.left, width - margin.right);
  const totalPopulation = groups.reduce((sum, g) => sum + (has(g.population) ? Number(g.population) : 0), 0);
  let cumulative = 0;
  const axis = s('g', { class: 'axis', 'aria-hidden': 'true' });
  for (const g of groups) {
    const share = totalPopulation > 0 && has(g.population) ? Number(g.population) / totalPopulation : 1 / groups.length;
    const [a, b] = [x(cumulative), x(cumulative + share)];
    cumulative += share;
    const centre = (a + b) / 2;
    axis.append(s('text', { x: centre, y: height - margin.bottom + 18, 'text-anchor': 'middle' }, g.code));
    if (!has(g.value)) continue;
    svg.append(s('rect', { class: `bar${g.core20 ? ' core20' : ''}`, x: a + 1.5, y: y(g.value), width: Math.max(1, b - a - 3), height: Math.max(0, y(lo) - y(g.value)) }));
    if (has(g.lower) && has(g.upper)) {
      svg.append(s('line', { class: 'whisker', x1: centre, x2: centre, y1: y(g.lower), y2: y(g.upper) }));
      svg.append(s('line', { class: 'whisker', x1: centre - 4, x2: centre + 4, y1: y(g.lower), y2: y(g.lower) }));
      svg.append(s('line', { class: 'whisker', x1: centre - 4, x2: centre + 4, y1: y(g.upper), y2: y(g.upper) }));
    }
  }
  axis.append(s('text', { x: margin.left, y: height - 12 }, 'Most deprived'));
  axis.append(s('text', { x: x(1), y: height - 12, 'text-anchor': 'end' }, 'Least deprived'));
  svg.append(axis);
  if (has(intercept) && has(sii)) {
    svg.append(s('line', { class: 'sii-line', x1: x(0), x2: x(1), y1: y(intercept), y2: y(Number(intercept) + Number(sii)) }));
  }
  if (gap && has(gap.first) && has(gap.last)) {
    const gx = x(1) + 24;
    svg.append(s('line', { class: 'gap-line', x1: gx, x2: gx, y1: y(gap.first), y2: y(gap.last) }));
    svg.append(s('line', { class: 'gap-line', x1: gx - 6, x2: gx + 6, y1: y(gap.first), y2: y(gap.first) }));
    svg.append(s('line', { class: 'gap-line', x1: gx - 6, x2: gx + 6, y1: y(gap.last), y2: y(gap.last) }));
    svg.append(s('text', { x: gx + 8, y: (y(gap.first) + y(gap.last)) / 2 + 4 }, `Gap ${fmt(gap.value)}`));
  }
  return svg;
}

/** A commitment's reported values (coloured by status) against its trajectory and target. */
export function progressChart({ points, target, label, description }) {
  const width = 420;
  const height = 210;
  const margin = { left: 64, right: 12, top: 14, bottom: 36 };
  const values = points.flatMap((p) => [p.value, p.expected]).filter(has).map(Number);
  if (has(target)) values.push(Number(target));
  const tickValues = ticks(values.length ? Math.min(...values) : 0, values.length ? Math.max(...values) : 1, 4);
  const [lo, hi] = [tickValues[0], tickValues[tickValues.length - 1]];
  const y = (v) => margin.top + (1 - (Number(v) - lo) / (hi - lo || 1)) * (height - margin.top - margin.bottom);
  const step = (width - margin.left - margin.right) / Math.max(1, points.length);
  const x = (i) => margin.left + step * (i + 0.5);
  const svg = chartRoot(width, height, label, description);
  yAxis(svg, y, tickValues, margin.left, width - margin.right);
  const axis = s('g', { class: 'axis', 'aria-hidden': 'true' });
  points.forEach((p, i) => {
    if (points.length <= 8 || i % 2 === 0) axis.append(s('text', { x: x(i), y: height - margin.bottom + 18, 'text-anchor': 'middle' }, p.label));
  });
  svg.append(axis);
  const line = (key, cls) => {
    const d = points.map((p, i) => (has(p[key]) ? `${x(i)},${y(p[key])}` : null)).filter(Boolean);
    if (d.length > 1) svg.append(s('polyline', { class: cls, points: d.join(' ') }));
  };
  line('expected', 'trajectory-line');
  line('value', 'progress-line');
  if (has(target)) {
    svg.append(s('line', { class: 'benchmark-line', x1: margin.left, x2: width - margin.right, y1: y(target), y2: y(target) }));
  }
  points.forEach((p, i) => {
    if (has(p.value)) svg.append(s('circle', { class: `marker ${p.cls || ''}`, cx: x(i), cy: y(p.value), r: 5 }));
  });
  return svg;
}
