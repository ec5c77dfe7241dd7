// Anchor charters: each member's commitments with their progress against the trajectory, and the
// charter's roll-up across members. Each progress chart has its figures in a table beside it.

import { getAllPages, getJson, seg } from '../api.js';
import { progressChart } from '../charts.js';
import { h, replace } from '../dom.js';
import * as f from '../format.js';

async function organisationNames(codes) {
  const names = new Map();
  await Promise.all([...new Set(codes)].map(async (code) => {
    try {
      names.set(code, (await getJson(`/v1/organisations/${seg(code)}`)).organisation?.name || code);
    } catch {
      names.set(code, code);
    }
  }));
  return names;
}

/** Shows a commitment figure in its measure: a percentage or a total in its unit. */
function measured(v, commitmentOrMeasure, unit) {
  const measure = typeof commitmentOrMeasure === 'string' ? commitmentOrMeasure : commitmentOrMeasure?.measure;
  if (!f.has(v)) return '–';
  return measure === 'MEASURE_PERCENTAGE' ? `${f.value(v)}%` : `${f.count(v)}${unit ? ` ${unit}` : ''}`;
}

/** The list of charters visible to the caller. */
export async function list({ main }) {
  const charters = await getAllPages('/v1/charters', { pageSize: 100 }, 'charters');
  replace(main,
    h('h1', { tabindex: '-1' }, 'Anchor charters'),
    h('p', { class: 'lede' }, 'The shared pledges of each place\'s anchor institutions, and how their members are doing.'),
    charters.length
      ? h('table', { 'data-testid': 'charter-table' },
        h('caption', { class: 'visually-hidden' }, 'Charters you can see'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Charter'), h('th', { scope: 'col' }, 'Place'), h('th', { scope: 'col', class: 'num' }, 'Members'), h('th', { scope: 'col' }, 'Visibility'))),
        h('tbody', null, charters.map((c) => h('tr', { 'data-charter': c.code },
          h('th', { scope: 'row' }, h('a', { href: `#/charters/${seg(c.code)}` }, c.name || c.code)),
          h('td', null, c.placeAreaCode),
          h('td', { class: 'num' }, String((c.members || []).length)),
          h('td', null, f.enumLabel(c.visibility, 'CHARTER_VISIBILITY_'))))))
      : h('p', null, 'There are no charters you can see.'));
}

function commitmentCard(commitment, progress) {
  const ordered = [...progress].sort((a, b) => a.periodCode.localeCompare(b.periodCode));
  const baseline = commitment.baseline;
  const points = [
    ...(baseline ? [{ label: baseline.periodCode, value: baseline.value, expected: baseline.value, cls: 'status-no-data' }] : []),
    ...ordered.map((p) => ({ label: p.periodCode, value: p.value, expected: p.expectedValue, cls: f.statusClass(p.status) })),
  ];
  const unit = commitment.measure === 'MEASURE_PERCENTAGE' ? '' : commitment.unit;
  const assessment = commitment.statusAssessment || {};
  const description = `${commitment.title}: baseline ${measured(baseline?.value, commitment, unit)} in ${baseline?.periodCode || '–'}, target ${measured(commitment.target?.value, commitment, unit)} by ${commitment.target?.date || '–'}. ${assessment.explanation || f.status(commitment.status)}.`;
  return h('div', { class: 'card', 'data-commitment': commitment.commitmentId, 'data-type': commitment.type },
    h('h4', null, commitment.title || f.enumLabel(commitment.type, 'COMMITMENT_TYPE_')),
    h('p', null, h('span', { class: `badge ${f.statusClass(commitment.status)}`, 'data-field': 'status' }, f.status(commitment.status)), ' ',
      h('span', { 'data-field': 'explanation' }, assessment.explanation || '')),
    h('p', { class: 'caption' }, `Baseline ${measured(baseline?.value, commitment, unit)} (${baseline?.periodCode || '–'}) · target ${measured(commitment.target?.value, commitment, unit)} by ${commitment.target?.date || '–'}${commitment.metricCode ? ` · measured by ${commitment.metricCode}` : ''}`),
    progressChart({ points, target: commitment.target?.value, label: `Progress of ${commitment.title}`, description }),
    h('details', null,
      h('summary', null, 'Figures for each period'),
      h('table', { 'data-testid': 'progress-table' },
        h('caption', { class: 'visually-hidden' }, `Progress of ${commitment.title}`),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Period'), h('th', { scope: 'col', class: 'num' }, 'Value'), h('th', { scope: 'col', class: 'num' }, 'Trajectory'), h('th', { scope: 'col' }, 'Status'))),
        h('tbody', null, [...ordered].reverse().map((p) => h('tr', { 'data-period': p.periodCode },
          h('th', { scope: 'row' }, p.periodCode),
          h('td', { class: 'num', 'data-col': 'value' }, measured(p.value, commitment, unit)),
          h('td', { class: 'num', 'data-col': 'expected' }, measured(p.expectedValue, commitment, unit)),
          h('td', { 'data-col': 'status' }, f.status(p.status))))))));
}

/** One charter: the roll-up for a period and each member's commitments. */
export async function detail({ main, params, query }) {
  const [code] = params;
  const [charters, summary, commitments] = await Promise.all([
    getAllPages('/v1/charters', { pageSize: 100 }, 'charters'),
    getJson(`/v1/charters/${seg(code)}/summary`, { periodCode: query.get('period') || '' }),
    getAllPages('/v1/commitments', { charterCode: code, pageSize: 200 }, 'commitments'),
  ]);
  const charter = charters.find((c) => c.code === code) || { code, name: summary.charterName, members: [] };
  const progress = await Promise.all(commitments.map((c) => getAllPages(`/v1/commitments/${seg(c.commitmentId)}/progress`, { pageSize: 200 }, 'progress')));
  const names = await organisationNames([...(charter.members || []).map((m) => m.organisationCode), ...commitments.map((c) => c.organisationCode)]);
  const byOrganisation = new Map();
  commitments.forEach((c, i) => {
    if (!byOrganisation.has(c.organisationCode)) byOrganisation.set(c.organisationCode, []);
    byOrganisation.get(c.organisationCode).push(commitmentCard(c, progress[i]));
  });
  const typeName = (t) => f.enumLabel(t.type, 'COMMITMENT_TYPE_') + (t.templateCode ? ` (${t.templateCode})` : '');
  replace(main,
    h('span', { class: 'caption' }, `Anchor charter ${code}`),
    h('h1', { tabindex: '-1' }, summary.charterName || charter.name || code),
    charter.description ? h('p', { class: 'lede' }, charter.description) : null,
    h('p', null, `Place: ${charter.placeAreaCode || '–'}. Members: `,
      (charter.members || []).map((m, i) => [i ? ', ' : '', `${names.get(m.organisationCode) || m.organisationCode} (${m.organisationCode}${m.role === 'CHARTER_ROLE_ADMIN' ? ', admin' : ''})`]), '.'),
    h('h2', null, `Roll-up for ${summary.periodCode || 'the latest period'}`),
    h('p', { class: 'caption' }, 'Members\' numerators and denominators added up for each commitment type, then the share recomputed; totals add up.'),
    h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'rollup-table' },
      h('caption', { class: 'visually-hidden' }, `Roll-up for ${summary.periodCode}`),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Commitment'),
        h('th', { scope: 'col', class: 'num' }, 'Pooled value'),
        h('th', { scope: 'col', class: 'num' }, 'Numerator'),
        h('th', { scope: 'col', class: 'num' }, 'Denominator'),
        h('th', { scope: 'col', class: 'num' }, 'Reporting'),
        h('th', { scope: 'col' }, 'Members\' status'))),
      h('tbody', null, (summary.types || []).map((t) => h('tr', { 'data-type': t.type, 'data-template': t.templateCode || '' },
        h('th', { scope: 'row' }, typeName(t)),
        h('td', { class: 'num', 'data-col': 'pooled' }, measured(t.pooledValue, t.measure)),
        h('td', { class: 'num', 'data-col': 'numerator' }, f.count(t.numerator)),
        h('td', { class: 'num', 'data-col': 'denominator' }, f.count(t.denominator)),
        h('td', { class: 'num', 'data-col': 'reporting' }, `${t.reportingCount || 0} of ${t.memberCount || 0}`),
        h('td', { 'data-col': 'members' }, (t.members || []).map((m, i) => [i ? '; ' : '', `${m.organisationCode}: `, h('span', { class: `badge ${f.statusClass(m.status)}` }, f.status(m.status))]))))))),
    h('h2', null, 'Members\' commitments'),
    [...byOrganisation.entries()].map(([organisation, cards]) => h('section', { 'data-organisation': organisation, 'aria-labelledby': `org-${organisation}` },
      h('h3', { id: `org-${organisation}` }, `${names.get(organisation) || organisation} (${organisation})`),
      h('div', { class: 'card-grid' }, cards))));
}
