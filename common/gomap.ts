/**
 * A map as Go's encoding/json writes one: its keys in sorted (byte) order. Docker's API objects are
 * Go structs, whose fields keep their declared order, holding maps (labels, options, ports,
 * networks…) whose keys come out sorted whatever order they were set in; views build those maps
 * through this. Null and undefined pass through (a nil map, a left-out field).
 */
export function goMap<V>(map: Readonly<Record<string, V>>): Record<string, V>;
export function goMap<V>(map: Readonly<Record<string, V>> | null): Record<string, V> | null;
export function goMap<V>(map: Readonly<Record<string, V>> | undefined): Record<string, V> | undefined;
export function goMap<V>(map: Readonly<Record<string, V>> | null | undefined): Record<string, V> | null | undefined {
  if (map === null || map === undefined) return map;
  const keys = Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Object.fromEntries(keys.map((k) => [k, map[k] as V]));
}
