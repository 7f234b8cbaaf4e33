import { describe, expect, it } from "vitest";

import { ApiFailure, reasonsByField } from "./api";
import { reasonsAtFields, sendWith } from "./sending";

/** The calls a form's setters got, in order. */
function recorder() {
  const calls: [string, unknown][] = [];
  return {
    calls,
    setBusy: (busy: boolean) => calls.push(["busy", busy]),
    setFailure: (failure: unknown) => calls.push(["failure", failure]),
  };
}

describe("sending a form's call", () => {
  it("is busy while the call runs and shows no failure when it succeeds", async () => {
    const r = recorder();
    let busyDuring: unknown;
    await sendWith(r.setBusy, r.setFailure, async () => {
      busyDuring = r.calls.at(-1);
    });
    expect(busyDuring).toEqual(["busy", true]);
    expect(r.calls).toEqual([["failure", null], ["busy", true], ["busy", false]]);
  });

  it("shows what the call threw, as the form words it, and is no longer busy", async () => {
    const thrown = new ApiFailure(409, "in use");
    const plain = recorder();
    await sendWith(plain.setBusy, plain.setFailure, async () => { throw thrown; });
    expect(plain.calls).toEqual([["failure", null], ["busy", true], ["failure", thrown], ["busy", false]]);

    const worded = recorder();
    const seen: unknown[] = [];
    await sendWith(worded.setBusy, worded.setFailure, async () => { throw thrown; }, (err) => {
      seen.push(err);
      return null; // all of it shown at the fields
    });
    expect(seen).toEqual([thrown]);
    expect(worded.calls).toEqual([["failure", null], ["busy", true], ["failure", null], ["busy", false]]);
  });
});

describe("a 400's reasons by the form's fields", () => {
  it("puts each reason at its field, nested ones at their head, the rest above the buttons", () => {
    const err = new ApiFailure(400, "invalid channel", { "to.0": "not an address", url: "required", color: "unknown" });
    const { byField, rest } = reasonsByField(err, ["to", "url"]);
    expect(byField).toEqual({ to: "not an address", url: "required" });
    expect(rest).toBeInstanceOf(ApiFailure);
    expect((rest as ApiFailure).detail).toBe("invalid channel; color: unknown");
    expect((rest as ApiFailure).status).toBe(400);
  });

  it("leaves nothing above the buttons when every reason is at a field, and rewords them", () => {
    const err = new ApiFailure(409, "pool exists", { name: "taken" });
    expect(reasonsByField(err, ["name"], (r) => r.toUpperCase())).toEqual({ byField: { name: "TAKEN" }, rest: null });
  });

  it("keeps a failure that names no field, and any other failure, whole", () => {
    const bare = new ApiFailure(400, "invalid");
    expect((reasonsByField(bare, ["name"]).rest as ApiFailure).detail).toBe("invalid");
    for (const other of [new ApiFailure(500, "boom", { name: "x" }), new Error("offline")]) {
      expect(reasonsByField(other, ["name"])).toEqual({ byField: {}, rest: other });
    }
  });
});

describe("a form's reasons at its fields", () => {
  it("gives its fields their reasons, reworded, and shows only the rest above the buttons", () => {
    const shown: Record<string, string>[] = [];
    const failureShown = reasonsAtFields(["name", "size"], (errors) => shown.push(errors), undefined, (r) => `${r}!`);
    const rest = failureShown(new ApiFailure(400, "invalid pool", { name: "taken", "size.0": "too big", color: "odd" }));
    expect(shown).toEqual([{ name: "taken!", size: "too big!" }]);
    expect((rest as ApiFailure).detail).toBe("invalid pool; color: odd!");
    const offline = new Error("offline");
    expect(failureShown(offline)).toBe(offline);
    expect(shown.at(-1)).toEqual({});
  });
});
