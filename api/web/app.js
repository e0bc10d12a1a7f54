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
    throw new Error((body.detail || res.statusText) + (fields ? ' (' + fields + ')' : ''));
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
  const W = 900, H = 460, L = 60, R = 20, T = 20, B = 50;
  const p0 = view.p0;
  const maxN = Math.max(10, ...rows.map((r) => r.n));
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
    c.addEventListener('focus', show);
    c.addEventListener('mouseenter', show);
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
      tr.append(el(col.key === 'name' ? 'th' : 'td',
                   col.key === 'name' ? { scope: 'row' } : { class: col.num ? 'num' : '' },
                   col.show ? col.show(r) : String(r[col.key])));
    }
    return tr;
  }));
}

async function showOverview() {
  const form = $('period-form');
  const params = new URLSearchParams({ from: form.from.value, to: form.to.value });
  if (form.as_of.value.trim()) params.set('as_of', form.as_of.value.trim());
  setStatus('Loading…');
  try {
    const view = await api('/v1/fairness?' + params);
    const rows = Object.entries(view.areas).map(([code, a]) => ({
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
      `${withDecisions.filter((r) => r.flag.startsWith('above')).length} areas above and ` +
      `${withDecisions.filter((r) => r.flag.startsWith('below')).length} below the 95% limits.`;
    drawFunnel(view, withDecisions);
    drawTable(rows);
    $('overview').hidden = false;
    setStatus('');
  } catch (err) {
    setStatus('Could not load the overview: ' + err.message, true);
  }
}

function showForms() {
  const has = !!token();
  $('token-form').hidden = has;
  $('period-form').hidden = !has;
  if (!has) $('overview').hidden = true;
}

document.addEventListener('DOMContentLoaded', () => {
  const year = new Date().getUTCFullYear();
  $('from').value = `${year - 1}-01-01`;
  $('to').value = `${year}-01-01`;
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    showForms();
    showOverview();
  });
  $('period-form').addEventListener('submit', (ev) => { ev.preventDefault(); showOverview(); });
  $('forget').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); showForms(); });
  showForms();
  if (token()) showOverview();
});
