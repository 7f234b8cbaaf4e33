export function Events(_props: { fsid?: string }) {
  return <div class="page"><h1>Events</h1></div>;
}
