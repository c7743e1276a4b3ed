// The investigator desk: the audited searches of migration 016, results, CSV, sightings.
'use strict';
const desk = {result: null, page: 0, cams: null};
const PAGE = 50;

function show() {
  const res = document.getElementById('results');
  res.replaceChildren();
  const r = desk.result;
  if (!r) return;
  const t = anpr.el('table', 'results');
  const hr = anpr.el('tr');
  for (const c of r.columns) hr.appendChild(anpr.el('th', null, c));
  t.appendChild(hr);
  for (const row of r.rows.slice(desk.page * PAGE, (desk.page + 1) * PAGE)) {
    const tr = anpr.el('tr');
    for (const v of row) tr.appendChild(anpr.el('td', null, v === null ? '' : v));
    t.appendChild(tr);
  }
  res.appendChild(t);
  const pager = document.getElementById('pager');
  pager.replaceChildren();
  const pages = Math.max(1, Math.ceil(r.rows.length / PAGE));
  const prev = anpr.el('button', null, '‹ previous');
  prev.type = 'button';
  prev.disabled = desk.page === 0;
  prev.addEventListener('click', () => { desk.page--; show(); });
  const next = anpr.el('button', null, 'next ›');
  next.type = 'button';
  next.disabled = desk.page >= pages - 1;
  next.addEventListener('click', () => { desk.page++; show(); });
  const csv = anpr.el('a', 'csv', 'CSV');
  csv.href = '/api/search.csv?kind=' + encodeURIComponent(r.kind) + '&ticket=' + encodeURIComponent(r.ticket);
  pager.append(prev, anpr.el('span', null, ' page ' + (desk.page + 1) + ' of ' + pages + ' (' +
    r.rows.length + ' rows' + (r.more ? ', ' + r.more + ' more not shown' : '') + ') '), next, ' ', csv);
  if (r.kind === 'reads') {
    const b = anpr.el('button', 'sightings', 'Sightings picture');
    b.type = 'button';
    b.id = 'sightings';
    b.addEventListener('click', picture);
    pager.append(' ', b);
  }
}

async function picture() {
  if (!desk.cams) {
    const j = await anpr.getJson('/api/cameras');
    desk.cams = j.rows ? j.rows.map((r) => Object.fromEntries(j.columns.map((c, i) => [c, r[i]]))) : [];
  }
  const r = desk.result;
  const col = (n) => r.columns.indexOf(n);
  const rows = r.rows.slice().sort((a, b) => (a[col('read_time')] < b[col('read_time')] ? -1 : 1));
  const W = 900, H = 520, TL = 480;
  const svg = anpr.svg('svg', {id: 'route', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H,
    role: 'img', 'aria-label': 'sightings on the camera map'});
  svg.appendChild(anpr.svg('rect', {x: 0, y: 0, width: W, height: H, class: 'map-bg'}));
  const byCode = {};
  for (const c of desk.cams) byCode[c.code] = c;
  const pts = desk.cams.map((c) => ({lat: c.latitude, lon: c.longitude}))
    .concat(rows.map((x) => ({lat: x[col('latitude')], lon: x[col('longitude')]})));
  const pr = anpr.project(pts, W, TL - 40, 50);
  for (const c of desk.cams) {
    const p = pr(c.latitude, c.longitude);
    if (!p) continue;
    svg.appendChild(anpr.svg('circle', {cx: p[0], cy: p[1], r: 5, class: 'cam'}));
    const t = anpr.svg('text', {x: p[0] + 8, y: p[1] + 14, class: 'cname'});
    t.textContent = c.name + ' (' + c.code + ')';
    svg.appendChild(t);
  }
  const route = [];
  rows.forEach((x, i) => {
    let lat = x[col('latitude')], lon = x[col('longitude')];
    const c = byCode[x[col('camera')]];
    if ((lat === null || lon === null) && c) { lat = c.latitude; lon = c.longitude; }
    const p = pr(lat, lon);
    if (!p) return;
    route.push(p[0].toFixed(1) + ',' + p[1].toFixed(1));
    const dot = anpr.svg('circle', {cx: p[0], cy: p[1], r: 4, class: 'stop'});
    const tt = anpr.svg('title', {});
    tt.textContent = (i + 1) + ' ' + x[col('read_time')] + ' ' + x[col('camera')];
    dot.appendChild(tt);
    svg.appendChild(dot);
    const lab = anpr.svg('text', {x: p[0] + 6, y: p[1] - 6});
    lab.textContent = String(i + 1);
    svg.appendChild(lab);
  });
  if (route.length > 1) svg.insertBefore(anpr.svg('polyline', {points: route.join(' '), class: 'route'}), svg.children[1]);
  // the timeline: every sighting, also one without a place
  svg.appendChild(anpr.svg('line', {x1: 50, y1: TL, x2: W - 50, y2: TL, class: 'axis'}));
  const ts = rows.map((x) => Date.parse(x[col('read_time')].replace(' ', 'T').replace(/\+00$/, 'Z')));
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  ts.forEach((t, i) => {
    const x = t1 > t0 ? 50 + (W - 100) * (t - t0) / (t1 - t0) : W / 2;
    svg.appendChild(anpr.svg('circle', {cx: x, cy: TL, r: 4, class: 'stop'}));
  });
  const pic = document.getElementById('picture');
  pic.replaceChildren(anpr.el('h2', null, 'Sightings: ' + rows.length), svg);
}

document.addEventListener('DOMContentLoaded', async () => {
  if (!await anpr.start()) return;
  const now = new Date(), day = new Date(now - 86400000);
  const local = (d) => new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  document.getElementById('from').value = local(day);
  document.getElementById('to').value = local(new Date(now.getTime() + 60000));
  document.getElementById('search').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const fields = {};
    for (const [k, v] of f.entries()) fields[k] = v;
    fields.from = new Date(fields.from).toISOString();
    fields.to = new Date(fields.to).toISOString();
    const out = document.getElementById('outcome');
    out.className = '';
    out.textContent = 'searching…';
    const r = await anpr.post('/api/search', fields);
    const j = await r.json();
    desk.result = null;
    desk.page = 0;
    document.getElementById('picture').replaceChildren();
    if (!r.ok) {
      out.className = 'refused';
      out.textContent = j.refused ? 'Refused (rule ' + j.rule + '): ' + j.error :
        r.status === 403 ? 'Not allowed: ' + j.error : 'Error: ' + j.error;
      show();
      return;
    }
    out.className = 'granted';
    out.textContent = 'Search ' + j.ticket + ': ' + j.rows.length + ' rows' + (j.note ? ' (' + j.note + ')' : '');
    desk.result = j;
    show();
  });
});
