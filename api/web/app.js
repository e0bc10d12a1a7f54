// The dashboard: plain JavaScript over the same API and credentials as any
// other client. Nothing is fetched from anywhere but this server.
'use strict';

const TOKEN_KEY = 'rehab-ledger-token';
const SVG_NS = 'http://www.w3.org/2000/svg';  // a namespace name, never fetched
const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem(TOKEN_KEY); }

// GET a JSON answer; a problem+json answer becomes an Error with its detail.
async function api(path) {
  const res = await fetch(path, { headers: { Authorization: 'Bearer ' + token() } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const fields = (body.errors || []).map((e) => e.field + ' ' + e.message).join('; ');
    const err = new Error((body.detail || res.statusText) + (fields ? ' (' + fields + ')' : ''));
    err.status = res.status;
    throw err;
  }
  return body;
}

function setStatus(text, isError) {
  const s = $('status');
  s.textContent = text;
  s.className = isError ? 'status-error' : '';
}

const pct = (p) => (p === null || p === undefined ? '–' : (100 * p).toFixed(1) + '%');
const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-GB'));

function el(name, attrs, text) {
  const e = document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// The funnel plot: x the number of decisions, y the refusal rate.
function drawFunnel(view, rows) {
  const W = 900, H = 460, L = 72, R = 20, T = 20, B = 50;
  const p0 = view.p0;
  // Room to the right of the largest area, so that its point is not on the edge.
  const maxN = Math.ceil(Math.max(10, ...rows.map((r) => r.n)) * (rows.length < 5 ? 1.5 : 1.05));
  const x = (n) => L + (n / maxN) * (W - L - R);
  const y = (p) => T + (1 - p) * (H - T - B);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img',
                             'aria-labelledby': 'funnel-title funnel-desc' });
  const flagged = rows.filter((r) => r.flag !== 'within' && r.flag !== 'no_decisions');
  svg.append(svgEl('title', { id: 'funnel-title' }, 'Funnel plot of refusal rates by area'));
  svg.append(svgEl('desc', { id: 'funnel-desc' },
    `${rows.length} areas with decisions; England's rate ${pct(p0)}; ` +
    `${flagged.length} outside the 95% limits: ` +
    (flagged.map((r) => `${r.name} ${pct(r.p)} (${r.flag})`).join(', ') || 'none') + '.'));
  // Axes and grid.
  const axis = svgEl('g', { class: 'axis' });
  for (let p = 0; p <= 1.0001; p += 0.2) {
    axis.append(svgEl('line', { x1: L, x2: W - R, y1: y(p), y2: y(p), 'stroke-opacity': 0.25 }));
    axis.append(svgEl('text', { x: L - 8, y: y(p) + 4, 'text-anchor': 'end' }, pct(p)));
  }
  const step = Math.max(1, Math.ceil(maxN / 8 / 10) * 10);
  for (let n = 0; n <= maxN; n += step) {
    axis.append(svgEl('text', { x: x(n), y: H - B + 18, 'text-anchor': 'middle' }, num(n)));
  }
  axis.append(svgEl('text', { x: (L + W - R) / 2, y: H - 8, 'text-anchor': 'middle' },
                    'Decisions in the period'));
  axis.append(svgEl('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle',
                              transform: `rotate(-90 14 ${(T + H - B) / 2})` }, 'Refusal rate'));
  svg.append(axis);
  // England's rate and the control limits, clipped to [0, 1].
  if (p0 !== null && p0 !== undefined) {
    svg.append(svgEl('line', { class: 'england', x1: L, x2: W - R, y1: y(p0), y2: y(p0) }));
    for (const [k, cls] of [[1.959964, 'limit95'], [3.090232, 'limit998']]) {
      for (const sign of [1, -1]) {
        const pts = [];
        for (let i = 1; i <= 200; i++) {
          const n = 1 + (maxN - 1) * (i / 200) ** 2;
          const lim = Math.min(1, Math.max(0, p0 + sign * k * Math.sqrt(p0 * (1 - p0) / n)));
          pts.push(`${x(n).toFixed(1)},${y(lim).toFixed(1)}`);
        }
        svg.append(svgEl('polyline', { class: cls, points: pts.join(' ') }));
      }
    }
  }
  // One point per area with decisions, each reachable by keyboard.
  for (const r of rows) {
    const outside = r.flag !== 'within';
    const label = `${r.name} (${r.code}): refusal rate ${pct(r.p)} of ${num(r.n)} decisions, ` +
                  `95% interval ${pct(r.ci[0])} to ${pct(r.ci[1])}, ${r.flag.replace(/_/g, ' ')}`;
    const c = svgEl('circle', { cx: x(r.n), cy: y(r.p), r: outside ? 6 : 4, class: r.flag,
                                tabindex: 0, 'aria-label': label, 'data-area': r.code });
    c.append(svgEl('title', {}, label));
    const show = () => { $('point-detail').textContent = label; };
    const open = () => { location.hash = `#/area/${r.code}`; };
    c.addEventListener('focus', show);
    c.addEventListener('mouseenter', show);
    c.addEventListener('click', open);
    c.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') open(); });
    svg.append(c);
  }
  $('funnel').replaceChildren(svg);
}

// The areas table, sortable by any column.
const COLUMNS = [
  { key: 'name', label: 'Area' },
  { key: 'code', label: 'Code' },
  { key: 'n', label: 'Decisions', num: true },
  { key: 'p', label: 'Refusal rate (95% interval)', num: true,
    show: (r) => `${pct(r.p)} (${pct(r.ci[0])}–${pct(r.ci[1])})` },
  { key: 'flag', label: 'Funnel flag', show: (r) => r.flag.replace(/_/g, ' ') },
  { key: 'per100k', label: 'Placements per 100,000', num: true,
    show: (r) => (r.per100k === null ? '–' : r.per100k.toFixed(1)) },
];
let sortKey = 'p', sortDir = -1;

function drawTable(rows) {
  const headRow = document.querySelector('#areas thead tr');
  headRow.replaceChildren(...COLUMNS.map((col) => {
    const th = el('th', { scope: 'col', class: col.num ? 'num' : '' });
    if (col.key === sortKey) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
    const b = el('button', { type: 'button' }, col.label);
    b.addEventListener('click', () => {
      sortDir = col.key === sortKey ? -sortDir : (col.num ? -1 : 1);
      sortKey = col.key;
      drawTable(rows);
      document.querySelector(`#areas th[aria-sort] button`).focus();
    });
    th.append(b);
    return th;
  }));
  const sorted = [...rows].sort((a, b) => {
    const u = a[sortKey], v = b[sortKey];
    if (u === v) return a.name.localeCompare(b.name);
    if (u === null || u === undefined) return 1;
    if (v === null || v === undefined) return -1;
    return (u < v ? -1 : 1) * sortDir;
  });
  document.querySelector('#areas tbody').replaceChildren(...sorted.map((r) => {
    const tr = el('tr', { class: r.flag, 'data-area': r.code });
    for (const col of COLUMNS) {
      if (col.key === 'name') {
        const th = el('th', { scope: 'row' });
        th.append(el('a', { href: `#/area/${r.code}` }, r.name));
        tr.append(th);
      } else {
        tr.append(el('td', { class: col.num ? 'num' : '' }, col.show ? col.show(r) : String(r[col.key])));
      }
    }
    return tr;
  }));
}

function periodParams() {
  const form = $('period-form');
  const params = new URLSearchParams({ from: form.from.value, to: form.to.value });
  if (form.as_of.value.trim()) params.set('as_of', form.as_of.value.trim());
  return params;
}

function fillTable(id, rows) {
  document.querySelector(`#${id} tbody`).replaceChildren(...rows.map((cells) => {
    const tr = el('tr');
    cells.forEach((c, i) => {
      const isNum = typeof c === 'number' || (typeof c === 'string' && /^[–\d.,%() ]+$/.test(c));
      tr.append(i === 0 ? el('th', { scope: 'row' }, String(c))
                        : el('td', { class: isNum ? 'num' : '' }, typeof c === 'number' ? num(c) : c));
    });
    return tr;
  }));
}

function drawMonths(rows) {
  const W = 900, H = 260, L = 60, R = 20, T = 15, B = 40;
  const x = (i) => L + (rows.length < 2 ? 0 : (i / (rows.length - 1)) * (W - L - R));
  const y = (p) => T + (1 - p) * (H - T - B);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img',
                             'aria-label': 'Refusal rate by month, the area against England; the table below holds the figures' });
  const axis = svgEl('g', { class: 'axis' });
  for (let p = 0; p <= 1.0001; p += 0.25) {
    axis.append(svgEl('line', { x1: L, x2: W - R, y1: y(p), y2: y(p), 'stroke-opacity': 0.25 }));
    axis.append(svgEl('text', { x: L - 8, y: y(p) + 4, 'text-anchor': 'end' }, pct(p)));
  }
  rows.forEach((r, i) => {
    if (i % Math.ceil(rows.length / 12) === 0) {
      axis.append(svgEl('text', { x: x(i), y: H - B + 18, 'text-anchor': 'middle' }, r.month.slice(0, 7)));
    }
  });
  svg.append(axis);
  const line = (key, cls) => {
    const pts = rows.map((r, i) => (r[key] === null ? null : `${x(i).toFixed(1)},${y(r[key]).toFixed(1)}`))
                    .filter(Boolean);
    if (pts.length) svg.append(svgEl('polyline', { class: cls, points: pts.join(' ') }));
  };
  line('england', 'england-line');
  line('area', 'area-line');
  rows.forEach((r, i) => {
    if (r.area !== null) {
      const c = svgEl('circle', { class: 'area-point', cx: x(i), cy: y(r.area), r: 3.5 });
      c.append(svgEl('title', {}, `${r.month.slice(0, 7)}: ${pct(r.area)} of ${r.n} decisions`));
      svg.append(c);
    }
  });
  $('area-months-chart').replaceChildren(svg);
}

async function showArea(code) {
  const g = generation;
  if (!inScope(code)) {
    showOnly(null);
    return setStatus(`Area ${code} is outside this credential's areas (${me.areas.join(', ')}).`, true);
  }
  const params = periodParams();
  setStatus('Loading…');
  try {
    const fair = await api(`/v1/areas/${encodeURIComponent(code)}/fairness?${params}`);
    // Every further call is pinned to the same seq, so the page is one moment.
    const pinned = new URLSearchParams(params);
    pinned.set('as_of', String(fair.as_of_seq));
    const [waits, refusals] = await Promise.all([
      api(`/v1/areas/${encodeURIComponent(code)}/waiting-times?${pinned}`),
      api(`/v1/refusals?area=${encodeURIComponent(code)}&${pinned}`),
    ]);
    const a = fair.areas[code], e = fair.england;
    $('area-title').textContent = `${a.name || code} (${code})${a.region ? ', ' + a.region : ''}`;
    const head = fair.tree_head || {};
    $('area-provenance').textContent =
      `${fair.from} to ${fair.to}, as of seq ${num(fair.as_of_seq)} · signed tree head root ` +
      `${head.root_hash || '–'}`;
    const headline = [
      ['Referrals', num(a.referrals)],
      ['First decisions', num(a.decisions)],
      ['Refused', num(a.refused)],
      ['Refusal rate (95% interval)', a.refusal_rate === null ? '–' :
        `${pct(a.refusal_rate)} (${pct(a.refusal_rate_ci95[0])}–${pct(a.refusal_rate_ci95[1])})`],
      ["England's refusal rate", pct(e.refusal_rate)],
      ['Funnel flag', a.funnel ? a.funnel.flag.replace(/_/g, ' ') : 'no decisions'],
      ['Overturned on appeal', num(a.overturned_on_appeal)],
      ['Placements per 100,000', a.placements_per_100k == null ? '–' : a.placements_per_100k.toFixed(1)],
    ];
    $('area-headline').replaceChildren(...headline.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-figure': k }, v)]));

    // By month: the trend (SPEC §11), each month's figures as the view
    // asked for that month alone, at the same seq; by year past 240 months.
    let monthRows = [];
    if (fair.from && fair.to) {
      const spanMonths = (Number(fair.to.slice(0, 4)) - Number(fair.from.slice(0, 4))) * 12 +
        Number(fair.to.slice(5, 7)) - Number(fair.from.slice(5, 7));
      const q = new URLSearchParams({ from: fair.from, to: fair.to, as_of: String(fair.as_of_seq),
                                      interval: spanMonths > 240 ? 'year' : 'month' });
      const trend = await api(`/v1/areas/${encodeURIComponent(code)}/trend?${q}`);
      monthRows = trend.periods.map((p) => ({
        month: p.from, n: p.decisions,
        area: p.decisions ? p.refusal_rate : null,
        england: p.england.decisions ? p.england.refusal_rate : null,
      }));
    }
    if (!current(g)) return;
    drawMonths(monthRows);
    fillTable('area-months', monthRows.map((r) => [r.month.slice(0, 7), r.n, pct(r.area), pct(r.england)]));

    const reasons = Object.keys(e.refusals_by_reason);
    fillTable('area-reasons', reasons.map((k) => [
      k.replace(/_/g, ' '), a.refusals_by_reason[k],
      pct(a.refused ? a.refusals_by_reason[k] / a.refused : null),
      pct(e.refused ? e.refusals_by_reason[k] / e.refused : null)]));

    const eq = [];
    for (const [grouping, groups] of Object.entries(a.equality || {})) {
      for (const [g, f] of Object.entries(groups)) {
        eq.push([grouping.replace(/_/g, ' '), g.replace(/_/g, ' '), f.decisions, pct(f.approval_rate),
                 f.disparity_ratio == null ? '–' : f.disparity_ratio.toFixed(2),
                 f.four_fifths_flag ? 'yes' : 'no']);
      }
    }
    fillTable('area-equality', eq);

    const w = waits.areas[code], we = waits.england;
    // Over 3 and 18 weeks: the view's counts for open pathways, the by_week
    // bands' sums for the others (the same strict thresholds).
    const waitRow = (label, where, s) => [
      label, where, s.n ?? s.count, s.median ?? '–', s.p92 ?? '–', s.max ?? '–',
      s.over_21 ?? weeksOver(s.by_week, 3), s.over_126 ?? weeksOver(s.by_week, 18)];
    drawWeeks('area-waits-completed', `Completed pathways in ${a.name || code}: weeks from referral to start`,
              w.completed.by_week, w.completed.n);
    drawWeeks('area-waits-open', `Open pathways in ${a.name || code} on ${waits.at.slice(0, 10)}: weeks waited so far`,
              w.open.by_week, w.open.count);
    fillTable('area-waits', [
      waitRow('Placed (referral to start)', 'area', w.completed), waitRow('Placed (referral to start)', 'England', we.completed),
      waitRow('First decision', 'area', w.decisions), waitRow('First decision', 'England', we.decisions),
      waitRow('Still open', 'area', w.open), waitRow('Still open', 'England', we.open)]);

    const deciders = Object.entries(refusals.by_decided_by).filter(([, n]) => n > 0)
      .sort((p, q) => q[1] - p[1] || p[0].localeCompare(q[0])).slice(0, 10);
    fillTable('area-deciders', deciders);

    showOnly('area');
    setStatus('');
  } catch (err) {
    // No figures of another question stay on the page beside the error.
    if (current(g)) { showOnly(null); setStatus(`Could not load area ${code}: ${err.message}`, true); }
  }
}

// How many waits of the by_week bands are over `k` weeks.
const weeksOver = (bands, k) => bands.slice(k).reduce((x, y) => x + y, 0);

// A distribution of waits by week (the by_week bands of the waiting-times
// view: band k holds waits over k and up to k+1 weeks, the last over 52),
// with the 3- and 18-week marks.
function drawWeeks(id, title, bands, total) {
  const W = 900, H = 220, L = 50, R = 20, T = 28, B = 40;
  const max = Math.max(1, ...bands);
  const bw = (W - L - R) / bands.length;
  const x = (k) => L + k * bw;
  const y = (n) => T + (1 - n / max) * (H - T - B);
  const over = (k) => weeksOver(bands, k);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `${title}: ${num(total)} pathways, ${num(over(3))} over 3 weeks and ` +
                  `${num(over(18))} over 18 weeks` });
  svg.append(svgEl('text', { x: L, y: 16, class: 'chart-title' }, title));
  const axis = svgEl('g', { class: 'axis' });
  axis.append(svgEl('line', { x1: L, x2: W - R, y1: y(0), y2: y(0) }));
  axis.append(svgEl('text', { x: L - 8, y: y(max) + 4, 'text-anchor': 'end' }, num(max)));
  axis.append(svgEl('text', { x: L - 8, y: y(0) + 4, 'text-anchor': 'end' }, '0'));
  for (const k of [0, 13, 26, 39, 52]) {
    axis.append(svgEl('text', { x: x(k) + bw / 2, y: H - B + 16, 'text-anchor': 'middle' },
                      k === 52 ? '52+' : String(k)));
  }
  axis.append(svgEl('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle' }, 'Weeks waited'));
  svg.append(axis);
  bands.forEach((n, k) => {
    if (!n) return;
    const bar = svgEl('rect', { class: k >= 18 ? 'bar over18' : k >= 3 ? 'bar over3' : 'bar',
                                x: x(k) + 1, width: Math.max(1, bw - 2), y: y(n), height: y(0) - y(n) });
    bar.append(svgEl('title', {}, `${k === 52 ? 'over 52' : `${k}–${k + 1}`} weeks: ${num(n)}`));
    svg.append(bar);
  });
  for (const [k, label] of [[3, '3 weeks'], [18, '18 weeks']]) {
    svg.append(svgEl('line', { class: 'mark', x1: x(k), x2: x(k), y1: T - 4, y2: y(0) }));
    svg.append(svgEl('text', { class: 'mark-label', x: x(k) + 4, y: T + 8 },
                     `${label}: ${num(over(k))} over`));
  }
  $(id).replaceChildren(svg);
}

// The referral page: its timeline, each event with its seq and hash, and
// each event's inclusion proof checked here, in the browser (verify.js),
// against the signed head the page was computed at.
async function showReferral(id) {
  const g = generation;
  setStatus('Loading…');
  try {
    const q = new URLSearchParams();
    const asOf = $('period-form').as_of.value.trim();
    if (asOf) q.set('as_of', asOf);
    const view = await api(`/v1/referrals/${encodeURIComponent(id)}${asOf ? '?' + q : ''}`);
    if (!current(g)) return;
    const head = view.tree_head;
    $('referral-title').textContent = `Referral ${view.referral_id}`;
    $('referral-provenance').textContent =
      `As of seq ${num(view.as_of_seq)} · signed tree head of ${num(head.size)} events, root ` +
      `${head.root_hash}, signed ${head.timestamp || '–'}`;
    const days = (d) => (d === null || d === undefined ? '–' : `${num(d)} days`);
    const headline = [
      ['State', view.state.replace(/_/g, ' ')],
      ['Area', view.area],
      ['First decision', view.first_decision ? view.first_decision.replace(/_/g, ' ') : 'none yet'],
      ['Overturned on appeal', view.overturned_on_appeal ? 'yes' : 'no'],
      ['Referral to first decision', days(view.decision_wait_days)],
      ['Referral to start', days(view.start_wait_days)],
      ['Waiting so far', days(view.waiting_days)],
    ];
    $('referral-headline').replaceChildren(...headline.flatMap(([k, v]) =>
      [el('dt', {}, k), el('dd', { 'data-figure': k }, v)]));
    const cells = new Map();
    $('referral-events').querySelector('tbody').replaceChildren(...view.events.map((e) => {
      const tr = el('tr', { 'data-seq': String(e.seq) });
      tr.append(el('th', { scope: 'row', class: 'num' }, String(e.seq)));
      tr.append(el('td', {}, e.type));
      tr.append(el('td', {}, e.occurred_at));
      tr.append(el('td', {}, `${e.recorded_at} by ${e.actor}`));
      tr.append(el('td', { class: 'data' }, Object.entries(e.data)
        .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('; ')));
      const hash = el('td', { class: 'hash' });
      hash.append(el('code', {}, e.hash));
      tr.append(hash);
      const proof = el('td', { class: 'proof', 'data-proof': 'checking' }, 'checking…');
      cells.set(e.seq, proof);
      tr.append(proof);
      return tr;
    }));
    const verdict = $('referral-verdict');
    verdict.textContent = 'Checking the proofs…';
    verdict.dataset.verdict = 'checking';
    showOnly('referral');
    setStatus('');

    // Every event's proof against the head of as_of_seq, checked here.
    $('referral-key').textContent = '';
    const problems = [];
    let key = null;
    try {
      if (!globalThis.crypto || !crypto.subtle) {
        throw new Error('this browser offers Web Crypto only to https or localhost pages');
      }
      const ledgerHead = await api('/v1/ledger/head');
      key = await LedgerProof.importKey(ledgerHead.public_key_pem);
      $('referral-key').textContent = `Ledger key (Ed25519) fingerprint, SHA-256: ${key.fingerprint}`;
    } catch (err) {
      problems.push('the ledger key could not be used: ' + err.message);
    }
    await Promise.all(view.events.map(async (e) => {
      let result;
      if (!key) {
        result = { ok: false, problems: ['no ledger key'] };
      } else {
        try {
          const proof = await api(`/v1/ledger/proof/inclusion?seq=${e.seq}&size=${view.as_of_seq}`);
          result = await LedgerProof.checkInclusion(proof, e.hash, head, key.key);
        } catch (err) {
          result = { ok: false, problems: ['no proof: ' + err.message] };
        }
      }
      if (!current(g)) return;
      const cell = cells.get(e.seq);
      cell.dataset.proof = result.ok ? 'verified' : 'not-verified';
      cell.textContent = result.ok ? 'verified' : 'not verified: ' + result.problems.join('; ');
      for (const p of result.problems) problems.push(`seq ${e.seq}: ${p}`);
    }));
    if (!current(g)) return;
    const witnessed = $('referral-witnessed');
    witnessed.dataset.witnessed = 'checking';
    witnessed.textContent = 'Checking against the witnessed checkpoint…';
    const w = await checkWitnessed(view.events);
    if (!current(g)) return;
    witnessed.dataset.witnessed = w.state;
    witnessed.textContent = w.text;
    const ok = problems.length === 0;
    verdict.dataset.verdict = ok ? 'verified' : 'not-verified';
    verdict.textContent = ok
      ? `Verified: all ${view.events.length} events are in the ledger's signed tree of ` +
        `${num(head.size)} events, with the chain hashes shown (checked in this browser).`
      : `Not verified: ${problems.join('; ')}.`;
  } catch (err) {
    if (!current(g)) return;
    showOnly(null);
    // A referral outside the credential's scope is answered as one that
    // does not exist (its existence is not revealed), so both read alike.
    setStatus(err.status === 404
      ? `No referral ${id} among those this credential may see.`
      : `Could not load referral ${id}: ${err.message}`, true);
  }
}

// The referral's events checked against the checkpoint that the ledger's
// witnesses cosigned (SPEC §9): the checkpoint's signature with the log's
// verifier key, each named witness's cosignature, the quorum, and each
// event's inclusion in that checkpoint's tree, all in this browser. The
// witnesses' keys come from /v1/ledger/head and are shown, to compare with
// the ones a reader holds. Returns { state, text }.
async function checkWitnessed(events) {
  try {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new Error('this browser offers Web Crypto only to https or localhost pages');
    }
    const head = await api('/v1/ledger/head');
    if (!head.witnesses) {
      return { state: 'none', text: 'This ledger names no witnesses: its checkpoints are signed ' +
                                    'by the ledger alone.' };
    }
    const res = await fetch('/log/checkpoint', { cache: 'no-store' });
    if (res.status !== 200) {
      return { state: 'not-witnessed', text: 'Not witnessed: no checkpoint has the witnesses\' ' +
                                             'quorum yet.' };
    }
    const note = LedgerProof.parseNote(await res.text());
    const checkpoint = LedgerProof.parseCheckpoint(note.text);
    const problems = [];
    const logKey = await LedgerProof.importVkey(head.vkey, 1);
    if (checkpoint.origin !== logKey.name) problems.push('the checkpoint is of another log');
    if (!(await LedgerProof.noteSigned(note, logKey))) {
      problems.push('the checkpoint\'s signature does not verify with the log\'s key');
    }
    const cosigners = [];
    for (const w of head.witnesses) {
      const key = await LedgerProof.importVkey(w.vkey, 4);
      const time = await LedgerProof.cosignedBy(note, key);
      if (time !== null) {
        cosigners.push(`${w.name} (${key.name}, ${new Date(time * 1000).toISOString()})`);
      }
    }
    if (cosigners.length < head.witness_quorum) {
      problems.push(`${cosigners.length} of the ${head.witness_quorum} cosignatures required`);
    }
    const inside = events.filter((e) => e.seq <= checkpoint.size);
    await Promise.all(inside.map(async (e) => {
      const proof = await api(`/v1/ledger/proof/inclusion?seq=${e.seq}&size=${checkpoint.size}`);
      const bytes = LedgerProof.fromHex(proof.leaf);
      const link = await crypto.subtle.digest('SHA-256', new Uint8Array(
        [...LedgerProof.fromHex(proof.prev_hash), ...bytes]));
      if (LedgerProof.toHex(new Uint8Array(link)) !== e.hash) {
        problems.push(`seq ${e.seq}: its bytes do not give its chain hash`);
      }
      const root = await LedgerProof.rootFromPath(e.seq - 1, checkpoint.size,
                                                  await LedgerProof.leafHash(bytes),
                                                  proof.audit_path.map(LedgerProof.fromHex));
      if (!root || LedgerProof.toHex(root) !== checkpoint.root) {
        problems.push(`seq ${e.seq}: not in the witnessed tree`);
      }
    }));
    if (problems.length) return { state: 'not-witnessed', text: `Not witnessed: ${problems.join('; ')}.` };
    const later = events.length - inside.length;
    return {
      state: 'witnessed',
      text: `Witnessed: ${inside.length} of the ${events.length} events are in the checkpoint ` +
            `of ${num(checkpoint.size)} events that ${cosigners.join(', ')} cosigned ` +
            `(${head.witness_quorum} of ${head.witnesses.length} required), checked in this ` +
            `browser.` + (later ? ` ${later} newer events are not witnessed yet.` : ''),
    };
  } catch (err) {
    return { state: 'not-witnessed', text: `Could not check against the witnesses: ${err.message}.` };
  }
}

// Each navigation or Show supersedes the ones before: an answer that comes
// back after a newer request was made is dropped.
let generation = 0;
const current = (g) => g === generation;

// The credential's role and scope (GET /v1/me), asked once per token.
let me = null;
const isPartnership = () => me && me.role === 'partnership';
const inScope = (code) => !isPartnership() || me.areas.includes(code);

function showOnly(id) {
  for (const s of ['overview', 'area', 'referral']) $(s).hidden = s !== id;
}

async function route() {
  if (!token()) return;
  generation += 1;
  const g = generation;
  if (!me) {
    try {
      me = await api('/v1/me');
    } catch (err) {
      if (current(g)) {
        // Forget it and ask again: another token can be typed at once.
        sessionStorage.removeItem(TOKEN_KEY);
        showForms();
        setStatus('Could not use this token: ' + err.message + ' Type another.', true);
      }
      return;
    }
    if (!current(g)) return;
    $('scope').textContent = scopeText();
  }
  const referral = location.hash.match(/^#\/referral\/(.+)$/);
  if (referral) return showReferral(decodeURIComponent(referral[1]));
  const m = location.hash.match(/^#\/area\/([A-Za-z0-9]+)$/);
  if (m) return showArea(m[1]);
  return showOverview();
}

function scopeText() {
  if (me.role === 'partnership') {
    return `Signed in as ${me.actor}: your areas (${me.areas.join(', ')}) against England.`;
  }
  if (me.role === 'provider') {
    return `Signed in as ${me.actor}: referrals offered to or placed with ${me.providers.join(', ')}.`;
  }
  return `Signed in as ${me.actor}.`;
}

async function showOverview() {
  const g = generation;
  if (me.role !== 'regulator' && me.role !== 'partnership') {
    showOnly(null);
    // What each other role can do here instead (docs/API.md, "Who may do what").
    return setStatus(me.role === 'auditor'
      ? 'An auditor credential checks the ledger itself, not its figures or referrals: the event ' +
        'feed (/v1/events), the signed heads and proofs (/v1/ledger/...), the checkpoint and tiles ' +
        '(/log/...), with ledgerctl proof and verify.'
      : 'A provider credential reads the referrals offered to or placed with its providers, not ' +
        'area views: open a referral by its id.');
  }
  const params = periodParams();
  setStatus('Loading…');
  try {
    const view = await api('/v1/fairness?' + params);
    if (!current(g)) return;
    // A partnership sees its own areas, against England's rate and limits.
    const rows = Object.entries(view.areas).filter(([code]) => inScope(code)).map(([code, a]) => ({
      code, name: a.name || code, n: a.decisions, p: a.refusal_rate,
      ci: a.refusal_rate_ci95 || [null, null], flag: a.funnel ? a.funnel.flag : 'no_decisions',
      per100k: a.placements_per_100k ?? null,
    }));
    const withDecisions = rows.filter((r) => r.n > 0);
    const head = view.tree_head || {};
    $('provenance').textContent =
      `As of seq ${num(view.as_of_seq)} · signed tree head of ${num(head.size)} events, ` +
      `root ${head.root_hash || '–'}, signed ${head.timestamp || '–'}`;
    const e = view.england;
    $('summary').textContent =
      `England, ${view.from} to ${view.to}: ${num(e.decisions)} first decisions, ` +
      `${num(e.refused)} refused (${pct(e.refusal_rate)}); ` +
      `${withDecisions.filter((r) => r.flag.startsWith('above')).length} ` +
      `${isPartnership() ? 'of your areas' : 'areas'} above and ` +
      `${withDecisions.filter((r) => r.flag.startsWith('below')).length} below the 95% limits.`;
    $('overview-title').textContent = isPartnership() ? 'Your areas against England' : 'England overview';
    drawFunnel(view, withDecisions);
    drawTable(rows);
    showOnly('overview');
    setStatus('');
  } catch (err) {
    // A wrong as_of, say: the figures of the last good answer go too.
    if (current(g)) { showOnly(null); setStatus('Could not load the overview: ' + err.message, true); }
  }
}

function showForms() {
  const has = !!token();
  $('token-form').hidden = has;
  $('period-form').hidden = !has;
  $('referral-form').hidden = !has;
  if (!has) { me = null; $('scope').textContent = ''; showOnly(null); setStatus(''); }
}

document.addEventListener('DOMContentLoaded', () => {
  const year = new Date().getUTCFullYear();
  $('from').value = `${year - 1}-01-01`;
  $('to').value = `${year}-01-01`;
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    me = null;
    $('token').value = '';
    showForms();
    route();
  });
  $('period-form').addEventListener('submit', (ev) => { ev.preventDefault(); route(); });
  $('referral-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('referral-id').value.trim();
    if (!id) return;
    // The status line changes at once, so no earlier error stands for this
    // lookup's answer; the same id again looks it up again.
    setStatus('Loading…');
    const hash = '#/referral/' + encodeURIComponent(id);
    if (location.hash === hash) route();
    else location.hash = hash;
  });
  window.addEventListener('hashchange', route);
  $('forget').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); showForms(); });
  showForms();
  route();
});
