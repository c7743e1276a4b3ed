'use strict';
let token = '';
async function fresh() {
  const r = await fetch('/api/login-token', {credentials: 'same-origin'});
  token = (await r.json()).token;
}
document.addEventListener('DOMContentLoaded', () => {
  fresh();
  document.getElementById('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = document.getElementById('message');
    msg.textContent = 'Signing in…';
    const pw = document.getElementById('password');
    const body = new URLSearchParams({user: document.getElementById('user').value, password: pw.value});
    pw.value = '';
    const r = await fetch('/api/login', {method: 'POST', credentials: 'same-origin', body,
      headers: {'X-CSRF-Token': token}});
    const j = await r.json();
    if (r.ok) { location.href = j.home; return; }
    msg.textContent = j.error || ('refused (' + r.status + ')');
    msg.className = 'bad';
    await fresh();
  });
});
