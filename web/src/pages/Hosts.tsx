// Hosts: their services, Ceph version, last contact and lost contact; a host's OSDs and events.
import { useEffect, useState } from "preact/hooks";

import { Badge, Card, Empty, ErrorNote, Loading, TableHead } from "../components/ui";
import { ago, bytes, count, when } from "../lib/format";
import type { FeedEvent } from "../lib/live";
import { describeStatus, type OsdRow } from "../lib/osd";
import { refresh, useResource } from "../lib/store";
import { Graphs } from "../components/LazyGraphs";
import { hostGraphs } from "../lib/graphite";
import { fsid } from "../state";

interface Service {
  fsid: string;
  type: string;
  id: string;
  running: boolean | null;
  version: string | null;
}

interface Server {
  fqdn: string;
  hostname: string;
  managed: boolean;
  contact_lost: boolean;
  last_contact: string | null;
  boot_time: number | null;
  kernel: string | null;
  cpu_count: number | null;
  mem_total: number | null;
  frontend_addr: string | null;
  backend_addr: string | null;
  services: Service[];
  ceph_version?: string | null;
}

function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  return now;
}

function serviceSummary(services: Service[]): string {
  const counts = new Map<string, number>();
  for (const s of services) counts.set(s.type, (counts.get(s.type) ?? 0) + 1);
  return [...counts.entries()].sort().map(([type, n]) => `${n} ${type}`).join(", ") || "none";
}

function version(server: Server): string {
  if (server.ceph_version) return server.ceph_version;
  const versions = [...new Set(server.services.map((s) => s.version).filter(Boolean))];
  return versions.join(", ") || "–";
}

function Contact(props: { server: Server; now: number }) {
  return props.server.contact_lost ? (
    <Badge level="ERROR" text={`contact lost · ${ago(props.server.last_contact, props.now)}`} />
  ) : (
    <span title={when(props.server.last_contact)}>{ago(props.server.last_contact, props.now)}</span>
  );
}

export function Hosts() {
  const servers = useResource<Server[]>("/server");
  const now = useNow();
  const shown = fsid.value;
  const list = (servers.data.value ?? []).filter((s) => !shown || s.services.length === 0 || s.services.some((x) => x.fsid === shown));
  const lost = list.filter((s) => s.contact_lost).length;
  return (
    <div class="page">
      <header class="page-head">
        <h1>Hosts</h1>
        <span class="muted">{count(list.length)} hosts{lost ? ` · ${lost} out of contact` : ""}</span>
      </header>
      {servers.error.value && <ErrorNote error={servers.error.value} retry={() => void refresh("/server")} />}
      <Card>
        {!servers.data.value ? <Loading what="hosts" /> : list.length === 0 ? <Empty>No host has reported.</Empty> : (
          <div class="table-wrap">
            <table class="table" aria-label="Hosts">
              <TableHead columns={["Host", "Services", "Ceph version", "Last contact", "Addresses"]} />
              <tbody>
                {list.map((s) => (
                  <tr key={s.fqdn} data-host={s.fqdn}>
                    <td><a href={`/hosts/${encodeURIComponent(s.fqdn)}`}><strong>{s.hostname || s.fqdn}</strong></a><div class="muted small">{s.fqdn}</div></td>
                    <td>{serviceSummary(s.services)}</td>
                    <td>{version(s)}</td>
                    <td><Contact server={s} now={now} /></td>
                    <td class="small">{s.frontend_addr ?? "–"}{s.backend_addr ? ` / ${s.backend_addr}` : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

export function HostDetail(props: { fqdn: string }) {
  const server = useResource<Server>(`/server/${encodeURIComponent(props.fqdn)}`);
  const events = useResource<{ results: FeedEvent[] }>(`/server/${encodeURIComponent(props.fqdn)}/event?page_size=10`);
  const now = useNow();
  const s = server.data.value;
  const osdIds = (s?.services ?? []).filter((x) => x.type === "osd").map((x) => x.id);
  const cluster = s?.services.find((x) => x.type === "osd")?.fsid ?? fsid.value;
  const osdPath = cluster && osdIds.length ? `/cluster/${cluster}/osd?${osdIds.map((id) => `id__in[]=${encodeURIComponent(id)}`).join("&")}` : null;
  const osds = useResource<OsdRow[]>(osdPath);
  if (!s) {
    return (
      <div class="page">
        <header class="page-head"><h1>{props.fqdn}</h1></header>
        {server.error.value ? <ErrorNote error={server.error.value} /> : <Loading what="the host" />}
        <p><a href="/hosts">← All hosts</a></p>
      </div>
    );
  }
  return (
    <div class="page">
      <header class="page-head">
        <h1>{s.hostname || s.fqdn} <span class="muted">{s.fqdn}</span></h1>
        {s.contact_lost && <Badge level="ERROR" text="contact lost" />}
        <span class="spacer" />
        <a href="/hosts">← All hosts</a>
      </header>
      <div class="grid">
        <Card title="Host">
          <dl class="facts">
            <dt>Last contact</dt>
            <dd><Contact server={s} now={now} /> <span class="muted small">({when(s.last_contact)})</span></dd>
            <dt>Ceph version</dt><dd>{version(s)}</dd>
            <dt>Kernel</dt><dd>{s.kernel ?? "–"}</dd>
            <dt>CPUs</dt><dd>{s.cpu_count ?? "–"}</dd>
            <dt>Memory</dt><dd>{s.mem_total ? bytes(s.mem_total) : "–"}</dd>
            <dt>Booted</dt><dd>{s.boot_time ? when(new Date(s.boot_time * 1000).toISOString()) : "–"}</dd>
            <dt>Public address</dt><dd>{s.frontend_addr ?? "–"}</dd>
            <dt>Cluster address</dt><dd>{s.backend_addr ?? "–"}</dd>
            <dt>Managed</dt><dd>{s.managed ? "yes: a collector reports it" : "no: known from the OSD metadata"}</dd>
          </dl>
        </Card>
        <Card title="Services">
          {s.services.length === 0 ? <Empty>No Ceph services.</Empty> : (
            <table class="table compact">
              <TableHead columns={["Service", "Running", "Version"]} />
              <tbody>
                {s.services.map((x) => (
                  <tr key={`${x.type}.${x.id}`}>
                    <td>{x.type === "osd" ? <a href={`/osds?osd=${encodeURIComponent(x.id)}`}>{x.type}.{x.id}</a> : `${x.type}.${x.id}`}</td>
                    <td>{x.running === null ? "unknown" : x.running ? "✓ yes" : "✕ no"}</td>
                    <td>{x.version ?? "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        <Card title="OSDs" actions={s.hostname ? <a href={`/osds?host=${encodeURIComponent(s.hostname)}`}>In the workbench →</a> : undefined}>
          {osdIds.length === 0 ? <Empty>No OSDs on this host.</Empty> : !osds.data.value ? <Loading what="OSDs" /> : (
            <ul class="plain">
              {osds.data.value.map((o) => (
                <li key={o.id}>
                  <a href={`/osds?osd=${o.id}`}>osd.{o.id}</a> — {describeStatus({ up: o.up, in: o.in, fullness: null, unclean: false })}
                  <span class="muted"> · {o.device_class ?? ""} · reweight {o.reweight}</span>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <div class="span-2"><Graphs title="CPU, memory and network" specs={hostGraphs(s.hostname || s.fqdn)} /></div>
        <Card title="Newest events" class="span-2">
          {events.error.value && <ErrorNote error={events.error.value} />}
          {!events.data.value ? <Loading what="events" /> : events.data.value.results.length === 0 ? <Empty>No events.</Empty> : (
            <ul class="event-list">
              {events.data.value.results.map((e) => (
                <li key={e.id}><Badge level={e.severity} text={e.severity.toLowerCase()} /><span class="event-when">{when(e.when)}</span>{e.message}</li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </div>
  );
}
