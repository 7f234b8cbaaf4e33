// No blank page ever: a page that throws is replaced by what happened and a way on.
import { Component, type ComponentChildren } from "preact";

import { explain } from "../lib/api";

interface Props {
  children: ComponentChildren;
  /** changes of this reset the boundary (the page path) */
  resetKey: string;
}

export class ErrorBoundary extends Component<Props, { error: unknown; key: string }> {
  override state = { error: null as unknown, key: "" };

  static override getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override componentDidCatch(error: unknown) {
    console.error("page failed", error);
    this.setState({ error, key: this.props.resetKey });
  }

  override render() {
    if (this.state.error !== null && this.state.key === this.props.resetKey) {
      const { what, todo } = explain(this.state.error);
      return (
        <div class="page-failed" role="alert">
          <h1>This page could not be shown</h1>
          <p>{what}</p>
          <p>{todo}</p>
          <p>
            <button type="button" class="btn" onClick={() => this.setState({ error: null, key: "" })}>
              Try again
            </button>{" "}
            <a class="btn btn-ghost" href="/">
              Go to the overview
            </a>
          </p>
        </div>
      );
    }
    return this.props.children;
  }
}
