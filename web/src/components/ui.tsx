// Small building blocks shared by the pages.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";

import { ApiFailure, explain } from "../lib/api";
import { useSending } from "../lib/sending";
import { logout } from "../state";

export function Card(props: { title?: string; actions?: ComponentChildren; children: ComponentChildren; class?: string; id?: string }) {
  return (
    <section class={`card ${props.class ?? ""}`} aria-label={props.title} id={props.id}>
      {(props.title || props.actions) && (
        <header class="card-head">
          {props.title && <h2>{props.title}</h2>}
          {props.actions && <div class="card-actions">{props.actions}</div>}
        </header>
      )}
      <div class="card-body">{props.children}</div>
    </section>
  );
}

export function Stat(props: { label: string; value: ComponentChildren; sub?: ComponentChildren; tone?: string }) {
  return (
    <div class={`stat ${props.tone ? `tone-${props.tone}` : ""}`}>
      <div class="stat-value">{props.value}</div>
      <div class="stat-label">{props.label}</div>
      {props.sub && <div class="stat-sub">{props.sub}</div>}
    </div>
  );
}

/** A table's header row: a heading a column (those in `numeric` aligned as their numbers are), then,
 * when the rows have buttons, an actions column named for screen readers only. */
export function TableHead(props: { columns: string[]; numeric?: string[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {props.columns.map((name) => <th key={name} scope="col" class={props.numeric?.includes(name) ? "num" : undefined}>{name}</th>)}
        {props.actions && <th scope="col"><span class="sr-only">Actions</span></th>}
      </tr>
    </thead>
  );
}

/** A choice in a page's head (which cluster, which state of the list): its label, and its options
 * as [value, words]. */
export function HeadChoice(props: { label: string; value: string; options: [string, string][]; onChange: (value: string) => void }) {
  return (
    <label class="cluster-switch">
      <span>{props.label}</span>
      <select aria-label={props.label} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.options.map(([value, words]) => <option key={value} value={value}>{words}</option>)}
      </select>
    </label>
  );
}

const HEALTH_WORD: Record<string, string> = { HEALTH_OK: "OK", HEALTH_WARN: "Warning", HEALTH_ERR: "Error" };

/** A health or severity badge: colour plus a symbol and a word. */
export function Badge(props: { level: string; text?: string }) {
  const level = props.level;
  const tone =
    level === "HEALTH_OK" || level === "RECOVERY" || level === "complete" ? "ok"
      : level === "HEALTH_WARN" || level === "WARNING" ? "warn"
        : level === "HEALTH_ERR" || level === "ERROR" || level === "CRITICAL" || level === "failed" ? "err"
          : "info";
  const symbol = { ok: "✓", warn: "▲", err: "✕", info: "●" }[tone];
  return (
    <span class={`badge badge-${tone}`}>
      <span aria-hidden="true">{symbol}</span> {props.text ?? HEALTH_WORD[level] ?? level}
    </span>
  );
}

export function ErrorNote(props: { error: unknown; retry?: () => void }) {
  const { what, todo } = explain(props.error);
  return (
    <div class="error-note" role="alert">
      <strong>{what}</strong>
      <span>{todo}</span>
      {props.retry && (
        <button type="button" class="btn btn-small" onClick={props.retry}>
          Try again
        </button>
      )}
      {props.error instanceof ApiFailure && props.error.status === 403 && (
        // the page stays in the address: after the login it shows again
        <button type="button" class="btn btn-small" onClick={() => void logout()}>
          Log in as another user
        </button>
      )}
    </div>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <div class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {props.what ?? ""}…
    </div>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="empty">{props.children}</div>;
}

export function Field(props: {
  label: string;
  name: string;
  error?: string | undefined;
  hint?: string;
  children: JSX.Element;
}) {
  return (
    <div class={`field ${props.error ? "field-error" : ""}`}>
      <label for={`f-${props.name}`}>{props.label}</label>
      {props.children}
      {props.error ? (
        <div class="field-msg" id={`f-${props.name}-error`} role="alert" data-field={props.name}>
          {props.error}
        </div>
      ) : (
        props.hint && <div class="field-hint">{props.hint}</div>
      )}
    </div>
  );
}

/** A modal dialog: focus moves in, Escape closes, focus goes back where it was. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input, select, textarea, button:not(.dialog-close)");
    (first ?? ref.current)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") props.onClose();
      if (e.key === "Tab" && ref.current) {
        // keep Tab inside the dialog
        const items = [...ref.current.querySelectorAll<HTMLElement>("a[href], button, input, select, textarea, [tabindex='0']")].filter(
          (el) => !el.hasAttribute("disabled"),
        );
        if (items.length === 0) return;
        const firstItem = items[0] as HTMLElement;
        const lastItem = items[items.length - 1] as HTMLElement;
        if (e.shiftKey && document.activeElement === firstItem) {
          lastItem.focus();
          e.preventDefault();
        } else if (!e.shiftKey && document.activeElement === lastItem) {
          firstItem.focus();
          e.preventDefault();
        }
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      before?.focus?.();
    };
  }, []);
  return (
    <div class="dialog-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class={`dialog ${props.wide ? "dialog-wide" : ""}`} role="dialog" aria-modal="true" aria-label={props.title} ref={ref} tabIndex={-1}>
        <header class="dialog-head">
          <h2>{props.title}</h2>
          <button type="button" class="dialog-close" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>
        <div class="dialog-body">{props.children}</div>
      </div>
    </div>
  );
}

/** A dialog asking before a change that cannot be undone: `what` it does, and the `action` button,
 * which runs `run` (disabled meanwhile) and closes the dialog once it succeeded; a failure shows in it. */
export function ConfirmDialog(props: { title: string; what: string; action: string; run: () => Promise<void>; onClose: () => void }) {
  const { busy, failure, send } = useSending();
  const go = () => send(async () => {
    await props.run();
    props.onClose();
  });
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <p>{props.what}</p>
      {failure !== null && <ErrorNote error={failure} />}
      <div class="form-actions">
        <button type="button" class="btn" onClick={props.onClose}>Cancel</button>
        <button type="button" class="btn btn-danger" disabled={busy} onClick={() => void go()}>{props.action}</button>
      </div>
    </Dialog>
  );
}

/** A bar of parts (PG states, capacity): each part has its share, a title and a tone. */
export function Bar(props: { parts: { value: number; tone: string; title: string }[]; label: string }) {
  const total = props.parts.reduce((s, p) => s + p.value, 0) || 1;
  return (
    <div class="bar" role="img" aria-label={props.label}>
      {props.parts
        .filter((p) => p.value > 0)
        .map((p) => (
          <span class={`bar-part tone-${p.tone}`} style={{ width: `${(p.value / total) * 100}%` }} title={p.title} />
        ))}
    </div>
  );
}
