// Browser tests of the dashboard: headless Debian Chromium driven by playwright-core, against a
// platform started and seeded by scripts/browser-tests.sh. Every figure a view shows is checked
// against the same answer fetched from the REST API here, in the test; nothing is hard-coded
// but the seeded codes. Screenshots of each view go to DASHBOARD_ARTIFACTS.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.DASHBOARD_BASE_URL;
const SEED = JSON.parse(readFileSync(process.env.DASHBOARD_SEED_FILE, 'utf8'));
const ARTIFACTS = process.env.DASHBOARD_ARTIFACTS || 'artifacts';
const DOCS = process.env.DASHBOARD_DOCS_SCREENSHOTS || '';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// The rounding the page promises (one decimal place, en-GB grouping), written out independently.
const one = new Intl.NumberFormat('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const v1 = (x) => (x === undefined || x === null ? '–' : one.format(Number(x)));
const whole = (x) => (x === undefined || x === null ? '–' : new Intl.NumberFormat('en-GB').format(Number(x)));
const words = (name, prefix) => {
  const text = String(name).slice(prefix.length).toLowerCase().replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
};

/** Calls the REST API as a user with `key`; returns { status, body, text }. */
async function api(path, key, params = {}, accept = 'application/json') {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined) search.append(k, String(v));
  const url = `${BASE}${path}${search.toString() ? `?${search}` : ''}`;
  const response = await fetch(url, { headers: { Authorization: `Bearer ${key}`, Accept: accept } });
  const text = await response.text();
  let body = null;
  if ((response.headers.get('content-type') || '').includes('json')) body = JSON.parse(text);
  return { status: response.status, body, text, headers: response.headers };
}

async function apiOk(path, key, params, accept) {
  const answer = await api(path, key, params, accept);
  assert.equal(answer.status, 200, `${path}: ${answer.text.slice(0, 300)}`);
  return answer;
}

let browser;
let context;
let page;
const foreignRequests = [];

async function screenshot(name) {
  assert.deepEqual(await accessibilityProblems(), [], `accessibility of the ${name} view`);
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (DOCS) {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(file, join(DOCS, `${name}.png`));
  }
}

/** Goes to a route and waits until the view has rendered it. */
async function go(route) {
  await page.evaluate((r) => {
    document.getElementById('main').removeAttribute('data-ready');
    // Setting the same hash fires no event; the view is asked to render again instead.
    if (window.location.hash === r) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else window.location.hash = r;
  }, `#${route}`);
  const path = route.split('?')[0];
  await page.waitForFunction((p) => document.getElementById('main').dataset.ready === 'true' && document.body.dataset.route === p, path, { timeout: 120_000 });
  const problem = await page.locator('[data-testid=error-message]').allTextContents();
  return problem;
}

async function signIn(key) {
  await page.goto(`${BASE}/dashboard/#/signin`);
  await page.waitForSelector('main[data-ready=true]');
  await page.getByLabel('API key or OIDC access token').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('[data-testid=signed-in-as]');
  await page.waitForFunction(() => document.body.dataset.route === '/indicators' && document.getElementById('main').dataset.ready === 'true');
}

/**
 * Checks the rendered view for what WCAG asks of it here: every form control labelled, every
 * button named, every chart an image with a title and a description, and every piece of text at
 * least 4.5:1 against its background (3:1 when large). Returns the failures.
 */
async function accessibilityProblems() {
  return page.evaluate(() => {
    const problems = [];
    for (const control of document.querySelectorAll('input, select, textarea')) {
      if (control.type === 'hidden') continue;
      if (!control.labels?.length && !control.getAttribute('aria-label')) problems.push(`unlabelled ${control.outerHTML.slice(0, 80)}`);
    }
    for (const button of document.querySelectorAll('button, a[href]')) {
      if (!button.textContent.trim() && !button.getAttribute('aria-label')) problems.push(`unnamed ${button.outerHTML.slice(0, 80)}`);
    }
    for (const chart of document.querySelectorAll('svg.chart')) {
      const title = chart.querySelector('title')?.textContent.trim();
      const desc = chart.querySelector('desc')?.textContent.trim();
      if (chart.getAttribute('role') !== 'img' || !title || !desc) problems.push(`chart without a text alternative: ${title}`);
    }
    const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
      const c = [r, g, b].map((v) => v / 255).map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const background = (element) => {
      for (let e = element; e; e = e.parentElement) {
        const [r, g, b, a = 1] = rgb(getComputedStyle(e).backgroundColor);
        if (a > 0.99) return [r, g, b];
      }
      return [255, 255, 255];
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      if (!node.textContent.trim() || seen.has(element) || element.closest('svg, .visually-hidden, noscript, .skip-link')) continue;
      seen.add(element);
      const style = getComputedStyle(element);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      const [fg, bg] = [luminance(rgb(style.color)), luminance(background(element))];
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${node.textContent.trim().slice(0, 40)}"`);
    }
    return problems;
  });
}

const cellText = async (row, col) => (await row.locator(`[data-col="${col}"]`).first().innerText()).trim();

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  page = await context.newPage();
  const origin = new URL(BASE).origin;
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')) foreignRequests.push(url);
  });
});

after(async () => {
  await browser?.close();
});

describe('the dashboard as served by the gateway', () => {
  test('is served at / and /dashboard/ with its content types and a strict Content-Security-Policy', async () => {
    const root = await fetch(`${BASE}/`, { redirect: 'manual' });
    assert.equal(root.status, 307);
    assert.equal(root.headers.get('location'), '/dashboard/');
    const html = await fetch(`${BASE}/dashboard/`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-type'), /^text\/html/);
    const csp = html.headers.get('content-security-policy');
    assert.match(csp, /^default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    const script = await fetch(`${BASE}/dashboard/app.js`);
    assert.match(script.headers.get('content-type'), /^text\/javascript/);
    const css = await fetch(`${BASE}/dashboard/style.css`);
    assert.match(css.headers.get('content-type'), /^text\/css/);
  });

  test('signing in with an API key shows the organisation signed in', async () => {
    await signIn(SEED.keys.admin);
    const who = await apiOk('/v1/whoami', SEED.keys.admin);
    const shown = await page.locator('[data-testid=signed-in-as]').innerText();
    assert.ok(shown.includes(who.body.principal.organisationCode), shown);
  });

  test('indicator search lists the seeded metric and its page shows its definition, method, owners, polarity and last update', async () => {
    await go('/indicators?q=dashboard');
    const listed = await apiOk('/v1/metrics', SEED.keys.admin, { search: 'dashboard', pageSize: 200 });
    const rows = page.locator('[data-testid=indicator-table] tbody tr');
    assert.equal(await rows.count(), listed.body.metrics.length);
    const row = page.locator(`tr[data-metric="${SEED.metric}"]`);
    const metric = listed.body.metrics.find((m) => m.code === SEED.metric);
    assert.ok((await row.innerText()).includes(metric.current.spec.title));
    await screenshot('indicators');

    await row.getByRole('link').click();
    await page.waitForFunction((p) => document.body.dataset.route === p && document.getElementById('main').dataset.ready === 'true', `/indicators/${SEED.metric}`);
    const { body } = await apiOk(`/v1/metrics/${SEED.metric}`, SEED.keys.admin);
    const version = body.metric.current;
    const field = async (name) => (await page.locator(`[data-field="${name}"]`).innerText()).trim();
    assert.equal(await page.locator('h1').innerText(), version.spec.title);
    assert.equal(await field('description'), version.spec.description);
    assert.equal(await field('methodology'), version.spec.methodology);
    assert.equal(await field('polarity'), words(version.spec.polarity, 'POLARITY_'));
    assert.ok((await field('owners')).includes(version.spec.owners[0]));
    const updated = new Date(version.publishedAt || version.createdAt).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
    assert.equal(await field('last-updated'), updated);
    await screenshot('indicator');
  });

  test("area profile shows County Durham's figures against England and the North East, coloured by comparison, with the trend", async () => {
    // Found by name, then opened from the match.
    assert.deepEqual(await go('/profile?find=Durham'), []);
    const types = ['AREA_TYPE_LOCAL_AUTHORITY_DISTRICT', 'AREA_TYPE_UPPER_TIER_LOCAL_AUTHORITY', 'AREA_TYPE_SUB_ICB_LOCATION', 'AREA_TYPE_ICB', 'AREA_TYPE_REGION', 'AREA_TYPE_NHS_REGION', 'AREA_TYPE_ENGLAND'];
    const found = new Map();
    for (const type of types) for (const a of (await apiOk('/v1/areas', SEED.keys.admin, { search: 'Durham', type, pageSize: 20 })).body.areas) found.set(a.code, a);
    const matches = [...found.values()];
    assert.ok(matches.some((a) => a.code === SEED.area), 'the API finds County Durham by name');
    // County Durham is a district and an upper tier under one code, and is listed once.
    assert.equal(await page.locator('[data-testid=area-matches] li').count(), matches.length);
    await page.locator(`[data-testid=area-matches] a[href="#/profile/${SEED.area}"]`).click();
    await page.waitForFunction((p) => document.body.dataset.route === p && document.getElementById('main').dataset.ready === 'true', `/profile/${SEED.area}`, { timeout: 120_000 });
    assert.equal(await page.locator('[data-testid=error-message]').count(), 0);
    const england = (await apiOk(`/v1/areas/${SEED.area}/profile`, SEED.keys.admin, { pageSize: 500 })).body;
    const region = (await apiOk(`/v1/areas/${SEED.area}/profile`, SEED.keys.admin, { pageSize: 500, 'benchmark.parentAreaType': 'AREA_TYPE_REGION' })).body;
    const m = england.metrics.find((x) => x.metricCode === SEED.metric);
    const r = region.metrics.find((x) => x.metricCode === SEED.metric);
    assert.ok(m && r, 'the API profiles the seeded metric');
    assert.ok(m.value !== undefined, 'County Durham has a value');
    const withFigures = england.metrics.filter((x) => x.periodCode).length;
    assert.equal(await page.locator('[data-testid=profile-table] tbody tr').count(), withFigures);
    assert.equal(await page.locator('[data-testid=profile-empty] li').count(), england.metrics.length - withFigures);
    const row = page.locator(`tr[data-metric="${SEED.metric}"]`);
    assert.equal(await cellText(row, 'period'), m.periodCode);
    assert.equal(await cellText(row, 'value'), v1(m.value));
    assert.equal(await cellText(row, 'count'), whole(m.numerator));
    assert.equal(await cellText(row, 'england'), v1(m.benchmarkValue));
    assert.equal(await cellText(row, 'region'), v1(r.benchmarkValue));
    assert.equal(await cellText(row, 'comparison'), words(m.comparison, 'COMPARISON_RESULT_'));
    const marker = row.locator('svg circle.marker');
    assert.match(await marker.getAttribute('class'), new RegExp(`cmp-${words(m.comparison, 'COMPARISON_RESULT_').toLowerCase().replace(/ /g, '-')}`));
    const trend = await cellText(row, 'trend');
    const direction = { TREND_DIRECTION_INCREASING: 'Increasing', TREND_DIRECTION_DECREASING: 'Decreasing', TREND_DIRECTION_NO_SIGNIFICANT_CHANGE: 'No significant change', TREND_DIRECTION_INSUFFICIENT_POINTS: 'Not enough points' }[m.trend.direction];
    assert.ok(trend.includes(direction), `${trend} vs ${m.trend.direction}`);
    // The chart's text alternative names the same figures.
    const description = await row.locator('svg desc').textContent();
    assert.ok(description.includes(v1(m.value)) && description.includes(v1(m.benchmarkValue)), description);
    // Every other indicator with figures is right too (the falls rate is low-is-good, England-wide).
    assert.ok(england.metrics.some((x) => x.metricCode === SEED.rateMetric && x.periodCode), 'the rate metric is profiled');
    for (const other of england.metrics.filter((x) => x.periodCode)) {
      const otherRow = page.locator(`tr[data-metric="${other.metricCode}"]`);
      const otherRegion = region.metrics.find((x) => x.metricCode === other.metricCode);
      assert.equal(await cellText(otherRow, 'value'), v1(other.value), other.metricCode);
      assert.equal(await cellText(otherRow, 'england'), v1(other.benchmarkValue), other.metricCode);
      assert.equal(await cellText(otherRow, 'region'), v1(otherRegion?.benchmarkValue), other.metricCode);
      assert.equal(await cellText(otherRow, 'comparison'), words(other.comparison, 'COMPARISON_RESULT_'), other.metricCode);
      const lowIsGood = other.polarity === 'POLARITY_LOW_IS_GOOD';
      assert.equal(await cellText(otherRow, 'worst'), v1(lowIsGood ? other.range?.highest : other.range?.lowest), other.metricCode);
      assert.equal(await cellText(otherRow, 'best'), v1(lowIsGood ? other.range?.lowest : other.range?.highest), other.metricCode);
    }
    await screenshot('profile');
  });

  test("area search finds a county and a sub-ICB location, and a county's profile lists its districts", async () => {
    assert.deepEqual(await go('/profile?find=Kent'), []);
    assert.equal(await page.locator('[data-testid=area-matches] a[href="#/profile/E10000016"]').count(), 1, 'Kent County');
    assert.deepEqual(await go('/profile?find=12F'), []);
    assert.ok(await page.locator('[data-testid=area-matches] li', { hasText: 'Sub ICB location' }).count() >= 1, 'a sub-ICB location');
    // Kent's profile lists its twelve districts, each linked to its own profile.
    assert.deepEqual(await go('/profile/E10000016'), []);
    assert.equal(await page.locator('[data-testid=area-name]').textContent(), 'Kent: area profile');
    assert.equal(await page.locator('[data-testid=profile-districts] li').count(), 12);
    assert.equal(await page.locator('[data-testid=profile-districts] a[href="#/profile/E07000105"]').textContent(), 'Ashford');
  });

  test('comparison table shows every North East district with value, limits, comparison, quintile and rank; sorts by keyboard; its CSV equals the API CSV', async () => {
    const route = `/compare/${SEED.metric}?areaType=AREA_TYPE_LOCAL_AUTHORITY_DISTRICT&parent=${SEED.region}&highlight=${SEED.area}`;
    assert.deepEqual(await go(route), []);
    const params = { areaType: 'AREA_TYPE_LOCAL_AUTHORITY_DISTRICT', parentAreaCode: SEED.region, pageSize: 1000 };
    const answer = (await apiOk(`/v1/metrics/${SEED.metric}/comparisons`, SEED.keys.admin, params)).body;
    const rows = page.locator('[data-testid=comparison-table] tbody tr');
    assert.equal(await rows.count(), answer.areas.length);
    assert.ok(answer.areas.length >= 12, 'the North East districts');
    for (const area of answer.areas) {
      const row = page.locator(`tr[data-area="${area.areaCode}"]`);
      assert.equal(await cellText(row, 'value'), v1(area.value), area.areaCode);
      assert.equal(await cellText(row, 'lower'), v1(area.limits?.lower95), area.areaCode);
      assert.equal(await cellText(row, 'upper'), v1(area.limits?.upper95), area.areaCode);
      assert.equal(await cellText(row, 'comparison'), words(area.comparison, 'COMPARISON_RESULT_'), area.areaCode);
      assert.equal(await cellText(row, 'quintile'), area.quintile ? String(area.quintile) : '–', area.areaCode);
      assert.equal(await cellText(row, 'rank'), area.rank ? String(area.rank) : '–', area.areaCode);
    }
    await screenshot('compare');

    // Sort by value with the keyboard: focus the column's button, press Enter, then again.
    const valueHeader = page.locator('th:has(button[data-sort="value"])');
    await page.locator('button[data-sort="value"]').focus();
    await page.keyboard.press('Enter');
    assert.equal(await valueHeader.getAttribute('aria-sort'), 'ascending');
    const ascending = [...answer.areas].filter((a) => a.value !== undefined).sort((a, b) => a.value - b.value);
    assert.equal(await rows.first().getAttribute('data-area'), ascending[0].areaCode);
    await page.keyboard.press('Enter');
    assert.equal(await valueHeader.getAttribute('aria-sort'), 'descending');
    assert.equal(await rows.first().getAttribute('data-area'), ascending[ascending.length - 1].areaCode);

    const csv = await apiOk(`/v1/metrics/${SEED.metric}/comparisons`, SEED.keys.admin, params, 'text/csv');
    assert.match(csv.headers.get('content-type'), /^text\/csv/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const file = join(ARTIFACTS, 'comparison.csv');
    await download.saveAs(file);
    assert.equal(readFileSync(file, 'utf8'), csv.text, 'the downloaded CSV is the API CSV');
  });

  test("trend chart lists County Durham's every period with limits and the England benchmark, and the trend result", async () => {
    assert.deepEqual(await go(`/trend/${SEED.metric}/${SEED.area}`), []);
    const answer = (await apiOk(`/v1/metrics/${SEED.metric}/areas/${SEED.area}/trend`, SEED.keys.admin)).body;
    assert.equal(answer.points.length, 5, 'five years seeded');
    const rows = page.locator('[data-testid=trend-table] tbody tr');
    assert.equal(await rows.count(), answer.points.length);
    for (const p of answer.points) {
      const row = page.locator(`tr[data-period="${p.periodCode}"]`);
      assert.equal(await cellText(row, 'value'), v1(p.value), p.periodCode);
      assert.equal(await cellText(row, 'lower'), v1(p.limits?.lower95), p.periodCode);
      assert.equal(await cellText(row, 'upper'), v1(p.limits?.upper95), p.periodCode);
      assert.equal(await cellText(row, 'benchmark'), v1(p.benchmarkValue), p.periodCode);
      assert.equal(await cellText(row, 'count'), whole(p.numerator), p.periodCode);
    }
    assert.equal(await page.locator('svg.chart circle.marker').count(), answer.points.filter((p) => p.value !== undefined).length);
    const summary = await page.locator('[data-testid=trend-summary]').innerText();
    const latest = answer.points[answer.points.length - 1];
    assert.ok(summary.includes(v1(latest.value)) && summary.includes(latest.periodCode), summary);
    const expected = words(answer.trend.direction, 'TREND_DIRECTION_');
    const result = await page.locator('[data-testid=trend-result]').innerText();
    if (answer.trend.direction !== 'TREND_DIRECTION_INSUFFICIENT_POINTS') assert.ok(result.includes(expected), `${result} vs ${expected}`);
    await screenshot('trend');
  });

  test('inequality chart shows each IMD decile of County Durham, the gap, the SII line and Core20', async () => {
    assert.deepEqual(await go(`/inequality/${SEED.metric}/${SEED.area}`), []);
    const answer = (await apiOk(`/v1/metrics/${SEED.metric}/areas/${SEED.area}/inequality`, SEED.keys.admin, { dimension: 'imd_decile' })).body;
    assert.equal(answer.groups.length, 10);
    for (const g of answer.groups) {
      const row = page.locator(`tr[data-group="${g.code}"]`);
      assert.equal(await cellText(row, 'value'), v1(g.value), `decile ${g.code}`);
      assert.equal(await cellText(row, 'count'), whole(g.numerator), `decile ${g.code}`);
      assert.equal(await cellText(row, 'core20'), ['1', '2'].includes(g.code) ? 'Yes' : 'No');
    }
    const figure = async (id) => (await page.locator(`[data-figure="${id}"] .value`).innerText()).trim();
    assert.equal(await figure('gap'), `${v1(answer.absoluteGap)} percentage points`, 'a gap between percentages');
    assert.equal(await figure('sii'), `${v1(answer.sii.value)} percentage points`);
    assert.equal(await figure('sii-limits'), `${v1(answer.sii.lower95)} to ${v1(answer.sii.upper95)}`);
    assert.ok((await figure('core20')).startsWith(v1(answer.core20.core20Value)));
    assert.equal(await page.locator('svg.chart line.sii-line').count(), 1, 'the SII is drawn');
    const core20Bars = answer.groups.filter((g) => ['1', '2'].includes(g.code) && g.value !== undefined).length;
    assert.equal(await page.locator('svg.chart rect.bar.core20').count(), core20Bars);
    await screenshot('inequality');
  });

  test('inequality view shows the life-expectancy gap between deciles in years', async () => {
    assert.deepEqual(await go(`/inequality/${SEED.lifeMetric}/${SEED.area}`), []);
    const answer = (await apiOk(`/v1/metrics/${SEED.lifeMetric}/areas/${SEED.area}/inequality`, SEED.keys.admin, { dimension: 'imd_decile' })).body;
    const figure = async (id) => (await page.locator(`[data-figure="${id}"] .value`).innerText()).trim();
    assert.ok(answer.absoluteGap !== undefined && answer.sii?.value !== undefined, JSON.stringify(answer).slice(0, 400));
    assert.equal(await figure('gap'), `${v1(answer.absoluteGap)} years`);
    assert.equal(await figure('sii'), `${v1(answer.sii.value)} years`);
    for (const g of answer.groups.filter((x) => x.value !== undefined)) {
      assert.equal(await cellText(page.locator(`tr[data-group="${g.code}"]`), 'value'), v1(g.value), `decile ${g.code}`);
    }
    const summary = await page.locator('[data-testid=inequality-summary]').innerText();
    assert.ok(summary.includes(`a gap of ${v1(answer.absoluteGap)} years`), summary);
    await screenshot('inequality-life-expectancy');
  });

  test("anchor charter page shows each member's commitments with their status against trajectory, and the roll-up", async () => {
    assert.deepEqual(await go(`/charters/${SEED.charter}`), []);
    const summary = (await apiOk(`/v1/charters/${SEED.charter}/summary`, SEED.keys.admin)).body;
    const commitments = (await apiOk('/v1/commitments', SEED.keys.admin, { charterCode: SEED.charter, pageSize: 200 })).body.commitments;
    assert.equal(commitments.length, 4);
    for (const t of summary.types) {
      const row = page.locator(`[data-testid=rollup-table] tr[data-type="${t.type}"]`);
      const pooled = t.measure === 'MEASURE_PERCENTAGE' ? `${v1(t.pooledValue)}%` : whole(t.pooledValue);
      assert.equal(await cellText(row, 'pooled'), pooled, t.type);
      assert.equal(await cellText(row, 'reporting'), `${t.reportingCount || 0} of ${t.memberCount || 0}`, t.type);
    }
    for (const c of commitments) {
      const card = page.locator(`[data-commitment="${c.commitmentId}"]`);
      assert.equal(await card.locator('[data-field=status]').innerText(), words(c.status, 'COMMITMENT_STATUS_'), c.title);
      assert.equal((await card.locator('[data-field=explanation]').innerText()).trim(), c.statusAssessment.explanation, c.title);
      const progress = (await apiOk(`/v1/commitments/${c.commitmentId}/progress`, SEED.keys.admin)).body.progress;
      assert.equal(await card.locator('tbody tr').count(), progress.length, c.title);
      for (const p of progress) {
        assert.equal((await card.locator(`tr[data-period="${p.periodCode}"] [data-col=status]`).textContent()).trim(), words(p.status, 'COMMITMENT_STATUS_'));
      }
    }
    for (const organisation of [SEED.council, SEED.trust]) {
      assert.equal(await page.locator(`section[data-organisation="${organisation}"] [data-commitment]`).count(), 2, organisation);
    }
    await screenshot('charter');
  });

  test('a reader of another organisation does not see the private metric; a reader of its owner does', async () => {
    const outsider = await api(`/v1/metrics/${SEED.privateMetric}`, SEED.keys.otherReader);
    assert.equal(outsider.status, 404, 'the API hides it from another organisation');
    const listed = await apiOk('/v1/metrics', SEED.keys.otherReader, { pageSize: 500 });
    assert.ok(!listed.body.metrics.some((m) => m.code === SEED.privateMetric), 'and leaves it out of the list');
    await signIn(SEED.keys.otherReader);
    await go('/indicators');
    assert.equal(await page.locator(`[data-metric="${SEED.privateMetric}"]`).count(), 0);
    assert.equal(await page.getByText('private to Durham County Council').count(), 0);
    await go(`/profile/${SEED.area}`);
    assert.equal(await page.locator(`tr[data-metric="${SEED.metric}"]`).count(), 1, 'public metrics are shown');
    assert.equal(await page.locator(`[data-metric="${SEED.privateMetric}"]`).count(), 0);
    const problems = await go(`/indicators/${SEED.privateMetric}`);
    assert.equal(problems.length, 1, 'the page says it cannot be shown');
    await screenshot('private-metric-hidden');

    await signIn(SEED.keys.councilReader);
    await go('/indicators');
    assert.equal(await page.locator(`tr[data-metric="${SEED.privateMetric}"]`).count(), 1, 'the owner sees it');
    await go(`/profile/${SEED.area}`);
    assert.equal(await page.locator(`tr[data-metric="${SEED.privateMetric}"]`).count(), 1);
  });

  test('signing in with an OIDC access token of a Durham County Council reader shows the person and the council\'s private metric', async () => {
    const issuer = process.env.DASHBOARD_OIDC_ISSUER;
    assert.ok(issuer, 'the runner starts a local OIDC issuer');
    const minted = await (await fetch(`${issuer}/token?organisation=${SEED.council}&roles=reader&name=${encodeURIComponent('Alex Analyst')}`)).json();
    const who = await apiOk('/v1/whoami', minted.access_token);
    assert.equal(who.body.principal.kind, 'PRINCIPAL_KIND_OIDC_USER');
    await signIn(minted.access_token);
    assert.equal(await page.locator('[data-testid=signed-in-as]').innerText(), `Signed in as Alex Analyst (${SEED.council})`);
    await go('/indicators');
    assert.equal(await page.locator(`tr[data-metric="${SEED.privateMetric}"]`).count(), 1);
    const forged = `${minted.access_token.slice(0, -4)}AAAA`;
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(`${BASE}/dashboard/#/signin`);
    await page.waitForSelector('main[data-ready=true]');
    await page.getByLabel('API key or OIDC access token').fill(forged);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('[data-testid=error-message]');
    assert.equal(await page.locator('[data-testid=signed-in-as]').count(), 0, 'a token whose signature fails is refused');
    await screenshot('sign-in-refused');
  });

  test('made no request outside the platform', () => {
    assert.deepEqual(foreignRequests, []);
  });
});
