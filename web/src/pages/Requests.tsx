export function Requests(_props: { fsid?: string }) {
  return <div class="page"><h1>Requests</h1></div>;
}
