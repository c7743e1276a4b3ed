// Shared by the board and the desk: who is signed in, POSTs with the CSRF token, sign out.
'use strict';
const anpr = {
  me: null,
  async start() {
    const r = await fetch('/api/me', {credentials: 'same-origin'});
    if (r.status === 401) { location.href = '/login'; return null; }
    anpr.me = await r.json();
    const who = document.getElementById('who');
    if (who) who.textContent = anpr.me.user + ' (' + anpr.me.roles.join(', ') + ')';
    const out = document.getElementById('logout');
    if (out) out.addEventListener('click', anpr.logout);
    return anpr.me;
  },
  async post(url, fields) {
    const body = new URLSearchParams(fields);
    return fetch(url, {method: 'POST', credentials: 'same-origin', body,
      headers: {'X-CSRF-Token': anpr.me ? anpr.me.csrf : ''}});
  },
  async getJson(url) {
    const r = await fetch(url, {credentials: 'same-origin'});
    if (r.status === 401) { location.href = '/login'; throw new Error('signed out'); }
    return r.json();
  },
  async logout() {
    await anpr.post('/api/logout', {});
    location.href = '/login';
  },
  el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  },
  svg(tag, attrs) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  },
  // A moment with its date, in the browser's zone.
  when(us) {
    const d = new Date(Number(us) / 1000);
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  },
  age(us) {
    let s = Math.max(0, Math.round((Date.now() * 1000 - Number(us)) / 1e6));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h ago';
  },
  // Cameras on a small map: equirectangular, north up, fitted into w x h.
  project(cams, w, h, margin) {
    const pts = cams.filter((c) => c.lat !== null && c.lon !== null);
    if (!pts.length) return () => null;
    const lat0 = pts.reduce((a, c) => a + c.lat, 0) / pts.length;
    const k = Math.cos(lat0 * Math.PI / 180);
    const xs = pts.map((c) => c.lon * k), ys = pts.map((c) => -c.lat);
    const minx = Math.min(...xs), maxx = Math.max(...xs), miny = Math.min(...ys), maxy = Math.max(...ys);
    const sx = maxx - minx > 1e-9 ? (w - 2 * margin) / (maxx - minx) : 0;
    const sy = maxy - miny > 1e-9 ? (h - 2 * margin) / (maxy - miny) : 0;
    const s = sx && sy ? Math.min(sx, sy) : (sx || sy);
    return (lat, lon) => (lat === null || lon === null) ? null :
      [w / 2 + (lon * k - (minx + maxx) / 2) * s, h / 2 + (-lat - (miny + maxy) / 2) * s];
  },
};
