// How figures and codes are shown: one place, so every view rounds and names things alike.

const oneDecimal = new Intl.NumberFormat('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 0 });
const upToTwo = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2 });

/** Returns true when an API number field holds a value (proto3 JSON omits unset optionals). */
export function has(value) {
  return value !== undefined && value !== null && value !== '' && !Number.isNaN(Number(value));
}

/** Formats a value or limit to one decimal place; a dash when there is none. */
export function value(v) {
  return has(v) ? oneDecimal.format(Number(v)) : '–';
}

/** Formats a count (a numerator or denominator) with thousands separators. */
export function count(v) {
  return has(v) ? (Number.isInteger(Number(v)) ? whole : upToTwo).format(Number(v)) : '–';
}

/** Formats a value with its unit: `%` joins the number, other units follow it. */
export function withUnit(v, unit) {
  if (!has(v)) return '–';
  if (!unit) return value(v);
  return unit === '%' ? `${value(v)}%` : `${value(v)} ${unit}`;
}

/** Returns the words of an enum's full name without its prefix: COMPARISON_RESULT_MUCH_WORSE → "Much worse". */
export function enumLabel(name, prefix) {
  if (name === undefined || name === null || name === '') return 'Not set';
  let text = String(name);
  if (prefix && text.startsWith(prefix)) text = text.slice(prefix.length);
  text = text.toLowerCase().replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Returns a CSS-friendly slug of an enum name without its prefix (`much-worse`). */
export function enumSlug(name, prefix) {
  let text = String(name || 'unspecified');
  if (prefix && text.startsWith(prefix)) text = text.slice(prefix.length);
  return text.toLowerCase().replace(/_/g, '-');
}

/** Names a comparison result for people: "Worse than England". */
export function comparison(result) {
  return enumLabel(result || 'COMPARISON_RESULT_NOT_COMPARED', 'COMPARISON_RESULT_');
}

/** The CSS class of a comparison result. */
export function comparisonClass(result) {
  return `cmp-${enumSlug(result || 'COMPARISON_RESULT_NOT_COMPARED', 'COMPARISON_RESULT_')}`;
}

/** Names a polarity: "High is good". */
export function polarity(p) {
  return enumLabel(p, 'POLARITY_');
}

/** Names a commitment status: "On track". */
export function status(s) {
  return enumLabel(s || 'COMMITMENT_STATUS_NO_DATA', 'COMMITMENT_STATUS_');
}

/** The CSS class of a commitment status. */
export function statusClass(s) {
  return `status-${enumSlug(s || 'COMMITMENT_STATUS_NO_DATA', 'COMMITMENT_STATUS_')}`;
}

/** The arrow and words of a recent trend, judged by polarity where it has one. */
export function trend(result) {
  const direction = result?.direction || 'TREND_DIRECTION_INSUFFICIENT_POINTS';
  const judgement = result?.judgement || 'TREND_JUDGEMENT_NOT_JUDGED';
  const arrows = {
    TREND_DIRECTION_INCREASING: '↑',
    TREND_DIRECTION_DECREASING: '↓',
    TREND_DIRECTION_NO_SIGNIFICANT_CHANGE: '→',
  };
  const words = {
    TREND_DIRECTION_INCREASING: 'Increasing',
    TREND_DIRECTION_DECREASING: 'Decreasing',
    TREND_DIRECTION_NO_SIGNIFICANT_CHANGE: 'No significant change',
    TREND_DIRECTION_INSUFFICIENT_POINTS: 'Not enough points for a trend',
  };
  const judged = {
    TREND_JUDGEMENT_GETTING_BETTER: 'getting better',
    TREND_JUDGEMENT_GETTING_WORSE: 'getting worse',
  };
  const text = judged[judgement] ? `${words[direction]} and ${judged[judgement]}` : words[direction] || 'No trend';
  return { arrow: arrows[direction] || '', text, cls: `trend-${enumSlug(judgement, 'TREND_JUDGEMENT_')}` };
}

/** Formats an RFC 3339 timestamp as a date: 23 November 2026. */
export function date(timestamp) {
  if (!timestamp) return '–';
  const d = new Date(timestamp);
  if (Number.isNaN(d.getTime())) return String(timestamp);
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** Names an area type: AREA_TYPE_LOCAL_AUTHORITY_DISTRICT → "Local authority district". */
export function areaType(t) {
  return enumLabel(t, 'AREA_TYPE_').replace(/\bicb\b/i, 'ICB').replace(/\bNhs\b/, 'NHS').replace(/\bLsoa\b/, 'LSOA');
}
