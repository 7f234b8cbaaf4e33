import { render } from "preact";

import { App } from "./App";
import { startRouter } from "./lib/router";
import { checkSession, live } from "./state";
import "./styles.css";

startRouter();
render(<App />, document.getElementById("app") as HTMLElement);
void checkSession();
// A tab that comes back from the background reconnects at once instead of waiting out a back-off.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") live.kick();
});
