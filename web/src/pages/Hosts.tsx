export function Hosts() {
  return <div class="page"><h1>Hosts</h1></div>;
}
export function HostDetail(props: { fqdn: string }) {
  return <div class="page"><h1>{props.fqdn}</h1></div>;
}
