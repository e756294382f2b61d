// Stand-ins for `@tauri-apps/api/core` and `@tauri-apps/api/event` in component tests:
//   vi.mock('@tauri-apps/api/core', () => import('../test/tauri'));
// `invoke` is a mock to program and inspect; `emit` plays a backend event to the listeners;
// a `Channel` handed to a command gets the backend's messages by `send`.

import { vi } from 'vitest';

type Handler = (event: { event: string; id: number; payload: unknown }) => void;

const handlers = new Map<string, Handler[]>();

export const invoke = vi.fn<(command: string, args?: Record<string, unknown>) => Promise<unknown>>();

export const listen = vi.fn(async (name: string, handler: Handler) => {
  handlers.set(name, [...(handlers.get(name) ?? []), handler]);
  return () => handlers.set(name, (handlers.get(name) ?? []).filter((h) => h !== handler));
});

/** Tauri's `Channel` without the IPC: `send` plays a message from the backend. */
export class Channel<T = unknown> {
  onmessage: (message: T) => void;

  constructor(onmessage?: (message: T) => void) {
    this.onmessage = onmessage ?? (() => {});
  }

  send(message: T): void {
    this.onmessage(message);
  }
}

export function emit(name: string, payload: unknown): void {
  for (const handler of handlers.get(name) ?? []) handler({ event: name, id: 0, payload });
}

/** Answers each command with `replies[command]` (a function of the arguments, or a value). */
export function reply(replies: Record<string, unknown>): void {
  invoke.mockImplementation(async (command, args) => {
    const answer = replies[command];
    return typeof answer === 'function' ? answer(args) : answer;
  });
}

export function resetTauri(): void {
  invoke.mockReset();
  invoke.mockResolvedValue(undefined);
  listen.mockClear();
  handlers.clear();
}
