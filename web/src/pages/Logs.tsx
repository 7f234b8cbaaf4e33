// Logs: the cluster log, live, and a host's Ceph log files listed and tailed, with a follow mode.
// The cluster log is not an event of the store (the collector sends new lines, the server keeps
// the newest in memory), so the stream does not carry it: the page polls it while shown.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

import { Card, Empty, ErrorNote, Loading } from "../components/ui";
import { get } from "../lib/api";
import { follow, lineLevel, sortLogFiles, splitLines } from "../lib/logs";
import { location, setQuery } from "../lib/router";
import { useResource } from "../lib/store";
import "./manage.css";

/** How often a followed log is read again; each read of a host's file is a round trip to its collector. */
const CLUSTER_LOG_POLL_MS = 3000;
const FILE_FOLLOW_MS = 2000;
/** Lines kept on screen while following (older ones scroll away). */
const KEEP_LINES = 5000;
const TAIL_CHOICES = [40, 200, 1000, 5000];

interface Tail {
  lines: string;
  truncated?: boolean;
}

interface ServerRef {
  fqdn: string;
  hostname: string;
  contact_lost: boolean;
}

/** One log's lines, coloured by level, kept scrolled to the end while the reader is there. */
function LogLines(props: { lines: string[]; gapAt: number[]; label: string; testid: string }) {
  const ref = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && atEnd.current) el.scrollTop = el.scrollHeight;
  }, [props.lines]);
  const gaps = new Set(props.gapAt);
  return (
    <pre class="log-view" ref={ref} tabIndex={0} aria-label={props.label} data-testid={props.testid} data-lines={props.lines.length}
      onScroll={(e) => {
        const el = e.target as HTMLElement;
        atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 30;
      }}>
      {props.lines.map((line, i) => (
        <div key={i} class={`log-line level-${lineLevel(line)}`}>
          {gaps.has(i) && <div class="log-gap">… lines written meanwhile are not shown (more than one read holds) …</div>}
          {line || " "}
        </div>
      ))}
    </pre>
  );
}

/** Reads `path` now and every `everyMs` while `on`, following on from what is shown. */
function useFollowedTail(path: string | null, everyMs: number, on: boolean) {
  const [lines, setLines] = useState<string[]>([]);
  const [gapAt, setGapAt] = useState<number[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  const [truncated, setTruncated] = useState(false);
  const shown = useRef<string[]>([]);

  useEffect(() => {
    shown.current = [];
    setLines([]);
    setGapAt([]);
    setLoaded(false);
    setError(null);
    if (path === null) return;
    let stop = false;
    const controller = new AbortController();
    const read = async () => {
      try {
        const tail = await get<Tail>(path, controller.signal);
        if (stop) return;
        const next = follow(shown.current, splitLines(tail.lines ?? ""), KEEP_LINES);
        // gaps are line indexes: they move up by the lines that scrolled away at the front
        const dropped = shown.current.length + next.added - next.lines.length;
        const start = next.lines.length - next.added;
        setGapAt((gaps) => [...gaps.map((g) => g - dropped).filter((g) => g > 0), ...(next.gap ? [start] : [])]);
        shown.current = next.lines;
        setLines(next.lines);
        setTruncated(!!tail.truncated);
        setError(null);
        setLoaded(true);
      } catch (err) {
        if (!stop && !(err instanceof DOMException && err.name === "AbortError")) setError(err);
      }
    };
    void read();
    const timer = on ? setInterval(() => void read(), everyMs) : undefined;
    return () => {
      stop = true;
      controller.abort();
      if (timer !== undefined) clearInterval(timer);
    };
  }, [path, on, everyMs]);
  return { lines, gapAt, error, loaded, truncated };
}

function ClusterLog(props: { fsid: string }) {
  const [live, setLive] = useState(true);
  const tail = useFollowedTail(`/cluster/${props.fsid}/log?lines=1000`, CLUSTER_LOG_POLL_MS, live);
  return (
    <Card title="Cluster log" actions={
      <label>
        <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} /> Live (read every {CLUSTER_LOG_POLL_MS / 1000} s)
      </label>
    }>
      {tail.error !== null && <ErrorNote error={tail.error} />}
      {!tail.loaded && tail.error === null ? (
        <Loading what="the cluster log" />
      ) : tail.lines.length === 0 ? (
        <Empty>No cluster log lines yet: the collector sends new entries as the cluster logs them.</Empty>
      ) : (
        <LogLines lines={tail.lines} gapAt={tail.gapAt} label="Cluster log" testid="cluster-log" />
      )}
    </Card>
  );
}

function HostLog(props: { fqdn: string; file: string; following: boolean; lines: number }) {
  const path = `/server/${encodeURIComponent(props.fqdn)}/log/${props.file.split("/").map(encodeURIComponent).join("/")}?lines=${props.lines}`;
  const tail = useFollowedTail(path, FILE_FOLLOW_MS, props.following);
  return (
    <>
      {tail.error !== null && <ErrorNote error={tail.error} />}
      {tail.truncated && <p class="muted small">The file's last MiB holds fewer lines than asked: the first line shown may be cut.</p>}
      {!tail.loaded && tail.error === null ? <Loading what={props.file} /> : (
        <LogLines lines={tail.lines} gapAt={tail.gapAt} label={`${props.file} on ${props.fqdn}`} testid="host-log" />
      )}
    </>
  );
}

function HostLogs() {
  const servers = useResource<ServerRef[]>("/server");
  const query = location.value.query;
  const list = [...(servers.data.value ?? [])].sort((a, b) => a.fqdn.localeCompare(b.fqdn));
  const fqdn = query.get("host") ?? "";
  const file = query.get("file") ?? "";
  const following = query.get("follow") === "1";
  const lines = Number(query.get("lines") ?? "200");
  const tailLines = TAIL_CHOICES.includes(lines) ? lines : 200;
  const [files, setFiles] = useState<string[] | null>(null);
  const [filesError, setFilesError] = useState<unknown>(null);

  useEffect(() => {
    setFiles(null);
    setFilesError(null);
    if (!fqdn) return;
    const controller = new AbortController();
    get<string[]>(`/server/${encodeURIComponent(fqdn)}/log`, controller.signal)
      .then((found) => setFiles(sortLogFiles(found)))
      .catch((err: unknown) => {
        if (!(err instanceof DOMException && err.name === "AbortError")) setFilesError(err);
      });
    return () => controller.abort();
  }, [fqdn]);

  const chooseHost = (value: string) => {
    setQuery("file", null);
    setQuery("host", value);
  };

  return (
    <Card title="Host log files">
      <div class="toolbar">
        <label>
          Host{" "}
          <select aria-label="Host" value={fqdn} onChange={(e) => chooseHost((e.target as HTMLSelectElement).value)}>
            <option value="">Choose a host…</option>
            {list.map((s) => (
              <option key={s.fqdn} value={s.fqdn}>
                {s.fqdn}{s.contact_lost ? " (contact lost)" : ""}
              </option>
            ))}
          </select>
        </label>
        {file && (
          <>
            <label>
              Lines{" "}
              <select aria-label="Lines" value={String(tailLines)} onChange={(e) => setQuery("lines", (e.target as HTMLSelectElement).value)}>
                {TAIL_CHOICES.map((n) => <option key={n} value={String(n)}>{n}</option>)}
              </select>
            </label>
            <label>
              <input type="checkbox" checked={following} onChange={(e) => setQuery("follow", (e.target as HTMLInputElement).checked ? "1" : null)} />{" "}
              Follow (read every {FILE_FOLLOW_MS / 1000} s)
            </label>
          </>
        )}
      </div>
      {!fqdn ? (
        <Empty>Choose a host to list its Ceph log files; its collector reads them.</Empty>
      ) : (
        <div class="logs-grid">
          <nav aria-label="Log files">
            {filesError !== null && <ErrorNote error={filesError} />}
            {files === null && filesError === null && <Loading what="the files" />}
            {files?.length === 0 && <Empty>No log files on this host.</Empty>}
            {files && files.length > 0 && (
              <ul class="log-files" data-testid="log-files">
                {files.map((f) => {
                  const q = new URLSearchParams(query);
                  q.set("file", f);
                  return (
                    <li key={f}>
                      <a href={`/logs?${q.toString()}`} aria-current={f === file ? "true" : undefined}>{f.replace(/^ceph\//, "")}</a>
                    </li>
                  );
                })}
              </ul>
            )}
          </nav>
          <div>
            {file ? <HostLog key={`${fqdn}|${file}|${tailLines}`} fqdn={fqdn} file={file} following={following} lines={tailLines} /> : (
              <Empty>Choose a file.</Empty>
            )}
          </div>
        </div>
      )}
    </Card>
  );
}

export function Logs(props: { fsid: string | null }) {
  return (
    <div class="page manage-page">
      <header class="page-head">
        <h1>Logs</h1>
      </header>
      {props.fsid && <ClusterLog fsid={props.fsid} />}
      <HostLogs />
    </div>
  );
}
