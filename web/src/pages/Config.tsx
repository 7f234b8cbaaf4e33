// Configuration: the cluster's `ceph config dump` settings, searchable (read-only).
import { Card, Empty, ErrorNote, Loading, TableHead } from "../components/ui";
import { configSection, searchConfig, type ConfigEntry } from "../lib/manage";
import { location, setQuery } from "../lib/router";
import { refresh, useResource } from "../lib/store";
import "./manage.css";

export function Config(props: { fsid: string }) {
  const path = `/cluster/${props.fsid}/config`;
  const config = useResource<ConfigEntry[]>(path);
  const query = location.value.query.get("q") ?? "";
  const all = config.data.value;
  const found = all ? searchConfig(all, query) : [];
  return (
    <div class="page manage-page">
      <header class="page-head">
        <h1>Configuration</h1>
        <span class="muted">The settings the cluster's configuration database holds (<code>ceph config dump</code>); read-only.</span>
      </header>
      <Card title="Settings">
        <div class="filters">
          <div class="field">
            <label for="config-search">Search</label>
            <input id="config-search" type="search" value={query} placeholder="key or value, e.g. pool default"
              onInput={(e) => setQuery("q", (e.target as HTMLInputElement).value)} />
          </div>
          {all && (
            <span class="muted" role="status" data-testid="config-count">
              {query ? `${found.length} of ${all.length} settings` : `${all.length} settings`}
            </span>
          )}
        </div>
        {config.error.value && <ErrorNote error={config.error.value} retry={() => void refresh(path)} />}
        {!all ? (
          <Loading what="the configuration" />
        ) : all.length === 0 ? (
          <Empty>The cluster sets no configuration keys: every setting has its default.</Empty>
        ) : found.length === 0 ? (
          <Empty>No setting matches “{query}”.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table compact" aria-label="Configuration settings" data-testid="config-table">
              <TableHead columns={["Key", "Section", "Value"]} />
              <tbody>
                {found.map((e) => (
                  <tr key={e.key} data-key={e.key}>
                    <td><code>{e.key}</code></td>
                    <td>{configSection(e.key)}</td>
                    <td><code>{e.value}</code></td>
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
