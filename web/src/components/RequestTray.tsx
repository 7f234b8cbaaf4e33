// The requests this console started, with their progress until complete or failed.
import { dismissTracked, tracked } from "../state";

export function RequestTray() {
  const list = tracked.value;
  if (list.length === 0) return null;
  return (
    <aside class="tray" aria-label="Your requests" aria-live="polite">
      <h2 class="tray-title">Your requests</h2>
      <ul>
        {list.map((t) => {
          const row = t.row;
          const done = row?.state === "complete";
          const failed = done && row?.error;
          const status = failed ? "failed" : done ? "complete" : row?.state ?? "submitted";
          return (
            <li key={t.id} class={`tray-item tray-${status}`} data-request={t.id} data-state={status}>
              <span class="tray-icon" aria-hidden="true">
                {failed ? "✕" : done ? "✓" : <span class="spinner" />}
              </span>
              <div class="tray-text">
                <div class="tray-headline">{t.headline}</div>
                <div class="tray-status">
                  {failed ? `Failed: ${row?.error_message}` : done ? "Complete" : row?.status || "Submitted"}
                  {t.failure && ` (progress unknown: ${t.failure})`}
                </div>
              </div>
              {(done || t.failure) && (
                <button type="button" class="tray-dismiss" aria-label={`Dismiss ${t.headline}`} onClick={() => dismissTracked(t.id)}>
                  ✕
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}
