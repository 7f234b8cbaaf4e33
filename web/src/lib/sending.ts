// What every form and dialog that sends a change does meanwhile: its button is disabled while the
// call runs, and what the call threw is shown above the buttons until the next try.
import { useState } from "preact/hooks";

import { reasonsByField } from "./api";

/** What a failure shows above the buttons: itself by default; a form that shows reasons at its
 * fields gives back only what is left (null: nothing). */
export type FailureShown = (err: unknown) => unknown;

/** Runs `work` with `setBusy(true)` meanwhile (false again however it ends); the failure shown is
 * cleared first and, when `work` throws, set to `shown(err)`. */
export async function sendWith(
  setBusy: (busy: boolean) => void, setFailure: (failure: unknown) => void,
  work: () => Promise<void>, shown: FailureShown = (err) => err,
): Promise<void> {
  setFailure(null);
  setBusy(true);
  try {
    await work();
  } catch (err) {
    setFailure(shown(err));
  } finally {
    setBusy(false);
  }
}

/** `busy` and `failure` of a form or dialog, and `send`, which runs a call with them kept (sendWith). */
export function useSending() {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const send = (work: () => Promise<void>, shown?: FailureShown) => sendWith(setBusy, setFailure, work, shown);
  return { busy, failure, setFailure, send };
}

/** What a form that shows the API's 400/409 reasons at its `fields` makes of a failure: those reasons
 * go to `setErrors`, the first field with one takes the focus (when its input's id is `idPrefix` and
 * the field's name), and the rest is shown above the buttons (reasonsByField). */
export function reasonsAtFields(
  fields: readonly string[], setErrors: (errors: Record<string, string>) => void,
  idPrefix?: string, reword?: (reason: string) => string,
): FailureShown {
  return (err) => {
    const { byField, rest } = reasonsByField(err, fields, reword);
    setErrors(byField);
    const first = fields.find((f) => f in byField);
    if (first && idPrefix !== undefined) document.getElementById(`${idPrefix}${first}`)?.focus();
    return rest;
  };
}
