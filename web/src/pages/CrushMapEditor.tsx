// The CRUSH map as text (what `crushtool -d` prints): view, edit, submit. The editor is a plain
// textarea with a line-number gutter; the API's 400 names bad lines ("line 36": reason) and each
// reason is drawn at its line, in the gutter and over the text, and listed below.
import { useRef, useState } from "preact/hooks";

import { Card, ErrorNote, Loading } from "../components/ui";
import { ApiFailure, call } from "../lib/api";
import { lineAt, lineErrors, lineRange } from "../lib/crush";
import { useSending } from "../lib/sending";
import { refresh, useResource } from "../lib/store";
import { canChange, track } from "../state";

/** Must match .code-editor's line-height and padding in manage.css: the gutter and the error
 * marks are placed by line number. */
const LINE_PX = 20;
const PAD_PX = 8;
const VISIBLE_LINES = 30;

interface Marks {
  byLine: Map<number, string[]>;
  other: string[];
}

const NO_MARKS: Marks = { byLine: new Map(), other: [] };

export function CrushMapEditor(props: { fsid: string }) {
  const path = `/cluster/${props.fsid}/crush_map`;
  const map = useResource<string>(path);
  const [text, setText] = useState<string | null>(null); // null: not being edited, the server's text shows
  const [startedFrom, setStartedFrom] = useState<string | null>(null);
  const [marks, setMarks] = useState<Marks>(NO_MARKS);
  const { busy, failure, setFailure, send } = useSending();
  const [scrollTop, setScrollTop] = useState(0);
  const [cursorLine, setCursorLine] = useState(1);
  const ref = useRef<HTMLTextAreaElement>(null);
  const may = canChange.value;

  const server = typeof map.data.value === "string" ? map.data.value : undefined;
  const shown = text ?? server ?? "";
  const lineCount = shown.split("\n").length;
  const edited = text !== null && text !== startedFrom;
  const changedMeanwhile = text !== null && server !== undefined && startedFrom !== null && server !== startedFrom;

  const edit = (value: string) => {
    if (text === null) setStartedFrom(server ?? "");
    setText(value);
  };

  const goTo = (line: number) => {
    const area = ref.current;
    if (!area) return;
    const { start, end } = lineRange(area.value, line);
    area.focus();
    area.setSelectionRange(start, end);
    area.scrollTop = Math.max(0, (line - 1) * LINE_PX - area.clientHeight / 3);
    setScrollTop(area.scrollTop);
    setCursorLine(line);
  };

  const discard = () => {
    setText(null);
    setStartedFrom(null);
    setMarks(NO_MARKS);
    setFailure(null);
  };

  const submit = () => send(async () => {
    const answer = await call<{ request_id?: string }>("POST", path, { body: { crush_map: shown } });
    if (answer?.request_id) track(answer.request_id, "Replacing the CRUSH map");
    discard();
    void refresh(path);
  }, (err) => {
    if (!(err instanceof ApiFailure && err.status === 400 && Object.keys(err.errors).length > 0)) {
      setMarks(NO_MARKS);
      return err;
    }
    const found = lineErrors(err.errors);
    setMarks(found);
    const first = [...found.byLine.keys()][0];
    if (first !== undefined) goTo(first);
    return found.other.length ? new ApiFailure(400, [err.detail, ...found.other].join("; ")) : null;
  });

  const firstShown = Math.max(1, Math.floor(scrollTop / LINE_PX) - 2);
  const lastShown = Math.min(lineCount, firstShown + VISIBLE_LINES + 6);
  const gutter: number[] = [];
  for (let n = firstShown; n <= lastShown; n++) gutter.push(n);
  const cursorReasons = marks.byLine.get(cursorLine);

  return (
    <Card
      title="Map text"
      actions={
        may && (
          <>
            {text !== null && (
              <button type="button" class="btn btn-small" onClick={discard} disabled={busy}>
                Discard edits
              </button>
            )}
            <button type="button" class="btn btn-small btn-primary" onClick={() => void submit()} disabled={busy || !edited}>
              {busy ? "Submitting…" : "Submit map"}
            </button>
          </>
        )
      }
    >
      <p class="muted small">
        {may
          ? "Edit the text and submit it: the server checks every line first, then one request replaces the map (osd setcrushmap), refused by Ceph if the map changed meanwhile. Weights have 3 decimals here; for exact weights use the tree."
          : "The map as crushtool prints it. Changing it needs the operator role."}
      </p>
      {map.error.value && <ErrorNote error={map.error.value} retry={() => void refresh(path)} />}
      {changedMeanwhile && (
        <div class="banner banner-warn inline" role="status">
          The CRUSH map changed on the cluster since you began editing; Ceph will refuse your map.{" "}
          <button type="button" class="btn btn-small" onClick={discard}>Load the new map (drops your edits)</button>
        </div>
      )}
      {server === undefined && text === null ? (
        <Loading what="the CRUSH map" />
      ) : (
        <div class="code-editor" data-testid="crush-editor">
          <div class="code-gutter" aria-hidden="true">
            <div style={{ transform: `translateY(${(firstShown - 1) * LINE_PX - scrollTop}px)` }}>
              {gutter.map((n) => {
                const reasons = marks.byLine.get(n);
                return (
                  <div key={n} class={reasons ? "gutter-line gutter-error" : "gutter-line"} data-line={n} title={reasons?.join("; ")}>
                    {reasons && <span class="gutter-mark">✕</span>}
                    {n}
                  </div>
                );
              })}
            </div>
          </div>
          <div class="code-area">
            <div class="code-marks" aria-hidden="true">
              {[...marks.byLine.entries()].map(([line, reasons]) => (
                <div key={line} class="line-error" data-line={line} style={{ top: `${PAD_PX + (line - 1) * LINE_PX - scrollTop}px` }}>
                  <span class="line-error-text">{reasons.join("; ")}</span>
                </div>
              ))}
            </div>
            <textarea
              ref={ref}
              aria-label="CRUSH map text"
              aria-describedby="crush-errors"
              spellcheck={false}
              wrap="off"
              readOnly={!may}
              value={shown}
              onInput={(e) => edit((e.target as HTMLTextAreaElement).value)}
              onScroll={(e) => setScrollTop((e.target as HTMLTextAreaElement).scrollTop)}
              onKeyUp={(e) => setCursorLine(lineAt(shown, (e.target as HTMLTextAreaElement).selectionStart))}
              onClick={(e) => setCursorLine(lineAt(shown, (e.target as HTMLTextAreaElement).selectionStart))}
            />
          </div>
        </div>
      )}
      <div id="crush-errors">
        {cursorReasons && (
          <p class="field-msg" role="status">
            Line {cursorLine}: {cursorReasons.join("; ")}
          </p>
        )}
        {marks.byLine.size > 0 && (
          <div class="error-note" role="alert" data-testid="crush-line-errors">
            <strong>The server refused the map: {marks.byLine.size} line{marks.byLine.size === 1 ? "" : "s"} to correct.</strong>
            <ul class="line-list">
              {[...marks.byLine.entries()].map(([line, reasons]) => (
                <li key={line}>
                  <button type="button" class="link" onClick={() => goTo(line)}>Line {line}</button>: {reasons.join("; ")}
                </li>
              ))}
            </ul>
          </div>
        )}
        {failure !== null && <ErrorNote error={failure} />}
      </div>
    </Card>
  );
}
