import { useEffect, useState } from "preact/hooks";

import { ErrorBoundary } from "./components/ErrorBoundary";
import { RequestTray } from "./components/RequestTray";
import { HeadChoice } from "./components/ui";
import { ago, when } from "./lib/format";
import { location, match } from "./lib/router";
import { useResource } from "./lib/store";
import { Account } from "./pages/Account";
import { Admin } from "./pages/Admin";
import { Config } from "./pages/Config";
import { Crush } from "./pages/Crush";
import { Logs } from "./pages/Logs";
import { Alerts } from "./pages/Alerts";
import { Events } from "./pages/Events";
import { GraphExplorer } from "./pages/GraphExplorer";
import { Hosts, HostDetail } from "./pages/Hosts";
import { Login } from "./pages/Login";
import { Osds } from "./pages/Osds";
import { Overview } from "./pages/Overview";
import { Pools } from "./pages/Pools";
import { Requests } from "./pages/Requests";
import { TimeTravel } from "./pages/TimeTravel";
import { chooseCluster, clusters, fsid, isAdmin, liveDetail, liveState, logout, session, sessionNote, user } from "./state";

const NAV = [
  { href: "/", label: "Overview" },
  { href: "/osds", label: "OSDs" },
  { href: "/pools", label: "Pools" },
  { href: "/hosts", label: "Hosts" },
  { href: "/crush", label: "CRUSH" },
  { href: "/config", label: "Configuration" },
  { href: "/logs", label: "Logs" },
  { href: "/requests", label: "Requests" },
  { href: "/alerts", label: "Alerts" },
  { href: "/events", label: "Events" },
  { href: "/history", label: "Time travel" },
  { href: "/account", label: "Account" },
  { href: "/admin", label: "Administration", admin: true },
];

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

function LiveIndicator() {
  const state = liveState.value;
  const words = {
    connecting: "Connecting…",
    live: "Live",
    polling: "Updating every 5 s",
    reconnecting: "Connection lost — reconnecting",
    unauthorized: "Session ended",
  }[state];
  return (
    <span class={`live live-${state}`} role="status" title={liveDetail.value || words} data-live={state}>
      <span class="live-dot" aria-hidden="true" />
      {words}
    </span>
  );
}

interface ClusterDetail {
  id: string;
  name: string;
  stale: boolean;
  last_contact: string | null;
  update_time: string;
}

function StaleBanner(props: { fsid: string }) {
  const cluster = useResource<ClusterDetail>(`/cluster/${props.fsid}`);
  const now = useNow(5000);
  const c = cluster.data.value;
  if (!c || !c.stale) return null;
  return (
    <div class="banner banner-warn" role="alert" data-testid="stale-banner">
      <strong>Cluster {c.name} is not reporting.</strong> Its collector is silent or cannot reach the monitors; what you
      see is the last known state. Last contact: {c.last_contact ? `${when(c.last_contact)} (${ago(c.last_contact, now)})` : "none since the server started"}.
    </div>
  );
}

function ConnectionBanner() {
  if (liveState.value !== "reconnecting") return null;
  return (
    <div class="banner banner-err" role="alert" data-testid="connection-banner">
      <strong>Connection to the Calamari server lost.</strong> {liveDetail.value && `(${liveDetail.value}.) `}
      Reconnecting with increasing pauses; the data on screen may be out of date. Nothing needs doing unless it lasts: then check that calamari-server runs.
    </div>
  );
}

function ClusterSwitcher() {
  const list = clusters.value;
  if (!list || list.length === 0) return null;
  if (list.length === 1) {
    return (
      <span class="cluster-name" title={list[0]?.id}>
        Cluster <strong>{list[0]?.name}</strong>
      </span>
    );
  }
  return (
    <HeadChoice label="Cluster" value={fsid.value ?? ""} onChange={chooseCluster}
      options={list.map((c): [string, string] => [c.id, `${c.name} (${c.id.slice(0, 8)})`])} />
  );
}

function Page() {
  const path = location.value.path;
  const host = match("/hosts/:fqdn", path);
  if (path === "/account") return <Account />;
  if (path === "/requests") return <Requests />;
  if (path === "/alerts") return <Alerts />;
  if (path === "/events") return <Events />;
  if (path === "/graphs") return <GraphExplorer />;
  if (path === "/hosts") return <Hosts />;
  if (host) return <HostDetail fqdn={host.fqdn as string} />;
  if (path === "/admin") return <Admin />;
  if (path === "/logs") return <Logs fsid={fsid.value} />;
  const id = fsid.value;
  if (clusters.value === null) return <div class="page"><p class="loading">Loading clusters…</p></div>;
  if (id === null) {
    return (
      <div class="page">
        <h1>No cluster yet</h1>
        <p>No collector has reported a cluster to this server. Start <code>calamari-collector</code> on a Ceph host and accept its key
          (<code>calamari-ctl key accept HOST</code>); the cluster shows here as soon as it reports.</p>
      </div>
    );
  }
  if (path === "/" || path === "/overview") return <Overview fsid={id} />;
  if (path === "/osds") return <Osds fsid={id} />;
  if (path === "/pools") return <Pools fsid={id} />;
  if (path === "/crush") return <Crush fsid={id} />;
  if (path === "/config") return <Config fsid={id} />;
  if (path === "/history") return <TimeTravel fsid={id} />;
  return (
    <div class="page">
      <h1>No such page</h1>
      <p>
        <code>{path}</code> is not a page of the console. <a href="/">Go to the overview</a>.
      </p>
    </div>
  );
}

export function App() {
  const state = session.value;
  if (state === "checking") {
    return (
      <main class="splash" aria-live="polite">
        <span class="brand-mark" aria-hidden="true" />
        <p>Connecting to Calamari…</p>
        {sessionNote.value && <p class="muted">The server does not answer ({sessionNote.value}); retrying.</p>}
      </main>
    );
  }
  if (state !== "in") return <Login />;
  const path = location.value.path;
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <nav class="side" aria-label="Main">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          Calamari
        </div>
        <ul>
          {NAV.filter((item) => !("admin" in item) || isAdmin.value).map((item) => {
            const active = item.href === "/" ? path === "/" || path === "/overview" : path.startsWith(item.href);
            return (
              <li key={item.href}>
                <a href={item.href} aria-current={active ? "page" : undefined} class={active ? "active" : ""}>
                  {item.label}
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      <div class="main-col">
        <header class="top">
          <ClusterSwitcher />
          <span class="top-space" />
          <LiveIndicator />
          <span class="who">
            {user.value?.username} <span class="role">{user.value?.role}</span>
          </span>
          <button type="button" class="btn btn-small btn-ghost" onClick={() => void logout()}>
            Log out
          </button>
        </header>
        <ConnectionBanner />
        {fsid.value && <StaleBanner fsid={fsid.value} />}
        <main id="main" tabIndex={-1}>
          <ErrorBoundary resetKey={path}>
            <Page />
          </ErrorBoundary>
        </main>
      </div>
      <RequestTray />
    </div>
  );
}
