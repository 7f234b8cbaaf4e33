import { describe, expect, it } from "vitest";

import { passwordBody, passwordProblems } from "./account";

describe("own password change", () => {
  const good = { current: "old-secret-pass", password: "a-new-long-password", again: "a-new-long-password" };

  it("sends the current password with the new one", () => {
    expect(passwordProblems(good)).toEqual({});
    expect(passwordBody(good)).toEqual({ password: "a-new-long-password", current_password: "old-secret-pass" });
  });
  it("names the field of each problem as the API does", () => {
    expect(Object.keys(passwordProblems({ ...good, current: "" }))).toEqual(["current_password"]);
    expect(passwordProblems({ ...good, password: "short", again: "short" }).password).toMatch(/10 characters/);
    expect(passwordProblems({ ...good, again: "something else" }).again).toMatch(/differ/);
    expect(passwordProblems({ current: "same-password-1", password: "same-password-1", again: "same-password-1" }).password)
      .toMatch(/same/);
  });
});
