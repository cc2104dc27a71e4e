// The dashboard's socket.io client (from npm), run by node against a real relay.
// Usage: node relay_client.mjs <relay url> <server id> [token]
// Prints one JSON line per thing that happens; stops when stdin closes.
import { io } from 'socket.io-client';

const [url, serverId, token] = process.argv.slice(2);
const print = (event, data) => process.stdout.write(`${JSON.stringify({ event, data })}\n`);

const socket = io(url, { auth: token ? { token } : {}, reconnection: false });
socket.onAny((event, data) => print(event, data));
socket.on('connect', async () => {
  const ack = await socket.timeout(20000).emitWithAck('join-server', { serverId: Number(serverId) });
  print('joined', { ack, transport: socket.io.engine.transport.name });
  // The overview too: its `fleet-update` events.
  print('followed', { ack: await socket.timeout(20000).emitWithAck('join-all') });
});
socket.on('connect_error', (error) => print('connect_error', { message: error.message, data: error.data ?? null }));
// The websocket's negotiated extensions (permessage-deflate, as in browsers).
socket.io.on('open', () => socket.io.engine.on('upgrade', (t) => print('upgrade', { name: t.name, extensions: t.ws?.extensions ?? null })));

process.stdin.resume();
process.stdin.on('end', () => {
  socket.close();
  process.exit(0);
});
