// Fleet watchers for bench/relay_latency.py --fleet: the dashboard's socket.io
// client (from npm, installed in tests/js by `make test`), run by node, as
// many as asked, each following the whole fleet (join-all) as an overview does.
// Usage: node bench/fleet_watchers.mjs <relay url> <clients> [deflate|plain]
// (deflate, the default: offer permessage-deflate, as browsers do)
// Prints "ready" once every client has joined; when stdin closes, prints one JSON
// line, per client [metrics-update events, fleet-update events, their servers],
// and exits. Decoding in V8 keeps the bench's own CPU off the relay's cores.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/js/package.json', import.meta.url));
const { io } = require('socket.io-client');

const [url, count, compress] = process.argv.slice(2);
const seen = [];
const joins = [];
for (let i = 0; i < Number(count); i += 1) {
  const counts = [0, 0, 0];
  seen.push(counts);
  const socket = io(url, { transports: ['websocket'], reconnection: false, timeout: 30000, perMessageDeflate: compress === 'plain' ? false : { threshold: 1024 } });
  socket.on('metrics-update', () => { counts[0] += 1; });
  socket.on('fleet-update', (data) => {
    counts[1] += 1;
    counts[2] += (data?.servers ?? []).length;
  });
  joins.push(new Promise((resolve, reject) => {
    socket.on('connect', () => socket.timeout(30000).emitWithAck('join-all').then(resolve, reject));
    socket.on('connect_error', reject);
  }));
}
Promise.all(joins).then(
  () => process.stdout.write('ready\n'),
  (error) => { process.stdout.write(`failed ${error.message}\n`); process.exit(1); },
);
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(`${JSON.stringify(seen)}\n`);
  process.exit(0);
});
