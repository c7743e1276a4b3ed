// The dispatch board: one card per car, most urgent first, live from /api/events (SSE).
'use strict';
const board = {
  cams: {}, lists: {}, reasons: [], cards: new Map(), hits: new Map(),
  es: null, lastEvent: 0, feed: null, sseOk: false, beepTimer: null,
  // /board?bench=1 (tools/anpr-webbench): for each live HIT, ms from the read to [its event
  // here, its card in the page, the next frame]; off otherwise: a board open for days keeps
  // nothing.
  bench: new URLSearchParams(location.search).get('bench') === '1' ? [] : null,
};
const DIRS = ['direction unknown', 'towards the camera', 'away from the camera'];

function table(j) {
  return j.rows.map((r) => Object.fromEntries(j.columns.map((c, i) => [c, r[i]])));
}

// A covert HIT has a card of its own: it must not be acted on, and only the people cleared for
// its list see its acknowledgement.
function carKey(h) {
  return (h.covert ? 'covert:' : '') +
    (h.read_plate || '').toUpperCase().replace(/[^A-Z0-9]/g, '') + '/' + (h.country || '');
}

function mapOf(camCode) {
  const W = 160, H = 110;
  const svg = anpr.svg('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'map',
    role: 'img', 'aria-label': 'cameras, this one marked'});
  const all = Object.values(board.cams);
  const pr = anpr.project(all, W, H, 14);
  svg.appendChild(anpr.svg('rect', {x: 0, y: 0, width: W, height: H, class: 'map-bg'}));
  for (const c of all) {
    const p = pr(c.lat, c.lon);
    if (!p) continue;
    const here = c.code === camCode;
    const dot = anpr.svg('circle', {cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: here ? 7 : 3.5,
      class: here ? 'cam-here' : 'cam'});
    const t = anpr.svg('title', {});
    t.textContent = c.name + ' (' + c.code + ')';
    dot.appendChild(t);
    svg.appendChild(dot);
  }
  return svg;
}

function matchText(h) {
  switch (h.match) {
    case 'exact': return 'exact match';
    case 'ocr': return 'OCR look-alike' + (h.detail ? ': ' + h.detail : '');
    case 'candidate': return 'camera candidate ' + h.reading + ' (' + h.matched_plate + ')' +
      (h.detail ? ': ' + h.detail : '');
    case 'pattern': return 'pattern ' + h.entry_plate;
    default: return h.match;
  }
}

function render(card) {
  const hs = card.hits.map((id) => board.hits.get(id));
  const open = hs.filter((h) => !h.ack);
  const top = hs.slice().sort((a, b) => a.priority - b.priority || b.time_us - a.time_us)[0];
  const latest = hs.slice().sort((a, b) => b.time_us - a.time_us)[0];
  card.priority = top.priority;
  card.time_us = latest.time_us;
  card.open = open.length > 0;
  card.covert = hs.some((h) => h.covert);
  const e = card.el;
  e.replaceChildren();
  e.className = 'card p' + top.priority + (card.open ? '' : ' acked') +
    (hs.some((h) => h.again && !h.ack) ? ' again' : '') + (card.covert ? ' covert' : '');
  e.dataset.plate = carKey(top);
  e.dataset.hitIds = hs.map((h) => h.hit_id).join(',');
  const list = board.lists[top.list_id];
  if (list && list.colour) e.style.borderLeftColor = list.colour;

  const head = anpr.el('div', 'head');
  head.appendChild(anpr.el('span', 'prio', 'P' + top.priority));
  if (card.covert) head.appendChild(anpr.el('span', 'flag covert-flag', 'COVERT · do not intervene'));
  head.appendChild(anpr.el('span', 'listed', top.entry_plate));
  if (top.entry_country) head.appendChild(anpr.el('span', 'cc', top.entry_country));
  if (hs.some((h) => h.again && !h.ack)) head.appendChild(anpr.el('span', 'flag again-flag', 'ANNOUNCED AGAIN'));
  if (hs.every((h) => h.caught_up)) head.appendChild(anpr.el('span', 'flag', 'caught up'));
  e.appendChild(head);

  const body = anpr.el('div', 'body');
  const text = anpr.el('div', 'text');
  text.appendChild(anpr.el('div', 'read', 'read as ' + latest.read_plate +
    (latest.country ? ' (' + latest.country + ')' : '') + ', confidence ' +
    (latest.confidence / 10).toFixed(1) + '%'));
  text.appendChild(anpr.el('div', 'when', anpr.when(latest.time_us) + ' · ' + anpr.age(latest.time_us)));
  const cam = board.cams[latest.camera];
  text.appendChild(anpr.el('div', 'camera', (cam ? cam.name + ' (' + latest.camera + ')' : latest.camera) +
    ' · lane ' + (latest.lane || '?') + ' · ' + DIRS[latest.direction] +
    (cam && cam.road ? ' · ' + cam.road : '')));
  const followed = hs.filter((h) => h.seen).map((h) => h.seen).sort((a, b) => b.time_us - a.time_us)[0];
  if (followed) {
    const sc = board.cams[followed.camera];
    text.appendChild(anpr.el('div', 'sighting', 'SEEN AGAIN at ' +
      (sc ? sc.name + ' (' + followed.camera + ')' : followed.camera) + ', ' +
      anpr.when(followed.time_us).slice(11) + ' · ' + anpr.age(followed.time_us) + ', ' +
      DIRS[followed.direction] + (sc && sc.road ? ' · ' + sc.road : '')));
  }
  const seen = hs.filter((h) => h !== latest && h.camera !== latest.camera);
  if (seen.length) {
    text.appendChild(anpr.el('div', 'seen', 'also at ' + seen.map((h) =>
      ((board.cams[h.camera] || {}).name || h.camera) + ' ' + anpr.when(h.time_us).slice(11)).join(', ')));
  }
  const lists = anpr.el('div', 'lists');
  const byList = new Map();
  for (const h of hs) byList.set(h.list_id, h);
  for (const h of byList.values()) {
    const chip = anpr.el('span', 'chip', h.list + ' · ' + h.category + ' · P' + h.priority);
    const l = board.lists[h.list_id];
    if (l && l.colour) chip.style.backgroundColor = l.colour;
    lists.appendChild(chip);
    text.appendChild(anpr.el('div', 'how', h.list + ': ' + matchText(h)));
    if (h.instruction) text.appendChild(anpr.el('div', 'instruction', h.instruction));
    if (h.external_ref) text.appendChild(anpr.el('div', 'ref', 'reference ' + h.external_ref));
  }
  text.insertBefore(lists, text.firstChild);
  body.appendChild(text);
  body.appendChild(mapOf(followed ? followed.camera : latest.camera));
  e.appendChild(body);

  if (card.covert) {
    e.appendChild(anpr.el('div', 'covert-note',
      'Covert list: do not stop or approach the vehicle; report the sighting to the list\'s owner ' +
      'as its instruction says.'));
  }
  if (card.open) {
    const f = anpr.el('form', 'ackform');
    const dec = anpr.el('select', 'decision');
    for (const d of ['accepted', 'rejected', 'not_enforced']) {
      const o = anpr.el('option', null, d.replace('_', ' '));
      o.value = d;
      dec.appendChild(o);
    }
    const rs = anpr.el('select', 'reason');
    const none = anpr.el('option', null, '(no reason)');
    none.value = '';
    rs.appendChild(none);
    for (const r of board.reasons) {
      const o = anpr.el('option', null, r.replace(/_/g, ' '));
      o.value = r;
      rs.appendChild(o);
    }
    const note = anpr.el('input', 'ack-note');
    note.type = 'text';
    note.maxLength = 500;
    note.placeholder = 'note (optional)';
    const go = anpr.el('button', 'ack-go', 'Acknowledge');
    go.type = 'submit';
    const msg = anpr.el('span', 'ack-msg');
    f.append(dec, rs, note, go, msg);
    f.addEventListener('submit', (ev) => { ev.preventDefault(); ack(card, dec.value, rs.value, note.value, msg); });
    e.appendChild(f);
  } else {
    const a = hs.find((h) => h.ack).ack;
    e.appendChild(anpr.el('div', 'ackstate', a.decision.replace('_', ' ') + ' by ' + a.operator +
      (a.reason ? ' (' + a.reason.replace(/_/g, ' ') + ')' : '') + (a.at_us ? ' at ' + anpr.when(a.at_us) : '') +
      (a.note ? ': ' + a.note : '')));
  }
}

function place() {
  const open = document.getElementById('open'), done = document.getElementById('done');
  const cards = [...board.cards.values()].sort((a, b) => a.priority - b.priority || b.time_us - a.time_us);
  for (const c of cards) (c.open ? open : done).appendChild(c.el);
  beep();
}

// A P1 car sounds until it is acknowledged; a covert one never does (no one may react to it).
function beep() {
  const p1 = [...board.cards.values()].some((c) => c.open && !c.covert && c.priority === 1);
  if (p1 && !board.beepTimer) {
    const once = () => {
      try {
        const ctx = board.audio || (board.audio = new AudioContext());
        const o = ctx.createOscillator();
        o.frequency.value = 880;
        o.connect(ctx.destination);
        o.start();
        o.stop(ctx.currentTime + 0.25);
      } catch (e) { /* no audio device: the card's colour stays */ }
    };
    once();
    board.beepTimer = setInterval(once, 4000);
  } else if (!p1 && board.beepTimer) {
    clearInterval(board.beepTimer);
    board.beepTimer = null;
  }
}

// A colleague's acknowledgement is final: the database refuses a second one and names who.
async function ack(card, decision, reason, note, msg) {
  const ids = card.hits.filter((id) => !board.hits.get(id).ack);
  msg.textContent = 'sending…';
  const r = await anpr.post('/api/ack', {hit_ids: ids.join(','), decision, reason, note});
  const j = await r.json();
  const bad = (j.results || []).filter((x) => x.error);
  if (r.ok && !bad.length) {
    for (const id of ids) board.hits.get(id).ack = {decision, reason, note, operator: anpr.me.user, at_us: Date.now() * 1000};
    render(card);
    place();
    return;
  }
  msg.textContent = bad.length ? bad.map((x) => x.error).join('; ') : (j.error || r.status);
  msg.className = 'ack-msg bad';
}

function onHit(h) {
  const got = board.bench ? performance.timeOrigin + performance.now() : 0;
  if (!h.caught_up && board.feed) {  // a HIT is a message of the feed too
    board.feed.last_message_us = Date.now() * 1000;
    board.feed.messages++;
    health();
  }
  const known = board.hits.get(h.hit_id);
  if (known) {
    // Follow the car: a sighting (seen again at another camera), or a re-announcement that
    // carries its latest place, moves the card's "seen again" line and map mark.
    const moved = h.sighting || h.camera !== known.camera;
    if (!h.caught_up && moved && h.time_us >= ((known.seen || {}).time_us || 0)) {
      known.seen = {camera: h.camera, time_us: h.time_us, direction: h.direction, lane: h.lane};
    }
    if (!h.caught_up && !h.sighting) { known.again = true; known.time_us = Math.max(known.time_us, h.time_us); }
  } else {
    board.hits.set(h.hit_id, h);
  }
  const key = carKey(h);
  let card = board.cards.get(key);
  if (!card) {
    card = {el: anpr.el('article', 'card'), hits: []};
    board.cards.set(key, card);
  }
  if (!card.hits.includes(h.hit_id)) card.hits.push(h.hit_id);
  render(card);
  place();
  if (board.bench && !known && !h.caught_up && !h.again && !h.sighting) benchNote(h.time_us, got);
}

// The read's time_us is the camera's clock; timeOrigin + now() is this machine's wall clock.
function benchNote(timeUs, got) {
  const m = [got - timeUs / 1000, performance.timeOrigin + performance.now() - timeUs / 1000, null];
  board.bench.push(m);
  requestAnimationFrame(() => { m[2] = performance.timeOrigin + performance.now() - timeUs / 1000; });
}

function onAck(a) {
  const h = board.hits.get(a.hit_id);
  if (!h) return;
  h.ack = a;
  for (const c of board.cards.values()) if (c.hits.includes(a.hit_id)) render(c);
  place();
}

function banner(text) {
  const b = document.getElementById('banner');
  b.textContent = text || '';
  b.className = text ? 'banner' : 'banner hidden';
}

// An instance's feed is up while connected and heard from within three heartbeat intervals.
function instanceUp(i, f) {
  if (!i.connected) return false;
  const ivl = i.interval_ms || 2000;
  return !i.last_message_us || f.now_us - i.last_message_us <= 3 * ivl * 1000;
}

function health() {
  const f = board.feed;
  const parts = [board.sseOk ? 'board live' : 'board stream LOST'];
  if (f) {
    parts.push(f.feed_connected ? 'feed connected' : 'feed LOST');
    const inst = f.instances || [];
    const lost = inst.filter((i) => !instanceUp(i, f));
    if (inst.length > 1) parts.push((inst.length - lost.length) + ' of ' + inst.length + ' instances');
    parts.push(f.last_message_us ? 'last message ' + anpr.age(f.last_message_us) : 'no message yet');
    parts.push(f.messages + ' messages');
    const c = f.cameras;  // from anprd's heartbeat
    if (c) {
      parts.push(c.reporting + ' of ' + c.cameras + ' cameras reporting');
      if (c.silent.length) {
        parts.push('silent for over ' + Math.round(c.silent_after_s / 60) + ' min: ' +
          c.silent.map((code) => ((board.cams[code] || {}).name || code)).join(', ') +
          (c.cameras - c.reporting > c.silent.length ? ' …' : ''));
      }
    }
  }
  document.getElementById('health').textContent = parts.join(' · ');
  if (!board.sseOk) banner('Connection to anpr-web lost: HITs are NOT arriving. Reconnecting…');
  else if (f && !f.feed_connected) banner('Dispatch feed from anprd lost: HITs are NOT arriving.');
  else if (f && (f.instances || []).some((i) => !instanceUp(i, f))) {
    const lost = f.instances.filter((i) => !instanceUp(i, f));
    banner('anprd instance' + (lost.length > 1 ? 's ' : ' ') + lost.map((i) =>
      (i.instance === null ? '' : i.instance + ' ') + '(' + i.endpoint + ')').join(', ') +
      ' lost: HITs of the cameras sending to ' + (lost.length > 1 ? 'them' : 'it') +
      ' are NOT arriving.');
  }
  else if (f && f.cameras && f.last_message_us &&
           Date.now() * 1000 - f.last_message_us > 3 * f.cameras.interval_ms * 1000) {
    banner('No heartbeat from anprd for ' + anpr.age(f.last_message_us).replace(' ago', '') +
      ': HITs may NOT be arriving.');
  }
  else banner('');
}

function connect() {
  const since = sessionStorage.getItem('anpr.lastId');
  const es = new EventSource('/api/events' + (since ? '?since=' + encodeURIComponent(since) : ''));
  board.es = es;
  const note = (ev) => { if (ev.lastEventId) sessionStorage.setItem('anpr.lastId', ev.lastEventId); };
  es.addEventListener('hit', (ev) => { note(ev); onHit(JSON.parse(ev.data)); });
  es.addEventListener('ack', (ev) => onAck(JSON.parse(ev.data)));
  es.addEventListener('live', () => { board.sseOk = true; document.body.dataset.live = '1'; health(); });
  es.addEventListener('health', (ev) => { board.feed = JSON.parse(ev.data); board.sseOk = true; health(); });
  es.addEventListener('ended', () => { es.close(); location.href = '/login'; });
  es.onerror = async () => {
    board.sseOk = false;
    document.body.dataset.live = '0';
    health();
    if (es.readyState === EventSource.CLOSED) {
      // refused (anpr-web restarted: every session ended with it): sign in again, the board
      // then catches up from the last HIT it had
      const r = await fetch('/api/me', {credentials: 'same-origin'}).catch(() => null);
      if (r && r.status === 401) { location.href = '/login'; return; }
      setTimeout(connect, 2000);
    }
  };
}

document.addEventListener('DOMContentLoaded', async () => {
  const me = await anpr.start();
  if (!me) return;
  const [cams, lists, reasons] = await Promise.all([anpr.getJson('/api/cameras'),
    anpr.getJson('/api/lists'), anpr.getJson('/api/reasons')]);
  for (const c of table(cams)) board.cams[c.code] = {code: c.code, name: c.name, lat: c.latitude, lon: c.longitude, road: c.road};
  if (lists.rows) for (const l of table(lists)) board.lists[l.id] = l;
  if (reasons.rows) board.reasons = table(reasons).map((r) => r.reason);
  connect();
  setInterval(() => { for (const c of board.cards.values()) render(c); health(); }, 5000);
});
