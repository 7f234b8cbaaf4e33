export function Osds(_props: { fsid?: string }) {
  return <div class="page"><h1>Osds</h1></div>;
}
