import { afterEach, describe, expect, it, vi } from "vitest";

import { backoffDelay } from "./backoff";
import { affects, LiveChannel, parseChange, type LiveState, type StreamChange } from "./live";

describe("stream messages", () => {
  it("parses a change and drops malformed ones", () => {
    const change = parseChange(JSON.stringify({ position: 12, type: "OsdMarkedOut", when: "t", event: null, changed: ["cluster/f/osd/3", 5] }));
    expect(change).toEqual({ position: 12, type: "OsdMarkedOut", when: "t", event: null, changed: ["cluster/f/osd/3"] });
    expect(parseChange("not json")).toBeNull();
    expect(parseChange("[1]")).toBeNull();
    expect(parseChange(JSON.stringify({ changed: [] }))).toBeNull();
  });

  it("knows which cached resources a change makes stale", () => {
    expect(affects("cluster/f/osd/3", "/cluster/f/osd/3".slice(1))).toBe(true);
    expect(affects("cluster/f/osd/3", "cluster/f/osd")).toBe(true); // the list holding it
    expect(affects("cluster/f/osd/3", "cluster/f/osd?pool=2")).toBe(true);
    expect(affects("cluster/f/osd/3", "cluster/f/osd/3/stats")).toBe(true);
    expect(affects("cluster/f/osd/3", "cluster/f/osd/30")).toBe(false);
    expect(affects("cluster/f/osd/3", "cluster/f/pool")).toBe(false);
    expect(affects("cluster/f", "cluster/f/sync_object/health")).toBe(true);
    expect(affects("cluster/f", "/cluster/f?x=1")).toBe(true);
    expect(affects("cluster/f", "cluster")).toBe(true);
    expect(affects("cluster/f", "cluster/f/osd")).toBe(false); // a cluster's health is no change of its OSDs
    expect(affects("event", "event?page_size=8")).toBe(true);
  });
});

describe("back-off", () => {
  it("doubles up to a cap, with jitter in the upper half", () => {
    expect(backoffDelay(0, 1000, 30000, () => 0)).toBe(500);
    expect(backoffDelay(0, 1000, 30000, () => 1)).toBe(1000);
    expect(backoffDelay(3, 1000, 30000, () => 1)).toBe(8000);
    expect(backoffDelay(20, 1000, 30000, () => 1)).toBe(30000);
    expect(backoffDelay(20, 1000, 30000, () => 0)).toBe(15000);
  });
});

function sse(...chunks: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const change = (position: number, changed: string[]) =>
  `id: ${position}\nevent: change\ndata: ${JSON.stringify({ position, type: "X", when: "", event: null, changed })}\n\n`;

describe("the live channel", () => {
  afterEach(() => vi.useRealTimers());

  it("delivers changes, then resumes after a drop with Last-Event-ID", async () => {
    vi.useFakeTimers();
    const seen: StreamChange[] = [];
    const states: LiveState[] = [];
    const requests: (string | null)[] = [];
    const answers = [
      sse(": hello\n\n", change(7, ["cluster/f/osd/1"]), change(8, ["cluster/f/pool/2"])),
      sse(change(9, ["cluster/f"])),
    ];
    const fetchImpl = vi.fn(async (_url: string | URL | Request, init?: RequestInit) => {
      requests.push(((init?.headers ?? {}) as Record<string, string>)["Last-Event-ID"] ?? null);
      const next = answers.shift();
      if (!next) return new Promise<Response>(() => undefined); // stays open
      return next;
    });
    const channel = new LiveChannel({ onChange: (c) => seen.push(c), onState: (s) => states.push(s), onPoll: () => undefined, fetchImpl: fetchImpl as typeof fetch });
    channel.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(seen.map((c) => c.position)).toEqual([7, 8]);
    expect(states).toContain("reconnecting"); // the first answer ended
    await vi.advanceTimersByTimeAsync(1100);
    expect(requests.slice(0, 2)).toEqual([null, "8"]);
    expect(seen.map((c) => c.position)).toEqual([7, 8, 9]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(requests[2]).toBe("9");
    channel.stop();
  });

  it("follows on at once, still live, when the server ends a stream after its lifetime", async () => {
    vi.useFakeTimers();
    const states: LiveState[] = [];
    const requests: { at: number; after: string | null }[] = [];
    const lived = (ms: number, ...chunks: string[]) =>
      new Response(new ReadableStream<Uint8Array>({
        start(controller) {
          for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
          setTimeout(() => controller.close(), ms);
        },
      }), { status: 200 });
    const answers = [() => lived(55_000, change(5, ["cluster/f"])), () => lived(55_000, change(6, ["cluster/f"]))];
    const fetchImpl = vi.fn(async (_url: string | URL | Request, init?: RequestInit) => {
      requests.push({ at: Date.now(), after: ((init?.headers ?? {}) as Record<string, string>)["Last-Event-ID"] ?? null });
      return answers.shift()?.() ?? new Promise<Response>(() => undefined);
    });
    const channel = new LiveChannel({ onChange: () => undefined, onState: (s) => states.push(s), onPoll: () => undefined,
      fetchImpl: fetchImpl as typeof fetch });
    channel.start();
    await vi.advanceTimersByTimeAsync(111_000);
    expect(requests.map((r) => r.after)).toEqual([null, "5", "6"]);
    const gaps = requests.slice(1).map((r, i) => r.at - (requests[i] as { at: number }).at);
    expect(gaps.every((g) => g >= 55_000 && g < 55_100)).toBe(true); // no back-off pause
    expect(states).not.toContain("reconnecting"); // no "connection lost" banner
    expect(states.filter((s) => s === "live").length).toBe(2); // the third answer never comes here
    channel.stop();
  });

  it.each([404, 503])("polls while the stream answers %i, and says so", async (status) => {
    vi.useFakeTimers();
    const states: LiveState[] = [];
    let polls = 0;
    const fetchImpl = vi.fn(async () => new Response("{}", { status }));
    const channel = new LiveChannel({ onChange: () => undefined, onState: (s) => states.push(s), onPoll: () => { polls += 1; },
      pollEveryMs: 5000, fetchImpl: fetchImpl as unknown as typeof fetch });
    channel.start();
    await vi.advanceTimersByTimeAsync(16000);
    expect(states).toContain("polling");
    expect(polls).toBe(3);
    channel.stop();
  });

  it("takes the position a new stream starts at, and resumes from it", async () => {
    vi.useFakeTimers();
    const requests: (string | null)[] = [];
    const answers = [sse(`id: 41\nevent: hello\ndata: {"position": 41}\n\n`)];
    const fetchImpl = vi.fn(async (_url: string | URL | Request, init?: RequestInit) => {
      requests.push(((init?.headers ?? {}) as Record<string, string>)["Last-Event-ID"] ?? null);
      return answers.shift() ?? new Promise<Response>(() => undefined);
    });
    const seen: StreamChange[] = [];
    const channel = new LiveChannel({ onChange: (c) => seen.push(c), onState: () => undefined, onPoll: () => undefined,
      fetchImpl: fetchImpl as typeof fetch });
    channel.start();
    await vi.advanceTimersByTimeAsync(1100);
    expect(seen).toEqual([]); // a hello is no change
    expect(requests).toEqual([null, "41"]);
    channel.stop();
  });

  it("stops at a 401 and reports the session gone", async () => {
    vi.useFakeTimers();
    const states: LiveState[] = [];
    const fetchImpl = vi.fn(async () => new Response("{}", { status: 401 }));
    const channel = new LiveChannel({ onChange: () => undefined, onState: (s) => states.push(s), onPoll: () => undefined,
      fetchImpl: fetchImpl as unknown as typeof fetch });
    channel.start();
    await vi.advanceTimersByTimeAsync(60000);
    expect(states.at(-1)).toBe("unauthorized");
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it("backs off further after each failed attempt", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(1);
    const times: number[] = [];
    const fetchImpl = vi.fn(async () => {
      times.push(Date.now());
      throw new TypeError("network down");
    });
    const channel = new LiveChannel({ onChange: () => undefined, onState: () => undefined, onPoll: () => undefined,
      fetchImpl: fetchImpl as unknown as typeof fetch });
    channel.start();
    await vi.advanceTimersByTimeAsync(16000);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
    channel.stop();
  });
});
