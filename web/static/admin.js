// The watchlist admin page: lists, a list's entries, add and expire an entry, CSV import.
// Every text from the database or the file is set as text (anpr.el), never as HTML.
'use strict';
const adm = {list: null, page: 0, filter: ''};

function table(el, columns, rows, cells) {
  el.replaceChildren();
  const hr = anpr.el('tr');
  for (const c of columns) hr.appendChild(anpr.el('th', null, c));
  el.appendChild(hr);
  for (const r of rows) el.appendChild(cells(r));
}

function row(obj) {
  const m = {};
  obj.columns.forEach((c, i) => { m[c] = i; });
  return (r, c) => r[m[c]];
}

async function loadLists() {
  const j = await anpr.getJson('/api/admin/lists');
  if (j.error) { denied(j.error); return; }
  const v = row(j);
  table(document.getElementById('lists'),
    ['name', 'category', 'priority', 'colour', 'covert', 'state', 'entries', ''], j.rows, (r) => {
      const tr = anpr.el('tr');
      if (v(r, 'name') === adm.list) tr.className = 'chosen';
      tr.appendChild(anpr.el('td', null, v(r, 'name')));
      tr.appendChild(anpr.el('td', null, v(r, 'category')));
      tr.appendChild(anpr.el('td', null, 'P' + v(r, 'priority')));
      const col = anpr.el('td');
      const c = v(r, 'colour');
      if (c !== '-') {
        const sw = anpr.el('span', 'swatch');
        if (c.startsWith('#')) sw.style.backgroundColor = c; else sw.classList.add(c);
        col.append(sw, ' ');
      }
      col.append(c === '-' ? 'by priority' : c);
      tr.appendChild(col);
      tr.appendChild(anpr.el('td', null, v(r, 'covert') === 'covert' ? 'covert' : ''));
      tr.appendChild(anpr.el('td', null, v(r, 'state')));
      tr.appendChild(anpr.el('td', null, v(r, 'entries')));
      const open = anpr.el('button', 'open-list', 'Open');
      open.type = 'button';
      open.dataset.list = v(r, 'name');
      open.addEventListener('click', () => { adm.list = v(r, 'name'); adm.page = 0; choose(); });
      const td = anpr.el('td');
      td.appendChild(open);
      tr.appendChild(td);
      return tr;
    });
}

function denied(msg) {
  document.getElementById('main').classList.add('hidden');
  const d = document.getElementById('denied');
  d.textContent = msg + '. Watchlists are changed by admins (the database role anpr_admin); ' +
    'ask one, or sign in with an admin login.';
  d.classList.remove('hidden');
}

async function choose() {
  document.getElementById('list-section').classList.remove('hidden');
  document.getElementById('list-title').textContent = 'List: ' + adm.list;
  await Promise.all([loadLists(), loadEntries()]);
}

async function loadEntries() {
  const q = '/api/admin/entries?list=' + encodeURIComponent(adm.list) + '&page=' + adm.page +
    (adm.filter ? '&filter=' + encodeURIComponent(adm.filter) : '');
  const j = await anpr.getJson(q);
  const ent = document.getElementById('entries');
  if (j.error) { ent.replaceChildren(anpr.el('caption', 'refused', j.error)); return; }
  const v = row(j);
  table(ent, ['id', 'plate', 'country', 'valid from', 'valid until', 'instruction', 'reference',
    'requested by', ''], j.rows, (r) => {
    const tr = anpr.el('tr');
    tr.dataset.plate = v(r, 'plate');
    if (v(r, 'expired')) tr.classList.add('expired');
    for (const c of ['id', 'plate', 'country', 'valid_from', 'valid_until', 'instruction',
      'external_ref', 'requested_by']) tr.appendChild(anpr.el('td', null, v(r, c) === null ? '' : v(r, c)));
    const td = anpr.el('td');
    if (v(r, 'expired')) {
      td.textContent = 'expired';
    } else {
      const b = anpr.el('button', 'expire', 'Expire');
      b.type = 'button';
      b.addEventListener('click', () => expire(v(r, 'id'), v(r, 'plate')));
      td.appendChild(b);
    }
    tr.appendChild(td);
    return tr;
  });
  const pages = Math.max(1, Math.ceil(j.total / j.page_size));
  const pager = document.getElementById('pager');
  const prev = anpr.el('button', null, '‹ previous');
  prev.type = 'button';
  prev.disabled = adm.page === 0;
  prev.addEventListener('click', () => { adm.page--; loadEntries(); });
  const next = anpr.el('button', null, 'next ›');
  next.type = 'button';
  next.disabled = adm.page >= pages - 1;
  next.addEventListener('click', () => { adm.page++; loadEntries(); });
  pager.replaceChildren(prev, anpr.el('span', null, ' page ' + (adm.page + 1) + ' of ' + pages +
    ' (' + j.total + ' entries) '), next);
}

async function expire(id, plate) {
  if (!confirm('Expire entry ' + id + ' (' + plate + ') now?')) return;
  const r = await anpr.post('/api/admin/expire', {id});
  const j = await r.json();
  const out = document.getElementById('add-outcome');
  out.className = r.ok ? 'granted' : 'refused';
  out.textContent = r.ok ? 'Expired entry ' + id + ' (' + plate + ').' : 'Not expired: ' + j.error;
  await choose();
}

async function add(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const fields = {list: adm.list};
  for (const [k, v] of f.entries()) if (v !== '') fields[k] = v;
  const out = document.getElementById('add-outcome');
  const r = await anpr.post('/api/admin/add', fields);
  const j = await r.json();
  const force = document.getElementById('force-label');
  if (!r.ok) {
    out.className = 'refused';
    out.textContent = 'Not added' + (j.field ? ' (' + j.field + (j.value ? " '" + j.value + "'" : '') + ')' : '') +
      ': ' + j.error + (j.broad ? '. Tick "add this broad pattern all the same" to add it.' : '');
    if (j.broad) force.classList.remove('hidden');
    return;
  }
  out.className = 'granted';
  out.textContent = 'Added entry ' + j.id + ': ' + j.plate + (j.country ? ' ' + j.country : '') +
    (j.also_as ? ' (also matched as ' + j.also_as + ')' : '') +
    (j.valid_until ? ', valid until ' + j.valid_until : '') +
    (j.forced ? '. Forced pattern: it would have hit ' + (j.would_hit === null ? 'an unknown number of' : j.would_hit) +
      " of the last day's reads." : '.');
  force.classList.add('hidden');
  document.getElementById('add-force').checked = false;
  ev.target.reset();
  await choose();
}

async function importFile(ev) {
  ev.preventDefault();
  const file = document.getElementById('import-file').files[0];
  const out = document.getElementById('import-outcome');
  const errs = document.getElementById('import-errors');
  errs.classList.add('hidden');
  if (!file) return;
  const fields = {list: adm.list, csv: await file.text(),
    separator: document.getElementById('import-sep').value};
  if (document.getElementById('import-skip').checked) fields.skip_bad = '1';
  if (document.getElementById('import-dry').checked) fields.dry_run = '1';
  out.className = '';
  out.textContent = 'importing…';
  const r = await anpr.post('/api/admin/import', fields);
  const j = await r.json();
  if (r.ok) {
    out.className = 'granted';
    out.textContent = (j.imported ? 'Imported ' + j.good + ' entries' : 'Checked: ' + j.good + ' entries would be imported') +
      ' into ' + adm.list + ' (' + j.bad + ' bad rows skipped; separator "' + j.separator + '").';
  } else {
    out.className = 'refused';
    out.textContent = 'Nothing imported: ' + j.error;
  }
  for (const p of j.forced || []) {
    out.append(anpr.el('div', null, 'Pattern ' + p.pattern + ' would have hit ' +
      (p.would_hit === null ? 'an unknown number of' : p.would_hit) + " of the last day's reads (forced)."));
  }
  if (j.errors && j.errors.length) {
    table(errs, ['line', 'column', 'field', 'error'], j.errors, (e) => {
      const tr = anpr.el('tr', 'import-error');
      tr.append(anpr.el('td', null, e.line), anpr.el('td', null, e.column || ''),
        anpr.el('td', null, e.field), anpr.el('td', null, e.error));
      return tr;
    });
    errs.classList.remove('hidden');
  }
  if (j.imported) await choose();
}

document.addEventListener('DOMContentLoaded', async () => {
  const me = await anpr.start();
  if (!me) return;
  if (!me.roles.includes('admin')) {
    denied('You (' + me.user + ') may not change watchlists');
    return;
  }
  document.getElementById('main').classList.remove('hidden');
  document.getElementById('add').addEventListener('submit', add);
  document.getElementById('import').addEventListener('submit', importFile);
  document.getElementById('filter-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    adm.filter = document.getElementById('filter').value;
    adm.page = 0;
    loadEntries();
  });
  await loadLists();
  document.body.dataset.ready = '1';
});
