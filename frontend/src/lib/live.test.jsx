// "Load from REST, then apply live events that are newer": the rule alone, then
// the hook that loads again after a reconnection or a resync.
import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { applyLive, applyLoaded, isLater, liveTracker } from './live.js';

const relay = vi.hoisted(() => {
  const handlers = new Map();
  return {
    socket: {
      connected: true,
      active: true,
      on(event, handler) {
        if (!handlers.has(event)) handlers.set(event, new Set());
        handlers.get(event).add(handler);
        return this;
      },
      off(event, handler) {
        handlers.get(event)?.delete(handler);
        return this;
      },
      timeout() {
        return this;
      },
      async emitWithAck() {
        return { ok: true };
      },
      emit() {},
      connect() {},
      disconnect() {},
    },
    send(event, payload) {
      for (const handler of [...(handlers.get(event) ?? [])]) handler(payload);
    },
  };
});
vi.mock('socket.io-client', () => ({ io: () => relay.socket }));
const { useLiveLoad } = await import('./useLiveLoad.js');

// A value: the latest reading of each server, { id: { at, v } }; newer wins.
const apply = (value, events) => {
  const out = { ...value };
  for (const e of events) if (!out[e.id] || isLater(e.at, out[e.id].at)) out[e.id] = { at: e.at, v: e.v };
  return out;
};
const load = (_, answer) => ({ ...answer });
const reading = (id, second, v) => ({ id, at: new Date(Date.UTC(2026, 1, 4, 10, 0, second)).toISOString(), v });
const start = () => ({ value: {}, tracker: liveTracker() });
const event = (state, e, at) => applyLive(state, [[e.id, e]], at, apply);

describe('a load racing live events', () => {
  it('keeps an event that arrived while the request was in flight', () => {
    let state = start();
    const requestedAt = 1000;
    state = event(state, reading(1, 10, 'live'), 1500); // while in flight
    // The answer was read before that event was stored.
    state = applyLoaded(state, { 1: { at: reading(1, 5).at, v: 'rest' } }, requestedAt, load, apply);
    expect(state.value[1].v).toBe('live');
  });

  it('ignores an event older than the loaded data', () => {
    let state = start();
    state = event(state, reading(1, 3, 'late'), 1500);
    state = applyLoaded(state, { 1: { at: reading(1, 5).at, v: 'rest' } }, 1000, load, apply);
    expect(state.value[1].v).toBe('rest');
    // And once loaded, a late event changes nothing either.
    state = event(state, reading(1, 4, 'later still'), 2500);
    expect(state.value[1].v).toBe('rest');
  });

  it('takes the answer as the truth for what happened before its request', () => {
    let state = start();
    state = event(state, reading(2, 1, 'gone'), 500);
    // Server 2 no longer exists: the answer, requested after the event, says so.
    state = applyLoaded(state, { 1: { at: reading(1, 5).at, v: 'rest' } }, 1000, load, apply);
    expect(state.value[2]).toBeUndefined();
    expect(state.tracker.log.size).toBe(0); // nothing left to replay
  });

  it('ignores an answer to an older request that comes last', () => {
    let state = start();
    state = applyLoaded(state, { 1: { at: reading(1, 9).at, v: 'second request' } }, 2000, load, apply);
    expect(applyLoaded(state, { 1: { at: reading(1, 2).at, v: 'first' } }, 1000, load, apply)).toBeNull();
  });

  it('applies many events in one step and remembers only the latest of each key, within a bound', () => {
    const calls = vi.fn(apply);
    let state = start();
    const many = Array.from({ length: 50 }, (_, i) => [i % 10, reading(i % 10, i, i)]);
    state = applyLive(state, many, 1000, calls, { limit: 5 });
    expect(calls).toHaveBeenCalledTimes(1);
    expect(state.tracker.log.size).toBe(5);
    expect([...state.tracker.log.keys()]).toEqual([5, 6, 7, 8, 9]);
    expect(state.value[9].v).toBe(49);
  });
});

describe('a late event', () => {
  it('does not make the log forget a newer one', () => {
    const newer = (a, b) => isLater(a.at, b.at);
    let state = start();
    state = applyLive(state, [[1, reading(1, 10, 'new')]], 1500, apply, { newer });
    state = applyLive(state, [[1, reading(1, 2, 'late')]], 1600, apply, { newer });
    state = applyLoaded(state, { 1: { at: reading(1, 5).at, v: 'rest' } }, 1000, load, apply);
    expect(state.value[1].v).toBe('new');
  });
});

describe('useLiveLoad', () => {
  it('loads at once, then again after a resync and after a reconnection, with the time of each request', async () => {
    const answers = [];
    let n = 0;
    const loader = vi.fn(async () => {
      n += 1;
      return n;
    });
    renderHook(() => useLiveLoad(loader, [], { onAnswer: (answer, requestedAt) => answers.push([answer, requestedAt]) }));
    await waitFor(() => expect(answers.length).toBeGreaterThanOrEqual(1));
    const before = answers.length;
    act(() => relay.send('resync', { reason: 'test' }));
    await waitFor(() => expect(answers.length).toBe(before + 1));
    act(() => relay.send('disconnect', 'transport close'));
    await act(async () => relay.send('connect'));
    await waitFor(() => expect(answers.length).toBe(before + 2));
    for (const [, requestedAt] of answers) expect(requestedAt).toBeLessThanOrEqual(Date.now());
    expect(answers.map(([a]) => a)).toEqual(answers.map((_, i) => i + 1));
  });

  it('drops the answer of a load its view no longer wants', async () => {
    const onAnswer = vi.fn();
    let finish;
    const loader = () => new Promise((resolve) => (finish = resolve));
    const { unmount } = renderHook(() => useLiveLoad(loader, [], { onAnswer }));
    await waitFor(() => expect(finish).toBeTypeOf('function'));
    unmount();
    await act(async () => finish('too late'));
    expect(onAnswer).not.toHaveBeenCalled();
  });
});
