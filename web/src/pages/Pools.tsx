export function Pools(_props: { fsid?: string }) {
  return <div class="page"><h1>Pools</h1></div>;
}
