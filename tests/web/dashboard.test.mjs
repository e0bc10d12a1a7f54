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

let dir, server, witness, origin, browser;
// From the generated ledger: the partnership's area (the one with most
// referrals), a referral of it with the most events, and a referral of
// another area.
let ownArea, ownReferral, otherReferral;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dashboard-'));
  execFileSync(process.env.LEDGERCTL, ['generate', '--data', `${dir}/ledger`, '--referrals', '6000',
                                       '--from', '2023-01-01', '--to', '2026-03-01', '--seed', '3']);
  const events = execFileSync(process.env.LEDGERCTL, ['export', '--data', `${dir}/ledger`],
                              { maxBuffer: 1 << 30 }).toString().trim().split('\n').map(JSON.parse);
  const areaOf = new Map(), count = new Map(), perArea = new Map(), moved = new Set();
  for (const e of events) {
    if (e.type === 'record.corrected' && 'area' in e.data.fields) moved.add(e.referral_id);
    if (e.type === 'referral.received') {
      areaOf.set(e.referral_id, e.data.area);
      perArea.set(e.data.area, (perArea.get(e.data.area) || 0) + 1);
    }
    count.set(e.referral_id, (count.get(e.referral_id) || 0) + 1);
  }
  ownArea = [...perArea].sort((a, b) => b[1] - a[1])[0][0];
  ownReferral = [...count].filter(([id]) => areaOf.get(id) === ownArea && !moved.has(id))
    .sort((a, b) => b[1] - a[1])[0][0];
  otherReferral = [...areaOf].find(([id, area]) => area !== ownArea && !moved.has(id))[0];
  writeFileSync(`${dir}/tokens.json`, JSON.stringify({ tokens: [
    { name: 'regulator', role: 'regulator', sha256: sha256('regulator-token') },
    { name: 'own', role: 'partnership', areas: [ownArea], sha256: sha256('partnership-token') },
    { name: 'checker', role: 'auditor', sha256: sha256('auditor-token') },
  ] }));
  // A witness of the ledger (SPEC §9), so the referral page can check its
  // events against a cosigned checkpoint.
  const vkey = execFileSync(process.env.LEDGERCTL, ['key', '--data', `${dir}/ledger`]).toString().trim();
  witness = spawn(process.env.LEDGERCTL, ['witness', '--data', `${dir}/witness`, '--name',
                                          'witness.example/w1', '--listen', '127.0.0.1:0',
                                          '--log', vkey],
                  { stdio: ['ignore', 'pipe', 'inherit'] });
  const [witnessKey, witnessPort] = await new Promise((resolve, reject) => {
    let out = '';
    witness.stdout.on('data', (d) => {
      out += d;
      const key = out.match(/cosigner key: (\S+)\n/), port = out.match(/127\.0\.0\.1:(\d+)\/add/);
      if (key && port) resolve([key[1], port[1]]);
    });
    witness.on('exit', (code) => reject(new Error(`ledgerctl witness exited (${code}): ${out}`)));
  });
  server = spawn(process.env.LEDGERD, ['--data', `${dir}/ledger`, '--tokens', `${dir}/tokens.json`,
                                       '--port', '0', '--checkpoint-interval-ms', '100',
                                       '--witness', `w1,http://127.0.0.1:${witnessPort},${witnessKey}`],
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
  for (let i = 0; i < 100 && (await fetch(`${origin}/log/checkpoint`)).status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
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
  witness?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function api(target, token) {
  const res = await fetch(origin + target, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, target);
  return res.json();
}

// A page that records requests to any other origin, requests that fail
// (4xx, 5xx, or no answer) and script errors. (Headless Chromium asks for
// no favicon: the page's data: icon, which spares a real browser a 401 on
// /favicon.ico, is not tested here.)
async function openPage() {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
  const elsewhere = [], errors = [], failed = [];
  page.on('request', (r) => { if (!r.url().startsWith(origin + '/')) elsewhere.push(r.url()); });
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  page.on('requestfailed', (r) => failed.push(`failed ${r.url()}`));
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(origin + '/');
  return { page, elsewhere, errors, failed };
}

// Basic accessibility of what is shown: every chart an image with a text
// alternative, every visible field labelled, every point of the funnel
// reachable by keyboard.
async function assertAccessible(page, where) {
  const problems = await page.$$eval('body *', (els) => {
    const out = [];
    const shown = (e) => e.getClientRects().length > 0;
    for (const e of els) {
      if (!shown(e)) continue;
      if (e.tagName === 'svg' && !(e.getAttribute('role') === 'img' &&
          (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')))) out.push('chart without text');
      if (e.tagName === 'INPUT' && !(e.id && document.querySelector(`label[for="${e.id}"]`))) {
        out.push('unlabelled input ' + e.name);
      }
      if (e.tagName === 'circle' && e.dataset.area && e.getAttribute('tabindex') !== '0') {
        out.push('point not focusable ' + e.dataset.area);
      }
      if (e.tagName === 'TABLE' && !e.querySelector('caption')) out.push('table without caption ' + e.id);
    }
    return out;
  });
  assert.deepEqual(problems, [], where);
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
  const { page, elsewhere, errors, failed } = await openPage();
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
  await assertAccessible(page, 'overview');
  await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(errors, []);
  assert.deepEqual(failed, []);
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
  // The waiting-time distributions tell the API's 3- and 18-week counts.
  const waits = await api(`/v1/areas/${code}/waiting-times?from=${FROM}&to=${TO}`, 'regulator-token');
  const open = waits.areas[code].open;
  assert.ok(open.count > 0);
  const openLabel = await page.getAttribute('#area-waits-open svg', 'aria-label');
  assert.ok(openLabel.includes(`${open.count.toLocaleString('en-GB')} pathways, ` +
                               `${open.over_21.toLocaleString('en-GB')} over 3 weeks and ` +
                               `${open.over_126.toLocaleString('en-GB')} over 18 weeks`), openLabel);
  assert.equal(await page.locator('#area-waits-completed svg rect.bar').count(),
               waits.areas[code].completed.by_week.filter((n) => n > 0).length);
  await assertAccessible(page, 'area page');
  await page.screenshot({ path: path.join(ARTIFACTS, 'area.png'), fullPage: true });
  // Back to the overview.
  await page.click('a[href="#/"]');
  await page.waitForSelector('#overview:not([hidden])');
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(errors, []);
});

test('a token the server does not know gets a clear message and no figures, and another can be typed', async () => {
  const { page, errors } = await openPage();
  await page.fill('#token', 'not-a-token');
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#status.status-error');
  assert.match(await page.textContent('#status'), /the bearer token is not known/);
  assert.equal(await page.isHidden('#overview'), true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'unknown-token.png') });
  // The token form is back: the right token works at once.
  await page.waitForSelector('#token-form:not([hidden])');
  await showPeriod(page, 'regulator-token');
  await page.locator('#summary', { hasText: `${FROM} to ${TO}` }).waitFor();
  assert.equal(await page.isHidden('#overview'), false);
  // A wrong as_of clears the figures shown before, beside its error.
  await page.fill('#as-of', 'last tuesday');
  await page.click('#period-form button[type=submit]');
  await page.locator('#status.status-error', { hasText: 'as_of' }).waitFor();
  assert.equal(await page.isHidden('#overview'), true);
  assert.deepEqual(errors, []);
});

// Opens a referral through the lookup form.
async function openReferral(page, id) {
  await page.fill('#referral-id', id);
  await page.click('#referral-form button[type=submit]');
  await page.waitForSelector('#referral:not([hidden]), #status.status-error');
  if (await page.isHidden('#referral')) throw new Error(await page.textContent('#status'));
  await page.waitForSelector('#referral-verdict:not([data-verdict="checking"])');
}

test('a referral page shows each event with its seq and hash, its proofs verified in the browser', async () => {
  const { page, elsewhere, errors } = await openPage();
  await showPeriod(page, 'regulator-token');
  await openReferral(page, ownReferral);
  const view = await api(`/v1/referrals/${ownReferral}`, 'regulator-token');
  assert.ok(view.events.length >= 3, `${view.events.length} events`);
  const rows = await page.$$eval('#referral-events tbody tr', (rs) => rs.map((r) => ({
    seq: r.dataset.seq, hash: r.querySelector('td.hash').textContent,
    proof: r.querySelector('td.proof').dataset.proof })));
  assert.deepEqual(rows.map((r) => [Number(r.seq), r.hash]), view.events.map((e) => [e.seq, e.hash]));
  assert.deepEqual(rows.map((r) => r.proof), view.events.map(() => 'verified'));
  assert.equal(await page.getAttribute('#referral-verdict', 'data-verdict'), 'verified');
  assert.match(await page.textContent('#referral-verdict'), /^Verified/);
  // And against the checkpoint the witness cosigned, checked in the page.
  await page.waitForSelector('#referral-witnessed:not([data-witnessed="checking"])');
  assert.equal(await page.getAttribute('#referral-witnessed', 'data-witnessed'), 'witnessed',
               await page.textContent('#referral-witnessed'));
  assert.match(await page.textContent('#referral-witnessed'),
               /^Witnessed: \d+ of the \d+ events are in the checkpoint of [\d,]+ events that w1 \(witness\.example\/w1, \d{4}-/);
  assert.equal(await page.textContent('#referral-headline dd[data-figure="State"]'),
               view.state.replace(/_/g, ' '));
  assert.match(await page.textContent('#referral-key'), /fingerprint, SHA-256: [0-9a-f]{64}/);
  await assertAccessible(page, 'referral page');
  await page.screenshot({ path: path.join(ARTIFACTS, 'referral-verified.png'), fullPage: true });
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(errors, []);
});

test('a referral page shows "not verified" when a proof is tampered with', async () => {
  const view = await api(`/v1/referrals/${ownReferral}`, 'regulator-token');
  const target = view.events[1].seq;
  const flip = (hex) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  const tamperings = {
    'audit-path': (p) => { p.audit_path[0] = flip(p.audit_path[0]); },
    'event-bytes': (p) => { p.leaf = p.leaf.slice(0, -2) + (p.leaf.endsWith('00') ? '01' : '00'); },
    'signature': (p) => { p.tree_head.signature = flip(p.tree_head.signature); },
  };
  for (const [name, tamper] of Object.entries(tamperings)) {
    const { page, errors } = await openPage();
    // The server's answer for one event's proof is altered on its way to the page.
    await page.route('**/v1/ledger/proof/inclusion?*', async (route) => {
      const response = await route.fetch();
      const proof = await response.json();
      if (proof.seq === target) tamper(proof);
      await route.fulfill({ response, json: proof });
    });
    await showPeriod(page, 'regulator-token');
    await openReferral(page, ownReferral);
    assert.equal(await page.getAttribute('#referral-verdict', 'data-verdict'), 'not-verified', name);
    assert.match(await page.textContent('#referral-verdict'), new RegExp(`^Not verified: seq ${target}: `), name);
    const proofs = await page.$$eval('#referral-events td.proof', (cs) => cs.map((c) => c.dataset.proof));
    assert.deepEqual(proofs, view.events.map((e) => (e.seq === target ? 'not-verified' : 'verified')), name);
    await page.screenshot({ path: path.join(ARTIFACTS, `referral-tampered-${name}.png`), fullPage: true });
    assert.deepEqual(errors, [], name);
    await page.close();
  }
});

test('a partnership token sees its own areas and no other', async () => {
  const { page, elsewhere, errors } = await openPage();
  await showPeriod(page, 'partnership-token');
  await page.locator('#summary', { hasText: `${FROM} to ${TO}` }).waitFor();
  assert.match(await page.textContent('#scope'), new RegExp(`partnership:own: your areas \\(${ownArea}\\)`));
  const points = await page.$$eval('#funnel circle', (cs) => cs.map((c) => c.dataset.area));
  assert.deepEqual(points, [ownArea]);
  const rows = await page.$$eval('#areas tbody tr', (rs) => rs.map((r) => r.dataset.area));
  assert.deepEqual(rows, [ownArea]);
  // No other area's code or name anywhere on the page.
  const view = await api(`/v1/fairness?from=${FROM}&to=${TO}`, 'regulator-token');
  const text = await page.textContent('body');
  const shown = Object.entries(view.areas).filter(([code, a]) => code !== ownArea &&
    (text.includes(code) || (a.name && !view.areas[ownArea].name.includes(a.name) && text.includes(a.name))));
  assert.deepEqual(shown, []);
  // England's rate is there to compare with.
  assert.ok((await page.textContent('#summary')).includes(`${(100 * view.england.refusal_rate).toFixed(1)}%`));
  await page.screenshot({ path: path.join(ARTIFACTS, 'partnership-overview.png'), fullPage: true });
  // Its own area opens; another is refused without a figure shown.
  await page.click('#areas tbody tr:first-child th a');
  await page.waitForSelector('#area:not([hidden])');
  const other = Object.keys(view.areas).find((code) => code !== ownArea);
  await page.goto(`${origin}/#/area/${other}`);
  await page.waitForSelector('#status.status-error');
  assert.match(await page.textContent('#status'), new RegExp(`Area ${other} is outside this credential's areas`));
  assert.equal(await page.isHidden('#area'), true);
  assert.equal(await page.isHidden('#overview'), true);
  // Its own referral verifies; another area's is, to this credential, one
  // that does not exist.
  await openReferral(page, ownReferral);
  assert.equal(await page.getAttribute('#referral-verdict', 'data-verdict'), 'verified');
  await page.fill('#referral-id', otherReferral);
  await page.click('#referral-form button[type=submit]');
  await page.waitForSelector('#status.status-error');
  assert.match(await page.textContent('#status'),
    new RegExp(`No referral ${otherReferral} among those this credential may see`));
  assert.equal(await page.isHidden('#referral'), true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'partnership-out-of-scope.png'), fullPage: true });
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(errors, []);
});

test('an auditor is told what an auditor can do, and shown no figures', async () => {
  const { page, errors } = await openPage();
  await page.fill('#token', 'auditor-token');
  await page.click('#token-form button[type=submit]');
  await page.locator('#status', { hasText: 'auditor credential' }).waitFor();
  const status = await page.textContent('#status');
  assert.match(status, /event feed .*signed heads and proofs/);
  assert.doesNotMatch(status, /open a referral/);
  assert.equal(await page.locator('#funnel circle').count(), 0);
  assert.deepEqual(errors, []);
});
