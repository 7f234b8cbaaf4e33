// Reconnect delays: doubling from `base` up to `cap`, with jitter so that many consoles do not
// come back in step after a server restart.

export function backoffDelay(attempt: number, base = 1000, cap = 30000, random: () => number = Math.random): number {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
