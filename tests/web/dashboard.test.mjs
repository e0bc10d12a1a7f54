// The dashboard in headless Chromium (Debian's, driven by Playwright)
// against a real ledgerd serving a generated ledger.
//
// Environment: LEDGERD, LEDGERCTL (the binaries), ARTIFACTS (where the
// screenshots go), CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ARTIFACTS = process.env.ARTIFACTS || path.join(tmpdir(), 'dashboard-artifacts');
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const FROM = '2025-01-01', TO = '2026-01-01';

let dir, server, origin, browser;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dashboard-'));
  execFileSync(process.env.LEDGERCTL, ['generate', '--data', `${dir}/ledger`, '--referrals', '6000',
                                       '--from', '2023-01-01', '--to', '2026-03-01', '--seed', '3']);
  writeFileSync(`${dir}/tokens.json`, JSON.stringify({ tokens: [
    { name: 'regulator', role: 'regulator', sha256: sha256('regulator-token') },
  ] }));
  server = spawn(process.env.LEDGERD, ['--data', `${dir}/ledger`, '--tokens', `${dir}/tokens.json`,
                                       '--port', '0'],
                 { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let log = '';
    server.stdout.on('data', (d) => {
      log += d;
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`ledgerd exited (${code}): ${log}`)));
  });
  origin = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function api(target, token) {
  const res = await fetch(origin + target, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, target);
  return res.json();
}

// A page that records requests to any other origin and script errors.
async function openPage() {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
  const elsewhere = [], errors = [];
  page.on('request', (r) => { if (!r.url().startsWith(origin + '/')) elsewhere.push(r.url()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(origin + '/');
  return { page, elsewhere, errors };
}

async function showPeriod(page, token) {
  await page.fill('#token', token);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#period-form:not([hidden])');
  await page.fill('#from', FROM);
  await page.fill('#to', TO);
  await page.click('#period-form button[type=submit]');
}

test('the funnel plot has a point per area with decisions, flagged as /v1/fairness flags them', async () => {
  const { page, elsewhere, errors } = await openPage();
  await showPeriod(page, 'regulator-token');
  // (Waiting on selectors, not functions: the page's policy forbids eval.)
  await page.locator('#summary', { hasText: `${FROM} to ${TO}` }).waitFor();
  const view = await api(`/v1/fairness?from=${FROM}&to=${TO}`, 'regulator-token');
  const areas = Object.entries(view.areas);
  const withDecisions = areas.filter(([, a]) => a.decisions > 0);
  const points = await page.$$eval('#funnel circle',
                                   (cs) => cs.map((c) => [c.dataset.area, c.getAttribute('class')]));
  assert.equal(points.length, withDecisions.length);
  assert.ok(points.length > 100, `${points.length} points`);
  const outside = (list) => list.filter(([, flag]) => flag !== 'within').map(([c]) => c).sort();
  const apiOutside = outside(withDecisions.map(([code, a]) => [code, a.funnel.flag]));
  assert.ok(apiOutside.length > 0, 'the generated ledger has areas outside the limits');
  assert.deepEqual(outside(points), apiOutside);
  // The table holds every area, its flagged rows as the plot.
  assert.equal(await page.locator('#areas tbody tr').count(), areas.length);
  const rowFlags = await page.$$eval('#areas tbody tr', (rs) => rs.map((r) => [r.dataset.area, r.className]));
  assert.deepEqual(outside(rowFlags.filter(([code]) => view.areas[code].decisions > 0)), apiOutside);
  // The as_of and the signed head it was computed at are shown.
  const provenance = await page.textContent('#provenance');
  assert.ok(provenance.includes(view.tree_head.root_hash), provenance);
  // Keyboard: a point takes focus and tells its figures.
  await page.focus('#funnel circle');
  assert.match(await page.textContent('#point-detail'), /refusal rate .* of .* decisions/);
  // Sorting by decisions, ascending then descending.
  await page.click('#areas th:nth-child(3) button');
  const first = await page.getAttribute('#areas tbody tr:first-child', 'data-area');
  const most = withDecisions.reduce((m, e) => (e[1].decisions > m[1].decisions ? e : m));
  assert.equal(view.areas[first].decisions, most[1].decisions);
  await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(errors, []);
});

test('clicking an area opens its page, with figures equal to the API\'s', async () => {
  const { page, elsewhere, errors } = await openPage();
  await showPeriod(page, 'regulator-token');
  await page.waitForSelector('#overview:not([hidden])');
  await page.waitForSelector('#status:empty', { state: 'attached' });  // empty: not "visible"
  // The first row once sorted by decisions, most first: an area with data.
  await page.click('#areas th:nth-child(3) button');
  const code = await page.getAttribute('#areas tbody tr:first-child', 'data-area');
  await page.click('#areas tbody tr:first-child th a');
  await page.waitForSelector('#area:not([hidden])');
  const fair = await api(`/v1/areas/${code}/fairness?from=${FROM}&to=${TO}`, 'regulator-token');
  const a = fair.areas[code];
  assert.ok((await page.textContent('#area-title')).includes(code));
  const figure = (name) => page.textContent(`#area-headline dd[data-figure="${name}"]`);
  assert.equal(await figure('First decisions'), a.decisions.toLocaleString('en-GB'));
  assert.equal(await figure('Refused'), a.refused.toLocaleString('en-GB'));
  assert.ok((await figure('Refusal rate (95% interval)')).startsWith((100 * a.refusal_rate).toFixed(1) + '%'));
  // Twelve months, whose decisions add up to the year's.
  const months = await page.$$eval('#area-months tbody tr', (rs) => rs.map((r) => r.children[1].textContent));
  assert.equal(months.length, 12);
  assert.equal(months.map((t) => Number(t.replace(/,/g, ''))).reduce((x, y) => x + y, 0), a.decisions);
  // Reasons: the area's refusal counts as the API has them.
  const reasons = await page.$$eval('#area-reasons tbody tr', (rs) => rs.map((r) => r.children[1].textContent));
  assert.deepEqual(reasons.map((t) => Number(t.replace(/,/g, ''))), Object.values(a.refusals_by_reason));
  assert.ok(await page.locator('#area-equality tbody tr').count() > 0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'area.png'), fullPage: true });
  // Back to the overview.
  await page.click('a[href="#/"]');
  await page.waitForSelector('#overview:not([hidden])');
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(errors, []);
});

test('a token the server does not know gets a clear message and no figures', async () => {
  const { page, errors } = await openPage();
  await showPeriod(page, 'not-a-token');
  await page.waitForSelector('#status.status-error');
  assert.match(await page.textContent('#status'), /the bearer token is not known/);
  assert.equal(await page.isHidden('#overview'), true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'unknown-token.png') });
  assert.deepEqual(errors, []);
});
