// The status page at `/` on the HTTP port: one static HTML document (no build step, no outside
// resources: a Pi on a boat has no CDN) that polls /api/status every two seconds and shows each
// upstream's link state, backlog (messages, bytes, oldest reading, time to drain at the current rate),
// send and acknowledge rates, dead letters, the outbox, the broker and the serial devices. Rates and the
// drain estimate come from the difference between two snapshots. Every value from the gateway is put in
// the page as text (textContent), never as markup.
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Outpost</title>
<style>
  :root { color-scheme: light dark; font: 15px/1.4 system-ui, sans-serif; }
  body { margin: 1.5rem; max-width: 72rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .2rem; }
  h2 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
  .sub { color: #777; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: .3rem .6rem; border-bottom: 1px solid #8884; white-space: nowrap; }
  th:first-child, td:first-child { text-align: left; }
  th { font-weight: 600; color: #777; font-size: .85rem; }
  .state { font-weight: 600; }
  .ok { color: #1a7f37; } .warn { color: #b7791f; } .bad { color: #cf222e; }
  .cards { display: flex; flex-wrap: wrap; gap: .8rem; }
  .card { border: 1px solid #8884; border-radius: .4rem; padding: .5rem .8rem; min-width: 9rem; }
  .card b { display: block; font-size: 1.2rem; }
  #error { color: #cf222e; }
</style>
</head>
<body>
<h1>Outpost <span id="gateway"></span></h1>
<div class="sub">up <span id="uptime">–</span> · updated <span id="updated">–</span> <span id="error"></span></div>

<h2>Upstreams</h2>
<table id="upstreams">
  <thead><tr><th>upstream</th><th>state</th><th>backlog</th><th>bytes</th><th>oldest</th><th>sent/s</th><th>acked/s</th><th>drains in</th><th>dead letters</th></tr></thead>
  <tbody></tbody>
</table>

<h2>Outbox</h2>
<div class="cards" id="outbox"></div>

<h2>Broker</h2>
<div class="cards" id="broker"></div>

<h2>Serial devices</h2>
<table id="devices">
  <thead><tr><th>device</th><th>state</th><th>readings</th><th>dropped</th><th>garbage</th></tr></thead>
  <tbody></tbody>
</table>

<script>
'use strict'
const POLL_MS = 2000
let previous

function text(el, value) { el.textContent = value == null ? '–' : String(value) }
function cell(row, value, cls) { const td = row.insertCell(); text(td, value); if (cls) td.className = cls; return td }
function sum(obj) { return Object.values(obj || {}).reduce((a, b) => a + (b || 0), 0) }
function bytes(n) {
  if (n == null) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i]
}
function duration(ms) {
  if (ms == null || !isFinite(ms)) return '–'
  const s = Math.round(ms / 1000)
  if (s < 60) return s + ' s'
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s'
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min'
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h'
}
function stateClass(state) {
  if (state === 'connected' || state === 'open' || state === 'ok') return 'state ok'
  if (state === 'stalled' || state === 'backoff' || state === 'recovering') return 'state bad'
  return 'state warn'
}
function card(parent, label, value) {
  const div = document.createElement('div')
  div.className = 'card'
  const b = document.createElement('b')
  text(b, value)
  div.append(b, document.createTextNode(label))
  parent.append(div)
}

function render(s, rates) {
  text(document.getElementById('gateway'), s.gatewayId)
  text(document.getElementById('uptime'), duration(s.uptimeMs))
  text(document.getElementById('updated'), new Date().toLocaleTimeString())
  const cursors = new Map(s.outbox.cursors.map((c) => [c.name, c]))

  const ups = document.querySelector('#upstreams tbody')
  ups.replaceChildren()
  for (const u of s.upstreams) {
    const c = cursors.get(u.name) || {}
    const r = rates.get(u.name) || {}
    const row = ups.insertRow()
    row.dataset.upstream = u.name
    cell(row, u.name + ' (' + u.type + ')')
    cell(row, u.state, stateClass(u.state))
    cell(row, c.backlogMessages ?? 0, 'backlog')
    cell(row, bytes(c.backlogBytes ?? 0))
    cell(row, c.oldestAgeMs ? duration(c.oldestAgeMs) : '–')
    cell(row, r.sent == null ? '–' : r.sent.toFixed(1))
    cell(row, r.acked == null ? '–' : r.acked.toFixed(1))
    const eta = r.acked > 0 ? ((c.backlogMessages ?? 0) / r.acked) * 1000 : undefined
    cell(row, (c.backlogMessages ?? 0) === 0 ? 'drained' : duration(eta))
    cell(row, sum(u.deadLetters))
  }

  const o = s.outbox
  const outbox = document.getElementById('outbox')
  outbox.replaceChildren()
  card(outbox, 'state', o.state)
  card(outbox, 'readings kept', o.messages)
  card(outbox, 'of ' + bytes(o.maxBytes), bytes(o.bytes))
  card(outbox, 'free on disk', bytes(o.diskFreeBytes))
  card(outbox, 'dropped or refused', o.counters.evicted + o.counters.expired + o.counters.rejectedBytes + o.counters.rejectedMessages + o.counters.rejectedDisk + o.counters.writeFailed)
  card(outbox, 'lost (damaged store)', o.counters.lostCorrupt)
  card(outbox, 'dead letters', o.deadLetters ? o.deadLetters.messages : 0)

  const b = s.broker
  const broker = document.getElementById('broker')
  broker.replaceChildren()
  card(broker, 'devices connected', b.connections)
  card(broker, 'readings received', b.publishesReceived)
  card(broker, 'stored', b.stored)
  card(broker, 'refused', b.notStored + b.refusedNotAuthorized + b.refusedReservedTopic)

  const devices = document.querySelector('#devices tbody')
  devices.replaceChildren()
  const serial = (s.devices && s.devices.serial) || []
  if (serial.length === 0) {
    const row = devices.insertRow()
    cell(row, 'none configured').colSpan = 5
  }
  for (const d of serial) {
    const row = devices.insertRow()
    cell(row, d.name + ' (' + d.path + ')')
    cell(row, d.state, stateClass(d.state))
    cell(row, d.readings ?? d.published ?? '–')
    cell(row, sum(d.dropped))
    cell(row, sum(d.garbage))
  }
}

async function poll() {
  try {
    const res = await fetch('/api/status', { cache: 'no-store' })
    if (!res.ok) throw new Error('HTTP ' + res.status)
    const s = await res.json()
    const now = performance.now()
    const rates = new Map()
    if (previous) {
      const dt = (now - previous.at) / 1000
      for (const u of s.upstreams) {
        const p = previous.status.upstreams.find((x) => x.name === u.name)
        if (p && dt > 0) rates.set(u.name, { sent: Math.max(0, u.sent - p.sent) / dt, acked: Math.max(0, u.acked - p.acked) / dt })
      }
    }
    previous = { at: now, status: s }
    render(s, rates)
    text(document.getElementById('error'), '')
  } catch (err) {
    text(document.getElementById('error'), '· cannot reach the gateway: ' + err.message)
  } finally {
    setTimeout(poll, POLL_MS)
  }
}
poll()
</script>
</body>
</html>
`
