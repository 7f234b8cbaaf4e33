// The Logs page's logic: following a log by reading its tail again and again, and how a line reads.

/** The lines of a tail answer (`{"lines": "…\n…\n"}`), without the empty one after the last newline. */
export function splitLines(text: string): string[] {
  if (!text) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export interface Followed {
  lines: string[];
  /** true when the new tail did not overlap what was shown: lines in between may be missing */
  gap: boolean;
  /** how many lines of the tail were new (appended at the end) */
  added: number;
}

/**
 * Follow mode: `shown` is what is on screen, `tail` the file's last lines read now. The longest
 * end of `shown` that the tail starts with is where the two meet; what follows it is new. No
 * overlap means more was written than one tail holds (or the file was rotated): the new tail is
 * appended after a gap. At most `keep` lines are kept (the newest).
 */
export function follow(shown: string[], tail: string[], keep: number): Followed {
  if (shown.length === 0) return { lines: tail.slice(-keep), gap: false, added: Math.min(tail.length, keep) };
  const most = Math.min(shown.length, tail.length);
  for (let k = most; k > 0; k--) {
    let same = true;
    for (let i = 0; i < k; i++) {
      if (shown[shown.length - k + i] !== tail[i]) {
        same = false;
        break;
      }
    }
    if (same) return { lines: [...shown, ...tail.slice(k)].slice(-keep), gap: false, added: tail.length - k };
  }
  if (tail.length === 0) return { lines: shown, gap: false, added: 0 };
  return { lines: [...shown, ...tail].slice(-keep), gap: true, added: tail.length };
}

export type LineLevel = "err" | "warn" | "info" | "debug";

/** A Ceph log line's level, from the cluster log's `[ERR]`/`[WRN]`/`[INF]`/`[DBG]` marks or a
 * daemon log's priority column (`-1` is an error, `0` a notice). */
export function lineLevel(line: string): LineLevel {
  if (/\[(ERR|SEC)\]/.test(line)) return "err";
  if (/\[WRN\]/.test(line)) return "warn";
  if (/\[DBG\]/.test(line)) return "debug";
  if (/\[INF\]/.test(line)) return "info";
  if (/^\S+\s+\S+\s+-1\s/.test(line)) return "err";
  return "info";
}

/** The files of a host worth offering first: the cluster log, then monitors, managers, OSDs by number. */
export function sortLogFiles(paths: string[]): string[] {
  const rank = (p: string): [number, number, string] => {
    const base = p.split("/").pop() ?? p;
    if (base === "ceph.log") return [0, 0, base];
    if (base === "ceph.audit.log") return [1, 0, base];
    const m = /^ceph-(\w+)\.(.+)\.log$/.exec(base);
    if (!m) return [9, 0, base];
    const kind = ["mon", "mgr", "mds", "osd"].indexOf(m[1] as string);
    const num = Number(m[2]);
    return [2 + (kind < 0 ? 4 : kind), Number.isFinite(num) ? num : 0, base];
  };
  return [...paths].sort((a, b) => {
    const x = rank(a);
    const y = rank(b);
    return x[0] - y[0] || x[1] - y[1] || x[2].localeCompare(y[2]);
  });
}
