/** The console's style sheet, served as /console/console.css (no inline styles: the CSP forbids them). */
export const CONSOLE_CSS = `
:root{--bg:#f5f6f8;--fg:#1d2330;--muted:#6b7385;--line:#dde1e8;--accent:#2f6fd6;--in:#2f6fd6;--out:#1f9d6b;--bad:#c23b3b;--card:#fff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:1rem;padding:.6rem 1.2rem;background:#1d2330;color:#fff}
header h1{font-size:1.1rem;margin:0;flex:1}header h1 span,.login h1 span{font-weight:400;opacity:.7;font-size:.9em}
header .muted{color:#aab}main{padding:1rem 1.2rem;max-width:1400px;margin:auto}
h2{font-size:1rem;margin:.2rem 0 .6rem}h2 .muted{font-weight:400;font-size:.8rem}h3{font-size:.95rem;margin:.2rem 0 .4rem}
.grid{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:1rem;margin-bottom:1.2rem}
@media (max-width:1000px){.grid{grid-template-columns:minmax(0,1fr)}}
.panel,.rules{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem;overflow-x:auto}
.panel.wide{grid-column:span 2}#queues td:nth-child(2){word-break:break-all;font-family:ui-monospace,monospace;font-size:.82rem}
@media (max-width:1000px){.panel.wide{grid-column:auto}}
.rules{margin-bottom:1rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.muted{color:var(--muted)}.any{color:var(--muted)}
code{font-size:.85em}.count{color:var(--muted);font-weight:400}
.rates{display:flex;gap:2rem}.rates div{display:flex;flex-direction:column}.big{font-size:1.8rem;font-weight:600;font-variant-numeric:tabular-nums}
#spark{width:100%;height:70px;background:#fafbfc;border:1px solid var(--line);border-radius:4px;margin-top:.5rem}
.legend .in{color:var(--in)}.legend .out{color:var(--out)}
form.add{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin-top:.6rem}
form.add label,.login label{display:flex;flex-direction:column;font-size:.78rem;color:var(--muted)}
input,select{font:inherit;padding:.3rem .4rem;border:1px solid var(--line);border-radius:4px;min-width:7rem;color:var(--fg)}
button{font:inherit;padding:.32rem .8rem;border:0;border-radius:4px;background:var(--accent);color:#fff;cursor:pointer}
button.delete{background:transparent;color:var(--bad);padding:.1rem .4rem}form.inline{display:inline}
.flash{padding:.5rem .8rem;border-radius:6px}.flash.ok{background:#e3f4ec}.flash.error{background:#fae3e3}
.tabs{margin-bottom:.8rem}.tabs a{margin-right:.8rem;color:var(--accent);text-decoration:none}
.bar{display:inline-block;height:.7rem;background:var(--accent);border-radius:2px;vertical-align:middle}
.login{max-width:340px;margin:10vh auto;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1.5rem}
.login form{display:flex;flex-direction:column;gap:.8rem}.hint{color:var(--muted);font-size:.85rem}
`;

/**
 * The console's script, served as /console/console.js: polls /console/data.json every 1.5 s and
 * fills the live panels. Text goes in through textContent only, never as HTML.
 */
export const CONSOLE_JS = `
(function () {
  'use strict';
  var POLL_MS = 1500;
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function row(cells) { var tr = document.createElement('tr'); cells.forEach(function (c) { tr.appendChild(c); }); return tr; }
  function fill(tbody, rows) { tbody.replaceChildren.apply(tbody, rows); }
  function num(n) { return n === undefined || n === null ? '\\u2014' : String(n); }

  function queues(q) {
    var rows = q.main.concat(q.waiting).map(function (x) {
      var tr = row([el('td', x.label), el('td', x.name), el('td', num(x.messages), 'num'), el('td', num(x.consumers), 'num')]);
      tr.setAttribute('data-queue', x.name);
      return tr;
    });
    fill(document.querySelector('#queues tbody'), rows);
    document.getElementById('broker').textContent = q.connected ? '' : 'RabbitMQ cannot be reached.';
  }

  function spark(r) {
    var svg = document.getElementById('spark');
    var n = Math.max(r.in.length, 2);
    var max = Math.max.apply(null, [1].concat(r.in, r.out));
    function path(values) {
      return values.map(function (v, i) { return (i ? 'L' : 'M') + (i * 240 / (n - 1)).toFixed(1) + ' ' + (58 - (v / max) * 54).toFixed(1); }).join(' ');
    }
    var ns = 'http://www.w3.org/2000/svg';
    var parts = [['in', '#2f6fd6'], ['out', '#1f9d6b']].map(function (p) {
      var e = document.createElementNS(ns, 'path');
      e.setAttribute('d', path(r[p[0]]) || 'M0 58');
      e.setAttribute('fill', 'none'); e.setAttribute('stroke', p[1]); e.setAttribute('stroke-width', '1.5');
      e.setAttribute('vector-effect', 'non-scaling-stroke');
      return e;
    });
    svg.replaceChildren(parts[0], parts[1]);
    // the rate now: the mean of the last 5 seconds, steadier than one second
    function recent(values) { var last = values.slice(-5); return last.length ? (last.reduce(function (a, b) { return a + b; }, 0) / last.length) : 0; }
    document.getElementById('rate-in').textContent = recent(r.in).toFixed(1);
    document.getElementById('rate-out').textContent = recent(r.out).toFixed(1);
  }

  function results(res) {
    var table = document.getElementById('results');
    var states = Object.keys(res.states).sort();
    var head = row([el('th', 'Minute')].concat(states.map(function (s) { return el('th', s, 'num'); })));
    fill(table.tHead, [head]);
    var rows = res.minutes.map(function (m, i) {
      return row([el('td', m)].concat(states.map(function (s) { return el('td', res.states[s][i], 'num'); })));
    }).reverse();
    if (states.length === 0) rows = [row([el('td', 'No delivery attempts yet.', 'muted')])];
    fill(table.tBodies[0], rows);
  }

  function budgets(b) {
    var rows = b.destinations.map(function (d) {
      var sources = d.sources.map(function (s) { return s.source + ': ' + s.inUse; }).join(', ');
      var bar = el('span', undefined, 'bar'); bar.style.width = Math.min(120, d.inUse * 6) + 'px';
      var count = el('td', d.inUse + ' ', 'num'); count.appendChild(bar);
      return row([el('td', d.destination), count, el('td', sources, 'muted')]);
    });
    if (rows.length === 0) rows = [row([el('td', 'No connection slots held.', 'muted')])];
    fill(document.querySelector('#budgets tbody'), rows);
    document.getElementById('redis').textContent =
      b.redis === 'off' ? 'No redis-address: each delivery process keeps its own budgets.' : b.redis === 'down' ? 'Redis cannot be reached.' : 'Cluster-wide, from Redis.';
  }

  function poll() {
    fetch('/console/data.json', { credentials: 'same-origin', cache: 'no-store' }).then(function (response) {
      if (response.status === 401) { location.href = '/login'; return; }
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return response.json().then(function (d) {
        queues(d.queues); spark(d.rates); results(d.results); budgets(d.budgets);
        document.getElementById('updated').textContent = 'updated ' + new Date(d.time).toLocaleTimeString();
      });
    }).catch(function (err) {
      document.getElementById('updated').textContent = 'no data: ' + err.message;
    }).finally(function () { setTimeout(poll, POLL_MS); });
  }
  poll();
})();
`;
