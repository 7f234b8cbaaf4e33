// Client-side routes: the path is the page, the query its filters. The server answers every
// console path with the page, so a reload or a shared link lands where it was.
import { signal } from "@preact/signals";

export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

export const location = signal<Location>(
  typeof window === "undefined" ? { path: "/", query: new URLSearchParams() } : current(),
);

export function navigate(to: string, replace = false): void {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  location.value = current();
  if (!replace) window.scrollTo(0, 0);
}

/** Updates one query parameter of the current page (filters), without a history entry per key. */
export function setQuery(key: string, value: string | null): void {
  const query = new URLSearchParams(window.location.search);
  if (value === null || value === "") query.delete(key);
  else query.set(key, value);
  const search = query.toString();
  navigate(window.location.pathname + (search ? `?${search}` : ""), true);
}

/** Matches `/hosts/:fqdn` style patterns; the parameters, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const have = path.split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const h = have[i] as string;
    if (w.startsWith(":")) params[w.slice(1)] = decodeURIComponent(h);
    else if (w !== h) return null;
  }
  return params;
}

export function startRouter(): void {
  window.addEventListener("popstate", () => {
    location.value = current();
  });
  // Plain links inside the console navigate without a reload.
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element | null)?.closest?.("a");
    if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
    const href = anchor.getAttribute("href");
    if (!href || !href.startsWith("/") || href.startsWith("/api/")) return;
    event.preventDefault();
    navigate(href);
  });
}
